"""``EXPLAIN`` of the package's read queries and of the upstream one, reduced to the scans they do."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from joint_context.spaces import JointSpace
from joint_context.store import read_sql, text_query_params

# The previous scripts' per-date read: a cast on the column, so no index on "timestamp" can serve it.
UPSTREAM_TEXT_SQL = {
    "REGIME_MACRO_V0": """
        SELECT me.event_id, te.vector
          FROM macro_events me
          JOIN text_embeddings te ON te.source_id = me.event_id::text
         WHERE DATE(me."timestamp") = %(as_of_date)s
           AND te.source_type = %(source_type)s AND te.model_id = %(text_model_id)s
           AND (%(country)s::text IS NULL OR me.country = %(country)s::text)
           AND (%(event_type)s::text IS NULL OR me.event_type = %(event_type)s::text)
    """,
    "REGIME_CONTEXT_V0": """
        SELECT na.article_id, te.vector
          FROM news_articles na
          JOIN text_embeddings te ON te.source_id = na.article_id::text
         WHERE DATE(na."timestamp") = %(as_of_date)s
           AND te.source_type = %(source_type)s AND te.model_id = %(text_model_id)s
           AND (%(language)s::text IS NULL OR lower(na.language) = lower(%(language)s::text))
    """,
}


@dataclass(frozen=True)
class Scan:
    node_type: str
    relation: str | None
    index: str | None

    def describe(self) -> str:
        target = self.relation or "?"
        return f"{self.node_type} on {target}" + (f" using {self.index}" if self.index else "")


def package_text_params(space: JointSpace, filters: dict, as_of_date: date) -> dict:
    """The parameters :func:`joint_context.store.stream_text_vectors` binds for a one-day read."""
    return text_query_params(space, space.default_source_type, space.default_text_model_id, filters,
                             as_of_date, as_of_date)


def upstream_text_params(space: JointSpace, filters: dict, as_of_date: date) -> dict:
    return {
        "source_type": space.default_source_type,
        "text_model_id": space.default_text_model_id,
        "as_of_date": as_of_date,
        **{name: filters.get(name) for name in space.filter_names},
    }


def explain(conn, query: str, params: dict) -> dict:
    """The JSON plan PostgreSQL chooses for ``query`` with these values bound (a custom plan)."""
    with conn.cursor() as cursor:
        cursor.execute("EXPLAIN (FORMAT JSON) " + query, params)
        (document,) = cursor.fetchone()
    conn.rollback()
    return document[0]["Plan"]


def explain_package_text_query(conn, space: JointSpace, filters: dict, as_of_date: date) -> dict:
    return explain(conn, read_sql(space.text_sql), package_text_params(space, filters, as_of_date))


def explain_upstream_text_query(conn, space: JointSpace, filters: dict, as_of_date: date) -> dict:
    return explain(conn, UPSTREAM_TEXT_SQL[space.joint_type], upstream_text_params(space, filters, as_of_date))


def explain_regime_query(conn, regions: list[str], first_date: date, last_date: date) -> dict:
    return explain(conn, read_sql("select_regimes.sql"),
                   {"regions": regions, "first_date": first_date, "last_date": last_date})


def scans(plan: dict) -> list[Scan]:
    """Every node of ``plan`` that reads a relation, depth first."""
    found = []
    if "Relation Name" in plan or plan["Node Type"].endswith("Scan"):
        found.append(Scan(plan["Node Type"], plan.get("Relation Name"), plan.get("Index Name")))
    for child in plan.get("Plans", []):
        found.extend(scans(child))
    return found


def sequential_scans(plan: dict, relations: tuple[str, ...]) -> list[Scan]:
    return [scan for scan in scans(plan) if scan.node_type == "Seq Scan" and scan.relation in relations]


def execution_ms(conn, query: str, params: dict) -> float:
    """The server's own execution time of ``query`` (``EXPLAIN ANALYZE``: no rows sent to the client)."""
    with conn.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + query, params)
        (document,) = cursor.fetchone()
    conn.rollback()
    return float(document[0]["Execution Time"])


def package_text_execution_ms(conn, space: JointSpace, filters: dict, as_of_date: date) -> float:
    return execution_ms(conn, read_sql(space.text_sql), package_text_params(space, filters, as_of_date))


def upstream_text_execution_ms(conn, space: JointSpace, filters: dict, as_of_date: date) -> float:
    return execution_ms(conn, UPSTREAM_TEXT_SQL[space.joint_type], upstream_text_params(space, filters, as_of_date))
