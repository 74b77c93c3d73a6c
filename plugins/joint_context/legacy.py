"""Adopting rows the upstream research scripts wrote: the key each belongs to, and what to do per key (pure).

The upstream scripts keyed a space's rows flat and wrote a new row on every rerun::

    {"region": "US", "source": "regime+macro", "macro_country": "US", "macro_event_type": "CPI"}
    {"region": "US", "source": "regime+news"}                      (news rows: no filter keys at all)

How a stored ``entity_scope`` maps to the space's key (:func:`adopted_scope`):

- the space's own shape ``{"region", "source", "<x>_filters": {...}}`` maps to itself, a case-insensitive filter
  value in lower case (the canonical key, as the DAG writes it);
- the flat shape maps when it is a JSON object whose ``region`` is a string, whose ``source`` is the space's tag,
  and whose other keys are ``<x>_<filter>`` for the space's filters (``macro_country``, ``macro_event_type``;
  ``news_language``), each a string or null: ``{"region", "source", "<x>_filters": {filter: value, ...}}`` with
  the non-null values (none: ``{}``), canonical as above;
- a value the DAG's params would refuse (white space at either end, not Unicode NFC, empty, too long) and any other
  shape do not map: such rows are reported with the reason and left alone.

What happens to a key's rows (:func:`plan_adoption`), per ``(model_id, as_of_date, key)``:

- a row already holding the canonical key exists: the newest of those stays (``created_at``, then ``joint_id``),
  every other row of the key (upstream ones, older duplicates) is deleted;
- otherwise the newest row of the key is rewritten into the canonical key (its ``entity_scope`` only: ``joint_id``,
  ``vector`` (NULL too) and ``created_at`` stay) and the others are deleted.

Afterwards every key holds exactly one row, and a second run finds nothing to do.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from joint_context.config import MAX_IDENTIFIER_LENGTH, MAX_REGION_LENGTH, _check_text
from joint_context.errors import ParamsError
from joint_context.spaces import JointSpace, canonical_json


class NotAdoptable(ValueError):
    """A stored ``entity_scope`` that maps to no key of the space; the message says why."""


@dataclass(frozen=True)
class StoredRow:
    """What adoption needs to know of a stored row (never its vector's bytes)."""

    joint_id: int
    as_of_date: date
    model_id: str
    entity_scope: object  # as stored: any JSON value
    created_at: datetime
    has_vector: bool


@dataclass(frozen=True)
class KeyAdoption:
    """What adoption does to one key: keep ``kept_joint_id`` (rewriting its scope if ``rewrite``), delete the rest.

    :param kept_from: ``ours`` (the row already held the canonical key) or ``upstream`` (a row of another shape or
        case, rewritten).
    """

    as_of_date: date
    model_id: str
    entity_scope: dict
    kept_joint_id: int
    kept_from: str
    kept_has_vector: bool
    deleted_joint_ids: tuple[int, ...]

    @property
    def rewrite(self) -> bool:
        return self.kept_from == "upstream"

    @property
    def scope_json(self) -> str:
        return canonical_json(self.entity_scope)


@dataclass(frozen=True)
class LeftAlone:
    """A row adoption cannot map to a key of the space, with the reason."""

    joint_id: int
    as_of_date: date
    reason: str


def adopted_scope(space: JointSpace, scope: object) -> dict:
    """The canonical ``entity_scope`` of the space's key that a stored scope belongs to; raises
    :class:`NotAdoptable` with the reason when there is none (see the module docstring for the mapping)."""
    if not isinstance(scope, dict):
        raise NotAdoptable(f"entity_scope is a JSON {type(scope).__name__}, not an object")
    region = scope.get("region")
    if not isinstance(region, str):
        raise NotAdoptable("entity_scope has no text region")
    if scope.get("source") != space.source_tag:
        raise NotAdoptable(f"entity_scope's source is {scope.get('source')!r}, not {space.source_tag!r}")
    filters = space.filters_of(scope)
    if filters is None:
        filters = _flat_filters(space, scope)
    try:
        _check_text(region, "region", MAX_REGION_LENGTH)
        for name, value in filters.items():
            _check_text(value, name, MAX_IDENTIFIER_LENGTH)
    except ParamsError as refused:
        raise NotAdoptable(str(refused)) from None
    return space.entity_scope(region, space.canonical_filters(filters))


def _flat_filters(space: JointSpace, scope: dict) -> dict[str, str]:
    prefix = space.filters_key.removesuffix("_filters") + "_"
    flat_keys = {prefix + name: name for name in space.filter_names}
    unknown = sorted(set(scope) - {"region", "source"} - set(flat_keys))
    if unknown:
        raise NotAdoptable(f"entity_scope has key(s) {unknown} that are neither the space's "
                           f"{space.filters_key!r} nor the upstream flat keys {sorted(flat_keys)}")
    filters = {}
    for flat_key, name in flat_keys.items():
        value = scope.get(flat_key)
        if value is None:
            continue
        if not isinstance(value, str):
            raise NotAdoptable(f"{flat_key} is {value!r}, not text")
        filters[name] = value
    return filters


def plan_adoption(space: JointSpace, rows: Iterable[StoredRow]) -> tuple[list[KeyAdoption], list[LeftAlone]]:
    """The keys whose rows need a change (a rewrite or deletions), in date, model and key order, and the rows
    left alone. Keys already holding exactly one canonical row are not in the plan."""
    keys: dict[tuple[date, str, str], list[tuple[StoredRow, dict]]] = {}
    left_alone = []
    for row in rows:
        try:
            scope = adopted_scope(space, row.entity_scope)
        except NotAdoptable as reason:
            left_alone.append(LeftAlone(row.joint_id, row.as_of_date, str(reason)))
            continue
        keys.setdefault((row.as_of_date, row.model_id, canonical_json(scope)), []).append((row, scope))
    plan = []
    for (as_of_date, model_id, scope_json), members in sorted(keys.items()):
        scope = members[0][1]
        ours = [row for row, _scope in members if canonical_json(row.entity_scope) == scope_json
                and isinstance(row.entity_scope, dict)]
        if len(ours) == len(members) == 1:
            continue
        kept = _newest(ours or [row for row, _scope in members])
        plan.append(KeyAdoption(
            as_of_date=as_of_date, model_id=model_id, entity_scope=scope, kept_joint_id=kept.joint_id,
            kept_from="ours" if ours else "upstream", kept_has_vector=kept.has_vector,
            deleted_joint_ids=tuple(sorted(row.joint_id for row, _scope in members if row is not kept)),
        ))
    return plan, left_alone


def _newest(rows: list[StoredRow]) -> StoredRow:
    return max(rows, key=lambda row: (row.created_at, row.joint_id))
