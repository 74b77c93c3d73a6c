import pytest

from joint_context.config import ParamsError, RunConfig
from joint_context.params import params_schema
from joint_context.spaces import REGIME_CONTEXT_V0, REGIME_MACRO_V0, canonical_json, joint_lock_key, joint_lock_keys


def test_defaults_are_the_documented_ones():
    config = RunConfig.from_params(REGIME_MACRO_V0, {})
    assert [(c.region, c.filter_dict) for c in config.contexts] == [("US", {"country": "US"})]
    assert (config.joint_model.numeric_weight, config.joint_model.text_weight) == (0.5, 0.5)
    assert (config.text_model_id, config.source_type, config.joint_model_id) == (
        "text-macro-v1", "MACRO", "joint-regime-core-v1")


def test_entity_scope_holds_exactly_the_filters_applied():
    config = RunConfig.from_params(
        REGIME_MACRO_V0, {"contexts": [{"region": "EU", "country": "DE", "event_type": "CPI"}, {"region": "US"}]}
    )
    assert [config.entity_scope(c) for c in config.contexts] == [
        {"region": "EU", "source": "regime+macro", "macro_filters": {"country": "DE", "event_type": "CPI"}},
        {"region": "US", "source": "regime+macro", "macro_filters": {}},
    ]


def test_news_scopes_hold_the_case_insensitive_language_in_its_canonical_lower_case():
    config = RunConfig.from_params(REGIME_CONTEXT_V0, {"contexts": [{"region": "US", "language": "EN"}]})
    assert config.entity_scope(config.contexts[0]) == {
        "region": "US", "source": "regime+news", "news_filters": {"language": "en"}}
    assert config.text_model_id == "text-fin-general-v1" and config.source_type == "NEWS"


def test_two_contexts_that_select_the_same_rows_are_one_context():
    with pytest.raises(ParamsError, match=r"contexts\[1\] repeats contexts\[0\].*language ignores case"):
        RunConfig.from_params(REGIME_CONTEXT_V0, {"contexts": [{"region": "US", "language": "en"},
                                                               {"region": "US", "language": "EN"}]})
    # an exact-match filter keeps its case: these are two contexts
    config = RunConfig.from_params(REGIME_MACRO_V0, {"contexts": [{"region": "US", "country": "us"},
                                                                  {"region": "US", "country": "US"}]})
    assert [scope.filter_dict for scope in config.contexts] == [{"country": "us"}, {"country": "US"}]


@pytest.mark.parametrize(("context", "message"), [
    ({"region": "EU "}, r"contexts\[0\]\.region 'EU ' has leading or trailing white space"),
    ({"region": " EU"}, "would not select the rows of 'EU'"),
    ({"region": "US", "country": "D\tE\n"}, r"contexts\[0\]\.country .* white space"),
    ({"region": "Z" + "U\u0308"}, "is not in Unicode NFC form.*write 'ZÜ'"),
    ({"region": "US", "event_type": "Cafe\u0301"}, r"contexts\[0\]\.event_type .* NFC"),
])
def test_values_that_would_silently_match_nothing_are_refused_with_what_to_write(context, message):
    with pytest.raises(ParamsError, match=message):
        RunConfig.from_params(REGIME_MACRO_V0, {"contexts": [context]})


def test_the_composed_spelling_of_the_same_region_is_accepted():
    config = RunConfig.from_params(REGIME_MACRO_V0, {"contexts": [{"region": "Z\u00dc"}]})
    assert config.contexts[0].region == "ZÜ"


def test_a_null_filter_means_not_applied():
    config = RunConfig.from_params(REGIME_MACRO_V0, {"contexts": [{"region": "US", "country": None}]})
    assert config.contexts[0].filter_dict == {}


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"contexts": []}, "non-empty list"),
        ({"contexts": "US"}, "non-empty list"),
        ({"contexts": ["US"]}, r"contexts\[0\] must be an object"),
        ({"contexts": [{"country": "US"}]}, r"contexts\[0\].region must be a non-empty string"),
        ({"contexts": [{"region": ""}]}, "non-empty string"),
        ({"contexts": [{"region": "US", "language": "en"}]}, r"unknown key\(s\) \['language'\]"),
        ({"contexts": [{"region": "US"}, {"region": "US"}]}, r"contexts\[1\] repeats contexts\[0\]"),
        ({"contexts": [{"region": "X" * 33}]}, "at most 32"),
        ({"numeric_weight": -1}, "numeric_weight must be >= 0"),
        ({"numeric_weight": 0, "text_weight": 0}, "must be > 0"),
        ({"text_model_id": ""}, "text_model_id must be a non-empty string"),
        ({"joint_model_id": 7}, "joint_model_id must be a non-empty string"),
    ],
)
def test_bad_params_fail_with_a_specific_message(params, message):
    with pytest.raises(ParamsError, match=message):
        RunConfig.from_params(REGIME_MACRO_V0, params)


def test_unknown_conf_keys_are_an_error_not_ignored():
    with pytest.raises(ParamsError, match=r"unknown key\(s\) in conf: \['contxts'\]"):
        RunConfig.from_params(REGIME_MACRO_V0, {}, conf_keys=["contxts", "numeric_weight"])


def test_params_schema_lists_every_param_with_its_default():
    schema = params_schema(REGIME_MACRO_V0)
    assert set(schema) == {"contexts", "numeric_weight", "text_weight", "text_model_id", "source_type",
                           "joint_model_id", "branch_normalization", "as_of_date"}
    assert schema["contexts"]["items"]["additionalProperties"] is False
    assert set(schema["contexts"]["items"]["properties"]) == {"region", "country", "event_type"}


def test_lock_key_ignores_scope_key_order_and_separates_keys():
    scope = {"region": "US", "source": "regime+macro", "macro_filters": {"country": "US"}}
    reordered = {"macro_filters": {"country": "US"}, "source": "regime+macro", "region": "US"}
    from datetime import date
    key = joint_lock_key("REGIME_MACRO_V0", "joint-regime-core-v1", date(2025, 1, 2), scope)
    assert key == joint_lock_key("REGIME_MACRO_V0", "joint-regime-core-v1", date(2025, 1, 2), reordered)
    assert key != joint_lock_key("REGIME_MACRO_V0", "joint-regime-core-v1", date(2025, 1, 3), scope)
    assert -(2**63) <= key < 2**63


def test_lock_keys_stay_the_values_every_deployed_writer_takes():
    # the keys of a joint row must not change from one release to the next: a DAG task of the old release and a
    # CLI run of the new one must still lock each other out (values from the first released formula)
    from datetime import date
    plain = {"region": "US", "source": "regime+macro", "macro_filters": {"country": "US"}}
    quoted = {"region": 'Zürich "q"', "source": "regime+news", "news_filters": {"language": "日本"}}
    assert joint_lock_key("REGIME_MACRO_V0", "joint-regime-core-v1", date(2025, 1, 2), plain) == 6474961197117757399
    assert joint_lock_key("REGIME_MACRO_V0", "joint-regime-core-v1", date(2025, 1, 2), quoted) == 3931876254390183785
    assert joint_lock_keys("REGIME_MACRO_V0", "joint-regime-core-v1", [
        (date(2025, 1, 2), canonical_json(plain)), (date(2025, 1, 2), canonical_json(quoted)),
    ]) == [6474961197117757399, 3931876254390183785]
