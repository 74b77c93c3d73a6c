import numpy as np
import pytest

from joint_context.errors import JointDataError, VectorDataError
from joint_context.joint import SimpleAverageJointModel, TextAccumulator
from joint_context.vectors import encode_vector

rng = np.random.default_rng(3)


def rows_of(vectors, first_id=1):
    return [(str(first_id + index), None if v is None else encode_vector(v)) for index, v in enumerate(vectors)]


def test_mean_of_batches_equals_numpy_mean_in_float64():
    vectors = rng.normal(size=(1000, 16)).astype(np.float32)
    accumulator = TextAccumulator("text_embeddings")
    for start in range(0, 1000, 300):
        accumulator.add_rows(rows_of(vectors[start:start + 300], first_id=start))
    assert accumulator.vector_count == 1000
    np.testing.assert_allclose(accumulator.mean(), vectors.astype(np.float64).mean(axis=0), rtol=0, atol=1e-12)


def test_the_sum_is_the_same_bits_however_the_rows_are_batched():
    # magnitudes spread over 2**-20..2**20, where float64 addition is far from associative
    vectors = (rng.normal(size=(500, 8)) * 2.0 ** rng.integers(-20, 20, size=(500, 1))).astype(np.float32)
    row_ids = [str(index) for index in range(500)]
    sums = []
    for cuts in ([], [1, 2, 3], [250], list(range(7, 500, 13))):
        accumulator = TextAccumulator("text_embeddings")
        for start, stop in zip([0, *cuts], [*cuts, 500], strict=True):
            accumulator.add_vectors(vectors[start:stop], row_ids[start:stop])
        sums.append(accumulator.vector_sum)
    row_by_row = np.zeros(8)
    for vector in vectors.astype(np.float64):
        row_by_row = row_by_row + vector
    for vector_sum in sums:
        assert vector_sum.tobytes() == row_by_row.tobytes()


def test_null_vectors_are_counted_and_left_out():
    accumulator = TextAccumulator("text_embeddings")
    accumulator.add_rows(rows_of([np.ones(4), None, 3 * np.ones(4), None]))
    assert (accumulator.vector_count, accumulator.null_count) == (2, 2)
    np.testing.assert_array_equal(accumulator.mean(), 2 * np.ones(4))


def test_mixed_dimensions_name_the_offending_row():
    accumulator = TextAccumulator("text_embeddings")
    accumulator.add_rows(rows_of([np.ones(4)], first_id=10))
    with pytest.raises(VectorDataError, match=r"text_embeddings row '11': vector has dimension 3, expected 4"):
        accumulator.add_rows(rows_of([np.ones(4), np.ones(3)], first_id=10))


def test_a_failing_batch_leaves_the_accumulator_unchanged():
    accumulator = TextAccumulator("text_embeddings")
    accumulator.add_rows(rows_of([np.ones(4)]))
    bad = np.ones(4, dtype=np.float32)
    bad[2] = np.nan
    with pytest.raises(VectorDataError, match=r"row '3'.*position 2"):
        accumulator.add_rows(rows_of([np.ones(4), bad], first_id=2))
    assert accumulator.vector_count == 1
    np.testing.assert_array_equal(accumulator.mean(), np.ones(4))


def test_state_round_trips_through_json_types_exactly():
    accumulator = TextAccumulator("text_embeddings")
    accumulator.add_rows(rows_of(rng.normal(size=(7, 5)).astype(np.float32)))
    restored = TextAccumulator.from_dict(accumulator.to_dict())
    np.testing.assert_array_equal(restored.mean(), accumulator.mean())
    assert restored.to_dict() == accumulator.to_dict()


def test_mean_of_nothing_is_an_error():
    with pytest.raises(JointDataError, match="no text vectors"):
        TextAccumulator("text_embeddings").mean()


def test_weighted_joint_matches_the_formula():
    numeric, text = rng.normal(size=384), rng.normal(size=384)
    joint = SimpleAverageJointModel(2.0, 1.0).embed(numeric, text)
    assert joint.dtype == np.dtype("<f4")
    np.testing.assert_allclose(joint, ((2 * numeric + text) / 3).astype(np.float32), rtol=0, atol=0)


def test_default_weights_average_the_branches():
    np.testing.assert_array_equal(SimpleAverageJointModel().embed(np.zeros(3), np.full(3, 4.0)), np.full(3, 2.0))


def test_zero_text_weight_returns_the_regime_vector():
    numeric = rng.normal(size=8).astype(np.float32)
    np.testing.assert_array_equal(SimpleAverageJointModel(1.0, 0.0).embed(numeric, rng.normal(size=8)), numeric)


@pytest.mark.parametrize(
    ("numeric_weight", "text_weight", "message"),
    [(-1, 1, "numeric_weight must be >= 0"), (1, -0.5, "text_weight must be >= 0"), (0, 0, "must be > 0"),
     (float("nan"), 1, "finite"), ("1", 1, "finite number"), (True, 1, "finite number")],
)
def test_bad_weights_are_rejected(numeric_weight, text_weight, message):
    with pytest.raises(JointDataError, match=message):
        SimpleAverageJointModel(numeric_weight, text_weight)


def test_branch_dimensions_must_agree():
    with pytest.raises(JointDataError, match="dimension 4 but text vector has dimension 3"):
        SimpleAverageJointModel().embed(np.zeros(4), np.zeros(3))
