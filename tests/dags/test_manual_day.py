"""Issue 18, item 2: ``as_of_date`` names the day of a manual run; the tasks read it through their templates, and
refuse it on the run types whose day is their own (one date for every run of a backfill would be a mistake)."""

from __future__ import annotations

import pytest
from airflow.models.dagrun import DagRun
from airflow.utils.types import DagRunType

from joint_context.config import default_params
from joint_context.errors import ParamsError
from joint_context.operators import run_config
from joint_context.run_day import AS_OF_DATE_TEMPLATE
from joint_context.spaces import REGIME_MACRO_V0


def dag_run(run_type: DagRunType, conf: dict) -> DagRun:
    return DagRun(dag_id=REGIME_MACRO_V0.dag_id, run_id=f"{run_type.value}__x", run_type=run_type, conf=conf)


def test_every_task_that_reads_the_day_takes_as_of_date_when_set():
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag().dags[REGIME_MACRO_V0.dag_id]
    assert AS_OF_DATE_TEMPLATE == "{{ params.as_of_date or ds }}"
    assert {task.task_id: task.as_of_date for task in dag.tasks if hasattr(task, "as_of_date")} == {
        "wait_for_regimes": AS_OF_DATE_TEMPLATE, "extract": AS_OF_DATE_TEMPLATE}
    # write and aggregate take the day extract read (its XCom), so all four process the same day


@pytest.mark.parametrize("run_type", [DagRunType.BACKFILL_JOB, DagRunType.SCHEDULED, DagRunType.ASSET_TRIGGERED])
def test_as_of_date_is_refused_on_runs_whose_day_is_their_own(run_type):
    conf = {"as_of_date": "2025-01-02"}
    context = {"params": {**default_params(REGIME_MACRO_V0), **conf}, "dag_run": dag_run(run_type, conf)}
    with pytest.raises(ParamsError, match=f"as_of_date=2025-01-02 is for manual runs; this {run_type.value} run"):
        run_config(REGIME_MACRO_V0, context)


def test_as_of_date_is_taken_on_a_manual_run_and_absent_elsewhere():
    conf = {"as_of_date": "2025-01-02"}
    manual = {"params": {**default_params(REGIME_MACRO_V0), **conf}, "dag_run": dag_run(DagRunType.MANUAL, conf)}
    assert run_config(REGIME_MACRO_V0, manual).as_of_date.isoformat() == "2025-01-02"
    for run_type in (DagRunType.BACKFILL_JOB, DagRunType.SCHEDULED):
        plain = {"params": default_params(REGIME_MACRO_V0), "dag_run": dag_run(run_type, {})}
        assert run_config(REGIME_MACRO_V0, plain).as_of_date is None
