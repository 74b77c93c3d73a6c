"""The branches of a joint vector: their weighted norms, the text share, and branch_normalization "l2"."""

import numpy as np
import pytest

from joint_context.config import ParamsError, RunConfig, l2_model_id
from joint_context.errors import JointDataError
from joint_context.joint import SimpleAverageJointModel, ZeroNormBranchError
from joint_context.params import params_schema
from joint_context.spaces import REGIME_CONTEXT_V0, REGIME_MACRO_V0
from tests.helpers import expected_branches

rng = np.random.default_rng(14)


def raw_regime_window(dimension=384):
    """Like the upstream regime vector: ~100 closes, ~10^3 volumes, small log returns, zero padding."""
    closes = 100 + np.cumsum(rng.normal(size=100))
    volumes = rng.uniform(500, 2000, size=100)
    returns = np.diff(np.log(closes))
    return np.concatenate([closes, volumes, returns, np.zeros(dimension - 299)]).astype(np.float32)


def unit_text_vectors(count, dimension=384):
    vectors = rng.normal(size=(count, dimension))
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


@pytest.mark.parametrize("branch_normalization", ["none", "l2"])
@pytest.mark.parametrize(("numeric_weight", "text_weight"), [(0.5, 0.5), (2.0, 1.0), (0.25, 3.0)])
def test_branch_figures_equal_numpy(branch_normalization, numeric_weight, text_weight):
    regime, texts = raw_regime_window(), unit_text_vectors(7)
    model = SimpleAverageJointModel(numeric_weight, text_weight, branch_normalization)
    text_mean = texts.astype(np.float64).mean(axis=0)
    joint = model.embed(regime, text_mean)
    stats = model.branch_stats(regime, text_mean, joint)
    expected = expected_branches(regime, texts, numeric_weight, text_weight, branch_normalization)
    np.testing.assert_allclose(joint, expected["joint"], rtol=1e-6, atol=1e-7)
    for name in ("numeric_norm", "text_norm", "text_share", "cosine_joint_numeric", "cosine_joint_text"):
        assert getattr(stats, name) == pytest.approx(expected[name], rel=1e-9), name


def test_none_is_the_formula_as_before_to_the_bit():
    regime, text_mean = raw_regime_window(), unit_text_vectors(3).astype(np.float64).mean(axis=0)
    before = (0.5 * regime.astype(np.float64) + 0.5 * text_mean).astype("<f4")
    assert SimpleAverageJointModel().embed(regime, text_mean).tobytes() == before.tobytes()


def test_raw_regime_windows_leave_the_text_branch_a_tiny_share_and_l2_gives_it_its_weight():
    regime, text_mean = raw_regime_window(), unit_text_vectors(20).astype(np.float64).mean(axis=0)
    raw = SimpleAverageJointModel().branch_stats(regime, text_mean)
    assert raw.text_share < 1e-3 and raw.cosine_joint_numeric > 0.9999
    normalised = SimpleAverageJointModel(branch_normalization="l2").branch_stats(regime, text_mean)
    assert normalised.text_share == pytest.approx(0.5, rel=1e-12)
    assert normalised.numeric_norm == pytest.approx(0.5, rel=1e-12) == normalised.text_norm


@pytest.mark.parametrize(("numeric", "text", "branch"), [(np.zeros(4), np.ones(4), "numeric"),
                                                         (np.ones(4), np.zeros(4), "text")])
def test_l2_refuses_a_branch_of_norm_zero_and_says_which(numeric, text, branch):
    with pytest.raises(ZeroNormBranchError, match=f"the {branch} branch has L2 norm 0") as raised:
        SimpleAverageJointModel(branch_normalization="l2").embed(numeric, text)
    assert raised.value.branch == branch


def test_an_unknown_branch_normalization_is_refused():
    with pytest.raises(JointDataError, match=r"branch_normalization must be one of \['none', 'l2'\], got 'L2'"):
        SimpleAverageJointModel(branch_normalization="L2")


def test_the_l2_model_id_convention():
    assert l2_model_id("joint-regime-core-v1") == "joint-regime-core-l2-v1"
    assert l2_model_id("my-model") == "my-model-l2"


@pytest.mark.parametrize("space", [REGIME_MACRO_V0, REGIME_CONTEXT_V0])
def test_l2_refuses_the_default_joint_model_id_and_names_the_convention(space):
    with pytest.raises(ParamsError, match=r"branch_normalization \"l2\" needs its own joint_model_id: "
                                          r"'joint-regime-core-v1'.*by convention 'joint-regime-core-l2-v1'"):
        RunConfig.from_params(space, {"branch_normalization": "l2"}, ["branch_normalization"])
    config = RunConfig.from_params(space, {"branch_normalization": "l2", "joint_model_id": "joint-regime-core-l2-v1"})
    assert (config.joint_model.branch_normalization, config.joint_model_id) == ("l2", "joint-regime-core-l2-v1")


def test_none_refuses_the_l2_model_id():
    with pytest.raises(ParamsError, match="names rows of branch_normalization \"l2\" by convention"):
        RunConfig.from_params(REGIME_MACRO_V0, {"joint_model_id": "joint-regime-core-l2-v1"})


def test_branch_normalization_defaults_to_none_and_is_an_enum_param():
    assert RunConfig.from_params(REGIME_MACRO_V0, {}).joint_model.branch_normalization == "none"
    schema = params_schema(REGIME_MACRO_V0)["branch_normalization"]
    assert (schema["default"], schema["enum"]) == ("none", ["none", "l2"]) and "joint-regime-core-l2-v1" in schema[
        "description"]
    with pytest.raises(ParamsError, match="branch_normalization must be one of"):
        RunConfig.from_params(REGIME_MACRO_V0, {"branch_normalization": None, "joint_model_id": "x"})
