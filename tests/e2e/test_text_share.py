"""The text branch's share over a range: :func:`text_shares` equals numpy; ``compare --plot-text-share`` draws it."""

from __future__ import annotations

import pytest

from joint_context.config import RunConfig
from joint_context.pipeline.explain import text_shares
from joint_context.spaces import REGIME_MACRO_V0
from tests.e2e.cli_helpers import MACRO_CONTEXTS, MACRO_DATES, run_main
from tests.e2e.test_cli_show_compare import assert_plot_is_a_real_picture
from tests.helpers import expected_branches


def test_text_shares_of_a_range_equal_numpy(runtime_conn, historical_conn, macro_range):
    regimes, text = macro_range
    config = RunConfig.from_params(REGIME_MACRO_V0, {"contexts": MACRO_CONTEXTS})
    by_date = text_shares(runtime_conn, historical_conn, config, MACRO_DATES[0], MACRO_DATES[-1])
    assert sorted(by_date) == [day for day in MACRO_DATES if day != MACRO_DATES[3]], "d3 has a malformed vector"
    for day, results in by_date.items():
        for context, result in zip(MACRO_CONTEXTS, results, strict=True):
            key = (context["region"], day)
            if key not in regimes or (context["country"], day) not in text:
                assert result.text_share is None and result.skip_reason
                continue
            expected = expected_branches(regimes[key], text[(context["country"], day)])
            assert result.text_share == pytest.approx(expected["text_share"], rel=1e-9), key
            assert result.numeric_branch_norm == pytest.approx(expected["numeric_norm"], rel=1e-9)


def test_compare_plot_text_share_draws_a_third_panel(capsys, macro_range, tmp_path):
    first, last = MACRO_DATES[0].isoformat(), MACRO_DATES[-1].isoformat()
    assert run_main(capsys, "backfill", "--region", "US", "--country", "US", "--date-range", first, last,
                    "--no-progress")[0] == 1  # d3 fails on its malformed vector
    plot = tmp_path / "share.png"
    status, _out, err = run_main(capsys, "compare", "--region", "US", "--date-range", first, last, "--plot", str(plot),
                                 "--plot-text-share")
    assert status == 0, err
    assert_plot_is_a_real_picture(plot)
    from matplotlib import image

    assert image.imread(plot).shape[0] == 1050, "three panels of 350 pixels"


def test_plot_text_share_without_plot_exits_2(capsys, macro_range):
    status, _out, err = run_main(capsys, "compare", "--region", "US", "--date-range", "2025-03-03", "2025-03-04",
                                 "--plot-text-share")
    assert status == 2 and "give --plot FILE.png too" in err
