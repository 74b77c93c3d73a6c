"""The optional pgvector side table (``include/sql/schema/optional_pgvector.sql``) on a server with pgvector: its
copies decode the stored bytes exactly, every write of the package (the DAG's write task, the CLI's backfill)
keeps it in sync in the write's own transaction, a failed write leaves it as it was, and ``vector-index rebuild``
refills it from the rows written before."""

from __future__ import annotations

import json
from datetime import date, timedelta

import numpy as np
import psycopg
import pytest

from devtools import localdb
from devtools.seed import insert_macro_event, insert_regime, utc
from joint_context.spaces import REGIME_MACRO_V0
from joint_context.store import JointRow, replace_joint_rows_for_dates
from tests.e2e.cli_helpers import run_main
from tests.helpers import expected_joint, random_vectors

DAY = date(2025, 1, 2)
MODEL = "joint-regime-core-v1"


def scope(region: str) -> dict:
    return {"region": region, "source": "regime+macro", "macro_filters": {"country": "US"}}


def copies(conn) -> dict[int, tuple]:
    """``{joint_id: (joint_type, model_id, as_of_date, entity_scope, dim, float32 vector or None)}``."""
    rows = conn.execute("SELECT joint_id, joint_type, model_id, as_of_date, entity_scope, dim, embedding::text"
                        " FROM joint_vector_index ORDER BY joint_id").fetchall()
    return {row[0]: (*row[1:6], None if row[6] is None else np.array(row[6].strip("[]").split(","), dtype="<f4"))
            for row in rows}


def joint_rows_by_id(conn) -> dict[int, tuple]:
    rows = conn.execute("SELECT joint_id, joint_type, model_id, as_of_date, entity_scope, vector FROM joint_embeddings"
                        " ORDER BY joint_id").fetchall()
    return {row[0]: row[1:] for row in rows}


def assert_copies_mirror_the_joint_rows(conn) -> None:
    """One copy per joint row, each holding exactly the row's decoded float32 values (the package keeps one row
    per key, so every row is its key's newest)."""
    stored, copied = joint_rows_by_id(conn), copies(conn)
    assert set(copied) == set(stored)
    for joint_id, (joint_type, model_id, as_of_date, entity_scope, raw) in stored.items():
        want = np.frombuffer(raw, "<f4")
        assert copied[joint_id][:5] == (joint_type, model_id, as_of_date, entity_scope, want.shape[0])
        assert copied[joint_id][5].tobytes() == want.tobytes()


def write(conn, rows_by_date, model_id=MODEL):
    with psycopg.connect(conn.info.dsn) as writer:  # a transaction of its own, as the tasks have
        return replace_joint_rows_for_dates(writer, joint_type=REGIME_MACRO_V0.joint_type, model_id=model_id,
                                            rows_by_date=rows_by_date)


def test_the_database_decodes_float32_bytes_exactly_as_numpy(vector_conn):
    rng = np.random.default_rng(1)
    special = np.array([1e-45, -1.2e-38, 3.4e38, -0.0, 1.0, -2.5], dtype="<f4")  # subnormals, extremes, -0
    vectors = [np.concatenate([random_vectors(rng, 1)[0], special]), random_vectors(rng, 1, 3)[0] * 1e-30]
    for vector in vectors:
        text = vector_conn.execute("SELECT joint_vector_from_float32le(%s)::text", (vector.tobytes(),)).fetchone()[0]
        assert np.array(text.strip("[]").split(","), dtype="<f4").tobytes() == vector.astype("<f4").tobytes()
    unusable = [b"", b"\x00\x01\x02", np.array([1.0, np.inf], "<f4").tobytes(), np.array([np.nan], "<f4").tobytes(),
                np.zeros(5, "<f4").tobytes(), None]
    assert [vector_conn.execute("SELECT joint_vector_from_float32le(%s) IS NULL", (raw,)).fetchone()[0]
            for raw in unusable] == [True] * len(unusable)


