"""``adopt-legacy`` on a table the upstream research scripts wrote: flat scopes, a duplicate per rerun, NULL
vectors, beside rows the DAG wrote. Checked row by row: which rows stay, with which scope and bytes."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta

import numpy as np
import pytest

from tests.e2e.cli_helpers import MACRO_DATES, run_cli, run_main

D0, D1, D2 = MACRO_DATES[:3]
MODEL = "joint-regime-core-v1"
T0 = datetime.fromisoformat("2025-01-10T00:00:00+00:00")


def insert(historical_conn, day, scope, vector, *, joint_type="REGIME_MACRO_V0", model_id=MODEL, age_hours=0):
    """A row as any tool writes it: ``scope`` as jsonb text, the vector's bytes (or NULL), ``created_at`` set."""
    scope_text = scope if isinstance(scope, str) else json.dumps(scope)
    raw = None if vector is None else np.asarray(vector, dtype="<f4").tobytes()
    return historical_conn.execute(
        "INSERT INTO joint_embeddings (joint_type, as_of_date, entity_scope, model_id, vector, created_at)"
        " VALUES (%s, %s, %s::jsonb, %s, %s, %s) RETURNING joint_id",
        (joint_type, day, scope_text, model_id, raw, T0 + timedelta(hours=age_hours)),
    ).fetchone()[0]


def table(historical_conn) -> dict[int, tuple]:
    """Every row: joint_id -> (joint_type, as_of_date, entity_scope, model_id, vector bytes, created_at)."""
    rows = historical_conn.execute(
        "SELECT joint_id, joint_type, as_of_date, entity_scope, model_id, vector, created_at FROM joint_embeddings")
    return {joint_id: rest for joint_id, *rest in rows.fetchall()}


def flat_macro(region, country=None, event_type=None):
    scope = {"region": region, "source": "regime+macro"}
    if country is not None:
        scope["macro_country"] = country
    if event_type is not None:
        scope["macro_event_type"] = event_type
    return scope


def ours_macro(region, **filters):
    return {"region": region, "source": "regime+macro", "macro_filters": filters}


