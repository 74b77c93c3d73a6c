"""Reading stored joint vectors back for people: norms and day-over-day cosine similarities (no Airflow import).

What ``show`` and ``compare`` print, computed over a DB-API connection. A series is one ``(model_id,
entity_scope)`` of one joint type; its rows are the newest row of each key, and a row's "previous available day"
is the series' latest earlier date whose newest row holds a vector that decodes, looked up before the requested
range too (one look-back per series: the cost does not grow with the history outside the range). Rows whose
``entity_scope`` is not in the space's shape (other tools wrote them) are not shown: they are counted, by kind,
with their ids. A row keyed by a case-insensitive filter in another case than the canonical lower case is shown as
its own series, with a note.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from joint_context.errors import VectorDataError
from joint_context.spaces import JointSpace, canonical_json
from joint_context.store import read_sql
from joint_context.vectors import decode_vector

JOINT_EMBEDDINGS_TABLE = "historical_db.joint_embeddings"
NOT_AN_OBJECT = "not a JSON object"
UPSTREAM_FLAT = "the upstream scripts' flat shape"
OTHER_SHAPE = "another shape"


@dataclass
class JointVectorRow:
    """One stored joint vector as shown to a user, with its day-over-day cosine similarity.

    :param vector: the decoded float32 vector, or None when the row holds NULL or malformed bytes.
    :param previous_cosine: cosine similarity to the series' previous available day, if there is one.
    :param note: what is odd about the row (NULL vector, malformed bytes, legacy duplicates), else "".
    """

    joint_id: int
    as_of_date: date
    entity_scope: dict
    model_id: str
    vector: np.ndarray | None
    filters: dict = field(default_factory=dict)
    previous_date: date | None = None
    previous_cosine: float | None = None
    note: str = ""

    @property
    def region(self) -> str:
        return self.entity_scope["region"]

    @property
    def filters_text(self) -> str:
        """The filters as JSON: unambiguous whatever a value holds (``,``, ``=``, quotes)."""
        return canonical_json(self.filters)

    @property
    def series_key(self) -> tuple[str, str]:
        return (self.model_id, canonical_json(self.entity_scope))

    @property
    def dimension(self) -> int | None:
        return None if self.vector is None else int(self.vector.shape[0])

    @property
    def l2_norm(self) -> float | None:
        return None if self.vector is None else float(np.linalg.norm(self.vector.astype(np.float64)))


@dataclass(frozen=True)
class ForeignRow:
    """A stored row whose ``entity_scope`` is not in the space's shape: not shown, reported."""

    joint_id: int
    as_of_date: date
    kind: str


@dataclass
class StoredVectors:
    """A space's rows in a date range: those in its shape (``rows``), and those other tools left (``foreign``)."""

    rows: list[JointVectorRow]
    foreign: list[ForeignRow]

    def foreign_note(self, space: JointSpace, shown_ids: int = 5) -> str | None:
        """One line saying which rows were left out and why, or None when there are none."""
        if not self.foreign:
            return None
        kinds: dict[str, list[int]] = {}
        for row in self.foreign:
            kinds.setdefault(row.kind, []).append(row.joint_id)
        kinds = {kind: sorted(ids) for kind, ids in kinds.items()}
        parts = [f"{len(ids)} in {kind} (joint_id {', '.join(map(str, ids[:shown_ids]))}"
                 f"{', ...' if len(ids) > shown_ids else ''})" for kind, ids in sorted(kinds.items())]
        shape = canonical_json(space.entity_scope("<region>", {name: "..." for name in space.filter_names}))
        adopt = (f" `joint-context adopt-legacy --space {space.joint_type} --dry-run` shows how the upstream rows "
                 "would take the space's keys." if UPSTREAM_FLAT in kinds else "")
        return (f"Left out {len(self.foreign)} {space.joint_type} row(s) whose entity_scope is not in the space's "
                f"shape {shape}: {'; '.join(parts)}.{adopt}")


def cosine_similarity(first: np.ndarray, second: np.ndarray) -> float | None:
    """cos(first, second) in float64; None when a vector is zero or the dimensions differ."""
    first, second = np.asarray(first, dtype=np.float64), np.asarray(second, dtype=np.float64)
    if first.shape != second.shape:
        return None
    norms = float(np.linalg.norm(first) * np.linalg.norm(second))
    if norms == 0.0:
        return None
    return float(np.dot(first, second) / norms)


