"""Airflow's own floor for the benchmark: the macro DAG's shape (timetable, task chain, retries) doing nothing.

Each task is a real operator run by the task runner (``EmptyOperator`` would be skipped by the scheduler
without a task process, which is no floor at all); ``execute`` returns at once.
"""

from datetime import timedelta

from airflow.timetables.interval import CronDataIntervalTimetable

from joint_context.compat import DAG, BaseOperator
from joint_context.dag_factory import DAILY_AT_MIDNIGHT_UTC, DEFAULT_START_DATE


class DoNothingOperator(BaseOperator):
    """A task that does no work: what is left is Airflow's cost of running a task."""

    def execute(self, context) -> None:
        return None


with DAG(
    dag_id="joint_regime_macro_context_floor",
    description="Benchmark floor: the macro DAG's shape, tasks that do nothing",
    schedule=CronDataIntervalTimetable(DAILY_AT_MIDNIGHT_UTC, timezone="UTC"),
    start_date=DEFAULT_START_DATE,
    catchup=False,
    max_active_runs=16,
    default_args={
        "retries": 3,
        "retry_delay": timedelta(minutes=1),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=30),
    },
    tags=["benchmark"],
) as dag:
    wait = DoNothingOperator(task_id="wait_for_regimes", retries=0)
    extract = DoNothingOperator(task_id="extract")
    aggregate = DoNothingOperator(task_id="aggregate")
    write = DoNothingOperator(task_id="write")
    wait >> extract >> aggregate >> write
