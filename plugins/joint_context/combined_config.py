"""The combined space's run configuration: contexts, branch weights and model ids, validated before any data is
read (no Airflow import). The same rules as :mod:`joint_context.config`: unknown keys refused, values matched
exactly, contexts distinct after canonicalisation."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

from joint_context.combined_space import CombinedBranch, CombinedSpace
from joint_context.config import RegionScope, _identifier, parse_as_of_date_param, parse_region_scopes
from joint_context.errors import ParamsError
from joint_context.spaces import canonical_json


@dataclass(frozen=True)
class CombinedRunConfig:
    """Everything a combined run needs besides the date, and the day a manual run was told to process
    (``as_of_date``), when it was. ``space`` and ``joint_model_id`` are what the shared write path
    (:func:`joint_context.store.replace_joint_rows_for_dates`) reads."""

    space: CombinedSpace
    contexts: tuple[RegionScope, ...]
    weights: tuple[tuple[str, float], ...]  # (branch name, weight), in the space's branch order
    source_model_id: str
    joint_model_id: str
    as_of_date: date | None = None

    def weight(self, branch: CombinedBranch) -> float:
        return dict(self.weights)[branch.name]

    @property
    def read_branches(self) -> tuple[CombinedBranch, ...]:
        """The branches with a weight above 0: a branch weighted 0 is neither read nor required."""
        return tuple(branch for branch in self.space.branches if self.weight(branch) > 0)

    def entity_scope(self, scope: RegionScope) -> dict:
        return self.space.entity_scope(scope.region, scope.filter_dict)

    @classmethod
    def from_params(cls, space: CombinedSpace, params: Mapping, conf_keys: Iterable[str] = ()) -> CombinedRunConfig:
        """Validate params (defaults filled in) and the keys of ``dag_run.conf`` (unknown ones are an error)."""
        defaults = combined_default_params(space)
        unknown_keys = sorted(set(conf_keys) - set(defaults))
        if unknown_keys:
            raise ParamsError(f"unknown key(s) in conf: {unknown_keys}; accepted: {sorted(defaults)}")
        merged = {**defaults, **{key: value for key, value in params.items() if key in defaults}}
        weights = tuple((branch.name, merged[branch.weight_param]) for branch in space.branches)
        _check_weights(space, dict(weights))
        return cls(
            space=space,
            contexts=parse_combined_contexts(space, merged["contexts"]),
            weights=weights,
            source_model_id=_identifier(merged, "source_model_id"),
            joint_model_id=_identifier(merged, "joint_model_id"),
            as_of_date=parse_as_of_date_param(merged.get("as_of_date")),
        )


def combined_default_params(space: CombinedSpace) -> dict:
    return {
        "contexts": [dict(context) for context in space.default_contexts],
        **{branch.weight_param: 0.5 for branch in space.branches},
        "source_model_id": space.default_source_model_id,
        "joint_model_id": space.default_joint_model_id,
        "as_of_date": None,
    }


def parse_combined_contexts(space: CombinedSpace, raw_contexts: object) -> tuple[RegionScope, ...]:
    """Validate a ``contexts`` list of flat objects (a region and any branch's filters); values canonical, so two
    contexts naming the same branch rows are one key and repeating one is an error."""
    filters = {f.name: f for branch in space.branches for f in branch.space.filters}
    return parse_region_scopes(
        raw_contexts, filters=list(filters.values()), example=space.default_contexts[0],
        scope_key=lambda scope: canonical_json(space.entity_scope(scope.region, scope.filter_dict)),
        same="name the same branch rows")


def _check_weights(space: CombinedSpace, weights: dict[str, object]) -> None:
    for name, weight in weights.items():
        if isinstance(weight, bool) or not isinstance(weight, int | float) or not math.isfinite(weight):
            raise ParamsError(f"{name}_weight must be a finite number, got {weight!r}")
        if weight < 0:
            raise ParamsError(f"{name}_weight must be >= 0, got {weight!r}")
    total = sum(weights.values())
    if not math.isfinite(total) or total <= 0:
        names = " + ".join(f"{branch.weight_param}" for branch in space.branches)
        raise ParamsError(f"{names} must be a finite number > 0, got {total!r}")
