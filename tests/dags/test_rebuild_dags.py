"""The rebuild DAGs: plan → rebuild_chunk (mapped) → summarize, no schedule, the per-date DAG's params plus a range."""

from datetime import date, timedelta

import pytest

from joint_context.config import ParamsError, RebuildRange, rebuild_config
from joint_context.dag_factory import rebuild_dag_id
from joint_context.params import params_schema
from joint_context.pipeline.rebuild import plan_chunks
from joint_context.spaces import REGIME_CONTEXT_V0, REGIME_MACRO_V0

REBUILT_SPACES = (REGIME_MACRO_V0, REGIME_CONTEXT_V0)
RANGE = {"first_date": "2016-01-01", "last_date": "2025-12-31"}


@pytest.fixture(scope="module")
def dag_bag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag()


@pytest.mark.parametrize("space", REBUILT_SPACES, ids=lambda space: space.dag_id)
def test_rebuild_dag_shape_mapping_and_rules(dag_bag, space):
    dag = dag_bag.dags[rebuild_dag_id(space)]
    assert [task.task_id for task in dag.topological_sort()] == ["plan", "rebuild_chunk", "summarize"]
    assert type(dag.timetable).__name__ == "NullTimetable", "schedule=None: runs only when triggered"
    assert dag.tags and "rebuild" in dag.tags and dag.doc_md
    chunk = dag.get_task("rebuild_chunk")
    assert type(chunk).__name__ == "MappedOperator", "rebuild_chunk must be mapped over plan's chunks"
    assert chunk.retries >= 1, "a transient error retries the chunk"
    assert [outlet.uri for outlet in chunk.outlets] == [space.asset_uri]
    summarize = dag.get_task("summarize")
    assert summarize.trigger_rule == "all_done", "one failed chunk must not keep the summary from running"
    assert set(dag.get_task("plan").downstream_task_ids) == {"rebuild_chunk", "summarize"}


@pytest.mark.parametrize("space", REBUILT_SPACES, ids=lambda space: space.dag_id)
def test_rebuild_params_are_the_range_then_exactly_the_per_date_dags_params(dag_bag, space):
    dag = dag_bag.dags[rebuild_dag_id(space)]
    daily = dag_bag.dags[space.dag_id]
    per_date = [name for name in params_schema(space) if name != "as_of_date"]  # a rebuild's days are its range
    assert list(dag.params) == ["first_date", "last_date", "chunk_days", *per_date]
    for name in per_date:
        assert dag.params.get_param(name).schema == daily.params.get_param(name).schema
        assert dag.params[name] == daily.params[name]
    assert dag.params["chunk_days"] == 92


def test_as_of_date_is_refused_in_a_rebuilds_conf():
    with pytest.raises(ParamsError, match="a rebuild covers first_date..last_date"):
        rebuild_config(REGIME_MACRO_V0, {**RANGE, "as_of_date": "2020-01-01"}, [*RANGE, "as_of_date"])


def test_range_params_are_validated():
    good = rebuild_config(REGIME_MACRO_V0, {**RANGE, "chunk_days": 30}, [*RANGE, "chunk_days"])[1]
    assert good == RebuildRange(date(2016, 1, 1), date(2025, 12, 31), 30)
    for params, message in (
        ({**RANGE, "first_date": "2026-01-01"}, "is after last_date"),
        ({**RANGE, "last_date": "31/12/2025"}, "last_date must be an ISO date"),
        ({"last_date": "2025-12-31"}, "first_date must be an ISO date"),
        ({**RANGE, "chunk_days": 0}, "chunk_days must be a whole number"),
        ({**RANGE, "chunk_days": 1.5}, "chunk_days must be a whole number"),
        ({**RANGE, "chunk_days": True}, "chunk_days must be a whole number"),
    ):
        with pytest.raises(ParamsError, match=message):
            rebuild_config(REGIME_MACRO_V0, params, params)


def test_unknown_conf_keys_and_bad_space_params_are_refused_as_by_the_per_date_dag():
    with pytest.raises(ParamsError, match=r"unknown key\(s\) in conf: \['chunk_size'\]"):
        rebuild_config(REGIME_MACRO_V0, {**RANGE, "chunk_size": 3}, [*RANGE, "chunk_size"])
    with pytest.raises(ParamsError, match="language"):
        rebuild_config(REGIME_MACRO_V0, {**RANGE, "contexts": [{"region": "US", "language": "en"}]},
                       [*RANGE, "contexts"])


def test_chunks_cover_the_range_once_in_order():
    first, last = date(2016, 1, 1), date(2025, 12, 31)
    for chunk_days in (1, 7, 92, 5000):
        chunks = plan_chunks(first, last, chunk_days)
        assert chunks[0][0] == first and chunks[-1][1] == last
        pairs = zip(chunks[:-1], chunks[1:], strict=True)
        assert all(later[0] == earlier[1] + timedelta(days=1) for earlier, later in pairs)
        assert all((end - start).days + 1 == chunk_days for start, end in chunks[:-1])
        assert 1 <= (chunks[-1][1] - chunks[-1][0]).days + 1 <= chunk_days
    assert plan_chunks(first, first, 92) == [(first, first)]
