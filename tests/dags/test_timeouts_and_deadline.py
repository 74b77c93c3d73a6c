"""Every task of the real DAGs is bounded in time, the sensor survives a hung poke, and a deadline given to the
factory reaches the serialized DAG (what the scheduler reads) as "rows due N hours after the day's end"."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from joint_context.spaces import REGIME_MACRO_V0, SPACES


@pytest.fixture(scope="module")
def dag_bag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag()


@pytest.mark.parametrize("space", SPACES.values(), ids=lambda space: space.dag_id)
def test_every_task_and_run_has_a_time_bound(dag_bag, space):
    dag = dag_bag.dags[space.dag_id]
    sensor = dag.get_task("wait_for_regimes")
    assert dag.dagrun_timeout == timedelta(hours=8)  # the 6 hours' wait and two hours for the rest
    assert {task.task_id: task.execution_timeout for task in dag.tasks} == {
        "wait_for_regimes": timedelta(minutes=5), "extract": timedelta(minutes=30),
        "aggregate": timedelta(minutes=30), "write": timedelta(minutes=30)}
    assert sensor.mode == "reschedule" and sensor.retries == 2  # a poke killed by its timeout is tried again


def test_the_rebuild_and_combined_dags_tasks_are_bounded_in_time_too(dag_bag):
    from joint_context.combined_space import REGIME_COMBINED_V0
    from joint_context.dag_factory import rebuild_dag_id

    for space in SPACES.values():
        rebuild = dag_bag.dags[rebuild_dag_id(space)]
        assert {task.task_id: task.execution_timeout for task in rebuild.tasks} == {
            "plan": timedelta(minutes=30), "rebuild_chunk": timedelta(hours=2), "summarize": timedelta(minutes=30)}
    combined = dag_bag.dags[REGIME_COMBINED_V0.dag_id]
    assert {task.task_id: task.execution_timeout for task in combined.tasks} == {"combine": timedelta(minutes=30)}


async def rows_late(text: str, **_context) -> None:
    """A deadline callback as the triggerer imports it (top level, awaitable)."""


def test_a_deadline_reaches_the_serialized_dag_as_hours_after_the_days_end():
    from airflow.sdk import AsyncCallback
    from airflow.serialization.serialized_objects import DagSerialization

    from joint_context.dag_factory import build_joint_context_dag

    dag = build_joint_context_dag(
        dataclasses.replace(REGIME_MACRO_V0, dag_id="deadline_probe"), doc_md="probe",
        rows_due_after_day_end=timedelta(hours=6),
        on_rows_late=AsyncCallback(rows_late, kwargs={"text": "rows late"}),
    )
    serialized = DagSerialization.to_dict(dag)["dag"]
    (deadline,) = serialized["deadline"]
    text = str(deadline)
    assert "tests.dags.test_timeouts_and_deadline.rows_late" in text
    assert "DagRunLogicalDateDeadline" in text
    assert str(int(timedelta(days=1, hours=6).total_seconds())) in text
    assert "rows late" in text
    restored = DagSerialization.from_dict(DagSerialization.to_dict(dag))
    assert restored.deadline


def test_a_deadline_needs_its_callback():
    from joint_context.dag_factory import build_joint_context_dag

    with pytest.raises(ValueError, match="give both or neither"):
        build_joint_context_dag(dataclasses.replace(REGIME_MACRO_V0, dag_id="deadline_probe_2"), doc_md="probe",
                                rows_due_after_day_end=timedelta(hours=6))
