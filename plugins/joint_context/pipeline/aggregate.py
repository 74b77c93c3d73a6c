"""Aggregate: fuse each scope's regime vector with its mean text vector, or say why it is skipped (no Airflow)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from joint_context.config import RunConfig
from joint_context.errors import VectorDataError
from joint_context.joint import ZeroNormBranchError
from joint_context.pipeline.extract import ExtractedScope
from joint_context.spaces import REGIMES_TABLE, TEXT_EMBEDDINGS_TABLE


@dataclass
class ScopeResult:
    """One scope's outcome for one date: a joint vector, or the reason it was skipped."""

    entity_scope: dict
    description: str
    regime_record_id: str | None
    text_vector_count: int
    text_null_count: int
    vector: np.ndarray | None = None
    skip_reason: str | None = None
    # how much each weighted branch weighs (joint.BranchStats): O(1) numbers, carried through XCom to the write
    numeric_branch_norm: float | None = None
    text_branch_norm: float | None = None
    text_share: float | None = None

    @property
    def l2_norm(self) -> float | None:
        if self.vector is None:
            return None
        vector = self.vector.astype(np.float64)
        return math.sqrt(vector @ vector)  # what np.linalg.norm computes, without its checks

    def to_xcom(self) -> dict:
        return {
            "entity_scope": self.entity_scope,
            "description": self.description,
            "regime_record_id": self.regime_record_id,
            "text_vector_count": self.text_vector_count,
            "text_null_count": self.text_null_count,
            "vector": None if self.vector is None else self.vector.tolist(),
            "skip_reason": self.skip_reason,
            "numeric_branch_norm": self.numeric_branch_norm,
            "text_branch_norm": self.text_branch_norm,
            "text_share": self.text_share,
        }

    @classmethod
    def from_xcom(cls, payload: dict) -> ScopeResult:
        vector = payload["vector"]
        return cls(**{**payload, "vector": None if vector is None else np.asarray(vector, dtype=np.float32)})


def aggregate_scope(extracted: ExtractedScope, config: RunConfig) -> ScopeResult:
    """Fuse one scope's regime vector with its mean text vector, or say why it is skipped."""
    result = ScopeResult(
        entity_scope=extracted.entity_scope,
        description=extracted.scope.describe(),
        regime_record_id=extracted.regime_record_id,
        text_vector_count=extracted.text.vector_count,
        text_null_count=extracted.text.null_count,
    )
    if extracted.regime_record_id is None:
        result.skip_reason = "no regime row"
    elif extracted.regime_vector is None:
        result.skip_reason = f"newest regime row {extracted.regime_record_id!r} has a NULL regime_embedding"
    elif extracted.text.vector_count == 0:
        result.skip_reason = f"no text vectors ({extracted.text.null_count} with a NULL vector)"
    else:
        regime_dimension, text_dimension = extracted.regime_vector.shape[0], extracted.text.dimension
        if regime_dimension != text_dimension:
            raise VectorDataError(
                REGIMES_TABLE, extracted.regime_record_id,
                f"regime vector has dimension {regime_dimension} but the text vectors of "
                f"{TEXT_EMBEDDINGS_TABLE} (e.g. source_id {extracted.text.first_row_id!r}) have {text_dimension}",
            )
        model = config.joint_model
        try:
            branches = model.branches(extracted.regime_vector, extracted.text.mean())
        except ZeroNormBranchError as error:
            raise _zero_norm_error(extracted, error.branch) from error
        result.vector = model.average(*branches)
        result.numeric_branch_norm, result.text_branch_norm, result.text_share = model.weighted_norms(*branches)
    return result


def _zero_norm_error(extracted: ExtractedScope, branch: str) -> VectorDataError:
    """branch_normalization "l2" met a branch of norm 0: name the row (or the day's rows) it comes from."""
    if branch == "numeric":
        return VectorDataError(REGIMES_TABLE, extracted.regime_record_id,
                               "regime vector has L2 norm 0: branch_normalization \"l2\" cannot normalise it")
    return VectorDataError(
        TEXT_EMBEDDINGS_TABLE, extracted.text.first_row_id,
        f"the mean of the day's {extracted.text.vector_count} text vectors of {extracted.scope.describe()} (this row "
        "the first) has L2 norm 0: branch_normalization \"l2\" cannot normalise it")


def aggregate_day(extracted: list[ExtractedScope], config: RunConfig) -> list[ScopeResult]:
    return [aggregate_scope(scope, config) for scope in extracted]