def foreign_kind(space: JointSpace, scope: object) -> str:
    """Which foreign shape a scope the space does not accept is in (for the report)."""
    if not isinstance(scope, dict):
        return NOT_AN_OBJECT
    if not hasattr(space, "filters_key"):  # the combined space: no upstream script wrote a flat shape of it
        return OTHER_SHAPE
    prefix = space.filters_key.removesuffix("_filters") + "_"
    flat_keys = {prefix + name for name in space.filter_names}
    if (isinstance(scope.get("region"), str) and scope.get("source") == space.source_tag
            and set(scope) - {"region", "source"} <= flat_keys):
        return UPSTREAM_FLAT
    return OTHER_SHAPE


def fetch_joint_vectors(
    historical_conn,
    space: JointSpace,
    *,
    first_date: date,
    last_date: date,
    regions: Sequence[str] = (),
    model_id: str | None = None,
) -> StoredVectors:
    """The space's joint vectors in ``first_date..last_date`` (all regions when ``regions`` is empty).

    Rows come ordered by series, then date, each with its cosine to the series' previous available day.
    """
    with historical_conn.cursor() as cursor:
        cursor.execute(read_sql("select_joint_vectors.sql"), {
            "joint_type": space.joint_type, "first_date": first_date, "last_date": last_date,
            "regions": list(regions) or None, "model_id": model_id,
        })
        stored = cursor.fetchall()
    shown, foreign = [], []
    for joint_id, as_of_date, scope_text, row_model_id, raw_vector, key_rows in stored:
        scope = json.loads(scope_text)
        filters = space.filters_of(scope)
        if filters is None:
            foreign.append(ForeignRow(joint_id, as_of_date, foreign_kind(space, scope)))
            continue
        row = JointVectorRow(joint_id, as_of_date, scope, row_model_id, None, filters)
        row.vector, problem = _decoded(raw_vector, joint_id)
        notes = [problem] if problem else []
        if key_rows > 1:
            notes.append(f"{key_rows} rows hold this key; the newest is shown")
        canonical = space.canonical_filters(filters)
        if canonical != filters:
            notes.append(f"not the canonical key {canonical_json(canonical)} (a rewrite of the date replaces it)")
        row.note = "; ".join(notes)
        shown.append(row)
    shown.sort(key=lambda row: (row.series_key, row.as_of_date))
    _link_previous_days(historical_conn, space, shown)
    historical_conn.rollback()  # end the read-only transaction
    return StoredVectors(shown, foreign)


def _decoded(raw_vector, joint_id: int) -> tuple[np.ndarray | None, str]:
    if raw_vector is None:
        return None, "NULL vector"
    try:
        return decode_vector(raw_vector, table=JOINT_EMBEDDINGS_TABLE, row_id=joint_id), ""
    except VectorDataError as error:
        return None, f"malformed vector: {error.problem}"


def _link_previous_days(historical_conn, space: JointSpace, rows: list[JointVectorRow]) -> None:
    """Set each row's previous available day: the series' last earlier valid row in the range, or before it."""
    series: dict[tuple[str, str], list[JointVectorRow]] = {}
    for row in rows:
        series.setdefault(row.series_key, []).append(row)
    first_valid: dict[tuple[str, str], JointVectorRow] = {}
    before: dict[tuple[str, str], date] = {}
    for key, series_rows in series.items():
        previous = None
        for row in series_rows:
            if row.vector is None:
                continue
            if previous is None:
                first_valid[key], before[key] = row, series_rows[0].as_of_date  # earlier rows in range: invalid
            else:
                row.previous_date, row.previous_cosine = previous.as_of_date, cosine_similarity(row.vector,
                                                                                                previous.vector)
            previous = row
    while first_valid:  # one look-back per series; a NULL or torn newest row sends it one day further back
        found = _newest_rows_before(historical_conn, space, first_valid, before)
        for key in list(first_valid):
            if key in found and found[key][1] is None:
                before[key] = found[key][0]
                continue
            if key in found:
                row = first_valid[key]
                row.previous_date, row.previous_cosine = found[key][0], cosine_similarity(row.vector, found[key][1])
            del first_valid[key]


def _newest_rows_before(historical_conn, space: JointSpace, looking: dict, before: dict) -> dict:
    """Per series, ``(as_of_date, decoded vector or None)`` of the newest row of its latest day before ``before``."""
    keys = list(looking)
    with historical_conn.cursor() as cursor:
        cursor.execute(read_sql("select_joint_vector_before.sql"), {
            "joint_type": space.joint_type,
            "model_ids": [looking[key].model_id for key in keys],
            "entity_scopes": [canonical_json(looking[key].entity_scope) for key in keys],
            "befores": [before[key] for key in keys],
        })
        found = cursor.fetchall()
    return {keys[position - 1]: (as_of_date, _decoded(raw_vector, joint_id)[0])
            for position, joint_id, as_of_date, raw_vector in found}
