"""The commands the pages tell readers to paste are ones the code accepts.

Every ``joint-context ...`` line (also ``python -m joint_context ...`` and ``make cli ARGS="..."``) in a fenced code
block of README.md or docs/ must pass the CLI's own argument parser, and its dates and ``--conf`` the checks the
command makes before touching data. Every ``airflow ...`` example giving a DAG run conf (``-c`` / ``--conf`` /
``--dag-run-conf``) must be a conf the DAG it names accepts (``RunConfig.from_params``, as the tasks check it).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import shlex
from pathlib import Path

import pytest

from joint_context.cli import build_parser
from joint_context.cli.argtypes import joint_space
from joint_context.combined_config import CombinedRunConfig
from joint_context.combined_space import CombinedSpace
from joint_context.config import RunConfig, rebuild_config
from joint_context.errors import ParamsError
from tests.docs.markdown import REPO_ROOT, code_lines, shell_commands

CONF_OPTIONS = ("-c", "--conf", "--dag-run-conf")
# airflow options that take a value, so their value is not taken for the DAG id
AIRFLOW_VALUED_OPTIONS = {
    *CONF_OPTIONS, "-s", "--start-date", "-e", "--end-date", "-l", "--logical-date", "--from-date", "--to-date",
    "--max-active-runs", "--reprocess-behavior", "--delay-on-limit", "-r", "--run-id", "-o", "--output",
    "--state", "-d", "--dag-id", "--conn-uri",
}


def example_pages() -> list[Path]:
    return [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").rglob("*.md"))]


def cli_arguments(command: list[str]) -> list[str] | None:
    """The arguments a command gives ``joint-context``, or None when it is no joint-context command."""
    if Path(command[0]).name == "joint-context":
        return command[1:]
    if Path(command[0]).name.startswith("python") and command[1:3] == ["-m", "joint_context"]:
        return command[3:]
    if command[:2] == ["make", "cli"]:
        values = [token.removeprefix("ARGS=") for token in command[2:] if token.startswith("ARGS=")]
        return shlex.split(values[0]) if values else []
    return None


def airflow_arguments(command: list[str]) -> list[str] | None:
    """The arguments after ``airflow`` (or compose's ``airflow-cli`` service), or None."""
    for index, token in enumerate(command):
        if Path(token).name in ("airflow", "airflow-cli") and (index == 0 or token == "airflow-cli"):
            return command[index + 1:]
    return None


def examples() -> tuple[list[tuple[str, list[str]]], list[tuple[str, list[str]]]]:
    """``(joint-context examples, airflow examples)`` as ``(where, arguments)``."""
    cli, airflow = [], []
    for page in example_pages():
        for line in code_lines(page):
            for command in shell_commands(line.text):
                if (arguments := cli_arguments(command)) is not None:
                    cli.append((line.where(), arguments))
                elif (arguments := airflow_arguments(command)) is not None:
                    airflow.append((line.where(), arguments))
    return cli, airflow


def cli_problem(arguments: list[str]) -> str | None:
    """Why ``joint-context <arguments>`` would be refused before it touches data, or None."""
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr):
            args = build_parser().parse_args(arguments)
    except SystemExit:  # dates, their order, spaces and JSON are argument types: the parser checks them
        return f"the argument parser refuses it: {stderr.getvalue().strip()}"
    if getattr(args, "conf", None) is not None:
        return conf_problem(args.space.dag_id, json.dumps(args.conf))
    return None


def conf_problem(dag_or_space: str, conf_text: str) -> str | None:
    """Why a DAG (or space, or a space's ``<dag_id>_rebuild`` DAG) would reject this conf, or None."""
    rebuild = dag_or_space.endswith("_rebuild")
    try:
        conf = json.loads(conf_text)
        space = joint_space(dag_or_space.removesuffix("_rebuild") if rebuild else dag_or_space)
    except (json.JSONDecodeError, argparse.ArgumentTypeError) as error:
        return str(error)
    if not isinstance(conf, dict):
        return f"the conf is not a JSON object: {conf_text}"
    try:
        if rebuild:
            rebuild_config(space, conf, conf.keys())
        else:
            (CombinedRunConfig if isinstance(space, CombinedSpace) else RunConfig).from_params(space, conf,
                                                                                                conf.keys())
    except ParamsError as error:
        return f"{space.dag_id}{'_rebuild' if rebuild else ''} rejects the conf: {error}"
    return None


