import struct

import numpy as np
import pytest

from joint_context.vectors import VectorDataError, decode_vector, encode_vector


def test_encode_is_little_endian_float32_bytes():
    assert encode_vector(np.array([1.0, -2.5])) == struct.pack("<2f", 1.0, -2.5)


def test_decode_round_trips_float32_exactly():
    vector = np.random.default_rng(1).normal(size=384).astype(np.float32)
    decoded = decode_vector(encode_vector(vector), table="t", row_id="r1")
    assert decoded.dtype == np.dtype("<f4")
    np.testing.assert_array_equal(decoded, vector)


def test_decode_accepts_memoryview_as_psycopg2_returns_bytea():
    raw = encode_vector(np.arange(4, dtype=np.float32))
    np.testing.assert_array_equal(decode_vector(memoryview(raw), table="t", row_id=1), np.arange(4))


@pytest.mark.parametrize("byte_length", [1, 2, 3, 5, 1535])
def test_byte_length_not_a_multiple_of_four_names_table_and_row(byte_length):
    with pytest.raises(VectorDataError, match=r"regimes row 'R-7': vector has \d+ bytes, not a multiple of 4"):
        decode_vector(b"\x00" * byte_length, table="regimes", row_id="R-7")


def test_empty_vector_is_rejected():
    with pytest.raises(VectorDataError, match="empty"):
        decode_vector(b"", table="regimes", row_id="R-1")


@pytest.mark.parametrize("bad_value", [np.nan, np.inf, -np.inf])
def test_non_finite_value_is_rejected_with_its_position(bad_value):
    vector = np.zeros(8, dtype=np.float32)
    vector[5] = bad_value
    with pytest.raises(VectorDataError, match="non-finite value .* at position 5"):
        decode_vector(encode_vector(vector), table="text_embeddings", row_id="42")


def test_encode_rejects_a_matrix():
    with pytest.raises(ValueError, match="1-dimensional"):
        encode_vector(np.zeros((2, 2)))
