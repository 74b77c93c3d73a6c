"""Issue 18, items 2 and 3: the trigger form's params each say what they are, and ``as_of_date`` names the day a
run processes, free of any time zone, validated alike by the form (Airflow's ``Param``) and by ``RunConfig``."""

from __future__ import annotations

import json
from datetime import date

import pytest

from joint_context.combined_config import CombinedRunConfig, parse_combined_contexts
from joint_context.combined_space import COMBINED_SPACES, REGIME_COMBINED_V0
from joint_context.compat import Param
from joint_context.config import ParamsError, RunConfig, parse_contexts
from joint_context.params import combined_params_schema, params_schema, rebuild_params_schema
from joint_context.spaces import SPACES

ALL_SPACES = pytest.mark.parametrize("space", SPACES.values(), ids=lambda space: space.joint_type)
EVERY_FORM = pytest.mark.parametrize("schema", [
    *(params_schema(space) for space in SPACES.values()),
    *(rebuild_params_schema(space) for space in SPACES.values()),
    *(combined_params_schema(space) for space in COMBINED_SPACES.values()),
], ids=[*(space.dag_id for space in SPACES.values()), *(f"{space.dag_id}_rebuild" for space in SPACES.values()),
        *(space.dag_id for space in COMBINED_SPACES.values())])


@EVERY_FORM
def test_every_param_has_a_title_and_a_description_of_a_sentence_or_more(schema):
    for name, param in schema.items():
        assert param.get("title") and param["title"] != name, name
        assert len(param.get("description", "")) >= 40 and param["description"].endswith((".", ")")), name


@ALL_SPACES
def test_the_contexts_description_names_every_filter_and_shows_a_valid_example(space):
    description = params_schema(space)["contexts"]["description"]
    for text_filter in space.filters:
        assert f"{text_filter.name}: {text_filter.description}" in description
    example = json.loads(description.split("Example: ", 1)[1].split(". A context", 1)[0])
    assert example == [dict(context) for context in space.example_contexts]
    assert len(parse_contexts(space, example)) == len(example) >= 2
    used = {key for context in example for key in context} - {"region"}
    assert used == set(space.filter_names), "the example shows every filter"


def test_the_combined_contexts_description_names_every_branch_filter_and_shows_a_valid_example():
    description = combined_params_schema(REGIME_COMBINED_V0)["contexts"]["description"]
    example = json.loads(description.split("Example: ", 1)[1].split(". A context", 1)[0])
    assert example == [dict(context) for context in REGIME_COMBINED_V0.example_contexts]
    assert len(parse_combined_contexts(REGIME_COMBINED_V0, example)) == len(example) >= 2
    assert {key for context in example for key in context} - {"region"} == set(REGIME_COMBINED_V0.filter_names)
    for branch in REGIME_COMBINED_V0.branches:
        for text_filter in branch.space.filters:
            assert f"{text_filter.name}: {branch.space.joint_type} rows" in description


def test_the_combined_as_of_date_is_optional_and_validated_alike():
    assert CombinedRunConfig.from_params(REGIME_COMBINED_V0, {}).as_of_date is None
    config = CombinedRunConfig.from_params(REGIME_COMBINED_V0, {"as_of_date": "2025-01-02"}, ["as_of_date"])
    assert config.as_of_date == date(2025, 1, 2)
    assert combined_params_schema(REGIME_COMBINED_V0)["as_of_date"]["format"] == "date"
    with pytest.raises(ParamsError, match="as_of_date"):
        CombinedRunConfig.from_params(REGIME_COMBINED_V0, {"as_of_date": "2025-02-30"}, ["as_of_date"])


@ALL_SPACES
def test_as_of_date_is_optional_and_wins_when_set(space):
    assert RunConfig.from_params(space, {}).as_of_date is None
    assert RunConfig.from_params(space, {"as_of_date": None}, ["as_of_date"]).as_of_date is None
    config = RunConfig.from_params(space, {"as_of_date": "2025-01-02"}, ["as_of_date"])
    assert config.as_of_date == date(2025, 1, 2)
    assert Param(**params_schema(space)["as_of_date"]).resolve("2025-01-02") == "2025-01-02"
    assert Param(**params_schema(space)["as_of_date"]).resolve(None) is None


@pytest.mark.parametrize("value", ["2025-1-2", "20250102", "2025-02-30", "2025-01-02T00:00:00Z", "02/01/2025", "",
                                   " 2025-01-02", 20250102, ["2025-01-02"]])
def test_as_of_date_that_is_not_an_iso_day_is_refused_by_the_form_and_the_run(value):
    space = SPACES["REGIME_MACRO_V0"]
    with pytest.raises(ParamsError, match="as_of_date"):
        RunConfig.from_params(space, {"as_of_date": value}, ["as_of_date"])
    with pytest.raises(Exception, match=r"(?i)not a 'date'|is not of type|does not match|not valid"):
        Param(**params_schema(space)["as_of_date"]).resolve(value)
