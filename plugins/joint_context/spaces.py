"""The joint spaces this package computes, described as data (no Airflow, no SQL).

A space names its text source (the SQL file that reads it and the filters that file accepts), its
defaults and the ``entity_scope`` tag of its rows. The DAG factory, the operators and the command
line all work from these descriptions, so adding a sibling space is adding an entry here and a SQL file.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

NUMERIC_MODEL_ID = "num-regime-core-v1"
JOINT_MODEL_ID = "joint-regime-core-v1"
REGIMES_TABLE = "runtime_db.regimes"
TEXT_EMBEDDINGS_TABLE = "historical_db.text_embeddings"


@dataclass(frozen=True)
class TextFilter:
    """One optional filter on the text source: its param key (also its ``entity_scope`` key).

    :param name: key in a context and in the space's filters object, e.g. ``country``.
    :param description: what it matches, shown in the trigger form.
    :param case_insensitive: the query matches it ignoring case, so its canonical value (in params and in the
        ``entity_scope`` key) is lower case: ``EN`` and ``en`` select the same rows and are one key.
    """

    name: str
    description: str
    case_insensitive: bool = False

    def canonical(self, value: str) -> str:
        return value.lower() if self.case_insensitive else value


@dataclass(frozen=True)
class JointSpace:
    """One joint space: regime embeddings fused with the day's mean text embedding of one source."""

    joint_type: str
    dag_id: str
    title: str
    source_tag: str
    filters_key: str
    event_table: str
    text_sql: str
    text_copy_sql: str
    default_source_type: str
    default_text_model_id: str
    filters: tuple[TextFilter, ...]
    default_contexts: tuple[dict, ...]
    default_joint_model_id: str = JOINT_MODEL_ID
    numeric_model_id: str = NUMERIC_MODEL_ID
    asset_uri: str = field(default="")
    example_contexts: tuple[dict, ...] = ()  # shown in the trigger form (default: ``default_contexts``)

    @property
    def filter_names(self) -> tuple[str, ...]:
        return tuple(text_filter.name for text_filter in self.filters)

    @property
    def case_insensitive_filters(self) -> tuple[tuple[str, str], ...]:
        """``(filters_key, name)`` of each filter matched ignoring case: what the write needs to find old keys."""
        return tuple((self.filters_key, f.name) for f in self.filters if f.case_insensitive)

    def entity_scope(self, region: str, filters: dict[str, str]) -> dict:
        """The ``entity_scope`` of a row: the region, this space's source tag and exactly the filters applied."""
        return {"region": region, "source": self.source_tag, self.filters_key: dict(sorted(filters.items()))}

    def canonical_filters(self, filters: dict[str, str]) -> dict[str, str]:
        """``filters`` as the key holds them: case-insensitive values in lower case, sorted by name."""
        by_name = {text_filter.name: text_filter for text_filter in self.filters}
        return {name: by_name[name].canonical(value) if name in by_name else value
                for name, value in sorted(filters.items())}

    def filters_of(self, scope: object) -> dict[str, str] | None:
        """The filters of a stored ``entity_scope`` that is exactly in this space's shape, else ``None``: a row
        another tool wrote (a JSON string, array or number, a flat scope, unknown keys, non-text values)."""
        if not isinstance(scope, dict) or not isinstance(scope.get("region"), str):
            return None
        filters = scope.get(self.filters_key)
        if (not isinstance(filters, dict) or not set(filters) <= set(self.filter_names)
                or not all(isinstance(value, str) for value in filters.values())):
            return None
        return filters if scope == self.entity_scope(scope["region"], filters) else None


def canonical_json(value: object) -> str:
    """JSON text with sorted keys and no spaces: the one serialisation of an ``entity_scope``."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def joint_lock_key(joint_type: str, model_id: str, as_of_date: date, entity_scope: dict) -> int:
    """A signed 64-bit advisory-lock key for one joint key, the same in every process and run: the hash of
    ``canonical_json([joint_type, model_id, as_of_date.isoformat(), entity_scope])``."""
    (key,) = joint_lock_keys(joint_type, model_id, [(as_of_date, canonical_json(entity_scope))])
    return key


def joint_lock_keys(joint_type: str, model_id: str, keys: Iterable[tuple[date, str]]) -> list[int]:
    """:func:`joint_lock_key` of many ``(as_of_date, canonical JSON of the entity_scope)`` keys of one joint type
    and model: the same text is hashed, put together without serialising each scope a second time."""
    head = canonical_json([joint_type, model_id])[:-1]  # '["<joint_type>","<model_id>"'
    return [
        int.from_bytes(hashlib.blake2b(f'{head},"{as_of_date.isoformat()}",{scope_json}]'.encode(),
                                       digest_size=8).digest(), "big", signed=True)
        for as_of_date, scope_json in keys
    ]


REGIME_MACRO_V0 = JointSpace(
    joint_type="REGIME_MACRO_V0",
    dag_id="joint_regime_macro_context",
    title="Regime + macro text",
    source_tag="regime+macro",
    filters_key="macro_filters",
    event_table="historical_db.macro_events",
    text_sql="select_macro_text_vectors.sql",
    text_copy_sql="copy_macro_text_vectors.sql",
    default_source_type="MACRO",
    default_text_model_id="text-macro-v1",
    filters=(
        TextFilter("country", "macro_events.country equals this value"),
        TextFilter("event_type", "macro_events.event_type equals this value"),
    ),
    default_contexts=({"region": "US", "country": "US"},),
    example_contexts=({"region": "US", "country": "US"}, {"region": "EU", "country": "DE", "event_type": "CPI"}),
    asset_uri="postgres://historical_db:5432/historical_db/public/joint_embeddings?joint_type=REGIME_MACRO_V0",
)

REGIME_CONTEXT_V0 = JointSpace(
    joint_type="REGIME_CONTEXT_V0",
    dag_id="joint_regime_news_context",
    title="Regime + news text",
    source_tag="regime+news",
    filters_key="news_filters",
    event_table="historical_db.news_articles",
    text_sql="select_news_text_vectors.sql",
    text_copy_sql="copy_news_text_vectors.sql",
    default_source_type="NEWS",
    default_text_model_id="text-fin-general-v1",
    filters=(TextFilter("language", "news_articles.language equals this value, ignoring case", case_insensitive=True),),
    default_contexts=({"region": "US"},),
    example_contexts=({"region": "US"}, {"region": "EU", "language": "de"}),
    asset_uri="postgres://historical_db:5432/historical_db/public/joint_embeddings?joint_type=REGIME_CONTEXT_V0",
)

SPACES: dict[str, JointSpace] = {space.joint_type: space for space in (REGIME_MACRO_V0, REGIME_CONTEXT_V0)}


def space_by_name(name: str) -> JointSpace:
    """Look a space up by joint type (``REGIME_MACRO_V0``) or DAG id (``joint_regime_macro_context``)."""
    for space in SPACES.values():
        if name in (space.joint_type, space.dag_id):
            return space
    known = ", ".join(f"{space.joint_type} ({space.dag_id})" for space in SPACES.values())
    raise KeyError(f"unknown joint space {name!r}; known: {known}")
