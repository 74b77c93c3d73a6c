import numpy as np
import pytest

from joint_context.errors import JointDataError, VectorDataError
from joint_context.joint import SimpleAverageJointModel, TextAccumulator, add_runs
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


def test_runs_added_in_one_pass_are_the_same_bits_as_run_by_run():
    vectors = (rng.normal(size=(600, 8)) * 2.0 ** rng.integers(-20, 20, size=(600, 1))).astype(np.float32)
    row_ids = np.arange(600)
    vectors[40] = -0.0  # a run of one row of negative zeros: its sum is +0.0 however it is taken
    run_starts = [0, 1, 2, 40, 41, 300, 599]  # runs of 1 to 259 rows
    one_by_one = [TextAccumulator("text_embeddings") for _ in run_starts]
    one_by_one[0].add_vectors(vectors[:5] * 3, row_ids[:5])  # a run that continues an earlier sum
    for accumulator, start, stop in zip(one_by_one, run_starts, [*run_starts[1:], 600], strict=True):
        accumulator.add_vectors(vectors[start:stop], row_ids[start:stop])
    in_one_pass = [TextAccumulator("text_embeddings") for _ in run_starts]
    in_one_pass[0].add_vectors(vectors[:5] * 3, row_ids[:5])

    assert add_runs(in_one_pass, vectors, row_ids, run_starts) == {}

    for expected, actual in zip(one_by_one, in_one_pass, strict=True):
        assert actual.vector_sum.tobytes() == expected.vector_sum.tobytes()
        assert (actual.vector_count, actual.dimension, actual.first_row_id) == (
            expected.vector_count, expected.dimension, expected.first_row_id)


def test_a_rejected_run_adds_nothing_and_the_other_runs_are_added():
    vectors = rng.normal(size=(9, 4)).astype(np.float32)
    vectors[4, 1] = np.inf
    accumulators = [TextAccumulator("text_embeddings") for _ in range(3)]
    skipped = None

    errors = add_runs([accumulators[0], skipped, accumulators[2]], vectors, np.arange(100, 109), [0, 3, 6])
    assert errors == {} and accumulators[1].vector_count == 0  # the bad row is in the skipped run

    errors = add_runs(accumulators, vectors, np.arange(100, 109), [0, 3, 6])
    assert list(errors) == [1]
    assert "row '104'" in str(errors[1]) and "position 1" in str(errors[1])
    assert [accumulator.vector_count for accumulator in accumulators] == [6, 0, 6]
    np.testing.assert_array_equal(accumulators[2].mean(), vectors[6:9].astype(np.float64).mean(axis=0))
