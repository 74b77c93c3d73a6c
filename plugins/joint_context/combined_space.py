"""The higher-level joint space, described as data (no Airflow, no SQL): one context vector per region and day,
the weighted mean of the macro space's and the news space's stored rows of that day.

    z = (w_macro * J_macro + w_news * J_news) / (w_macro + w_news)     (float64, stored as float32)

Its inputs are rows of ``joint_embeddings`` itself, not text and regimes, so it is its own small description
instead of a :class:`~joint_context.spaces.JointSpace`.
"""

from __future__ import annotations

from dataclasses import dataclass

from joint_context.spaces import JOINT_MODEL_ID, REGIME_CONTEXT_V0, REGIME_MACRO_V0, JointSpace

JOINT_EMBEDDINGS_TABLE = "historical_db.joint_embeddings"


@dataclass(frozen=True)
class CombinedBranch:
    """One input of the combined space: a base space whose stored row of the same region and day it reads.

    :param name: the branch's name in params (``<name>_weight``) and messages, e.g. ``macro``.
    :param space: the base space; its filters are those a context may give for this branch.
    """

    name: str
    space: JointSpace

    @property
    def weight_param(self) -> str:
        return f"{self.name}_weight"


@dataclass(frozen=True)
class CombinedSpace:
    """A joint space computed from other spaces' rows: the weighted mean of its branches' vectors."""

    joint_type: str
    dag_id: str
    title: str
    source_tag: str
    branches: tuple[CombinedBranch, ...]
    default_contexts: tuple[dict, ...]
    default_joint_model_id: str
    example_contexts: tuple[dict, ...] = ()  # shown in the trigger form (default: ``default_contexts``)
    default_source_model_id: str = JOINT_MODEL_ID
    asset_uri: str = ""

    @property
    def filter_names(self) -> tuple[str, ...]:
        """Every filter a context may carry: the union of the branches' filters (distinct names)."""
        return tuple(name for branch in self.branches for name in branch.space.filter_names)

    @property
    def case_insensitive_filters(self) -> tuple[tuple[str, str], ...]:
        """``(filters_key, name)`` of the branch filters matched ignoring case, as the write path needs them."""
        return tuple(pair for branch in self.branches for pair in branch.space.case_insensitive_filters)

    def branch_filters(self, branch: CombinedBranch, filters: dict[str, str]) -> dict[str, str]:
        """The part of a context's flat ``filters`` that belongs to ``branch``."""
        return {name: value for name, value in sorted(filters.items()) if name in branch.space.filter_names}

    def branch_scope(self, branch: CombinedBranch, region: str, filters: dict[str, str]) -> dict:
        """The ``entity_scope`` of the branch row this context reads."""
        return branch.space.entity_scope(region, self.branch_filters(branch, filters))

    def entity_scope(self, region: str, filters: dict[str, str]) -> dict:
        """The ``entity_scope`` of a combined row: the region, the tag and each branch's filters (``{}`` if none)."""
        return {"region": region, "source": self.source_tag,
                **{branch.space.filters_key: self.branch_filters(branch, filters) for branch in self.branches}}

    def canonical_filters(self, filters: dict[str, str]) -> dict[str, str]:
        """Flat ``filters`` as the key holds them (case-insensitive values in lower case), sorted by name."""
        canonical = {}
        for branch in self.branches:
            canonical |= branch.space.canonical_filters(self.branch_filters(branch, filters))
        return dict(sorted({**filters, **canonical}.items()))

    def filters_of(self, scope: object) -> dict[str, str] | None:
        """The flat filters of a stored ``entity_scope`` exactly in this space's shape, else ``None``."""
        if not isinstance(scope, dict) or not isinstance(scope.get("region"), str):
            return None
        filters: dict[str, str] = {}
        for branch in self.branches:
            branch_filters = branch.space.filters_of(
                {"region": scope["region"], "source": branch.space.source_tag,
                 branch.space.filters_key: scope.get(branch.space.filters_key)})
            if branch_filters is None:
                return None
            filters |= branch_filters
        return filters if scope == self.entity_scope(scope["region"], filters) else None


REGIME_COMBINED_V0 = CombinedSpace(
    joint_type="REGIME_COMBINED_V0",
    dag_id="joint_regime_combined_context",
    title="Macro + news joint contexts",
    source_tag="macro+news",
    branches=(CombinedBranch("macro", REGIME_MACRO_V0), CombinedBranch("news", REGIME_CONTEXT_V0)),
    default_contexts=({"region": "US", "country": "US"},),
    default_joint_model_id="joint-regime-combined-v1",
    example_contexts=({"region": "US", "country": "US", "language": "en"},
                      {"region": "EU", "country": "DE", "event_type": "CPI", "language": "de"}),
    asset_uri="postgres://historical_db:5432/historical_db/public/joint_embeddings?joint_type=REGIME_COMBINED_V0",
)

COMBINED_SPACES: dict[str, CombinedSpace] = {REGIME_COMBINED_V0.joint_type: REGIME_COMBINED_V0}
