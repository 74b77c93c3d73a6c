"""Explain: recompute one day of one context from its inputs and say how much each branch weighs (no Airflow).

The DAG's own extract and aggregate steps compute the vector; :meth:`SimpleAverageJointModel.branch_stats` says
how much of it comes from the regime and from the text, and the stored row of the key (if any) is compared with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from joint_context.config import RunConfig
from joint_context.joint import BranchStats
from joint_context.pipeline.aggregate import ScopeResult, aggregate_day, aggregate_scope
from joint_context.pipeline.extract import extract_day, extract_range
from joint_context.vectors import encode_vector
from joint_context.views import fetch_joint_vectors


@dataclass(frozen=True)
class StoredComparison:
    """The stored row of the key (the newest, if legacy duplicates exist) against the recomputed vector.

    :param equal: its bytes equal the recomputed vector's (None when either is missing or malformed).
    :param max_abs_difference: the largest element-wise difference (None when they cannot be compared).
    """

    joint_id: int
    note: str
    equal: bool | None
    max_abs_difference: float | None


@dataclass(frozen=True)
class Explanation:
    """One context's day recomputed: the result (vector or skip reason), its branch figures, and the stored row."""

    as_of_date: date
    config: RunConfig
    result: ScopeResult
    stats: BranchStats | None
    stored: StoredComparison | None

    def to_dict(self) -> dict:
        model = self.config.joint_model
        result = self.result
        return {
            "joint_type": self.config.space.joint_type,
            "model_id": self.config.joint_model_id,
            "as_of_date": self.as_of_date.isoformat(),
            "entity_scope": result.entity_scope,
            "branch_normalization": model.branch_normalization,
            "numeric_weight": model.numeric_weight,
            "text_weight": model.text_weight,
            "regime_record_id": result.regime_record_id,
            "text_vector_count": result.text_vector_count,
            "text_null_count": result.text_null_count,
            "skip_reason": result.skip_reason,
            "dimension": None if result.vector is None else int(result.vector.shape[0]),
            "joint_l2_norm": result.l2_norm,
            **(self.stats.to_dict() if self.stats is not None else dict.fromkeys(BRANCH_FIGURES)),
            "numeric_share": None if self.stats is None or self.stats.text_share is None else 1 - self.stats.text_share,
            "stored_row": None if self.stored is None else dict(self.stored.__dict__),
        }


BRANCH_FIGURES = ("numeric_norm", "text_norm", "text_share", "cosine_joint_numeric", "cosine_joint_text")


def explain_day(runtime_conn, historical_conn, config: RunConfig, as_of_date: date) -> Explanation:
    """Recompute ``as_of_date`` for the one context of ``config`` and explain it; a data error is raised."""
    if len(config.contexts) != 1:
        raise ValueError(f"explain_day takes a config of one context, got {len(config.contexts)}")
    (extracted,) = extract_day(runtime_conn, historical_conn, config, as_of_date)
    result = aggregate_scope(extracted, config)
    stats = None
    if result.vector is not None:
        stats = config.joint_model.branch_stats(extracted.regime_vector, extracted.text.mean(), result.vector)
    return Explanation(as_of_date, config, result, stats, _stored_comparison(historical_conn, config, as_of_date,
                                                                             result))


def text_shares(runtime_conn, historical_conn, config: RunConfig, first_date: date, last_date: date
                ) -> dict[date, list[ScopeResult]]:
    """Every date's results (with their text shares) of ``config``'s contexts, read in bulk; a date with a data
    error is left out."""
    return {day.as_of_date: aggregate_day(day.scopes, config)
            for day in extract_range(runtime_conn, historical_conn, config, first_date, last_date, bulk=True)
            if day.error is None}


def _stored_comparison(historical_conn, config: RunConfig, as_of_date: date,
                       result: ScopeResult) -> StoredComparison | None:
    stored = fetch_joint_vectors(historical_conn, config.space, first_date=as_of_date, last_date=as_of_date,
                                 regions=[result.entity_scope["region"]], model_id=config.joint_model_id)
    rows = [row for row in stored.rows if row.entity_scope == result.entity_scope]
    if not rows:
        return None
    (row,) = rows
    if row.vector is None or result.vector is None:
        return StoredComparison(row.joint_id, row.note, None, None)
    if row.vector.shape != result.vector.shape:
        return StoredComparison(row.joint_id, f"dimension {row.vector.shape[0]}, recomputed {result.vector.shape[0]}",
                                False, None)
    difference = float(np.max(np.abs(row.vector.astype(np.float64) - result.vector.astype(np.float64))))
    return StoredComparison(row.joint_id, row.note, encode_vector(row.vector) == encode_vector(result.vector),
                            difference)
