"""Comparing two spaces' vectors of one region: same-day cosine similarity per pair of series (no Airflow import).

A series is its whole ``(joint_type, model_id, entity_scope)``; each gets a label that no other series shares
(filters as JSON, so a value holding ``,`` or ``=`` cannot make two labels equal), and results are keyed by
series, never by label, so no pair can silently replace another.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from joint_context.spaces import JointSpace
from joint_context.views import JointVectorRow, cosine_similarity

SeriesKey = tuple[str, str, str]  # joint_type, model_id, canonical entity_scope


def series_key(space: JointSpace, row: JointVectorRow) -> SeriesKey:
    return (space.joint_type, *row.series_key)


def series_labels(rows_by_space: list[tuple[JointSpace, list[JointVectorRow]]]) -> dict[SeriesKey, str]:
    """A short label per series, e.g. ``REGIME_MACRO_V0 {"country":"US"}``, with the model id when the rows hold
    several; the whole scope is added where two labels would still be equal."""
    model_ids = {row.model_id for _space, rows in rows_by_space for row in rows}
    labels: dict[SeriesKey, str] = {}
    for space, rows in rows_by_space:
        for row in rows:
            model = f" {row.model_id}" if len(model_ids) > 1 else ""
            labels[series_key(space, row)] = f"{space.joint_type}{model} {row.filters_text}"
    counts: dict[str, int] = {}
    for label in labels.values():
        counts[label] = counts.get(label, 0) + 1
    return {key: label if counts[label] == 1 else f"{label} {key[2]}" for key, label in labels.items()}


@dataclass
class Comparison:
    """Two spaces' vectors of one region over a date range, and the cosine similarities between them.

    :param labels: a distinct label per series of either space.
    :param cross_cosines: per (first series, second series), ``{as_of_date: cosine}`` on the dates both have a
        vector.
    """

    first_space: JointSpace
    second_space: JointSpace
    first_rows: list[JointVectorRow]
    second_rows: list[JointVectorRow]
    labels: dict[SeriesKey, str]
    cross_cosines: dict[tuple[SeriesKey, SeriesKey], dict[date, float | None]]

    def series(self) -> dict[str, dict[date, float | None]]:
        """Labelled date→cosine series: same-day across the spaces first, then day over day within each."""
        labelled: dict[str, dict[date, float | None]] = {
            f"same day: {self.labels[first]} vs {self.labels[second]}": values
            for (first, second), values in self.cross_cosines.items()
        }
        for space, rows in ((self.first_space, self.first_rows), (self.second_space, self.second_rows)):
            for row in rows:
                values = labelled.setdefault(f"day over day: {self.labels[series_key(space, row)]}", {})
                if row.previous_cosine is not None:
                    values[row.as_of_date] = row.previous_cosine
        return labelled


def compare_spaces(
    first_rows: list[JointVectorRow],
    second_rows: list[JointVectorRow],
    first_space: JointSpace,
    second_space: JointSpace,
) -> Comparison:
    """Same-day cosine similarity between every series of one space and every series of the other."""
    def by_series(space: JointSpace, rows: list[JointVectorRow]) -> dict[SeriesKey, dict[date, JointVectorRow]]:
        grouped: dict[SeriesKey, dict[date, JointVectorRow]] = {}
        for row in rows:
            grouped.setdefault(series_key(space, row), {})[row.as_of_date] = row
        return grouped

    labels = series_labels([(first_space, first_rows), (second_space, second_rows)])
    cross: dict[tuple[SeriesKey, SeriesKey], dict[date, float | None]] = {}
    for first_key, first_by_date in by_series(first_space, first_rows).items():
        for second_key, second_by_date in by_series(second_space, second_rows).items():
            cross[(first_key, second_key)] = {
                as_of_date: cosine_similarity(first_row.vector, second_by_date[as_of_date].vector)
                for as_of_date, first_row in sorted(first_by_date.items())
                if as_of_date in second_by_date
                and first_row.vector is not None and second_by_date[as_of_date].vector is not None
            }
    return Comparison(first_space, second_space, first_rows, second_rows, labels, cross)

