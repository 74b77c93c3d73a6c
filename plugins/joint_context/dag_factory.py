"""Build the DAGs of one joint space: the daily one (wait for inputs → extract → aggregate → write, per UTC day)
and its rebuild DAG (plan → rebuild_chunk, mapped over chunks of a date range → summarize)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING

import pendulum

from joint_context.combine_operator import CombineJointSpacesOperator
from joint_context.combined_space import CombinedSpace
from joint_context.compat import (
    AIRFLOW_V_3_0_PLUS,
    DAG,
    Asset,
    DeadlineAlert,
    DeadlineReference,
    Param,
    asset_or_time_schedule,
)
from joint_context.connections import DEFAULT_STATEMENT_TIMEOUT
from joint_context.operators import (
    AggregateJointOperator,
    ExtractJointInputsOperator,
    RegimeAvailableSensor,
    WriteJointEmbeddingsOperator,
)
from joint_context.params import combined_params_schema, params_schema, rebuild_params_schema
from joint_context.rebuild_operators import PlanRebuildOperator, RebuildChunkOperator, SummarizeRebuildOperator
from joint_context.spaces import JointSpace
from joint_context.timetables import ProcessedDayTimetable

if TYPE_CHECKING:
    from joint_context.compat import Callback

DEFAULT_START_DATE = pendulum.datetime(2025, 1, 1, tz="UTC")
DAILY_AT_MIDNIGHT_UTC = "0 0 * * *"


def build_joint_context_dag(
    space: JointSpace,
    *,
    doc_md: str,
    start_date: pendulum.DateTime = DEFAULT_START_DATE,
    schedule_cron: str = DAILY_AT_MIDNIGHT_UTC,
    retries: int = 3,
    retry_delay: timedelta = timedelta(minutes=1),
    wait_poke_interval: timedelta = timedelta(minutes=10),
    wait_timeout: timedelta = timedelta(hours=6),
    max_active_runs: int = 16,
    statement_timeout: timedelta | None = DEFAULT_STATEMENT_TIMEOUT,
    task_timeout: timedelta = timedelta(minutes=30),
    wait_poke_timeout: timedelta = timedelta(minutes=5),
    wait_retries: int = 2,
    dagrun_timeout: timedelta | None = None,
    on_failure_callback: Callable | list[Callable] | None = None,
    rows_due_after_day_end: timedelta | None = None,
    on_rows_late: Callback | None = None,
) -> DAG:
    """The DAG computing ``space`` for the day each run covers.

    The timetable is a data-interval one: the run scheduled at 00:00 UTC covers the UTC day that has just
    closed, and its ``{{ ds }}`` is that day's date; a manual run at logical date D covers D's UTC day
    (:class:`~joint_context.timetables.ProcessedDayTimetable`), so every run's interval is the day it processes.

    :param space: the joint space (``REGIME_MACRO_V0``, ``REGIME_CONTEXT_V0``).
    :param doc_md: Markdown shown on the DAG's page.
    :param start_date: first day a scheduled run covers.
    :param schedule_cron: when runs are due, read in UTC.
    :param retries: retries of a task after a transient failure (data errors never retry).
    :param retry_delay: first retry delay; doubles each retry.
    :param wait_poke_interval: how often a scheduled run checks for the day's regimes.
    :param wait_timeout: how long a scheduled run waits for them before failing.
    :param max_active_runs: runs (dates) that may run at once.
    :param statement_timeout: the databases cancel any one query of a task running longer, so a pathological
        day fails (and retries) instead of holding a worker; ``None`` leaves the connections' own setting.
    :param task_timeout: ``execution_timeout`` of extract, aggregate and write (a hung task fails and retries).
    :param wait_poke_timeout: ``execution_timeout`` of the sensor: in reschedule mode it bounds each poke, so a poke
        that hangs (apache/airflow#68010) is killed and retried instead of holding the run.
    :param wait_retries: retries of the sensor after a poke failed or was killed (a transient database error does
        not fail a poke: it waits for the next one). A timeout waiting for regimes is never retried.
    :param dagrun_timeout: a run still going after this long fails (default: ``wait_timeout`` + 2 hours).
    :param on_failure_callback: called with the task's context when a task fails for good (retries used up or a
        data error): any Airflow notifier, e.g. ``SmtpNotifier`` or ``SlackNotifier`` (docs/operating.md).
    :param rows_due_after_day_end: Airflow 3: a deadline: when a run's rows are not written this long after the end
        of the UTC day it processes (``timedelta(hours=6)``: by 06:00 UTC the next day), ``on_rows_late`` runs.
    :param on_rows_late: the deadline's callback (``AsyncCallback(SlackWebhookNotifier, kwargs={...})``).
    """
    if (rows_due_after_day_end is None) != (on_rows_late is None):
        raise ValueError("rows_due_after_day_end and on_rows_late go together: give both or neither")
    deadline = {}
    if rows_due_after_day_end is not None:
        if not AIRFLOW_V_3_0_PLUS:
            raise ValueError("a deadline (rows_due_after_day_end) needs Airflow 3; on 2.11 alert on failure and "
                             "dagrun_timeout instead")
        # the logical date is the start of the UTC day processed: the day ends one day later
        deadline["deadline"] = DeadlineAlert(reference=DeadlineReference.DAGRUN_LOGICAL_DATE,
                                             interval=timedelta(days=1) + rows_due_after_day_end,
                                             callback=on_rows_late, name=f"{space.dag_id}_rows_late")
    with DAG(
        dag_id=space.dag_id,
        description=f"{space.title}: {space.joint_type} joint embeddings per region and UTC day",
        doc_md=doc_md,
        schedule=ProcessedDayTimetable(schedule_cron, timezone="UTC"),
        start_date=start_date,
        catchup=False,
        max_active_runs=max_active_runs,
        dagrun_timeout=dagrun_timeout if dagrun_timeout is not None else wait_timeout + timedelta(hours=2),
        params={name: Param(**schema) for name, schema in params_schema(space).items()},
        default_args={
            "retries": retries,
            "retry_delay": retry_delay,
            "retry_exponential_backoff": True,
            "max_retry_delay": timedelta(minutes=30),
            "execution_timeout": task_timeout,
            "on_failure_callback": on_failure_callback,
        },
        tags=["joint-embeddings", space.joint_type],
        **deadline,
    ) as dag:
        wait = RegimeAvailableSensor(
            task_id="wait_for_regimes",
            space=space,
            mode="reschedule",
            poke_interval=wait_poke_interval.total_seconds(),
            timeout=wait_timeout.total_seconds(),
            execution_timeout=wait_poke_timeout,
            retries=wait_retries,
            statement_timeout=statement_timeout,
        )
        extract = ExtractJointInputsOperator(task_id="extract", space=space, statement_timeout=statement_timeout)
        aggregate = AggregateJointOperator(task_id="aggregate", space=space, extracted=extract.output)
        write = WriteJointEmbeddingsOperator(
            task_id="write", space=space, aggregated=aggregate.output, outlets=[Asset(space.asset_uri)],
            statement_timeout=statement_timeout,
        )
        wait >> extract >> aggregate >> write
    return dag


def rebuild_dag_id(space: JointSpace) -> str:
    return f"{space.dag_id}_rebuild"


def build_rebuild_dag(
    space: JointSpace,
    *,
    doc_md: str,
    start_date: pendulum.DateTime = DEFAULT_START_DATE,
    retries: int = 3,
    retry_delay: timedelta = timedelta(minutes=1),
    max_active_chunks: int | None = None,
    statement_timeout: timedelta | None = DEFAULT_STATEMENT_TIMEOUT,
    task_timeout: timedelta = timedelta(minutes=30),
    chunk_timeout: timedelta = timedelta(hours=2),
) -> DAG:
    """The DAG rebuilding ``space`` over a date range given when it is triggered (``schedule=None``).

    Params: ``first_date``, ``last_date`` (inclusive ISO dates), ``chunk_days``, then the per-date DAG's own
    (:func:`joint_context.params.params_schema`), validated by the same schema and :class:`RunConfig`.
    ``plan`` splits the range; ``rebuild_chunk`` runs once per chunk (dynamic task mapping) with the bulk command
    line's code and emits the space's asset event naming the chunk's dates; ``summarize`` (whatever the chunks did)
    adds up their counts and fails the run if any chunk failed.

    :param space: the joint space (``REGIME_MACRO_V0``, ``REGIME_CONTEXT_V0``).
    :param doc_md: Markdown shown on the DAG's page.
    :param start_date: a date in the past (the DAG has no schedule; Airflow requires one).
    :param retries: retries of a chunk after a transient failure (data errors never retry).
    :param retry_delay: first retry delay; doubles each retry.
    :param max_active_chunks: chunks of one run that may run at once (``None``: as many as the executor allows).
    :param statement_timeout: the databases cancel any one statement running longer.
    :param task_timeout: ``execution_timeout`` of ``plan`` and ``summarize``.
    :param chunk_timeout: ``execution_timeout`` of each chunk (a hung chunk fails and is retried; the dates it
        committed are rewritten with the same bytes).
    """
    with DAG(
        dag_id=rebuild_dag_id(space),
        description=f"{space.title}: rebuild {space.joint_type} joint embeddings over a date range, chunk by chunk",
        doc_md=doc_md,
        schedule=None,
        start_date=start_date,
        catchup=False,
        params={name: Param(**schema) for name, schema in rebuild_params_schema(space).items()},
        default_args={
            "retries": retries,
            "retry_delay": retry_delay,
            "retry_exponential_backoff": True,
            "max_retry_delay": timedelta(minutes=30),
            "execution_timeout": task_timeout,
        },
        tags=["joint-embeddings", space.joint_type, "rebuild"],
    ) as dag:
        plan = PlanRebuildOperator(task_id="plan", space=space, retries=0)
        chunks = RebuildChunkOperator.partial(
            task_id="rebuild_chunk", space=space, outlets=[Asset(space.asset_uri)],
            statement_timeout=statement_timeout, max_active_tis_per_dagrun=max_active_chunks,
            execution_timeout=chunk_timeout,
        ).expand(chunk=plan.output)
        summarize = SummarizeRebuildOperator(task_id="summarize", space=space, planned=plan.output,
                                             trigger_rule="all_done", retries=0)
        chunks >> summarize
    return dag


def build_combined_context_dag(
    space: CombinedSpace,
    *,
    doc_md: str,
    start_date: pendulum.DateTime = DEFAULT_START_DATE,
    schedule_cron: str = DAILY_AT_MIDNIGHT_UTC,
    retries: int = 3,
    retry_delay: timedelta = timedelta(minutes=1),
    max_active_runs: int = 16,
    statement_timeout: timedelta | None = DEFAULT_STATEMENT_TIMEOUT,
    task_timeout: timedelta = timedelta(minutes=30),
) -> DAG:
    """The DAG computing the combined ``space``, kept up to date by its branches' assets.

    Scheduled on the text spaces' timetable (so ``{{ ds }}``, backfills, manual runs and their ``as_of_date``
    work as for the other spaces, every run's interval the day it processes) OR on an event of any branch's
    asset: the write tasks of the macro and news DAGs name the date they wrote in their event's ``extra``, and the
    run those events trigger recomputes each date named, once.
    The arguments are those of :func:`build_joint_context_dag` (``task_timeout``: ``execution_timeout`` of
    ``combine``).
    """
    branch_assets = [Asset(branch.space.asset_uri) for branch in space.branches]
    with DAG(
        dag_id=space.dag_id,
        description=f"{space.title}: {space.joint_type} joint embeddings per region and UTC day",
        doc_md=doc_md,
        schedule=asset_or_time_schedule(ProcessedDayTimetable(schedule_cron, timezone="UTC"), branch_assets),
        start_date=start_date,
        catchup=False,
        max_active_runs=max_active_runs,
        params={name: Param(**schema) for name, schema in combined_params_schema(space).items()},
        default_args={
            "retries": retries,
            "retry_delay": retry_delay,
            "retry_exponential_backoff": True,
            "max_retry_delay": timedelta(minutes=30),
            "execution_timeout": task_timeout,
        },
        tags=["joint-embeddings", space.joint_type],
    ) as dag:
        CombineJointSpacesOperator(task_id="combine", space=space, inlets=branch_assets,
                                   outlets=[Asset(space.asset_uri)], statement_timeout=statement_timeout)
    return dag
