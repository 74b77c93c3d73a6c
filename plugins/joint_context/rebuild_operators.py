"""The rebuild DAG's operators: ``plan`` → ``rebuild_chunk`` (mapped, one per chunk) → ``summarize``.

Each chunk runs :func:`joint_context.pipeline.rebuild.rebuild_range`, the bulk command line's own code: one regime
query and one binary ``COPY`` per filter set, rows written in chunked transactions under the per-key locks.
XCom carries counts and ISO dates only, never vectors. A chunk with data-error dates writes its other dates, then
fails without retry naming the bad ones; a transient database error fails it normally, so Airflow retries it (its
committed dates are rewritten with the same bytes). ``summarize`` runs whatever the chunks did, and fails the run
if any failed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import TYPE_CHECKING

from joint_context.compat import AirflowFailException, Asset, BaseOperator
from joint_context.config import rebuild_config
from joint_context.connections import (
    HISTORICAL_CONN_ID,
    RUNTIME_CONN_ID,
    connection,
    describe_database_error,
    is_database_error,
)
from joint_context.lineage_methods import ReportsLineage, count_facts
from joint_context.operators import fail_without_retry_on_data_error
from joint_context.run_day import parse_as_of_date
from joint_context.spaces import JointSpace

if TYPE_CHECKING:
    from joint_context.compat import Context

CHUNK_XCOM_KEY = "chunk"  # pushed by every chunk attempt, failed ones included, so summarize sees them all
ROW_COUNTS = ("written", "replaced", "skipped", "removed")  # per context-day, as the bulk command line counts them


def rebuild_run_config(space: JointSpace, context: Context):
    """The run's :class:`RunConfig` and :class:`RebuildRange` from ``params``, rejecting unknown conf keys."""
    dag_run = context.get("dag_run")
    conf_keys = (getattr(dag_run, "conf", None) or {}).keys()
    return rebuild_config(space, context["params"], conf_keys)


class PlanRebuildOperator(BaseOperator):
    """Validate the run's params and split ``first_date..last_date`` into chunks of ``chunk_days`` dates.

    Returns a list of ``{"first_date", "last_date"}`` (ISO dates), one per ``rebuild_chunk`` task instance.

    :param space: the joint space to rebuild.
    """

    template_fields: Sequence[str] = ()

    def __init__(self, *, space: JointSpace, **kwargs) -> None:
        super().__init__(**kwargs)
        self.space = space

    def execute(self, context: Context) -> list[dict]:
        from joint_context.pipeline.rebuild import plan_chunks

        with fail_without_retry_on_data_error():
            _config, rebuild = rebuild_run_config(self.space, context)
        chunks = plan_chunks(rebuild.first_date, rebuild.last_date, rebuild.chunk_days)
        self.log.info("%s..%s: %d date(s) in %d chunk(s) of up to %d", rebuild.first_date, rebuild.last_date,
                      (rebuild.last_date - rebuild.first_date).days + 1, len(chunks), rebuild.chunk_days)
        return [{"first_date": first.isoformat(), "last_date": last.isoformat()} for first, last in chunks]