@pytest.fixture
def upstream_table(historical_conn):
    """Upstream rows (flat, rerun twice, one newest NULL) beside rows the DAG wrote, rows that map to no key and
    rows of other joint types; returns the ids by role."""
    v = {name: np.full(4, value, dtype=np.float32) for value, name in enumerate(
        ("old", "new", "dag", "dag_old", "null_old", "ev", "news_old", "news_new", "other", "foreign", "en"), 1)}
    ids = {
        # D0, US/US: the DAG's row exists (with an older duplicate of its own): it stays, everything else goes
        "up_us_d0_a": insert(historical_conn, D0, flat_macro("US", "US"), v["old"], age_hours=1),
        "up_us_d0_b": insert(historical_conn, D0, flat_macro("US", "US"), v["new"], age_hours=5),
        "dag_us_d0": insert(historical_conn, D0, ours_macro("US", country="US"), v["dag"], age_hours=3),
        "dag_us_d0_old": insert(historical_conn, D0, ours_macro("US", country="US"), v["dag_old"], age_hours=2),
        # D1, US/US: upstream only, two reruns: the newest is rewritten into our shape, the older deleted
        "up_us_d1_a": insert(historical_conn, D1, flat_macro("US", "US"), v["old"], age_hours=1),
        "up_us_d1_b": insert(historical_conn, D1, flat_macro("US", "US"), v["new"], age_hours=2),
        # D1, EU with country and event type; its newest row has a NULL vector: kept as the newest, NULL and all
        "up_eu_d1_a": insert(historical_conn, D1, flat_macro("EU", "DE", "CPI"), v["null_old"], age_hours=1),
        "up_eu_d1_b": insert(historical_conn, D1, flat_macro("EU", "DE", "CPI"), None, age_hours=2),
        # D1, US without filters (null values as some script versions wrote them): key with {} filters
        "up_us_d1_nofilter": insert(historical_conn, D1, {**flat_macro("US"), "macro_country": None}, v["ev"]),
        # D2, a single upstream row of a key: rewritten, nothing deleted
        "up_us_d2": insert(historical_conn, D2, flat_macro("US", "US"), v["new"]),
        # D2, another model id is another key
        "up_us_d2_model": insert(historical_conn, D2, flat_macro("US", "US"), v["other"], model_id="other-v9"),
        # left alone: no region, white space at the end of a value, unknown key, a JSON string, another source
        "bad_no_region": insert(historical_conn, D2, {"source": "regime+macro", "macro_country": "US"}, v["foreign"]),
        "bad_space": insert(historical_conn, D2, flat_macro("US", "US "), v["foreign"]),
        "bad_key": insert(historical_conn, D2, {**flat_macro("US", "US"), "macro_theme": "x"}, v["foreign"]),
        "bad_string": insert(historical_conn, D2, '"{\\"region\\": \\"US\\"}"', v["foreign"]),
        "bad_source": insert(historical_conn, D2, {"region": "US", "source": "legacy"}, v["foreign"]),
        # an already clean key: untouched
        "clean": insert(historical_conn, D2, ours_macro("EU", country="DE"), v["dag"]),
        # another joint type's upstream rows: not this space's business
        "news_a": insert(historical_conn, D0, {"region": "US", "source": "regime+news"}, v["news_old"],
                         joint_type="REGIME_CONTEXT_V0", age_hours=1),
        "news_b": insert(historical_conn, D0, {"region": "US", "source": "regime+news"}, v["news_new"],
                         joint_type="REGIME_CONTEXT_V0", age_hours=2),
        "news_en": insert(historical_conn, D0, {"region": "US", "source": "regime+news", "news_language": "EN"},
                          v["en"], joint_type="REGIME_CONTEXT_V0"),
    }
    return ids, v


def test_dry_run_says_what_it_would_do_and_changes_nothing(capsys, historical_conn, upstream_table):
    ids, _vectors = upstream_table
    before = table(historical_conn)

    status, out, err = run_main(capsys, "adopt-legacy", "--dry-run", "--csv")

    assert status == 0, err
    assert table(historical_conn) == before
    planned = {row["kept_joint_id"]: row for row in csv.DictReader(io.StringIO(out))}
    assert planned[str(ids["dag_us_d0"])]["deleted_joint_ids"] == " ".join(
        map(str, sorted([ids["up_us_d0_a"], ids["up_us_d0_b"], ids["dag_us_d0_old"]])))
    assert planned[str(ids["up_us_d1_b"])]["kept"] == "rewritten from upstream"
    assert planned[str(ids["up_eu_d1_b"])]["vector"] == "NULL"
    assert "would rewrite 5 row(s) into the space's shape, would delete 5 row(s) (dry run: nothing changed)" in err
    assert "Left alone 5 row(s)" in err and f"joint_id {ids['bad_space']}" in err and "white space" in err