def test_every_write_keeps_the_side_table_in_sync(vector_conn):
    rng = np.random.default_rng(2)
    days = [DAY + timedelta(days=offset) for offset in range(3)]
    vectors = {(day, region): random_vectors(rng, 1, 16)[0] for day in days for region in ("US", "EU")}
    write(vector_conn, {day: [JointRow(scope(region), vectors[(day, region)].tobytes()) for region in ("US", "EU")]
                        for day in days})
    assert len(copies(vector_conn)) == 6
    assert_copies_mirror_the_joint_rows(vector_conn)
    # a legacy duplicate another tool left: the next write of its key deletes it, and its copy with it
    vector_conn.execute("INSERT INTO joint_embeddings (joint_type, as_of_date, entity_scope, model_id, vector)"
                        " VALUES ('REGIME_MACRO_V0', %s, %s, %s, %s)",
                        (days[0], json.dumps(scope("US")), MODEL, vectors[(days[0], "US")].tobytes()))
    vector_conn.execute("INSERT INTO joint_vector_index SELECT joint_id, joint_type, model_id, as_of_date,"
                        " entity_scope, 16, joint_vector_from_float32le(vector) FROM joint_embeddings"
                        " WHERE joint_id NOT IN (SELECT joint_id FROM joint_vector_index)")
    replaced = random_vectors(rng, 1, 16)[0]
    outcomes = write(vector_conn, {days[0]: [JointRow(scope("US"), replaced.tobytes()), JointRow(scope("EU"), None)]})
    assert [(outcome.action, outcome.previous_rows) for outcome in outcomes[days[0]]] == [("replaced", 2),
                                                                                         ("removed", 1)]
    assert len(copies(vector_conn)) == 5
    assert_copies_mirror_the_joint_rows(vector_conn)
    new_us = [copy for copy in copies(vector_conn).values() if copy[2] == days[0]]
    assert len(new_us) == 1 and new_us[0][5].tobytes() == replaced.tobytes()


def test_a_failed_write_leaves_the_joint_rows_and_their_copies_as_they_were(vector_conn):
    rng = np.random.default_rng(3)
    write(vector_conn, {DAY: [JointRow(scope("US"), random_vectors(rng, 1, 8)[0].tobytes())]})
    before = (joint_rows_by_id(vector_conn), copies(vector_conn))
    # the copy is the write's last statement: make it fail there, after the delete and the insert ran
    vector_conn.execute("CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS"
                        " $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$")
    vector_conn.execute("CREATE TRIGGER refuse BEFORE INSERT ON joint_vector_index"
                        " FOR EACH ROW EXECUTE FUNCTION refuse()")
    try:
        with pytest.raises(psycopg.errors.RaiseException, match="refused by the test"):
            write(vector_conn, {DAY: [JointRow(scope("US"), random_vectors(rng, 1, 8)[0].tobytes())]})
    finally:
        vector_conn.execute("DROP TRIGGER refuse ON joint_vector_index")
        vector_conn.execute("DROP FUNCTION refuse()")
    assert joint_rows_by_id(vector_conn).keys() == before[0].keys()
    assert set(copies(vector_conn)) == set(before[1])


def test_the_dag_write_task_and_the_cli_backfill_keep_the_side_table_in_sync(pgvector_databases, vector_conn,
                                                                           monkeypatch, capsys):
    from tests.db.test_operators import run_chain

    rng = np.random.default_rng(4)
    with psycopg.connect(pgvector_databases.runtime_dsn, autocommit=True) as runtime_conn:
        regimes = {day: random_vectors(rng, 1)[0] for day in (DAY, DAY + timedelta(days=1))}
        for day, regime in regimes.items():
            insert_regime(runtime_conn, region="US", as_of_date=day, vector=regime)
    text = {day: random_vectors(rng, 3) for day in regimes}
    for day, vectors in text.items():
        for index, vector in enumerate(vectors):
            insert_macro_event(vector_conn, timestamp=utc(day, index + 1), vector=vector, country="US")
    for role, dsn in (("RUNTIME", pgvector_databases.runtime_dsn), ("HISTORICAL", pgvector_databases.historical_dsn)):
        monkeypatch.setenv(f"AIRFLOW_CONN_{role}_DB", localdb.airflow_connection_json(dsn))
    run_chain({"contexts": [{"region": "US", "country": "US"}]}, as_of_date=DAY)  # the DAG's three tasks
    assert_copies_mirror_the_joint_rows(vector_conn)
    status, _out, err = run_main(capsys, "backfill", "--region", "US", "--country", "US", "--date-range",
                                 DAY.isoformat(), (DAY + timedelta(days=1)).isoformat(), "--no-progress",
                                 "--runtime-dsn", pgvector_databases.runtime_dsn,
                                 "--historical-dsn", pgvector_databases.historical_dsn)
    assert status == 0, err
    assert_copies_mirror_the_joint_rows(vector_conn)
    assert {copy[2]: copy[5].tobytes() for copy in copies(vector_conn).values()} == {
        day: expected_joint(regimes[day], text[day]).tobytes() for day in regimes}


