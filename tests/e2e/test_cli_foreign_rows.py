"""``show`` and ``compare`` on a table other tools wrote too: rows in foreign scope shapes are reported and skipped,
distinct series stay apart, a case-insensitive filter matches whatever case a row holds, and the previous day
does not depend on the range asked for."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import numpy as np

from tests.e2e.cli_helpers import MACRO_DATES, cosine, run_main
from tests.e2e.rows import insert_joint_row, macro_scope, news_scope

D0, D1, D2 = MACRO_DATES[:3]
FOREIGN_SCOPES = {  # jsonb text of a scope other tools left: how `show` must report it
    '"US"': "not a JSON object",
    '"{\\"region\\": \\"US\\", \\"source\\": \\"regime+macro\\", \\"macro_filters\\": {}}"': "not a JSON object",
    "[1, 2]": "not a JSON object",
    "42": "not a JSON object",
    "null": "not a JSON object",
    '{"region": "US", "source": "regime+macro", "macro_filters": "country=US"}': "another shape",
    '{"region": "US", "source": "legacy"}': "another shape",
    '{"region": "US", "source": "regime+macro", "macro_country": "US"}': "the upstream scripts' flat shape",
}


def insert_scope_text(historical_conn, day, scope_text: str, vector, joint_type: str = "REGIME_MACRO_V0") -> int:
    return historical_conn.execute(
        "INSERT INTO joint_embeddings (joint_type, as_of_date, entity_scope, model_id, vector)"
        " VALUES (%s, %s, %s::jsonb, 'joint-regime-core-v1', %s) RETURNING joint_id",
        (joint_type, day, scope_text, np.asarray(vector, dtype="<f4").tobytes()),
    ).fetchone()[0]


def test_show_reports_rows_in_foreign_shapes_by_kind_skips_them_and_succeeds(capsys, historical_conn):
    ours = np.arange(1, 9, dtype=np.float32)
    insert_joint_row(historical_conn, "REGIME_MACRO_V0", D0, macro_scope("US", country="US"), ours)
    ids = {scope: insert_scope_text(historical_conn, D0, scope, np.ones(8)) for scope in FOREIGN_SCOPES}

    status, out, err = run_main(capsys, "show", "--date-range", D0.isoformat(), D0.isoformat(), "--csv")

    assert status == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(row["region"], row["filters"]) for row in rows] == [("US", '{"country":"US"}')]
    assert float(rows[0]["l2_norm"]) == np.linalg.norm(ours.astype(np.float64))
    assert f"Left out {len(FOREIGN_SCOPES)} REGIME_MACRO_V0 row(s)" in err
    for kind in set(FOREIGN_SCOPES.values()):
        expected_ids = [ids[scope] for scope, scope_kind in FOREIGN_SCOPES.items() if scope_kind == kind]
        assert f"{len(expected_ids)} in {kind} (joint_id {', '.join(map(str, sorted(expected_ids)))})" in err
    assert "Traceback" not in err


def test_compare_skips_foreign_rows_and_keeps_distinct_series_apart(capsys, historical_conn):
    rng = np.random.default_rng(17)
    vectors = {name: rng.normal(size=8).astype(np.float32) for name in ("empty", "legacy", "u_s", "u,s", "news")}
    insert_joint_row(historical_conn, "REGIME_MACRO_V0", D0, macro_scope("US"), vectors["empty"])
    insert_scope_text(historical_conn, D0, '{"region": "US", "source": "legacy"}', vectors["legacy"])
    # filters whose old labels were both "country=U,event_type=S"
    insert_joint_row(historical_conn, "REGIME_MACRO_V0", D0, macro_scope("US", country="U", event_type="S"),
                     vectors["u_s"])
    insert_joint_row(historical_conn, "REGIME_MACRO_V0", D0, macro_scope("US", country="U,event_type=S"),
                     vectors["u,s"])
    insert_joint_row(historical_conn, "REGIME_CONTEXT_V0", D0, news_scope("US", language="en"), vectors["news"])

    status, out, err = run_main(capsys, "compare", "--region", "US", "--date-range", D0.isoformat(), D0.isoformat(),
                                "--csv")

    assert status == 0, err
    (row,) = list(csv.DictReader(io.StringIO(out)))
    news = 'REGIME_CONTEXT_V0 {"language":"en"}'
    expected = {
        f'same day: REGIME_MACRO_V0 {{}} vs {news}': cosine(vectors["empty"], vectors["news"]),
        f'same day: REGIME_MACRO_V0 {{"country":"U","event_type":"S"}} vs {news}': cosine(vectors["u_s"],
                                                                                          vectors["news"]),
        f'same day: REGIME_MACRO_V0 {{"country":"U,event_type=S"}} vs {news}': cosine(vectors["u,s"],
                                                                                      vectors["news"]),
    }
    same_day = {column: float(value) for column, value in row.items() if column.startswith("same day")}
    assert same_day.keys() == expected.keys()
    for column, value in expected.items():
        assert same_day[column] == value
    assert "Left out 1 REGIME_MACRO_V0 row(s)" in err and "1 in another shape" in err


def test_compare_picks_a_case_insensitive_filter_in_whatever_case_the_rows_hold(capsys, historical_conn):
    rng = np.random.default_rng(3)
    macro, old_case, canonical = (rng.normal(size=8).astype(np.float32) for _ in range(3))
    for day in (D0, D1):
        insert_joint_row(historical_conn, "REGIME_MACRO_V0", day, macro_scope("US"), macro)
    insert_joint_row(historical_conn, "REGIME_CONTEXT_V0", D0, news_scope("US", language="EN"), old_case)
    insert_joint_row(historical_conn, "REGIME_CONTEXT_V0", D1, news_scope("US", language="en"), canonical)
    insert_joint_row(historical_conn, "REGIME_CONTEXT_V0", D1, news_scope("US", language="de"), np.ones(8))

    status, out, err = run_main(capsys, "compare", "--region", "US", "--date-range", D0.isoformat(), D1.isoformat(),
                                "--news-filters", '{"language": "EN"}', "--csv")

    assert status == 0, err
    rows = {row["as_of_date"]: row for row in csv.DictReader(io.StringIO(out))}
    old_column = 'same day: REGIME_MACRO_V0 {} vs REGIME_CONTEXT_V0 {"language":"EN"}'
    new_column = 'same day: REGIME_MACRO_V0 {} vs REGIME_CONTEXT_V0 {"language":"en"}'
    assert float(rows[D0.isoformat()][old_column]) == cosine(macro, old_case)
    assert float(rows[D1.isoformat()][new_column]) == cosine(macro, canonical)
    assert not any('"de"' in column for column in rows[D1.isoformat()])


def test_the_previous_day_does_not_depend_on_the_range_asked_for(capsys, historical_conn):
    rng = np.random.default_rng(11)
    first, last = rng.normal(size=8).astype(np.float32), rng.normal(size=8).astype(np.float32)
    scope = macro_scope("US", country="US")
    insert_joint_row(historical_conn, "REGIME_MACRO_V0", D0, scope, first)
    torn = insert_scope_text(historical_conn, D1, '{"region": "US", "source": "regime+macro", "macro_filters": '
                                                  '{"country": "US"}}', np.ones(8))
    historical_conn.execute("UPDATE joint_embeddings SET vector = '\\x0102'::bytea WHERE joint_id = %s", (torn,))
    insert_joint_row(historical_conn, "REGIME_MACRO_V0", D1 - timedelta(days=30), scope, np.ones(8),
                     created_at=None)  # an older day: must not be taken
    insert_joint_row(historical_conn, "REGIME_MACRO_V0", D2, scope, last)

    def previous_of_d2(first_day) -> tuple[str, float]:
        status, out, err = run_main(capsys, "show", "--date-range", first_day.isoformat(), D2.isoformat(), "--csv")
        assert status == 0, err
        (row,) = [row for row in csv.DictReader(io.StringIO(out)) if row["as_of_date"] == D2.isoformat()]
        return row["prev_date"], float(row["cosine_prev"])

    expected = (D0.isoformat(), cosine(last, first))  # the torn D1 is not an available day
    assert previous_of_d2(D0) == expected
    assert previous_of_d2(D1) == expected
    assert previous_of_d2(D2) == expected
