"""``joint-context show`` and ``compare`` on stored rows: numbers against numpy, tables and CSV, the plot."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import psycopg
import pytest

from tests.e2e.cli_helpers import MACRO_DAG_ID, MACRO_DATES, cosine, run_cli, run_main
from tests.e2e.rows import insert_joint_row, macro_scope


def test_show_csv_lists_norms_and_cosine_to_the_previous_available_day(capsys, stored_macro_series):
    vectors = stored_macro_series
    d0, d1, _d2, d3, d4 = MACRO_DATES
    status, out, err = run_main(capsys, "show", "--region", "US", "--date-range", d0.isoformat(), d4.isoformat(),
                                "--csv")
    assert status == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["as_of_date"], r["region"], r["filters"], r["model_id"]) for r in rows] == [
        (d0.isoformat(), "US", '{"country":"US"}', "joint-regime-core-v1"),
        (d1.isoformat(), "US", '{"country":"US"}', "joint-regime-core-v1"),
        (d3.isoformat(), "US", '{"country":"US"}', "joint-regime-core-v1"),
        (d4.isoformat(), "US", '{"country":"US"}', "joint-regime-core-v1"),
        (d1.isoformat(), "US", '{"country":"US"}', "joint-regime-core-v2"),
    ]
    expected = [  # (vector, previous vector, previous date)
        (vectors["d0"], vectors["before"], d0 - timedelta(days=3)),
        (vectors["d1"], vectors["d0"], d0),  # the newer of the two d1 rows
        (vectors["d3"], vectors["d1"], d1),  # d2 has no row: the previous available day is d1
    ]
    for row, (vector, previous, previous_date) in zip(rows, expected, strict=False):
        assert int(row["dim"]) == 8
        assert float(row["l2_norm"]) == pytest.approx(np.linalg.norm(vector.astype(np.float64)), rel=1e-12)
        assert float(row["cosine_prev"]) == pytest.approx(cosine(vector, previous), rel=1e-12)
        assert row["prev_date"] == previous_date.isoformat()
    assert "2 rows hold this key" in rows[1]["note"]
    assert (rows[3]["dim"], rows[3]["l2_norm"], rows[3]["cosine_prev"], rows[3]["note"]) == ("", "", "", "NULL vector")
    assert (rows[4]["cosine_prev"], rows[4]["prev_date"]) == ("", "")  # its own series starts there


def test_show_table_is_readable_and_rounds_to_six_places(capsys, stored_macro_series):
    vectors = stored_macro_series
    d0, d1 = MACRO_DATES[:2]
    status, out, _err = run_main(capsys, "show", "--space", MACRO_DAG_ID, "--region", "US",
                                 "--date-range", d0.isoformat(), d1.isoformat(), "--joint-model-id",
                                 "joint-regime-core-v1")
    assert status == 0
    lines = out.splitlines()
    assert lines[1].split() == ["as_of_date", "region", "filters", "model_id", "dim", "l2_norm", "cosine_prev",
                                "prev_date", "note"]
    d1_line = next(line for line in lines if line.startswith(d1.isoformat()))
    assert f"{np.linalg.norm(vectors['d1'].astype(np.float64)):.6f}" in d1_line
    assert f"{cosine(vectors['d1'], vectors['d0']):.6f}" in d1_line
    assert "joint-regime-core-v2" not in out


def test_show_says_so_when_there_is_nothing(capsys, stored_macro_series):
    status, out, err = run_main(capsys, "show", "--region", "JP", "--date-range", "2025-03-03", "2025-03-07")
    assert status == 0 and out == ""
    assert "No REGIME_MACRO_V0 joint vectors for JP between 2025-03-03 and 2025-03-07" in err


# --- compare ----------------------------------------------------------------------------------------------


MACRO_US = 'REGIME_MACRO_V0 {"country":"US"}'
NEWS_EN = 'REGIME_CONTEXT_V0 {"language":"en"}'
NEWS_DE = 'REGIME_CONTEXT_V0 {"language":"de"}'


def test_compare_gives_same_day_and_day_over_day_cosines_matching_numpy(capsys, two_spaces, tmp_path):
    macro, news_en, news_de = two_spaces
    d0, d1, d2, d3 = MACRO_DATES[:4]
    plot = tmp_path / "plots" / "us.png"
    status, out, err = run_main(capsys, "compare", "--region", "US", "--date-range", d0.isoformat(), d3.isoformat(),
                                "--csv", "--plot", str(plot))
    assert status == 0, err
    table = list(csv.DictReader(io.StringIO(out)))
    assert [row["as_of_date"] for row in table] == [day.isoformat() for day in (d0, d1, d2, d3)]
    columns = {
        f"same day: {MACRO_US} vs {NEWS_EN}": {day: cosine(macro[day], news_en[day]) for day in (d0, d1, d3)},
        f"same day: {MACRO_US} vs {NEWS_DE}": {day: cosine(macro[day], news_de[day]) for day in (d0, d1)},
        f"day over day: {MACRO_US}": {d1: cosine(macro[d1], macro[d0]), d3: cosine(macro[d3], macro[d1])},
        f"day over day: {NEWS_EN}": {day: cosine(news_en[day], news_en[day - timedelta(days=1)])
                                     for day in (d1, d2, d3)},
        f"day over day: {NEWS_DE}": {d1: cosine(news_de[d1], news_de[d0])},
    }
    assert set(table[0]) == {"as_of_date", *columns}
    for row in table:
        day = date.fromisoformat(row["as_of_date"])
        for column, expected in columns.items():
            if day in expected:
                assert float(row[column]) == pytest.approx(expected[day], rel=1e-12), (column, day)
            else:
                assert row[column] == "", (column, day)
    assert_plot_is_a_real_picture(plot)


def assert_plot_is_a_real_picture(plot: Path) -> None:
    from matplotlib import image

    data = plot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 20_000
    pixels = image.imread(plot)
    assert pixels.ndim == 3 and pixels.shape[0] >= 400 and pixels.shape[1] >= 600
    colours = np.unique(pixels.reshape(-1, pixels.shape[2]), axis=0)
    assert len(colours) > 50  # lines, markers, text and antialiasing, not a blank canvas
    assert (pixels[..., :3] < 0.5).mean() > 0.005  # dark ink: axes, labels, lines


def test_compare_filter_options_pick_one_scope_per_space(capsys, two_spaces):
    macro, news_en, _news_de = two_spaces
    d0, d1 = MACRO_DATES[:2]
    status, out, _err = run_main(capsys, "compare", "--region", "US", "--date-range", d0.isoformat(), d1.isoformat(),
                                 "--news-filters", '{"language": "en"}', "--macro-filters", '{"country": "US"}')
    assert status == 0
    assert f"[1] same day: {MACRO_US} vs {NEWS_EN}" in out
    assert NEWS_DE not in out
    d1_line = next(line for line in out.splitlines() if line.startswith(d1.isoformat()))
    assert d1_line.split()[1] == f"{cosine(macro[d1], news_en[d1]):.6f}"


def test_compare_without_data_writes_no_plot_and_exits_1(capsys, two_spaces, tmp_path):
    plot = tmp_path / "empty.png"
    status, out, err = run_main(capsys, "compare", "--region", "JP", "--date-range", "2025-03-03", "2025-03-07",
                                "--plot", str(plot))
    assert status == 1 and out == ""
    assert "No joint vectors of REGIME_MACRO_V0 or REGIME_CONTEXT_V0 for region JP" in err
    assert not plot.exists()


def test_compare_rejects_a_filter_the_space_does_not_have(capsys, two_spaces):
    status, _out, err = run_main(capsys, "compare", "--region", "US", "--date-range", "2025-03-03", "2025-03-07",
                                 "--news-filters", '{"country": "US"}')
    assert status == 2
    assert "--news-filters: ['country'] not a filter of REGIME_CONTEXT_V0" in err


def test_show_binds_the_region_so_a_quote_is_only_data(clean_databases, stored_macro_series):
    """Run as its own process, `show` binds the region: a quote in it matches that region and breaks nothing."""
    with psycopg.connect(clean_databases.historical_dsn, autocommit=True) as conn:
        insert_joint_row(conn, "REGIME_MACRO_V0", MACRO_DATES[0], macro_scope("U'S"), np.ones(8))
    env_status = run_cli("show", "--region", "U'S", "--date-range", "2025-03-03", "2025-03-03", "--csv")
    assert env_status.returncode == 0, env_status.stderr
    rows = list(csv.DictReader(io.StringIO(env_status.stdout)))
    assert [(row["region"], row["dim"], row["l2_norm"]) for row in rows] == [("U'S", "8", repr(float(np.sqrt(8))))]


@pytest.mark.parametrize(("where", "message"), [
    ("a folder", "is a directory; name a file in it"),
    ("noext", "must name a .png file"),
    ("out.xyz", "must name a .png file"),
    ("a file/plot.png", "is a file, not a folder"),
])
def test_a_plot_path_that_cannot_be_written_is_refused_before_any_work(capsys, two_spaces, tmp_path, where, message):
    (tmp_path / "a folder").mkdir()
    (tmp_path / "a file").write_text("not a folder")
    before = sorted(path.name for path in tmp_path.rglob("*"))
    status, out, err = run_main(capsys, "compare", "--region", "US", "--date-range", "2025-03-03", "2025-03-07",
                                "--plot", str(tmp_path / where))
    assert status == 2 and out == ""  # refused by the argument parser: no table printed first
    assert message in err and "Traceback" not in err
    assert sorted(path.name for path in tmp_path.rglob("*")) == before  # nothing written


def test_the_plot_reported_is_the_file_written_and_a_replaced_file_is_said_so(capsys, two_spaces, tmp_path):
    plot = tmp_path / "new" / "us.png"
    args = ("compare", "--region", "US", "--date-range", "2025-03-03", "2025-03-06", "--plot", str(plot))
    status, _out, err = run_main(capsys, *args)
    assert status == 0 and f"Plot written to {plot.resolve()}\n" in err
    assert_plot_is_a_real_picture(plot)
    status, _out, err = run_main(capsys, *args)
    assert status == 0 and f"Plot written to {plot.resolve()} (replaced the file that was there)" in err
