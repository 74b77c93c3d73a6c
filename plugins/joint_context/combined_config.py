"""The combined space's run configuration: contexts, branch weights and model ids, validated before any data is
read (no Airflow import). The same rules as :mod:`joint_context.config`: unknown keys refused, values matched
exactly, contexts distinct after canonicalisation."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from joint_context.combined_space import CombinedBranch, CombinedSpace
from joint_context.config import (
    MAX_IDENTIFIER_LENGTH,
    MAX_REGION_LENGTH,
    RegionScope,
    _identifier,
    parse_region_scopes,
)
from joint_context.errors import ParamsError
from joint_context.spaces import canonical_json


@dataclass(frozen=True)
class CombinedRunConfig:
    """Everything a combined run needs besides the date. ``space`` and ``joint_model_id`` are what the shared
    write path (:func:`joint_context.store.replace_joint_rows_for_dates`) reads."""

    space: CombinedSpace
    contexts: tuple[RegionScope, ...]
    weights: tuple[tuple[str, float], ...]  # (branch name, weight), in the space's branch order
    source_model_id: str
    joint_model_id: str

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
        )


def combined_default_params(space: CombinedSpace) -> dict:
    return {
        "contexts": [dict(context) for context in space.default_contexts],
        **{branch.weight_param: 0.5 for branch in space.branches},
        "source_model_id": space.default_source_model_id,
        "joint_model_id": space.default_joint_model_id,
    }


def combined_params_schema(space: CombinedSpace) -> dict[str, dict]:
    """JSON schema keywords per param (with ``default``), for Airflow's ``Param`` and the trigger form."""
    defaults = combined_default_params(space)
    identifier = {"type": "string", "minLength": 1, "maxLength": MAX_IDENTIFIER_LENGTH}
    context_properties = {"region": {"type": "string", "minLength": 1, "maxLength": MAX_REGION_LENGTH}}
    for branch in space.branches:
        for text_filter in branch.space.filters:
            context_properties[text_filter.name] = {
                "type": ["string", "null"], "minLength": 1, "maxLength": MAX_IDENTIFIER_LENGTH,
                "description": f"{branch.space.joint_type} rows of this {branch.space.filters_key} "
                               f"({text_filter.description})",
            }
    weight_sum = " + ".join(f"w_{branch.name}" for branch in space.branches)
    return {
        "contexts": {
            "default": defaults["contexts"],
            "type": "array",
            "minItems": 1,
            "items": {"type": "object", "properties": context_properties, "required": ["region"],
                      "additionalProperties": False},
            "description": f"Regions and the filters of each branch's row ({', '.join(space.filter_names)}); "
                           "one row each.",
        },
        **{branch.weight_param: {
            "default": 0.5, "type": "number", "minimum": 0,
            "description": f"w_{branch.name}, >= 0 ({weight_sum} > 0); 0: the {branch.space.joint_type} row is "
                           "neither read nor required",
        } for branch in space.branches},
        "source_model_id": {"default": defaults["source_model_id"], **identifier,
                            "description": "model_id of the branch rows read"},
        "joint_model_id": {"default": defaults["joint_model_id"], **identifier},
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
