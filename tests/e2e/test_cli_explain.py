"""``joint-context explain``: one day of one context recomputed from its inputs; its numbers equal numpy."""

from __future__ import annotations

import json
from datetime import date

import numpy as np
import pytest

from devtools.seed import insert_macro_event, insert_news_article, insert_regime, utc
from tests.e2e.cli_helpers import run_main, stored_rows
from tests.e2e.rows import insert_joint_row, macro_scope
from tests.helpers import expected_branches, random_vectors

DAY = date(2025, 1, 2)
FIGURES = ("numeric_norm", "text_norm", "text_share", "cosine_joint_numeric", "cosine_joint_text")
L2_OPTIONS = ("--branch-normalization", "l2", "--joint-model-id", "joint-regime-core-l2-v1")


@pytest.fixture
def macro_day(runtime_conn, historical_conn):
    """US: a regime with closes-like values, three US and two DE macro events (one NULL vector) on DAY."""
    rng = np.random.default_rng(41)
    regime = (100 + 10 * random_vectors(rng, 1)[0]).astype(np.float32)
    insert_regime(runtime_conn, region="US", as_of_date=DAY, vector=regime, record_id="us-regime")
    text = {"US": random_vectors(rng, 3), "DE": random_vectors(rng, 2)}
    for country, vectors in text.items():
        for index, vector in enumerate(vectors):
            insert_macro_event(historical_conn, timestamp=utc(DAY, 3 + index), vector=vector, country=country)
    insert_macro_event(historical_conn, timestamp=utc(DAY, 9), vector=None, country="US")
    return regime, text


def explain_json(capsys, *args: str) -> tuple[int, dict, str]:
    status, out, err = run_main(capsys, "explain", "--date", DAY.isoformat(), "--format", "json", *args)
    return status, json.loads(out) if out else {}, err


@pytest.mark.parametrize("branch_normalization", ["none", "l2"])
@pytest.mark.parametrize(("weights", "numeric_weight", "text_weight"),
                         [((), 0.5, 0.5), (("--numeric-weight", "1", "--text-weight", "3"), 1.0, 3.0)])
def test_explain_numbers_equal_numpy(capsys, historical_conn, macro_day, branch_normalization, weights, numeric_weight,
                                    text_weight):
    regime, text = macro_day
    options = L2_OPTIONS if branch_normalization == "l2" else ()
    status, figures, err = explain_json(capsys, "--region", "US", "--country", "US", *weights, *options)
    assert status == 0, err
    expected = expected_branches(regime, text["US"], numeric_weight, text_weight, branch_normalization)
    for name in FIGURES:
        assert figures[name] == pytest.approx(expected[name], rel=1e-9), name
    assert figures["numeric_share"] == pytest.approx(1 - expected["text_share"], rel=1e-9)
    assert figures["joint_l2_norm"] == pytest.approx(np.linalg.norm(expected["joint"].astype(np.float64)), rel=1e-6)
    assert (figures["regime_record_id"], figures["text_vector_count"], figures["text_null_count"]) == (
        "us-regime", 3, 1)
    assert figures["entity_scope"] == macro_scope("US", country="US")
    assert figures["branch_normalization"] == branch_normalization and figures["stored_row"] is None
    assert stored_rows(historical_conn) == [], "explain writes nothing"


def test_explain_without_filters_averages_every_country(capsys, macro_day):
    regime, text = macro_day
    status, figures, _err = explain_json(capsys, "--region", "US")
    assert status == 0
    expected = expected_branches(regime, np.concatenate([text["US"], text["DE"]]))
    assert figures["text_share"] == pytest.approx(expected["text_share"], rel=1e-9)
    assert figures["text_vector_count"] == 5


def test_explain_says_the_stored_row_equals_what_the_backfill_wrote(capsys, historical_conn, macro_day):
    assert run_main(capsys, "backfill", "--region", "US", "--country", "US", "--date-range", "2025-01-02",
                    "2025-01-02", "--no-progress")[0] == 0
    status, figures, _err = explain_json(capsys, "--region", "US", "--country", "US")
    assert status == 0
    assert figures["stored_row"]["equal"] is True and figures["stored_row"]["max_abs_difference"] == 0.0
    # the l2 row of the same key is another model id: not written yet
    assert explain_json(capsys, "--region", "US", "--country", "US", *L2_OPTIONS)[1]["stored_row"] is None


