"""The float32 vector codec and its validation errors (no Airflow, no SQL).

Vectors are stored as raw little-endian float32 bytes in ``bytea`` columns. Decoding validates what
the bytes claim to be and raises :class:`VectorDataError` naming the table, the row and the problem,
so a user can go and fix the row.
"""

from __future__ import annotations

import numpy as np

from joint_context.errors import JointDataError, VectorDataError

__all__ = ["FLOAT32_LE", "JointDataError", "VectorDataError", "decode_vector", "encode_vector"]

FLOAT32_LE = np.dtype("<f4")


def encode_vector(vector: np.ndarray) -> bytes:
    """Return ``vector`` as raw little-endian float32 bytes, the storage format of every vector column."""
    as_float32 = np.asarray(vector, dtype=FLOAT32_LE)
    if as_float32.ndim != 1:
        raise ValueError(f"expected a 1-dimensional vector, got shape {as_float32.shape}")
    return as_float32.tobytes()


def decode_vector(raw: bytes | memoryview, *, table: str, row_id: object) -> np.ndarray:
    """Decode one stored vector, checking its byte length and that every value is finite."""
    byte_length = len(raw)
    check_byte_length(byte_length, table=table, row_id=row_id)
    vector = np.frombuffer(raw, dtype=FLOAT32_LE)
    check_finite(vector, table=table, row_id=row_id)
    return vector


def check_byte_length(byte_length: int, *, table: str, row_id: object) -> None:
    if byte_length == 0:
        raise VectorDataError(table, row_id, "vector is empty (0 bytes)")
    if byte_length % FLOAT32_LE.itemsize:
        raise VectorDataError(
            table, row_id, f"vector has {byte_length} bytes, not a multiple of 4 (float32)"
        )


def check_finite(vector: np.ndarray, *, table: str, row_id: object) -> None:
    finite = np.isfinite(vector)
    if not finite.all():
        position = int(np.argmin(finite))
        raise VectorDataError(
            table, row_id, f"vector holds a non-finite value ({vector[position]}) at position {position}"
        )


def check_dimension(dimension: int, expected: int, *, table: str, row_id: object, expected_from: str) -> None:
    if dimension != expected:
        raise VectorDataError(
            table, row_id, f"vector has dimension {dimension}, expected {expected} ({expected_from})"
        )
