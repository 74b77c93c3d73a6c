"""Build the DAG of one joint space: wait for inputs → extract → aggregate → write, run per UTC day."""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.timetables.interval import CronDataIntervalTimetable

from joint_context.combine_operator import CombineJointSpacesOperator
from joint_context.combined_config import combined_params_schema
from joint_context.combined_space import CombinedSpace
from joint_context.compat import DAG, Asset, Param, asset_or_time_schedule
from joint_context.config import params_schema
from joint_context.connections import DEFAULT_STATEMENT_TIMEOUT
from joint_context.operators import (
    AggregateJointOperator,
    ExtractJointInputsOperator,
    RegimeAvailableSensor,
    WriteJointEmbeddingsOperator,
)
from joint_context.spaces import JointSpace

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
) -> DAG:
    """The DAG computing ``space`` for the day each run covers.

    The timetable is a data-interval one: the run scheduled at 00:00 UTC covers the UTC day that has just
    closed, and its ``{{ ds }}`` (the as_of_date) is that day's date, as for manual and backfill runs.

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
    """
    with DAG(
        dag_id=space.dag_id,
        description=f"{space.title}: {space.joint_type} joint embeddings per region and UTC day",
        doc_md=doc_md,
        schedule=CronDataIntervalTimetable(schedule_cron, timezone="UTC"),
        start_date=start_date,
        catchup=False,
        max_active_runs=max_active_runs,
        params={name: Param(**schema) for name, schema in params_schema(space).items()},
        default_args={
            "retries": retries,
            "retry_delay": retry_delay,
            "retry_exponential_backoff": True,
            "max_retry_delay": timedelta(minutes=30),
        },
        tags=["joint-embeddings", space.joint_type],
    ) as dag:
        wait = RegimeAvailableSensor(
            task_id="wait_for_regimes",
            space=space,
            mode="reschedule",
            poke_interval=wait_poke_interval.total_seconds(),
            timeout=wait_timeout.total_seconds(),
            retries=0,
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
) -> DAG:
    """The DAG computing the combined ``space``, kept up to date by its branches' assets.

    Scheduled on the cron data-interval timetable (so ``{{ ds }}``, backfills and manual runs work as for the
    other spaces) OR on an event of any branch's asset: the write tasks of the macro and news DAGs name the date
    they wrote in their event's ``extra``, and the run those events trigger recomputes each date named, once.
    The arguments are those of :func:`build_joint_context_dag`.
    """
    branch_assets = [Asset(branch.space.asset_uri) for branch in space.branches]
    with DAG(
        dag_id=space.dag_id,
        description=f"{space.title}: {space.joint_type} joint embeddings per region and UTC day",
        doc_md=doc_md,
        schedule=asset_or_time_schedule(schedule_cron, branch_assets),
        start_date=start_date,
        catchup=False,
        max_active_runs=max_active_runs,
        params={name: Param(**schema) for name, schema in combined_params_schema(space).items()},
        default_args={
            "retries": retries,
            "retry_delay": retry_delay,
            "retry_exponential_backoff": True,
            "max_retry_delay": timedelta(minutes=30),
        },
        tags=["joint-embeddings", space.joint_type],
    ) as dag:
        CombineJointSpacesOperator(task_id="combine", space=space, inlets=branch_assets,
                                   outlets=[Asset(space.asset_uri)], statement_timeout=statement_timeout)
    return dag
