"""Independent expectations and read-backs for the tests (numpy and SQL, none of the package's code paths)."""

from __future__ import annotations

import numpy as np


def expected_joint(regime_vector, text_vectors, numeric_weight=0.5, text_weight=0.5) -> np.ndarray:
    """The formula computed directly: float64 throughout, float32 at the end."""
    regime = np.asarray(regime_vector, dtype=np.float32).astype(np.float64)
    text_mean = np.asarray(text_vectors, dtype=np.float32).astype(np.float64).mean(axis=0)
    return ((numeric_weight * regime + text_weight * text_mean) / (numeric_weight + text_weight)).astype(np.float32)


def joint_rows(historical_conn, joint_type: str | None = None) -> list[tuple]:
    """``(joint_type, as_of_date, entity_scope, model_id, vector)`` rows, vectors decoded with numpy."""
    rows = historical_conn.execute(
        "SELECT joint_type, as_of_date, entity_scope, model_id, vector FROM joint_embeddings"
        " WHERE %(joint_type)s::text IS NULL OR joint_type = %(joint_type)s"
        " ORDER BY joint_type, as_of_date, entity_scope::text, joint_id",
        {"joint_type": joint_type},
    ).fetchall()
    return [(*row[:4], np.frombuffer(row[4], dtype="<f4")) for row in rows]


def random_vectors(rng: np.random.Generator, count: int, dimension: int = 384) -> np.ndarray:
    return rng.normal(size=(count, dimension)).astype(np.float32)
