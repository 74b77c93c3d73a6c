"""Adopt a space's rows the upstream scripts wrote: one transaction per date, over a DB-API connection (no Airflow).

The mapping and the rule per key are :mod:`joint_context.legacy`'s. Each date is read, planned and changed in
one transaction that first takes the advisory locks of the keys it changes (the locks the DAG and the command line
take to write them, in the same order) and locks the date's rows, so it is safe beside running writers: a key
whose row a writer replaced meanwhile is planned again from what is there once the lock is held. Where the optional
pgvector side table exists, the copies of the rows it rewrites take their new scope in the same transaction.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta

from joint_context.legacy import KeyAdoption, LeftAlone, StoredRow, plan_adoption
from joint_context.spaces import JointSpace, joint_lock_keys
from joint_context.store import read_sql, vector_index_present

READ_WINDOW_DAYS = 92  # read a long history a quarter at a time: what is held is one window's row metadata


@dataclass
class DateAdoption:
    """What adoption did (or, on a dry run, would do) on one date."""

    as_of_date: date
    keys: list[KeyAdoption] = field(default_factory=list)
    left_alone: list[LeftAlone] = field(default_factory=list)

    @property
    def rewritten(self) -> int:
        return sum(key.rewrite for key in self.keys)

    @property
    def deleted(self) -> int:
        return sum(len(key.deleted_joint_ids) for key in self.keys)


def adopt_legacy_rows(historical_conn, space: JointSpace, *, first_date: date = date.min,
                      last_date: date = date.max, dry_run: bool = False) -> Iterator[DateAdoption]:
    """Yield, in date order, every date of ``first_date..last_date`` that has something to change or report,
    once its transaction is committed (``dry_run``: what would change; nothing is written or locked).

    A database error stops the generator: the dates yielded so far are committed; rerunning finishes the rest.
    """
    for window_rows in _windows_of_rows(historical_conn, space, first_date, last_date):
        by_date: dict[date, list[StoredRow]] = {}
        for row in window_rows:
            by_date.setdefault(row.as_of_date, []).append(row)
        for as_of_date, rows in by_date.items():
            keys, left_alone = plan_adoption(space, rows)
            if keys and not dry_run:
                keys, left_alone = _adopt_date(historical_conn, space, as_of_date, keys)
            if keys or left_alone:
                yield DateAdoption(as_of_date, keys, left_alone)


def _windows_of_rows(historical_conn, space: JointSpace, first_date: date,
                     last_date: date) -> Iterator[list[StoredRow]]:
    with historical_conn.cursor() as cursor:
        cursor.execute(read_sql("select_joint_date_bounds.sql"),
                       {"joint_type": space.joint_type, "first_date": first_date, "last_date": last_date})
        first_stored, last_stored = cursor.fetchone()
    historical_conn.commit()
    if first_stored is None:
        return
    window_start = first_stored
    while True:
        # no date beyond last_stored is computed: it may be 9999-12-31
        window_end = (last_stored if (last_stored - window_start).days < READ_WINDOW_DAYS
                      else window_start + timedelta(days=READ_WINDOW_DAYS - 1))
        with historical_conn.cursor() as cursor:
            cursor.execute(read_sql("select_rows_to_adopt.sql"),
                           {"joint_type": space.joint_type, "first_date": window_start, "last_date": window_end})
            rows = [_stored_row(record) for record in cursor.fetchall()]
        historical_conn.commit()
        yield rows
        if window_end == last_stored:
            return
        window_start = window_end + timedelta(days=1)


def _adopt_date(historical_conn, space: JointSpace, as_of_date: date,
                planned: list[KeyAdoption]) -> tuple[list[KeyAdoption], list[LeftAlone]]:
    """Lock the planned keys and the date's rows, plan again from what is there, and apply it, in one transaction.
    Keys not in the first plan are left to the next run (their locks were not taken)."""
    lock_keys = sorted({
        lock_key for model_id in {key.model_id for key in planned}
        for lock_key in joint_lock_keys(space.joint_type, model_id, [
            (key.as_of_date, key.scope_json) for key in planned if key.model_id == model_id])
    })
    locked = {(key.model_id, key.scope_json) for key in planned}
    try:
        with historical_conn.cursor() as cursor:
            cursor.execute(read_sql("lock_joint_keys.sql"), {"lock_keys": lock_keys})
            cursor.execute(read_sql("select_rows_to_adopt_for_update.sql"),
                           {"joint_type": space.joint_type, "as_of_date": as_of_date})
            keys, left_alone = plan_adoption(space, [_stored_row(record) for record in cursor.fetchall()])
            keys = [key for key in keys if (key.model_id, key.scope_json) in locked]
            doomed = [joint_id for key in keys for joint_id in key.deleted_joint_ids]
            if doomed:
                cursor.execute(read_sql("delete_joint_rows_by_id.sql"), {"joint_ids": doomed})
            rewrites = [key for key in keys if key.rewrite]
            if rewrites:
                rewritten_ids = [key.kept_joint_id for key in rewrites]
                cursor.execute(read_sql("update_joint_scopes.sql"), {
                    "joint_ids": rewritten_ids, "entity_scopes": [key.scope_json for key in rewrites]})
                if vector_index_present(cursor):  # the copies of deleted rows went with them (ON DELETE CASCADE)
                    cursor.execute(read_sql("update_vector_index_scopes.sql"), {"joint_ids": rewritten_ids})
        historical_conn.commit()
    except BaseException:
        historical_conn.rollback()
        raise
    return keys, left_alone


def _stored_row(record: tuple) -> StoredRow:
    joint_id, as_of_date, model_id, scope_text, created_at, has_vector = record
    return StoredRow(joint_id, as_of_date, model_id, json.loads(scope_text), created_at, has_vector)
