"""Run by the Airflow 2.11 interpreter (not by pytest): parse ``dags/`` and print what the tests check, as JSON.

The last line of output is one JSON object: what the plugin loader did, Airflow's version, the DagBag's import
errors, what ``joint_context.compat`` resolved to, each DAG's shape, and a downstream DAG scheduled on an outlet.
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import airflow
import pendulum
from airflow import plugins_manager
from airflow.models.dagbag import DagBag  # noqa: AIR302 - this runs on Airflow 2.11, where DagBag lives here

from joint_context import compat
from joint_context.combined_space import COMBINED_SPACES
from joint_context.spaces import SPACES


def qualified_name(value: object) -> str:
    kind = value if isinstance(value, type) else type(value)
    return f"{kind.__module__}.{kind.__qualname__}"


def dag_shape(dag) -> dict:
    if "plan" in dag.task_ids:
        return rebuild_dag_shape(dag)
    if dag.dag_id in {space.dag_id for space in COMBINED_SPACES.values()}:
        return combined_dag_shape(dag)
    sensor = dag.get_task("wait_for_regimes")
    return {
        "task_ids": [task.task_id for task in dag.topological_sort()],
        "timetable": qualified_name(dag.timetable),
        "catchup": dag.catchup,
        "params": sorted(dag.params),
        "retries": {task.task_id: task.retries for task in dag.tasks},
        "write_outlets": [[qualified_name(outlet), outlet.uri] for outlet in dag.get_task("write").outlets],
        "sensor": {"mode": sensor.mode, "poke_interval": sensor.poke_interval, "timeout": sensor.timeout},
    }


def rebuild_dag_shape(dag) -> dict:
    chunk = dag.get_task("rebuild_chunk")
    return {
        "task_ids": [task.task_id for task in dag.topological_sort()],
        "timetable": qualified_name(dag.timetable),
        "params": list(dag.params),
        "chunk_operator": qualified_name(chunk),
        "chunk_outlets": [[qualified_name(outlet), outlet.uri] for outlet in chunk.outlets],
        "summarize_trigger_rule": str(dag.get_task("summarize").trigger_rule),
    }


def combined_dag_shape(dag) -> dict:
    """The combined DAG: one task, on the cron timetable or either base space's dataset."""
    timetable = dag.timetable
    return {
        "task_ids": [task.task_id for task in dag.topological_sort()],
        "timetable": qualified_name(timetable),
        "inner_timetable": qualified_name(timetable.timetable),
        "dataset_uris": sorted(uri for uri, _dataset in timetable.dataset_condition.iter_datasets()),
        "catchup": dag.catchup,
        "params": sorted(dag.params),
        "retries": {task.task_id: task.retries for task in dag.tasks},
    }


def downstream_dag_schedules() -> dict:
    """A consumer DAG scheduled on each space's outlet: what its timetable waits for."""
    schedules = {}
    for space in SPACES.values():
        with compat.DAG(
            dag_id=f"consumer_of_{space.joint_type.lower()}", schedule=[compat.Asset(space.asset_uri)],
            start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
        ) as consumer:
            pass
        schedules[space.joint_type] = {
            "timetable": qualified_name(consumer.timetable),
            "dataset_uris": sorted(uri for uri, _dataset in consumer.timetable.dataset_condition.iter_datasets()),
        }
    return schedules


def plugin_loading() -> dict:
    """What Airflow's plugin loader did with ``plugins/``: its errors, and package files it exec'd as modules."""
    plugins_manager.ensure_plugins_loaded()
    package_dir = "/plugins/joint_context/"
    return {
        "import_errors": dict(plugins_manager.import_errors),
        "package_files_loaded_as_plugins": sorted(
            name for name, module in sys.modules.items()
            if package_dir in str(getattr(module, "__file__", "")) and not name.startswith("joint_context")
        ),
    }


def main() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        bag = DagBag(include_examples=False)
    repo = str(Path(__file__).resolve().parents[2])
    report = {
        "plugins": plugin_loading(),
        "airflow_version": airflow.__version__,
        "import_errors": dict(bag.import_errors),
        "compat": {
            name: qualified_name(getattr(compat, name))
            for name in ("DAG", "Asset", "BaseOperator", "BaseSensorOperator", "Param", "AirflowFailException",
                         "AirflowSensorTimeout")
        } | {"AIRFLOW_V_3_0_PLUS": compat.AIRFLOW_V_3_0_PLUS},
        "dags": {dag_id: dag_shape(dag) for dag_id, dag in sorted(bag.dags.items())},
        "downstream": downstream_dag_schedules(),
        # deprecations our code (the package, the DAG files) raised while the DAGs were parsed
        "own_deprecations": [f"{warning.category.__name__}: {warning.message} ({warning.filename}:{warning.lineno})"
                             for warning in caught if issubclass(warning.category, DeprecationWarning)
                             and warning.filename.startswith(repo)],
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
