"""Imports that moved between Airflow 2.11 and Airflow 3, in one place.

Airflow 3 (task SDK)                        Airflow 2.11
``airflow.sdk.DAG``                         ``airflow.models.dag.DAG``
``airflow.sdk.Asset``                       ``airflow.datasets.Dataset`` (same URI, same role as an outlet)
``airflow.sdk.BaseOperator``                ``airflow.models.BaseOperator``
``airflow.sdk.BaseSensorOperator``          ``airflow.sensors.base.BaseSensorOperator``
``airflow.sdk.Param``                       ``airflow.models.param.Param``
``airflow.sdk.exceptions.Airflow*``         ``airflow.exceptions.Airflow*``

``airflow.timetables.interval.CronDataIntervalTimetable`` and the postgres provider's ``PostgresHook`` live at
the same path in both, so they are imported directly. ``tests/airflow2`` runs ``dags/`` on Airflow 2.11.
"""

from __future__ import annotations

try:  # Airflow 3: the task SDK
    from airflow.sdk import DAG, Asset, BaseOperator, BaseSensorOperator, Param
    from airflow.sdk.exceptions import AirflowFailException, AirflowSensorTimeout

    AIRFLOW_3 = True
except ImportError:  # Airflow 2.11
    from airflow.datasets import Dataset as Asset
    from airflow.exceptions import AirflowFailException, AirflowSensorTimeout
    from airflow.models import BaseOperator
    from airflow.models.dag import DAG
    from airflow.models.param import Param
    from airflow.sensors.base import BaseSensorOperator

    AIRFLOW_3 = False

__all__ = [
    "AIRFLOW_3",
    "DAG",
    "AirflowFailException",
    "AirflowSensorTimeout",
    "Asset",
    "BaseOperator",
    "BaseSensorOperator",
    "Param",
]
