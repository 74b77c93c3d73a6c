"""docs/guarantees.md names only tests that exist: a guarantee whose test was renamed or deleted fails here."""

from __future__ import annotations

from tests.docs.markdown import REPO_ROOT, guarantee_rows, missing_tests

GUARANTEES = REPO_ROOT / "docs" / "guarantees.md"


def table(*rows: str) -> str:
    return "\n".join(["| Guarantee | Folder | Proven by |", "|---|---|---|", *rows])


def test_every_test_the_guarantees_table_names_exists():
    rows = guarantee_rows(GUARANTEES.read_text())
    assert len(rows) >= 10, f"the guarantees table was not found or lost rows: {len(rows)} parsed"
    problems = missing_tests(rows)
    assert not problems, "\n".join(problems)


def test_every_guarantee_names_a_test_of_its_own_folder_or_a_path_from_the_root():
    for row in guarantee_rows(GUARANTEES.read_text()):
        assert row.folder.startswith("tests"), f"{row.describe()}: folder {row.folder!r} is not under tests/"
        assert row.references, f"{row.describe()}: names no test"


def test_a_made_up_test_name_is_reported_with_its_row():
    rows = guarantee_rows(table(
        "| Means are exact | `tests/unit` | `test_joint.py::test_mean_of_nothing_is_an_error`, `::test_made_up` |",
    ))
    problems = missing_tests(rows)
    assert len(problems) == 1, problems
    assert "Means are exact" in problems[0] and "tests/unit/test_joint.py defines no test_made_up" in problems[0]


def test_short_names_resolve_against_the_rows_folder_and_the_previous_file():
    rows = guarantee_rows(table(
        "| Codec and store | `tests/unit` | `test_vectors.py::test_empty_vector_is_rejected`, "
        "`::test_encode_rejects_a_matrix`, `tests/db/test_store.py::test_scope_matching_ignores_json_key_order`, "
        "`::test_newest_regime_row_wins_by_created_at_then_record_id`, `test_joint.py` |",
    ))
    assert missing_tests(rows) == []
    # the same second name after the store file must be looked up there, where it does not exist
    shifted = guarantee_rows(table(
        "| Shifted | `tests/unit` | `tests/db/test_store.py::test_scope_matching_ignores_json_key_order`, "
        "`::test_encode_rejects_a_matrix` |",
    ))
    assert missing_tests(shifted) == [
        f"{shifted[0].describe()}: '::test_encode_rejects_a_matrix': tests/db/test_store.py defines no "
        "test_encode_rejects_a_matrix"
    ]


def test_missing_files_folders_and_unreadable_names_are_reported():
    rows = guarantee_rows(table(
        "| Nowhere | `tests/nowhere` | `::test_orphan`, `test_gone.py`, `a sentence in backticks` |",
        "| Nothing named | `tests/unit` | see the code |",
    ))
    problems = missing_tests(rows)
    assert [problem.split(": ", 1)[1] for problem in problems] == [
        "folder 'tests/nowhere' does not exist",
        "'::test_orphan' has no file named before it in the row",
        "'test_gone.py': no test file tests/nowhere/test_gone.py",
        "'a sentence in backticks' is not a test name (file.py or file.py::test)",
        "names no test",
    ]
    assert all(str(REPO_ROOT) not in problem for problem in problems)
