"""The DAGs' timetable: runs due at 00:00 UTC, each covering one UTC day, manual runs included.

Airflow's ``CronDataIntervalTimetable`` gives a manual run at logical date 2025-01-02 the interval 2025-01-01 →
2025-01-02 (the last period that closed before it), while ``{{ ds }}``, the day the run processes, is 2025-01-02.
Here a manual run (the trigger form, ``airflow dags trigger``, ``airflow dags test DAG 2025-01-02``) covers the
period that *starts* at its logical date's period: 2025-01-02 → 2025-01-03. Scheduled runs and backfills are
unchanged (the run due at 2025-01-03 00:00 covers 2025-01-02), so every run type's interval is the day processed.

A custom timetable is serialized by its import path, which the scheduler and the api-server accept only when a
plugin registers the class: :class:`JointContextPlugin` does, exported by ``plugins/processed_day_plugin.py`` (the
plugins folder; the Docker image copies that file into its own).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow.plugins_manager import AirflowPlugin
from airflow.timetables.base import DataInterval
from airflow.timetables.interval import CronDataIntervalTimetable

if TYPE_CHECKING:
    from pendulum import DateTime


class ProcessedDayTimetable(CronDataIntervalTimetable):
    """``CronDataIntervalTimetable`` whose manual runs cover the period their logical date falls in."""

    def infer_manual_data_interval(self, *, run_after: DateTime) -> DataInterval:
        start = self._align_to_prev(run_after)
        return DataInterval(start=start, end=self._get_next(start))


class JointContextPlugin(AirflowPlugin):
    """Registers :class:`ProcessedDayTimetable`, so DAGs using it can be serialized."""

    name = "joint_context"
    timetables = [ProcessedDayTimetable]