def test_adoption_leaves_exactly_one_row_per_key_keeping_ours_or_the_newest_upstream_row(
        capsys, historical_conn, upstream_table):
    ids, v = upstream_table
    before = table(historical_conn)

    status, _out, err = run_main(capsys, "adopt-legacy", "--space", "REGIME_MACRO_V0")

    assert status == 0, err
    after = table(historical_conn)
    kept_unchanged = ["dag_us_d0", "clean", "bad_no_region", "bad_space", "bad_key", "bad_string", "bad_source",
                      "news_a", "news_b", "news_en"]
    rewritten = {  # kept row -> the scope it now holds
        "up_us_d1_b": ours_macro("US", country="US"),
        "up_eu_d1_b": ours_macro("EU", country="DE", event_type="CPI"),
        "up_us_d1_nofilter": ours_macro("US"),
        "up_us_d2": ours_macro("US", country="US"),
        "up_us_d2_model": ours_macro("US", country="US"),
    }
    assert set(after) == {ids[name] for name in [*kept_unchanged, *rewritten]}
    for name in kept_unchanged:
        assert after[ids[name]] == before[ids[name]], name
    for name, scope in rewritten.items():
        joint_type, day, stored_scope, model_id, vector, created_at = after[ids[name]]
        assert stored_scope == scope, name
        assert (joint_type, day, model_id, vector, created_at) == (
            before[ids[name]][0], before[ids[name]][1], before[ids[name]][3], before[ids[name]][4],
            before[ids[name]][5]), name
    assert after[ids["up_eu_d1_b"]][4] is None  # the newest row said NULL: so does the key
    assert np.frombuffer(after[ids["up_us_d1_b"]][4], dtype="<f4").tolist() == v["new"].tolist()
    keys = historical_conn.execute(
        "SELECT count(*) FROM joint_embeddings WHERE joint_type = 'REGIME_MACRO_V0' AND entity_scope ? 'macro_filters'"
        " GROUP BY as_of_date, model_id, entity_scope HAVING count(*) > 1").fetchall()
    assert keys == []


def test_adoption_is_idempotent_and_a_dag_write_then_replaces_the_adopted_row(
        capsys, historical_conn, upstream_table):
    ids, _vectors = upstream_table
    assert run_main(capsys, "adopt-legacy")[0] == 0
    after_first = table(historical_conn)

    status, out, err = run_main(capsys, "adopt-legacy")

    assert status == 0 and out == ""
    assert table(historical_conn) == after_first
    assert "0 key(s) on 0 date(s)" in err and "Left alone 5 row(s)" in err
    # the write path (DAG and bulk CLI) finds the adopted row as its key's row
    from joint_context.store import JointRow, replace_joint_rows
    outcomes = replace_joint_rows(historical_conn, joint_type="REGIME_MACRO_V0", model_id=MODEL, as_of_date=D1,
                                  rows=[JointRow(ours_macro("US", country="US"), np.ones(4, "<f4").tobytes())])
    assert [(outcome.action, outcome.previous_rows) for outcome in outcomes] == [("replaced", 1)]


def test_news_rows_without_filter_keys_and_other_cases_are_adopted_in_the_canonical_key(
        capsys, historical_conn, upstream_table):
    ids, _vectors = upstream_table

    status, _out, err = run_main(capsys, "adopt-legacy", "--space", "joint_regime_news_context",
                                 "--date-range", D0.isoformat(), D0.isoformat())

    assert status == 0, err
    after = table(historical_conn)
    assert ids["news_a"] not in after
    assert after[ids["news_b"]][2] == {"region": "US", "source": "regime+news", "news_filters": {}}
    assert after[ids["news_en"]][2] == {"region": "US", "source": "regime+news", "news_filters": {"language": "en"}}
    assert ids["up_us_d0_a"] in after  # the macro space's rows are another command's business


def test_adopt_legacy_as_a_user_runs_it_with_a_dsn(databases, historical_conn, upstream_table):
    ids, _vectors = upstream_table
    completed = run_cli("adopt-legacy", "--historical-dsn", databases.historical_dsn, "--date-range",
                        D1.isoformat(), D1.isoformat())

    assert completed.returncode == 0, completed.stderr
    assert "rewrote 3 row(s) into the space's shape, deleted 2 row(s)" in completed.stderr
    assert str(ids["up_us_d1_b"]) in completed.stdout
    assert ids["up_us_d0_a"] in table(historical_conn)  # outside the range


def test_show_points_at_adopt_legacy_when_it_leaves_out_upstream_rows(capsys, historical_conn, upstream_table):
    status, _out, err = run_main(capsys, "show", "--date-range", D0.isoformat(), D2.isoformat())

    assert status == 0
    assert "the upstream scripts' flat shape" in err
    assert "joint-context adopt-legacy --space REGIME_MACRO_V0 --dry-run" in err
