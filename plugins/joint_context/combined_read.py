"""Reading the combined space's inputs: the newest stored row of each branch key, per date (no Airflow import).

One query (``sql/select_newest_branch_rows.sql``) reads every wanted key of a date range; values are bound
parameters. Works with psycopg 3 and psycopg2.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from joint_context.spaces import canonical_json
from joint_context.store import read_sql


@dataclass(frozen=True)
class BranchRow:
    """The newest stored row of one key on one date; ``vector`` is ``None`` when that row holds NULL."""

    joint_id: int
    vector: bytes | None


def fetch_newest_branch_rows(
    historical_conn, *, model_id: str, keys: Sequence[tuple[str, dict]], first_date: date, last_date: date,
) -> dict[tuple[int, date], BranchRow]:
    """The newest row per ``(key number, as_of_date)``; a key is ``(joint_type, entity_scope)``, numbered from 0
    in the order given. Keys and dates without any row are absent from the result."""
    if not keys:
        return {}
    with historical_conn.cursor() as cursor:
        cursor.execute(read_sql("select_newest_branch_rows.sql"), {
            "joint_types": [joint_type for joint_type, _scope in keys],
            "entity_scopes": [canonical_json(scope) for _joint_type, scope in keys],
            "model_id": model_id,
            "first_date": first_date,
            "last_date": last_date,
        })
        rows = cursor.fetchall()
    return {(position - 1, as_of_date): BranchRow(joint_id, None if raw is None else bytes(raw))
            for position, as_of_date, joint_id, raw in rows}
