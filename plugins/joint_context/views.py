"""Reading stored joint vectors back for people: norms, day-over-day and cross-space cosine similarities.

What ``show`` and ``compare`` print, computed over a DB-API connection (no Airflow import). A series is one
``(model_id, entity_scope)`` of one joint type; its rows are the newest row of each key, and a row's
"previous available day" is the series' latest earlier date holding a valid vector, looked up before the
requested range too.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np

from joint_context.errors import VectorDataError
from joint_context.spaces import JointSpace, canonical_json
from joint_context.store import read_sql
from joint_context.vectors import decode_vector

JOINT_EMBEDDINGS_TABLE = "historical_db.joint_embeddings"


@dataclass
class JointVectorRow:
    """One stored joint vector as shown to a user, with its day-over-day cosine similarity.

    :param vector: the decoded float32 vector, or None when the row holds NULL or malformed bytes.
    :param previous_cosine: cosine similarity to the series' previous available day, if there is one.
    :param note: what is odd about the row (NULL vector, malformed bytes, legacy duplicates), else "".
    """

    as_of_date: date
    entity_scope: dict
    model_id: str
    vector: np.ndarray | None
    previous_date: date | None = None
    previous_cosine: float | None = None
    note: str = ""

    @property
    def region(self) -> str:
        return str(self.entity_scope.get("region", ""))

    @property
    def filters(self) -> dict:
        """The scope's filters object (``macro_filters``, ``news_filters``, ...), whatever the space."""
        return next((value for key, value in self.entity_scope.items() if key.endswith("_filters")), {}) or {}

    @property
    def filters_text(self) -> str:
        return ",".join(f"{name}={value}" for name, value in sorted(self.filters.items())) or "-"

    @property
    def series_key(self) -> tuple[str, str]:
        return (self.model_id, canonical_json(self.entity_scope))

    @property
    def dimension(self) -> int | None:
        return None if self.vector is None else int(self.vector.shape[0])

    @property
    def l2_norm(self) -> float | None:
        return None if self.vector is None else float(np.linalg.norm(self.vector.astype(np.float64)))


def cosine_similarity(first: np.ndarray, second: np.ndarray) -> float | None:
    """cos(first, second) in float64; None when a vector is zero or the dimensions differ."""
    first, second = np.asarray(first, dtype=np.float64), np.asarray(second, dtype=np.float64)
    if first.shape != second.shape:
        return None
    norms = float(np.linalg.norm(first) * np.linalg.norm(second))
    if norms == 0.0:
        return None
    return float(np.dot(first, second) / norms)


def fetch_joint_vectors(
    historical_conn,
    space: JointSpace,
    *,
    first_date: date,
    last_date: date,
    regions: Sequence[str] = (),
    model_id: str | None = None,
) -> list[JointVectorRow]:
    """The space's joint vectors in ``first_date..last_date`` (all regions when ``regions`` is empty).

    Rows come ordered by series, then date, each with its cosine to the series' previous available day.
    """
    with historical_conn.cursor() as cursor:
        cursor.execute(read_sql("select_joint_vectors.sql"), {
            "joint_type": space.joint_type,
            "first_date": first_date,
            "last_date": last_date,
            "regions": list(regions) or None,
            "model_id": model_id,
        })
        stored = cursor.fetchall()
    historical_conn.rollback()  # end the read-only transaction
    shown: list[JointVectorRow] = []
    previous: dict[tuple[str, str], JointVectorRow] = {}
    for as_of_date, entity_scope, row_model_id, raw_vector, key_rows, in_range in stored:
        if isinstance(entity_scope, str):  # a driver without jsonb decoding
            entity_scope = json.loads(entity_scope)
        row = JointVectorRow(as_of_date, entity_scope, row_model_id, None)
        notes = []
        if raw_vector is None:
            notes.append("NULL vector")
        else:
            try:
                row.vector = decode_vector(
                    raw_vector, table=JOINT_EMBEDDINGS_TABLE,
                    row_id=f"{space.joint_type}/{row_model_id}/{as_of_date}/{canonical_json(entity_scope)}",
                )
            except VectorDataError as error:
                notes.append(f"malformed vector: {error.problem}")
        if key_rows > 1:
            notes.append(f"{key_rows} rows hold this key; the newest is shown")
        row.note = "; ".join(notes)
        earlier = previous.get(row.series_key)
        if row.vector is not None and earlier is not None:
            row.previous_date = earlier.as_of_date
            row.previous_cosine = cosine_similarity(row.vector, earlier.vector)
        if row.vector is not None:
            previous[row.series_key] = row
        if in_range:
            shown.append(row)
    return shown


@dataclass(frozen=True)
class CrossSpacePair:
    """One scope of each space for the same region, whose same-day vectors are compared."""

    first_series: tuple[str, str]
    second_series: tuple[str, str]
    label: str


@dataclass
class Comparison:
    """Two spaces' vectors of one region over a date range, and the cosine similarities between them.

    :param first_rows: the first space's rows (as :func:`fetch_joint_vectors` returns them).
    :param second_rows: the second space's rows.
    :param pairs: every (first scope, second scope) combination present in the range.
    :param cross_cosines: per pair label, ``{as_of_date: cosine}`` on the dates both scopes have a vector.
    """

    first_space: JointSpace
    second_space: JointSpace
    first_rows: list[JointVectorRow]
    second_rows: list[JointVectorRow]
    pairs: list[CrossSpacePair]
    cross_cosines: dict[str, dict[date, float | None]]

    def series_labels(self) -> dict[tuple[str, tuple[str, str]], str]:
        """A short label per series of each space, e.g. ``REGIME_MACRO_V0 [country=US]``."""
        labels = {}
        for space, rows in ((self.first_space, self.first_rows), (self.second_space, self.second_rows)):
            model_ids = {row.model_id for row in rows}
            for row in rows:
                model = f" {row.model_id}" if len(model_ids) > 1 else ""
                labels[(space.joint_type, row.series_key)] = f"{space.joint_type}{model} [{row.filters_text}]"
        return labels


def compare_spaces(
    first_rows: list[JointVectorRow],
    second_rows: list[JointVectorRow],
    first_space: JointSpace,
    second_space: JointSpace,
) -> Comparison:
    """Same-day cosine similarity between every scope of one space and every scope of the other."""
    def by_series(rows: list[JointVectorRow]) -> dict[tuple[str, str], dict[date, JointVectorRow]]:
        series: dict[tuple[str, str], dict[date, JointVectorRow]] = {}
        for row in rows:
            series.setdefault(row.series_key, {})[row.as_of_date] = row
        return series

    first_series, second_series = by_series(first_rows), by_series(second_rows)
    comparison = Comparison(first_space, second_space, first_rows, second_rows, [], {})
    labels = comparison.series_labels()
    for first_key, first_by_date in first_series.items():
        for second_key, second_by_date in second_series.items():
            label = (f"{labels[(first_space.joint_type, first_key)]} vs "
                     f"{labels[(second_space.joint_type, second_key)]}")
            comparison.pairs.append(CrossSpacePair(first_key, second_key, label))
            comparison.cross_cosines[label] = {
                as_of_date: cosine_similarity(first_row.vector, second_by_date[as_of_date].vector)
                for as_of_date, first_row in sorted(first_by_date.items())
                if as_of_date in second_by_date
                and first_row.vector is not None and second_by_date[as_of_date].vector is not None
            }
    return comparison