def test_explain_compares_the_newest_row_of_a_key_and_says_when_it_differs(capsys, historical_conn, macro_day):
    regime, text = macro_day
    expected = expected_branches(regime, text["US"])["joint"]
    insert_joint_row(historical_conn, "REGIME_MACRO_V0", DAY, macro_scope("US", country="US"), expected,
                     created_at=utc(DAY, 1))
    insert_joint_row(historical_conn, "REGIME_MACRO_V0", DAY, macro_scope("US", country="US"), expected + 0.25,
                     created_at=utc(DAY, 2))
    status, out, _err = run_main(capsys, "explain", "--region", "US", "--country", "US", "--date", "2025-01-02")
    assert status == 0
    assert "differs from the recomputed vector (max |difference| 0.25" in out
    assert "2 rows hold this key; the newest is shown" in out
    assert "text share" in out and "cos(z_joint, z_text)" in out


def test_a_stored_row_with_a_null_vector_is_named_not_compared(capsys, historical_conn, macro_day):
    insert_joint_row(historical_conn, "REGIME_MACRO_V0", DAY, macro_scope("US", country="US"), None)
    status, figures, _err = explain_json(capsys, "--region", "US", "--country", "US")
    assert status == 0
    assert figures["stored_row"]["equal"] is None and figures["stored_row"]["note"] == "NULL vector"


def test_explain_reads_a_news_context_with_its_canonical_language(capsys, runtime_conn, historical_conn):
    rng = np.random.default_rng(43)
    regime, english = random_vectors(rng, 1)[0], random_vectors(rng, 2)
    insert_regime(runtime_conn, region="EU", as_of_date=DAY, vector=regime)
    for index, (language, vector) in enumerate(zip(("en", "EN"), english, strict=True)):
        insert_news_article(historical_conn, timestamp=utc(DAY, 5 + index), language=language, vector=vector)
    insert_news_article(historical_conn, timestamp=utc(DAY, 8), language="de", vector=np.ones(384))
    status, figures, _err = explain_json(capsys, "--space", "REGIME_CONTEXT_V0", "--region", "EU", "--language", "En")
    assert status == 0
    assert figures["entity_scope"]["news_filters"] == {"language": "en"} and figures["text_vector_count"] == 2
    assert figures["text_share"] == pytest.approx(expected_branches(regime, english)["text_share"], rel=1e-9)


@pytest.mark.parametrize(("args", "reason"), [
    (("--region", "EU"), "no regime row"),
    (("--region", "US", "--country", "FR"), "no text vectors (0 with a NULL vector)"),
])
def test_a_day_without_a_joint_vector_says_why_and_exits_1(capsys, macro_day, args, reason):
    status, figures, err = explain_json(capsys, *args)
    assert status == 1
    assert figures["skip_reason"] == reason and figures["text_share"] is None
    assert f"No REGIME_MACRO_V0 joint vector for {args[1]}" in err and reason in err


def test_a_malformed_input_vector_says_which_row_and_exits_1(capsys, historical_conn, macro_day):
    bad = insert_macro_event(historical_conn, timestamp=utc(DAY, 20), vector=b"\x00" * 7, country="US")
    status, out, err = run_main(capsys, "explain", "--region", "US", "--date", "2025-01-02")
    assert (status, out) == (1, "")
    assert f"historical_db.text_embeddings row '{bad}'" in err and "Traceback" not in err


@pytest.mark.parametrize(("args", "message"), [
    (("--region", "US", "--language", "en"), "--language is not a filter of REGIME_MACRO_V0"),
    (("--region", "US", "--branch-normalization", "l2"), "by convention 'joint-regime-core-l2-v1'"),
    (("--region", "US", "--branch-normalization", "L2"), "invalid choice: 'L2'"),
    (("--region", "US", "--numeric-weight", "0", "--text-weight", "0"), "numeric_weight + text_weight must be > 0"),
    (("--region", "US ",), "has leading or trailing white space"),
    (("--country", "US",), "the following arguments are required: --region"),
])
def test_bad_explain_input_exits_2_with_a_message(capsys, macro_day, args, message):
    status, out, err = run_main(capsys, "explain", "--date", "2025-01-02", *args)
    assert (status, out) == (2, "")
    assert message in err and "Traceback" not in err


def test_a_bad_date_exits_2(capsys, macro_day):
    status, _out, err = run_main(capsys, "explain", "--region", "US", "--date", "2025-02-30")
    assert status == 2 and "'2025-02-30' is not a date like 2025-01-31" in err
    status, _out, err = run_main(capsys, "explain", "--region", "US", "--date", "9999-12-31")
    assert status == 2 and "last date there is" in err
