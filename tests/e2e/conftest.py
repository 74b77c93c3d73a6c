from __future__ import annotations

import datetime as dt

import pytest


@pytest.fixture(scope="session")
def parse_dags(airflow_metadata_db, databases):
    """Parse ``dags/`` afresh: in-process runs change the DAG's params, as a task process never would."""
    from airflow.dag_processing.dagbag import DagBag

    def parse():
        bag = DagBag()
        assert not bag.import_errors, bag.import_errors
        return bag

    return parse


@pytest.fixture
def run_dag(parse_dags, clean_databases):
    """Run a DAG for one as_of_date through ``dag.test`` and return the DagRun's state."""
    import pendulum

    def run(dag_id: str, as_of_date: dt.date, conf: dict | None = None) -> str:
        logical_date = pendulum.datetime(as_of_date.year, as_of_date.month, as_of_date.day, tz="UTC")
        dag_run = parse_dags().dags[dag_id].test(logical_date=logical_date, run_conf=conf)
        return str(getattr(dag_run.state, "value", dag_run.state))

    return run
