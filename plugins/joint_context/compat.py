"""The Airflow names that differ between the supported lines, picked by version, in one place.

Supported: Airflow 2.11 (tested on 2.11.2) and Airflow 3 (tested on 3.3.2). The line is chosen from
``airflow.__version__``, never by trying an import: a broken Airflow 3 install fails loudly here instead of
silently taking the 2.11 path.

Airflow 3 (task SDK)                        Airflow 2.11
``airflow.sdk.DAG``                         ``airflow.models.dag.DAG``
``airflow.sdk.Asset``                       ``airflow.datasets.Dataset`` (same URI, same role as an outlet)
``airflow.sdk.BaseOperator``                ``airflow.models.BaseOperator``
``airflow.sdk.BaseSensorOperator``          ``airflow.sensors.base.BaseSensorOperator``
``airflow.sdk.Param``                       ``airflow.models.param.Param``
``airflow.sdk.Context``                     ``airflow.utils.context.Context``
``airflow.sdk.exceptions.Airflow*``         ``airflow.exceptions.Airflow*``
``airflow.sdk.DeadlineAlert`` (+ Reference,  ``None``: deadlines are Airflow 3 only (the factory refuses one)
``airflow.sdk...callback.Callback``)
``airflow.sdk.AssetOrTimeSchedule``         ``airflow.timetables.datasets.DatasetOrTimeSchedule``
``context["triggering_asset_events"]``      ``context["triggering_dataset_events"]``

``airflow.timetables.interval.CronDataIntervalTimetable`` and the postgres provider's ``PostgresHook`` live at
the same path in both, so they are imported directly. ``tests/airflow2`` runs ``dags/`` on Airflow 2.11.
"""

from __future__ import annotations

import itertools

from airflow import __version__ as AIRFLOW_VERSION
from packaging.version import Version

_BASE_VERSION = Version(Version(AIRFLOW_VERSION).base_version)
if _BASE_VERSION < Version("2.11.0"):
    raise ImportError(f"joint_context supports Airflow 2.11 and 3.x; this is Airflow {AIRFLOW_VERSION}")
AIRFLOW_V_3_0_PLUS = _BASE_VERSION >= Version("3.0.0")

if AIRFLOW_V_3_0_PLUS:
    from airflow.sdk import (
        DAG,
        Asset,
        BaseOperator,
        BaseSensorOperator,
        Context,
        DeadlineAlert,
        DeadlineReference,
        Param,
    )
    from airflow.sdk.definitions.callback import Callback
    from airflow.sdk.exceptions import AirflowFailException, AirflowSensorTimeout
else:
    from airflow.datasets import Dataset as Asset
    from airflow.exceptions import AirflowFailException, AirflowSensorTimeout
    from airflow.models import BaseOperator
    from airflow.models.dag import DAG
    from airflow.models.param import Param
    from airflow.sensors.base import BaseSensorOperator
    from airflow.utils.context import Context

    DeadlineAlert = DeadlineReference = Callback = None  # deadlines are Airflow 3 only


def asset_or_time_schedule(timetable: object, assets: list) -> object:
    """``timetable`` (a core timetable, e.g. a cron data-interval one) OR an event of any of ``assets``."""
    if AIRFLOW_V_3_0_PLUS:
        from airflow.sdk import AssetAny, AssetOrTimeSchedule

        return AssetOrTimeSchedule(timetable=timetable, assets=AssetAny(*assets))
    else:
        from airflow.datasets import DatasetAny
        from airflow.timetables.datasets import DatasetOrTimeSchedule

        any_dataset = DatasetAny(*assets)  # noqa: AIR311 - the Airflow 2.11 path
        return DatasetOrTimeSchedule(timetable=timetable, datasets=any_dataset)  # noqa: AIR311 - the 2.11 path


def triggering_events(context) -> list:
    """The asset (2.11: dataset) events that triggered the run, of every asset; empty for other runs."""
    events = context.get("triggering_asset_events" if AIRFLOW_V_3_0_PLUS else "triggering_dataset_events")
    return [event for asset_events in (events or {}).values() for event in asset_events]


def events_since_run_was_created(context, assets: list) -> list:
    """The events of ``assets`` registered after the asset-triggered run was created, read through the task's
    ``inlet_events``. The scheduler consumes the events up to the run's creation only, and keeps one queue entry
    per asset: an event registered while a run is being created can lose its entry without being consumed."""
    dag_run, inlet_events = context.get("dag_run"), context.get("inlet_events")
    if dag_run is None or inlet_events is None:
        return []
    if AIRFLOW_V_3_0_PLUS:
        return [event for asset in assets for event in inlet_events[asset].after(dag_run.run_after)]
    else:  # 2.11: newest first, stopping at the first event the run consumed (its logical date is the cut-off)
        created = dag_run.execution_date
        return [event for asset in assets for event in
                itertools.takewhile(lambda event: event.timestamp > created, reversed(inlet_events[asset]))]


__all__ = [
    "AIRFLOW_VERSION",
    "AIRFLOW_V_3_0_PLUS",
    "DAG",
    "AirflowFailException",
    "AirflowSensorTimeout",
    "Asset",
    "BaseOperator",
    "BaseSensorOperator",
    "Callback",
    "Context",
    "DeadlineAlert",
    "DeadlineReference",
    "Param",
    "asset_or_time_schedule",
    "events_since_run_was_created",
    "triggering_events",
]
