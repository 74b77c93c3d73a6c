"""``EXPLAIN`` of the package's read queries and of the upstream one, reduced to the scans they do; the benchmark's
tables 3 (the plans on the x10 history) and 3b (the read query's server execution time)."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import date, timedelta

import psycopg

from bench.report import Report
from bench.workload import LAST_DATE, MACRO_CONTEXTS, NEWS_CONTEXTS, REGIONS, Scale
from joint_context.config import parse_contexts
from joint_context.spaces import REGIME_CONTEXT_V0, REGIME_MACRO_V0, JointSpace
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


# --- the tables of bench.run: 3. query plans, 3b. server execution time ---------------------------------------


def measure_plans(report: Report, results: dict, history) -> None:
    rows, plans = [], []
    with psycopg.connect(history.historical_dsn) as conn:
        for space, contexts in ((REGIME_MACRO_V0, MACRO_CONTEXTS + [{"region": "US"}]),
                                (REGIME_CONTEXT_V0, NEWS_CONTEXTS)):
            for context in parse_contexts(space, contexts):
                for query, explain in (("package", explain_package_text_query),
                                       ("upstream", explain_upstream_text_query)):
                    plan = explain(conn, space, context.filter_dict, LAST_DATE)
                    seq = sequential_scans(plan, ("macro_events", "news_articles"))
                    plans.append({"space": space.joint_type, "context": context.describe(), "query": query,
                                  "scans": [scan.describe() for scan in scans(plan)], "seq_scans_of_events": len(seq)})
                    rows.append([space.joint_type, context.describe(), query,
                                 "; ".join(scan.describe() for scan in scans(plan)), "yes" if seq else "no"])
    with psycopg.connect(history.runtime_dsn) as conn:
        plan = explain_regime_query(conn, list(REGIONS), LAST_DATE, LAST_DATE)
        plans.append({"space": "both", "context": "regimes", "query": "package",
                      "scans": [scan.describe() for scan in scans(plan)], "seq_scans_of_events": 0})
        rows.append(["both", f"regions {','.join(REGIONS)}", "package (regimes)",
                     "; ".join(scan.describe() for scan in scans(plan)), "n/a"])
    results["plans"] = plans
    results["ratios"]["package_seq_scans_of_event_tables"] = sum(
        plan["seq_scans_of_events"] for plan in plans if plan["query"] == "package")
    report.table("3. Query plans on the x10 history (EXPLAIN, values bound)",
                 ["space", "context", "query", "scans", "seq scan of events/articles"], rows)


def measure_server_execution(report: Report, results: dict, histories: dict, scale: Scale) -> None:
    """The read query's own server time, package vs upstream, per date summed over the contexts."""
    dates = [LAST_DATE - timedelta(days=offset) for offset in range(scale.dates)]
    rows, entries = [], {}
    for space, contexts in ((REGIME_MACRO_V0, MACRO_CONTEXTS), (REGIME_CONTEXT_V0, NEWS_CONTEXTS)):
        parsed = parse_contexts(space, contexts)
        for label, history in histories.items():
            per_date = {"package": [], "upstream": []}
            with psycopg.connect(history.historical_dsn, options="-c TimeZone=UTC") as conn:
                package_text_execution_ms(conn, space, parsed[0].filter_dict, dates[0])  # warm-up
                upstream_text_execution_ms(conn, space, parsed[0].filter_dict, dates[0])
                for _round in range(scale.repeats):
                    for as_of_date in dates:
                        per_date["package"].append(sum(
                            package_text_execution_ms(conn, space, c.filter_dict, as_of_date) for c in parsed))
                        per_date["upstream"].append(sum(
                            upstream_text_execution_ms(conn, space, c.filter_dict, as_of_date) for c in parsed))
            package_ms = round(statistics.median(per_date["package"]), 3)
            upstream_ms = round(statistics.median(per_date["upstream"]), 3)
            entries[f"{space.joint_type}/{label}"] = {"package_ms": package_ms, "upstream_ms": upstream_ms,
                                                      "ratio": round(upstream_ms / package_ms, 1)}
            rows.append([space.joint_type, label, len(parsed), package_ms, upstream_ms,
                         entries[f"{space.joint_type}/{label}"]["ratio"]])
    results["server_execution"] = entries
    results["ratios"]["upstream_over_package_query_x10_macro"] = entries["REGIME_MACRO_V0/x10"]["ratio"]
    report.table(
        "3b. The read query's server execution time (EXPLAIN ANALYZE), median ms per date, summed over contexts",
        ["space", "history", "contexts", "package query", "upstream query", "upstream/package"], rows,
        note="Server work only (no rows sent): the sargable day window vs DATE(\"timestamp\") = d.")
