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


def expected_branches(regime_vector, text_vectors, numeric_weight=0.5, text_weight=0.5,
                      branch_normalization="none") -> dict:
    """The joint vector and its branch figures computed directly with numpy (float64, float32 joint at the end):
    ``numeric_norm = ‖w_num/(w_num+w_text) · b_num‖`` and so on, ``b`` the branch as averaged."""
    regime = np.asarray(regime_vector, dtype=np.float32).astype(np.float64)
    text_mean = np.asarray(text_vectors, dtype=np.float32).astype(np.float64).mean(axis=0)
    numeric_branch, text_branch = regime, text_mean
    if branch_normalization == "l2":
        numeric_branch, text_branch = regime / np.linalg.norm(regime), text_mean / np.linalg.norm(text_mean)
    total = numeric_weight + text_weight
    weighted_numeric, weighted_text = numeric_weight / total * numeric_branch, text_weight / total * text_branch
    joint = (weighted_numeric + weighted_text).astype(np.float32)
    numeric_norm, text_norm = np.linalg.norm(weighted_numeric), np.linalg.norm(weighted_text)
    joint64 = joint.astype(np.float64)

    def cosine(a, b):
        return a @ b / (np.linalg.norm(a) * np.linalg.norm(b))

    return {"joint": joint, "numeric_norm": numeric_norm, "text_norm": text_norm,
            "text_share": text_norm / (numeric_norm + text_norm), "cosine_joint_numeric": cosine(joint64, regime),
            "cosine_joint_text": cosine(joint64, text_mean)}