def test_vector_index_rebuild_copies_the_newest_row_of_each_key(pgvector_databases, vector_conn, capsys):
    rng = np.random.default_rng(5)
    insert = ("INSERT INTO joint_embeddings (joint_type, as_of_date, entity_scope, model_id, vector, created_at)"
              " VALUES (%s, %s, %s::jsonb, %s, %s, %s) RETURNING joint_id")
    newest = []
    for offset, region in enumerate(("US", "EU", "JP")):
        day = DAY + timedelta(days=offset)
        vector_conn.execute(insert, ("REGIME_MACRO_V0", day, json.dumps(scope(region)), MODEL,
                                     random_vectors(rng, 1, 8)[0].tobytes(), utc(day, 1)))
        newest_raw = None if region == "JP" else random_vectors(rng, 1, 8)[0].tobytes()  # JP: newest row NULL
        newest.append(vector_conn.execute(insert, ("REGIME_MACRO_V0", day, json.dumps(scope(region)), MODEL,
                                                   newest_raw, utc(day, 2))).fetchone()[0])
    other = vector_conn.execute(insert, ("REGIME_CONTEXT_V0", DAY, '{"region": "US"}', MODEL,
                                         random_vectors(rng, 1, 8)[0].tobytes(), utc(DAY, 1))).fetchone()[0]
    status, out, err = run_main(capsys, "vector-index", "rebuild", "--space", "REGIME_MACRO_V0",
                                "--historical-dsn", pgvector_databases.historical_dsn)
    assert status == 0, err
    assert "3 key(s) copied, 2 with a vector, 1 whose newest row's vector is NULL or malformed" in out
    copied = copies(vector_conn)
    assert sorted(copied) == sorted(newest) and other not in copied
    assert [copied[joint_id][4] for joint_id in newest] == [8, 8, None]
    status, out, err = run_main(capsys, "vector-index", "rebuild",
                                "--historical-dsn", pgvector_databases.historical_dsn)
    assert status == 0 and "4 key(s) copied" in out and other in copies(vector_conn)


def test_vector_index_rebuild_without_the_side_table_says_what_to_run(databases, clean_databases, capsys):
    status, out, err = run_main(capsys, "vector-index", "rebuild", "--historical-dsn", databases.historical_dsn)
    assert (status, out) == (4, "")
    assert "has no table joint_vector_index: run include/sql/schema/optional_pgvector.sql" in err


def test_adopting_upstream_rows_keeps_the_side_table_in_step(capsys, vector_conn, pgvector_databases):
    """adopt-legacy rewrites a kept row's scope and deletes the others: their copies follow in its transaction."""
    flat = {"region": "US", "source": "regime+macro", "macro_country": "US"}
    older, newer = (vector_conn.execute(
        "INSERT INTO joint_embeddings (joint_type, as_of_date, entity_scope, model_id, vector, created_at)"
        " VALUES ('REGIME_MACRO_V0', %s, %s::jsonb, %s, %s, now() + %s * interval '1 hour') RETURNING joint_id",
        (DAY, json.dumps(flat), MODEL, np.full(4, value, "<f4").tobytes(), value)).fetchone()[0]
        for value in (1, 2))
    assert run_main(capsys, "vector-index", "rebuild", "--historical-dsn", pgvector_databases.historical_dsn)[0] == 0

    status, _out, err = run_main(capsys, "adopt-legacy", "--historical-dsn", pgvector_databases.historical_dsn)

    assert status == 0, err
    assert set(joint_rows_by_id(vector_conn)) == {newer} and older != newer
    assert joint_rows_by_id(vector_conn)[newer][3] == scope("US")
    assert_copies_mirror_the_joint_rows(vector_conn)
