"""A real Airflow 3 for the scheduler tests: api-server, scheduler and dag-processor on loopback, started once
per session by :class:`devtools.airflow.stack.AirflowStack` (LocalExecutor), metadata database on the same
PostgreSQL as the data databases. The dags folder holds copies of ``dags/*.py`` plus the test DAGs of
``tests/scheduler/dags/``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import psycopg
import pytest

from devtools.airflow.stack import AirflowStack
from devtools.paths import REPO_ROOT

TEST_DAGS = Path(__file__).resolve().parent / "dags"
MACRO_DAG_ID = "joint_regime_macro_context"
SCHEDULED_DAG_ID = "jc_test_scheduled_macro"
SENSOR_TIMEOUT_DAG_ID = "jc_test_sensor_timeout"
DOWNSTREAM_DAG_ID = "jc_test_downstream_of_macro"
COMBINED_DAG_ID = "joint_regime_combined_context"
ALL_DAG_IDS = [MACRO_DAG_ID, "joint_regime_news_context", COMBINED_DAG_ID, SCHEDULED_DAG_ID, SENSOR_TIMEOUT_DAG_ID,
               DOWNSTREAM_DAG_ID]


@pytest.fixture(scope="session")
def scheduler_dags_folder(tmp_path_factory) -> Path:
    """The real DAG files, unchanged, plus the test-only DAGs."""
    folder = tmp_path_factory.mktemp("scheduler-dags")
    for source in [*sorted((REPO_ROOT / "dags").glob("*.py")), *sorted(TEST_DAGS.glob("*.py"))]:
        shutil.copy(source, folder / source.name)
    return folder


def start_stack(pg_admin_dsn, databases, dags_folder: Path, work_dir: Path, **options) -> AirflowStack:
    stack = AirflowStack(admin_dsn=pg_admin_dsn, work_dir=work_dir, dags_folder=dags_folder,
                         extra_env=databases.connection_env, **options)
    try:
        stack.start()
        stack.wait_for_dags(ALL_DAG_IDS)
    except BaseException:
        stack.stop()
        raise
    return stack


@pytest.fixture(scope="session")
def airflow_stack(pg_admin_dsn, databases, scheduler_dags_folder, tmp_path_factory):
    """One LocalExecutor stack for the session; its logs stay under the session's temp folder."""
    stack = start_stack(pg_admin_dsn, databases, scheduler_dags_folder, tmp_path_factory.mktemp("airflow-stack"))
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture
def data_conns(clean_databases):
    """Autocommit connections to the emptied ``runtime_db`` and ``historical_db`` (what the stack's tasks read)."""
    with (
        psycopg.connect(clean_databases.runtime_dsn, autocommit=True) as runtime_conn,
        psycopg.connect(clean_databases.historical_dsn, autocommit=True) as historical_conn,
    ):
        yield runtime_conn, historical_conn


def redis_url_or_skip() -> str:
    """The machine's Redis for the Celery test; skipped with a message where there is none, unless required."""
    url = os.environ.get("JOINT_CONTEXT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=3).ping()
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as error:
        message = (f"the Celery test needs a Redis broker at {url} (set JOINT_CONTEXT_TEST_REDIS_URL to use "
                   f"another): {error}")
        if os.environ.get("JOINT_CONTEXT_REQUIRE_REDIS") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return url


def celery_stack(pg_admin_dsn, databases, scheduler_dags_folder, work_dir, *, workers: int = 1):
    """A CeleryExecutor stack on the machine's Redis with ``workers`` workers (a generator for a module fixture)."""
    stack = start_stack(pg_admin_dsn, databases, scheduler_dags_folder, work_dir, executor="CeleryExecutor",
                        redis_url=redis_url_or_skip(), parallelism=2, celery_workers=workers)
    try:
        yield stack
    finally:
        stack.stop()