class RebuildChunkOperator(ReportsLineage, BaseOperator):
    """Rebuild one chunk of dates with the bulk path, and emit the space's asset event naming its dates.

    :param space: the joint space to rebuild.
    :param chunk: ``{"first_date", "last_date"}`` (templated; mapped over ``plan``'s output with ``.expand``).
    :param runtime_conn_id: Airflow connection to ``runtime_db`` (regimes).
    :param historical_conn_id: Airflow connection to ``historical_db`` (text embeddings, joint rows).
    :param statement_timeout: the server cancels a statement running longer (``None``: the connection's setting).
    """

    template_fields: Sequence[str] = ("chunk", "runtime_conn_id", "historical_conn_id")

    def __init__(
        self, *, space: JointSpace, chunk, runtime_conn_id: str = RUNTIME_CONN_ID,
        historical_conn_id: str = HISTORICAL_CONN_ID, statement_timeout: timedelta | None = None, **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.space = space
        self.chunk = chunk
        self.runtime_conn_id = runtime_conn_id
        self.historical_conn_id = historical_conn_id
        self.statement_timeout = statement_timeout
        self.lineage_facts: dict = {}  # what execute got to, for the OpenLineage facet

    def execute(self, context: Context) -> None:
        """Counts go to XCom under ``chunk`` only (no return value: one XCom write per chunk, failed or not)."""
        from joint_context.pipeline.rebuild import rebuild_range

        with fail_without_retry_on_data_error():
            config, _rebuild = rebuild_run_config(self.space, context)
            first_date = parse_as_of_date(self.chunk["first_date"])
            last_date = parse_as_of_date(self.chunk["last_date"])
        summary = new_chunk_summary(first_date, last_date)
        self.lineage_facts = {"first_date": summary["first_date"], "last_date": summary["last_date"],
                              "model_id": config.joint_model_id, "contexts": len(config.contexts)}
        try:
            with (
                fail_without_retry_on_data_error(),
                connection(self.runtime_conn_id, self.statement_timeout) as runtime_conn,
                connection(self.historical_conn_id, self.statement_timeout) as historical_conn,
            ):
                for outcome in rebuild_range(runtime_conn, historical_conn, config, first_date, last_date):
                    add_outcome(summary, outcome)
        except Exception as error:
            summary["error"] = (describe_database_error(error) if is_database_error(error)
                                else f"{type(error).__name__}: {error}")
            raise
        finally:
            self.lineage_facts.update(count_facts([summary]))
            context["ti"].xcom_push(key=CHUNK_XCOM_KEY, value=summary)
        if summary["failed"]:
            raise AirflowFailException(
                f"{len(summary['failed'])} date(s) of {first_date}..{last_date} have bad data and were left as they "
                f"were (the chunk's other dates are written): "
                + "; ".join(f"{day}: {message}" for day, message in summary["failed"].items()))
        context["outlet_events"][Asset(self.space.asset_uri)].extra = asset_extra(summary)

    def lineage(self, facts: dict):
        """OpenLineage: as the per-date write task's (``regimes``, ``text_embeddings`` and the event table in,
        ``joint_embeddings`` out), with the chunk's range and its context-day counts."""
        from joint_context.lineage import write_lineage

        return write_lineage(self.space, self.runtime_conn_id, self.historical_conn_id, facts)


class SummarizeRebuildOperator(BaseOperator):
    """Add up every chunk's counts (failed chunks included), log them, and fail the run if a chunk failed.

    :param space: the rebuilt joint space.
    :param planned: ``plan``'s output (templated; pass ``plan_task.output``), to notice chunks that left no counts.
    :param chunk_task_id: the mapped chunk task whose counts to read.
    """

    template_fields: Sequence[str] = ("planned",)

    def __init__(self, *, space: JointSpace, planned, chunk_task_id: str = "rebuild_chunk", **kwargs) -> None:
        super().__init__(**kwargs)
        self.space = space
        self.planned = planned
        self.chunk_task_id = chunk_task_id

    def execute(self, context: Context) -> dict:
        if not self.planned:
            raise AirflowFailException("plan failed (see its log): nothing was rebuilt")
        planned = list(self.planned)
        totals = {"chunks": len(planned), "dates_by_status": {"written": 0, "skipped": 0, "failed": 0},
                  **dict.fromkeys(ROW_COUNTS, 0), "failed_dates": [], "failed_chunks": []}
        for map_index, chunk in enumerate(planned):
            summary = context["ti"].xcom_pull(task_ids=self.chunk_task_id, key=CHUNK_XCOM_KEY, map_indexes=map_index)
            label = f"{chunk['first_date']}..{chunk['last_date']}"
            if not summary:
                totals["failed_chunks"].append(f"{label}: failed before it read anything (see its log)")
                continue
            for status, count in summary["dates_by_status"].items():
                totals["dates_by_status"][status] += count
            for key in ROW_COUNTS:
                totals[key] += summary[key]
            totals["failed_dates"] += sorted(summary["failed"])
            if summary.get("error"):
                totals["failed_chunks"].append(f"{label}: stopped after its committed dates: {summary['error']}")
        by_status = totals["dates_by_status"]
        self.log.info(
            "%s: %d chunk(s); dates: %d written, %d skipped (no data for any context), %d failed; joint rows: "
            "%d new, %d replaced, %d context-days skipped (%d stale rows removed)", self.space.joint_type,
            len(planned), by_status["written"], by_status["skipped"], by_status["failed"], totals["written"],
            totals["replaced"], totals["skipped"], totals["removed"])
        problems = [*(f"bad data on {day}" for day in totals["failed_dates"]), *totals["failed_chunks"]]
        if problems:
            raise AirflowFailException(f"the rebuild is incomplete: {'; '.join(problems)}")
        return totals


def new_chunk_summary(first_date: date, last_date: date) -> dict:
    return {"first_date": first_date.isoformat(), "last_date": last_date.isoformat(), "dates": [],
            "dates_by_status": {"written": 0, "skipped": 0, "failed": 0}, **dict.fromkeys(ROW_COUNTS, 0),
            "failed": {}, "error": None}


def add_outcome(summary: dict, outcome) -> None:
    """Count one committed (or failed) date of :func:`rebuild_range` into a chunk's summary."""
    summary["dates_by_status"][outcome.status] += 1
    for key in ROW_COUNTS:
        summary[key] += outcome.counts[key]
    if outcome.error is not None:
        summary["failed"][outcome.as_of_date.isoformat()] = f"{type(outcome.error).__name__}: {outcome.error}"
    elif outcome.counts["written"] + outcome.counts["replaced"] + outcome.counts["removed"]:
        summary["dates"].append(outcome.as_of_date.isoformat())


def asset_extra(summary: dict) -> dict:
    """The asset event's ``extra``: the chunk's range, every date written or with rows removed, and row counts
    (``written`` counts new and replaced rows)."""
    return {"first_date": summary["first_date"], "last_date": summary["last_date"], "dates": summary["dates"],
            "written": summary["written"] + summary["replaced"], "skipped": summary["skipped"],
            "removed": summary["removed"]}
