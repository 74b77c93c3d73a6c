"""Database errors no rerun can fix are told apart from passing ones by SQLSTATE: the command line exits 4 and says
what to fix (not "rerun to finish", exit 3), and a DAG task fails at once instead of spending its retries."""

from __future__ import annotations

import pytest

from tests.breakages import BREAKAGES, broken
from tests.e2e.cli_helpers import MACRO_DATES, dsn_options, run_main, stored_rows


@pytest.mark.parametrize("breakage", sorted(BREAKAGES))
def test_a_database_that_refuses_the_write_exits_4_and_says_what_to_fix(capsys, clean_databases, historical_conn,
                                                                         macro_range, breakage):
    with broken(clean_databases, breakage):
        status, out, err = run_main(capsys, "backfill", "--region", "US", "--country", "US", "--no-progress",
                                    *dsn_options(clean_databases), "--date-range", MACRO_DATES[0].isoformat(),
                                    MACRO_DATES[1].isoformat())
    _breaking, _mending, sqlstate, fix = BREAKAGES[breakage]
    assert status == 4, err
    assert f"SQLSTATE {sqlstate}" in err and fix in err
    assert "rerunning will not help until it is fixed" in err and "Fix that, then rerun" in err
    assert "Traceback" not in err and out == ""
    assert stored_rows(historical_conn) == []
    # the control: once mended, the same command writes
    status, _out, err = run_main(capsys, "backfill", "--region", "US", "--country", "US", "--no-progress",
                                 *dsn_options(clean_databases), "--date-range", MACRO_DATES[0].isoformat(),
                                 MACRO_DATES[1].isoformat())
    assert status == 0, err
    assert len(stored_rows(historical_conn)) == 2
