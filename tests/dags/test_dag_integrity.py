"""Every DAG file imports cleanly and follows the house rules."""

import pytest
from airflow.timetables.interval import CronDataIntervalTimetable

from joint_context.combined_space import COMBINED_SPACES
from joint_context.dag_factory import rebuild_dag_id
from joint_context.spaces import REGIME_CONTEXT_V0, REGIME_MACRO_V0, SPACES

REBUILT_SPACES = (REGIME_MACRO_V0, REGIME_CONTEXT_V0)


@pytest.fixture(scope="module")
def dag_bag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag()


def test_no_import_errors(dag_bag):
    assert dag_bag.import_errors == {}


def test_one_dag_per_joint_space_and_one_rebuild_dag_per_text_space(dag_bag):
    assert set(dag_bag.dags) == ({space.dag_id for space in (*SPACES.values(), *COMBINED_SPACES.values())}
                                 | {rebuild_dag_id(space) for space in REBUILT_SPACES})


@pytest.mark.parametrize("space", SPACES.values(), ids=lambda space: space.dag_id)
def test_dag_shape_and_rules(dag_bag, space):
    dag = dag_bag.dags[space.dag_id]
    assert [task.task_id for task in dag.topological_sort()] == ["wait_for_regimes", "extract", "aggregate", "write"]
    assert isinstance(dag.timetable, CronDataIntervalTimetable), "as_of_date must be the data interval start"
    assert dag.catchup is False
    assert dag.tags and dag.doc_md
    assert all(task.retries >= 1 for task in dag.tasks if task.task_id != "wait_for_regimes")
    assert set(dag.params) == {"contexts", "numeric_weight", "text_weight", "text_model_id", "source_type",
                               "joint_model_id", "branch_normalization", "as_of_date"}
    assert [outlet.uri for outlet in dag.get_task("write").outlets] == [space.asset_uri]


def test_dag_files_import_no_heavy_modules_at_parse_time():
    import subprocess
    import sys

    probe = (
        "import sys; sys.path[:0] = ['dags']\n"
        "import joint_regime_macro_context, joint_regime_news_context, joint_regime_combined_context\n"
        "import joint_regime_macro_context_rebuild, joint_regime_news_context_rebuild\n"
        "heavy = [m for m in ('numpy', 'psycopg', 'psycopg2', 'matplotlib') if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=".")
    assert result.stdout.strip().splitlines()[-1:] in ([], [""]), result.stdout
