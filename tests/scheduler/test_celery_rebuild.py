"""The rebuild DAG on the CeleryExecutor with two workers (real Redis, real ``airflow celery worker`` processes with
distinct ``--celery-hostname``s): the mapped chunks of one rebuild run on both workers, and the rows are written.

Needs Redis as ``test_celery.py`` does (skipped without it unless ``JOINT_CONTEXT_REQUIRE_REDIS=1``).
"""

from __future__ import annotations

import json
from datetime import date, timedelta

import numpy as np
import pytest

from devtools.seed import insert_macro_event, insert_regime, utc
from joint_context.dag_factory import rebuild_dag_id
from joint_context.spaces import REGIME_MACRO_V0
from tests.helpers import expected_joint, joint_rows, random_vectors
from tests.scheduler import conftest

pytestmark = pytest.mark.scheduler

REBUILD_DAG_ID = rebuild_dag_id(REGIME_MACRO_V0)
DAYS = [date(2025, 2, 3) + timedelta(days=offset) for offset in range(8)]
WORKERS = ("celery-worker", "celery-worker-2")


@pytest.fixture(scope="module")
def two_worker_stack(pg_admin_dsn, databases, scheduler_dags_folder, tmp_path_factory):
    yield from conftest.celery_stack(pg_admin_dsn, databases, scheduler_dags_folder,
                                     tmp_path_factory.mktemp("celery-2-stack"), workers=2)


def test_the_mapped_chunks_of_one_rebuild_run_on_both_celery_workers(two_worker_stack, data_conns):
    runtime_conn, historical_conn = data_conns
    rng = np.random.default_rng(15)
    inputs = {}
    for day in DAYS:
        regime, texts = random_vectors(rng, 1)[0], random_vectors(rng, 2)
        insert_regime(runtime_conn, region="US", as_of_date=day, vector=regime)
        for index, vector in enumerate(texts):
            insert_macro_event(historical_conn, timestamp=utc(day, 8 + index), vector=vector, country="US")
        inputs[day] = (regime, texts)

    stack = two_worker_stack
    stack.wait_for_dags([REBUILD_DAG_ID])
    stack.unpause(REBUILD_DAG_ID)
    conf = {"first_date": DAYS[0].isoformat(), "last_date": DAYS[-1].isoformat(), "chunk_days": 1}
    stack.airflow("dags", "trigger", REBUILD_DAG_ID, "-c", json.dumps(conf))
    (run,) = stack.wait_for_runs(REBUILD_DAG_ID, lambda runs: len(runs) == 1 and runs[0].state in ("success", "failed"),
                                 timeout=600, what="the rebuild run to finish")
    assert run.state == "success", stack.log_tails()

    chunks = stack.query("SELECT map_index, state, queue FROM task_instance WHERE dag_id = %(dag_id)s"
                         " AND run_id = %(run_id)s AND task_id = 'rebuild_chunk' ORDER BY map_index",
                         {"dag_id": REBUILD_DAG_ID, "run_id": run.run_id})
    assert [(row["map_index"], row["state"]) for row in chunks] == [(index, "success") for index in range(len(DAYS))]
    assert {row["queue"] for row in chunks} == {stack.celery_queue}
    taken = {}
    for worker in WORKERS:
        log = (stack.log_dir / f"{worker}.log").read_text(errors="replace")
        taken[worker] = [line for line in log.splitlines() if "Executing workload in Celery" in line
                         and "task_id='rebuild_chunk'" in line and run.run_id in line]
    assert all(taken.values()), f"chunks per worker: { {worker: len(lines) for worker, lines in taken.items()} }"
    assert sum(len(lines) for lines in taken.values()) == len(DAYS)

    rows = joint_rows(historical_conn)
    assert [(row[1], row[2]["region"]) for row in rows] == [(day, "US") for day in DAYS]
    for row in rows:
        np.testing.assert_allclose(row[4], expected_joint(*inputs[row[1]]), rtol=1e-6, atol=1e-7)
