"""``devtools/airflow2.py`` tells a ready ``.venv-airflow2`` from a missing or outdated one; says how to build it."""

from __future__ import annotations

from devtools import airflow2


def fake_venv(root, *, stamp: str | None):
    """A folder shaped like a built environment (python and airflow commands), with ``stamp`` if given."""
    bin_dir = airflow2.venv_bin(root)
    bin_dir.mkdir(parents=True)
    for command in ("python", "airflow"):
        (bin_dir / command).write_text("")
    if stamp is not None:
        (root / airflow2.STAMP_NAME).write_text(stamp + "\n")
    return root


def test_missing_environment_is_reported_with_the_command_that_builds_it(tmp_path):
    venv = tmp_path / "venv"
    assert airflow2.problem_with(venv) == f"{venv} does not exist"
    assert "python3 devtools/airflow2.py" in airflow2.how_to_build()


def test_half_installed_environment_is_not_ready(tmp_path):
    venv = fake_venv(tmp_path / "venv", stamp=None)
    assert "not fully installed" in airflow2.problem_with(venv)


def test_environment_built_from_other_pins_is_out_of_date_and_from_these_pins_is_ready(tmp_path):
    requirements = tmp_path / "requirements-airflow2.txt"
    requirements.write_text("apache-airflow==2.11.2\n")
    venv = fake_venv(tmp_path / "venv", stamp=airflow2.requirements_digest(requirements))
    assert airflow2.problem_with(venv, requirements) is None

    requirements.write_text("apache-airflow==2.11.3\n")
    assert "older requirements-airflow2.txt" in airflow2.problem_with(venv, requirements)


def test_check_exits_non_zero_for_a_missing_environment(tmp_path, capsys):
    assert airflow2.main(["--check", "--venv", str(tmp_path / "venv")]) == 1
    assert "build it with `python3 devtools/airflow2.py --venv" in capsys.readouterr().out
