"""Imports that moved between Airflow 2.11 and Airflow 3, in one place."""

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
