"""The DAG on a distributed executor: Airflow 3 with ``CeleryExecutor``, the machine's Redis as broker and a real
``airflow celery worker`` process, all started here (loopback only, stopped by process group).

Needs Redis at ``JOINT_CONTEXT_TEST_REDIS_URL`` (default ``redis://127.0.0.1:6379/0``). Without it the test is
skipped with that message, unless ``JOINT_CONTEXT_REQUIRE_REDIS=1`` (CI sets it), which makes it fail instead.
The stack consumes a queue named for itself, so other sessions on the same Redis cannot take its tasks.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from devtools.seed import insert_macro_event, insert_regime, utc
from tests.helpers import expected_joint, joint_rows, random_vectors
from tests.scheduler import conftest
from tests.scheduler.conftest import MACRO_DAG_ID

pytestmark = pytest.mark.scheduler

DAYS = [date(2025, 1, 20), date(2025, 1, 21)]
TASK_IDS = ("wait_for_regimes", "extract", "aggregate", "write")


@pytest.fixture(scope="module")
def celery_stack(pg_admin_dsn, databases, scheduler_dags_folder, tmp_path_factory):
    yield from conftest.celery_stack(pg_admin_dsn, databases, scheduler_dags_folder,
                                     tmp_path_factory.mktemp("celery-stack"))


def test_backfill_on_celery_runs_every_task_in_the_worker_and_writes_the_rows(celery_stack, data_conns):
    runtime_conn, historical_conn = data_conns
    rng = np.random.default_rng(20)
    inputs = {}
    for day in DAYS:
        regime, texts = random_vectors(rng, 1)[0], random_vectors(rng, 2)
        insert_regime(runtime_conn, region="US", as_of_date=day, vector=regime)
        for index, vector in enumerate(texts):
            insert_macro_event(historical_conn, timestamp=utc(day, 8 + index), vector=vector, country="US")
        inputs[day] = (regime, texts)

    celery_stack.unpause(MACRO_DAG_ID)
    backfill_id = celery_stack.backfill(MACRO_DAG_ID, DAYS[0], DAYS[-1])
    runs = celery_stack.wait_for_backfill(backfill_id, timeout=300)
    assert [(run.as_of_date, run.state) for run in runs] == [(day, "success") for day in DAYS]

    rows = joint_rows(historical_conn)
    assert [(row[1], row[2]["region"]) for row in rows] == [(day, "US") for day in DAYS]
    for row in rows:
        np.testing.assert_allclose(row[4], expected_joint(*inputs[row[1]]), rtol=1e-6, atol=1e-7)

    worker_log = (celery_stack.log_dir / "celery-worker.log").read_text(errors="replace")
    executed = [line for line in worker_log.splitlines() if "Executing workload in Celery" in line]
    for run in runs:
        task_instances = celery_stack.task_instances(MACRO_DAG_ID, run.run_id)
        assert set(task_instances) == set(TASK_IDS)
        for task_id, task_instance in task_instances.items():
            assert task_instance["queue"] == celery_stack.celery_queue  # routed to this stack's worker
            assert any(f"task_id='{task_id}'" in line and run.run_id in line for line in executed), (
                f"the Celery worker did not log executing {run.run_id} {task_id}")
    scheduler_log = (celery_stack.log_dir / "scheduler.log").read_text(errors="replace")
    assert "executor=CeleryExecutor" in scheduler_log
    assert "executor=LocalExecutor" not in scheduler_log
