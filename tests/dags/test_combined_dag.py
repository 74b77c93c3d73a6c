"""The combined DAG: kept up to date by the macro and news spaces' assets, and still a daily data-interval DAG."""

import pendulum
import pytest
from airflow.sdk import AssetAny, AssetOrTimeSchedule
from airflow.timetables.base import DataInterval

from joint_context.combined_space import REGIME_COMBINED_V0
from joint_context.spaces import REGIME_CONTEXT_V0, REGIME_MACRO_V0
from joint_context.timetables import ProcessedDayTimetable

DAY = DataInterval(pendulum.datetime(2025, 1, 2, tz="UTC"), pendulum.datetime(2025, 1, 3, tz="UTC"))


@pytest.fixture(scope="module")
def dag():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag()
    assert bag.import_errors == {}
    return bag.dags[REGIME_COMBINED_V0.dag_id]


def test_the_combined_dag_runs_daily_or_when_either_base_space_writes(dag):
    timetable = dag.timetable
    assert isinstance(timetable, AssetOrTimeSchedule)
    # the text spaces' timetable: {{ ds }} is the data interval start, and a manual run's interval is its day
    assert type(timetable.timetable) is ProcessedDayTimetable
    assert (timetable.timetable._expression, str(timetable.timetable._timezone)) == ("0 0 * * *", "UTC")
    assert isinstance(timetable.asset_condition, AssetAny), "either asset alone triggers a run"
    assert sorted(asset.uri for asset in timetable.asset_condition.objects) == sorted(
        [REGIME_MACRO_V0.asset_uri, REGIME_CONTEXT_V0.asset_uri])


def test_the_combined_dag_shape_and_params(dag):
    assert [task.task_id for task in dag.tasks] == ["combine"]
    assert dag.catchup is False and dag.tags and dag.doc_md
    assert dag.get_task("combine").retries >= 1
    assert set(dag.params) == {"as_of_date", "contexts", "macro_weight", "news_weight", "source_model_id",
                               "joint_model_id"}
    assert dag.params["joint_model_id"] == "joint-regime-combined-v1"
    assert [outlet.uri for outlet in dag.get_task("combine").outlets] == [REGIME_COMBINED_V0.asset_uri]


def test_the_scheduler_sees_the_same_schedule_after_serialization(dag):
    from airflow.serialization.serialized_objects import DagSerialization
    from airflow.timetables.assets import AssetOrTimeSchedule as SchedulerAssetOrTimeSchedule

    timetable = DagSerialization.from_dict(DagSerialization.to_dict(dag)).timetable
    assert isinstance(timetable, SchedulerAssetOrTimeSchedule) and type(timetable.timetable) is ProcessedDayTimetable
    # a manual run (the trigger form, airflow dags trigger) covers the UTC day of its logical date, as it processes
    for logical_date in ("2025-01-02T00:00:00Z", "2025-01-02T17:30:00Z"):
        assert timetable.infer_manual_data_interval(run_after=pendulum.parse(logical_date)) == DAY
    assert sorted(asset.uri for asset in timetable.asset_condition.objects) == sorted(
        [REGIME_MACRO_V0.asset_uri, REGIME_CONTEXT_V0.asset_uri])