def airflow_conf(arguments: list[str]) -> tuple[str | None, str] | None:
    """``(DAG id, conf JSON)`` of an airflow command that passes a DAG run conf, or None."""
    conf = dag_id = None
    positional: list[str] = []
    tokens = iter(arguments)
    for token in tokens:
        option, has_value, value = token.partition("=")
        if option in AIRFLOW_VALUED_OPTIONS:
            value = value if has_value else next(tokens, "")
            conf = value if option in CONF_OPTIONS else conf
            dag_id = value if option == "--dag-id" else dag_id
        elif not token.startswith("-"):
            positional.append(token)
    if conf is None:
        return None
    if dag_id is None:  # `dags test|trigger|backfill ... <dag_id> ...`: the first positional after the subcommand
        dag_id = next(iter(positional[2:]), None)
    return dag_id, conf


def test_every_joint_context_example_is_accepted_by_the_command_line():
    cli, _airflow = examples()
    assert len(cli) >= 5, f"only {len(cli)} joint-context examples found: is the extraction broken?"
    problems = [f"{where}: joint-context {shlex.join(arguments)}: {problem}"
                for where, arguments in cli if (problem := cli_problem(arguments))]
    assert not problems, "\n".join(problems)


def test_every_airflow_conf_example_is_a_conf_its_dag_accepts():
    _cli, airflow = examples()
    confs = [(where, arguments, found) for where, arguments in airflow if (found := airflow_conf(arguments))]
    used_options = {option for _where, arguments, _found in confs for option in CONF_OPTIONS if option in arguments}
    assert {"-c", "--dag-run-conf"} <= used_options, f"conf examples found: {confs}"
    problems = [f"{where}: airflow {shlex.join(arguments)}: {problem}"
                for where, arguments, (dag_id, conf) in confs
                if (problem := conf_problem(dag_id or "<no DAG id>", conf))]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(("arguments", "expected"), [
    (["backfill", "--region", "US", "--colour", "red", "--date-range", "2025-01-01", "2025-01-31"],
     "unrecognized arguments: --colour red"),
    (["show", "--region", "US"], "the following arguments are required: --date-range"),
    (["show", "--date-range", "2025-01-31", "2025-01-01"], "START 2025-01-31 is after END 2025-01-01"),
    (["backfill", "--date-range", "2025-01-01", "2025-01-02", "--conf", '{"contexts": [{"region": "EU"}], "w": 1}'],
     "unknown key(s) in conf: ['w']"),
])
def test_the_example_check_refuses_what_the_command_would_refuse(arguments, expected):
    problem = cli_problem(arguments)
    assert problem is not None and expected in problem, problem


def test_the_conf_check_refuses_a_conf_the_dag_would_refuse():
    news_with_a_macro_filter = '{"contexts": [{"region": "US", "country": "US"}]}'
    dag_id, conf = airflow_conf(["dags", "trigger", "joint_regime_news_context", "-l", "2025-01-02", "-c",
                                 news_with_a_macro_filter])
    assert dag_id == "joint_regime_news_context"
    assert "contexts[0] has unknown key(s) ['country']" in conf_problem(dag_id, conf)
    assert conf_problem("joint_regime_macro_context", conf) is None
    assert "unknown joint space 'no_such_dag'" in conf_problem("no_such_dag", conf)


def test_commands_are_read_as_the_shell_reads_them():
    assert shell_commands("FOO=1 joint-context show --csv > out.csv  # a comment") == [["joint-context", "show",
                                                                                        "--csv"]]
    assert shell_commands("airflow dags reserialize && airflow dags list-runs -d x") == [
        ["airflow", "dags", "reserialize"], ["airflow", "dags", "list-runs", "-d", "x"]]
    assert cli_arguments(["make", "cli", "ARGS=show --date-range 2025-01-01 2025-01-02"]) == [
        "show", "--date-range", "2025-01-01", "2025-01-02"]
    assert airflow_conf(["backfill", "create", "--dag-id", "d", "--dag-run-conf={}"]) == ("d", "{}")
    assert airflow_conf(["dags", "backfill", "-s", "2025-01-01", "-c", "{}", "d"]) == ("d", "{}")
