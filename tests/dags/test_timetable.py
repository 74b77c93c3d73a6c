"""Issue 18, item 1: every run type's data interval is the UTC day the run processes (its ``{{ ds }}``)."""

from __future__ import annotations

import pendulum
import pytest
from airflow.timetables.base import DataInterval

from joint_context.spaces import SPACES
from joint_context.timetables import ProcessedDayTimetable


def utc(text: str) -> pendulum.DateTime:
    return pendulum.parse(text).in_timezone("UTC")


DAY = DataInterval(utc("2025-01-02T00:00:00Z"), utc("2025-01-03T00:00:00Z"))


@pytest.mark.parametrize("logical_date", ["2025-01-02T00:00:00Z", "2025-01-02T12:34:56Z", "2025-01-02T23:59:59Z",
                                          "2025-01-02T09:00:00+09:00"])
def test_a_manual_run_covers_the_utc_day_of_its_logical_date(logical_date):
    timetable = ProcessedDayTimetable("0 0 * * *", timezone="UTC")
    assert timetable.infer_manual_data_interval(run_after=utc(logical_date)) == DAY


def test_scheduled_runs_keep_covering_the_day_that_has_just_closed():
    timetable = ProcessedDayTimetable("0 0 * * *", timezone="UTC")
    from airflow.timetables.base import TimeRestriction

    restriction = TimeRestriction(earliest=utc("2025-01-01T00:00:00Z"), latest=None, catchup=True)
    first = timetable.next_dagrun_info(last_automated_data_interval=None, restriction=restriction)
    second = timetable.next_dagrun_info(last_automated_data_interval=first.data_interval, restriction=restriction)
    assert first.data_interval == DataInterval(utc("2025-01-01T00:00:00Z"), utc("2025-01-02T00:00:00Z"))
    assert second.data_interval == DAY and second.run_after == DAY.end and second.logical_date == DAY.start


@pytest.mark.parametrize("space", SPACES.values(), ids=lambda space: space.dag_id)
def test_the_dags_timetable_is_registered_by_the_plugin_and_survives_serialization(space):
    from airflow import plugins_manager
    from airflow.dag_processing.dagbag import DagBag
    from airflow.serialization.decoders import decode_timetable
    from airflow.serialization.encoders import encode_timetable

    registered = plugins_manager.get_timetables_plugins()
    assert registered == {"joint_context.timetables.ProcessedDayTimetable": ProcessedDayTimetable}
    dag = DagBag().dags[space.dag_id]
    assert type(dag.timetable) is ProcessedDayTimetable
    restored = decode_timetable(encode_timetable(dag.timetable))
    assert type(restored) is ProcessedDayTimetable
    assert restored.infer_manual_data_interval(run_after=DAY.start) == DAY
