"""The command line: ``backfill`` a date range in bulk, ``show`` a space's vectors, ``compare`` the two spaces.

    python -m joint_context backfill --region US --region EU --date-range 2025-01-01 2025-01-31 --country US
    python -m joint_context show --space REGIME_CONTEXT_V0 --region US --date-range 2025-01-01 2025-01-31 --csv
    python -m joint_context compare --region US --date-range 2025-01-01 2025-01-31 --plot us.png

``backfill`` runs the DAG's own steps (:func:`pipeline.extract_range`, :func:`pipeline.aggregate_day`,
:func:`pipeline.joint_rows`, validated by :meth:`RunConfig.from_params`) over the whole range at once. The
inputs are read in one regime query and one binary ``COPY`` per filter set (:mod:`joint_context.copy_read`).
The dates are then written in chunks of ``WRITE_CHUNK_KEYS`` (date, context) keys or a little more (the last
chunk may hold fewer), one transaction and three statements per chunk (:func:`store.replace_joint_rows_for_dates`,
the DAG's write for many dates). All of a date's keys are in one transaction, so it leaves exactly the rows one
DAG run per date would.

Connections are Airflow connections (``AIRFLOW_CONN_RUNTIME_DB`` / ``AIRFLOW_CONN_HISTORICAL_DB`` or the
metadata database), or libpq connection strings (``--runtime-dsn`` / ``--historical-dsn``, or
``JOINT_CONTEXT_RUNTIME_DSN`` / ``JOINT_CONTEXT_HISTORICAL_DSN``): with DSNs Airflow is never imported. A DSN
is never printed, nor any part of its user info (:mod:`joint_context.dsn`).

Exit status: 0 done; 1 some dates failed on bad data (the others are written), or a requested plot had no
data; 2 bad input (nothing touched); 3 a database or connection error stopped the command.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from joint_context.config import RunConfig
from joint_context.connections import HISTORICAL_CONN_ID, RUNTIME_CONN_ID, connection, dsn_connection
from joint_context.dsn import Dsn, DsnError, parse_dsn, scrub
from joint_context.errors import JointDataError, ParamsError
from joint_context.spaces import REGIME_CONTEXT_V0, REGIME_MACRO_V0, SPACES, JointSpace, space_by_name

EXIT_OK = 0
EXIT_FAILED_DATES = 1
EXIT_BAD_INPUT = 2
EXIT_DATABASE_ERROR = 3
DATABASE_DRIVERS = ("psycopg", "psycopg2")
RUNTIME_DSN_VARIABLE = "JOINT_CONTEXT_RUNTIME_DSN"
HISTORICAL_DSN_VARIABLE = "JOINT_CONTEXT_HISTORICAL_DSN"
WRITE_CHUNK_KEYS = 256  # a backfill commits once it has this many (date, context) keys pending, and at the end


class UsageError(Exception):
    """Bad input on the command line: reported in one line, exit status 2, nothing touched."""


@dataclass(frozen=True)
class Database:
    """How the command reaches one database: an Airflow connection id, or a checked libpq DSN.

    ``label`` names it in messages: the conn id, or the DSN's database name, never the DSN itself.
    """

    label: str
    conn_id: str | None = None
    dsn: Dsn | None = None

    def open(self):
        """A context manager yielding a DB-API connection, closed after."""
        return dsn_connection(self.dsn.text) if self.dsn is not None else connection(self.conn_id)


# --- argument parsing -------------------------------------------------------------------------------------


def _filter_options() -> dict[str, tuple[str, list[str]]]:
    """Every text filter any space accepts, as ``{name: (description, [joint types])}``."""
    options: dict[str, tuple[str, list[str]]] = {}
    for space in SPACES.values():
        for text_filter in space.filters:
            options.setdefault(text_filter.name, (text_filter.description, []))[1].append(space.joint_type)
    return options


def _space_names() -> str:
    return ", ".join(f"{space.joint_type} ({space.dag_id})" for space in SPACES.values())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m joint_context",
        description="Joint regime + text context embeddings: bulk backfill and inspection.",
        epilog="Exit status: 0 done, 1 some dates failed (or nothing to plot), 2 bad input, 3 database or connection "
               "error.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="{backfill,show,compare}")

    backfill = commands.add_parser(
        "backfill", help="write a space's joint vectors for a date range in one go",
        description="Write one joint vector per (date, context) that has data over a date range, with the "
                    "DAG's own code, reading the range in a few queries. Rows of skipped contexts are removed, "
                    "as the DAG does; a date with bad data fails alone.",
    )
    _add_space_option(backfill)
    backfill.add_argument("--region", action="append", default=[], metavar="REGION",
                          help="a region to compute (repeatable); each gets the filters below. "
                               "Default: the DAG's default contexts.")
    _add_date_range_option(backfill)
    for name, (description, joint_types) in _filter_options().items():
        backfill.add_argument(f"--{name.replace('_', '-')}", dest=f"filter_{name}", metavar="VALUE",
                              help=f"{description}; applied to every --region (space: {', '.join(joint_types)})")
    backfill.add_argument("--conf", metavar="JSON",
                          help="the DAG's --conf JSON, e.g. '{\"contexts\": [{\"region\": \"EU\", \"country\": "
                               "\"DE\"}], \"text_weight\": 2}'; the options below override its keys")
    backfill.add_argument("--text-model-id", help="text_embeddings.model_id to average (default: the space's)")
    backfill.add_argument("--joint-model-id", help="joint_embeddings.model_id to write (default: "
                                                    "joint-regime-core-v1)")
    backfill.add_argument("--source-type", help="text_embeddings.source_type (default: the space's)")
    backfill.add_argument("--numeric-weight", type=float, metavar="W", help="w_num (default 0.5)")
    backfill.add_argument("--text-weight", type=float, metavar="W", help="w_text (default 0.5)")
    _add_database_options(backfill, "runtime")
    _add_database_options(backfill, "historical")
    backfill.add_argument("--no-progress", action="store_true", help="no progress bar (e.g. in cron logs)")
    backfill.add_argument("-v", "--verbose", action="store_true",
                          help="log every context of every date: written, replaced or skipped and why")

    show = commands.add_parser(
        "show", help="list a space's joint vectors: norm, dimension, cosine to the previous day",
        description="List the joint vectors of a space: as_of_date, region, filters, model_id, dimension, "
                    "L2 norm and cosine similarity to the previous available day of the same series "
                    "(same region, filters and model), looked up before the range too.",
    )
    _add_space_option(show)
    show.add_argument("--region", action="append", default=[], metavar="REGION",
                      help="only this region (repeatable; default: all regions)")
    _add_date_range_option(show)
    show.add_argument("--joint-model-id", help="only this joint model_id (default: all)")
    show.add_argument("--csv", action="store_true", help="CSV on stdout instead of a table")
    _add_database_options(show, "historical")

    compare = commands.add_parser(
        "compare", help=f"cosine similarity between {REGIME_MACRO_V0.joint_type} and "
                        f"{REGIME_CONTEXT_V0.joint_type} per date, and day over day in each",
        description="For one region: the cosine similarity between the two spaces' vectors on each date both "
                    "have, and between each day and the previous available day within each space. Every scope "
                    "(filter set) of the region is compared with every scope of the other space unless the "
                    "filter options pick one.",
    )
    compare.add_argument("--region", required=True, help="the region to compare")
    _add_date_range_option(compare)
    for space in (REGIME_MACRO_V0, REGIME_CONTEXT_V0):
        example = json.dumps({name: "..." for name in space.filter_names[:1]})
        compare.add_argument(
            f"--{space.filters_key.replace('_', '-')}", dest=space.filters_key, metavar="JSON",
            help=f"only the {space.joint_type} scope whose {space.filters_key} is exactly this object, e.g. "
                 f"'{example}' ('{{}}' = no filters). Default: every scope of the region.",
        )
    compare.add_argument("--joint-model-id", default=REGIME_MACRO_V0.default_joint_model_id,
                         help="joint model_id of both spaces (default %(default)s)")
    compare.add_argument("--plot", type=Path, metavar="FILE.png", help="draw the similarities as a time series")
    compare.add_argument("--csv", action="store_true", help="CSV on stdout instead of a table")
    _add_database_options(compare, "historical")
    return parser


def _add_space_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--space", default=REGIME_MACRO_V0.joint_type,
                        help=f"joint type or DAG id (default %(default)s); one of {_space_names()}")


def _add_date_range_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--date-range", nargs=2, required=True, metavar=("START", "END"),
                        help="first and last as_of_date (UTC days, inclusive), e.g. 2025-01-01 2025-01-31")


DATABASE_ROLES = {  # role: (default Airflow conn id, DSN environment variable)
    "runtime": (RUNTIME_CONN_ID, RUNTIME_DSN_VARIABLE),
    "historical": (HISTORICAL_CONN_ID, HISTORICAL_DSN_VARIABLE),
}


def _add_database_options(parser: argparse.ArgumentParser, role: str) -> None:
    """``--<role>-conn-id`` or ``--<role>-dsn``, not both (no argparse default: the environment is read later)."""
    conn_id, variable = DATABASE_ROLES[role]
    group = parser.add_mutually_exclusive_group()
    group.add_argument(f"--{role}-conn-id", metavar="CONN_ID",
                       help=f"Airflow connection to {role}_db (default {conn_id}, unless {variable} is set)")
    group.add_argument(f"--{role}-dsn", metavar="DSN",
                       help=f"libpq connection string or URI of {role}_db (e.g. 'host=... dbname=...' or "
                            f"postgresql://user@host:5432/dbname), instead of an Airflow connection: Airflow is not "
                            f"loaded when every database is given this way. Default: ${variable}, if set")


def resolve_database(args: argparse.Namespace, role: str) -> Database:
    """The database an option names: ``--<role>-dsn``, ``--<role>-conn-id``, ``$JOINT_CONTEXT_<ROLE>_DSN``, or the
    default Airflow connection, in that order (the two options together are refused by argparse)."""
    default_conn_id, variable = DATABASE_ROLES[role]
    conn_id, dsn, source = getattr(args, f"{role}_conn_id"), getattr(args, f"{role}_dsn"), f"--{role}-dsn"
    if dsn is None and conn_id is None:
        dsn, source = os.environ.get(variable) or None, variable
    if dsn is None:
        return Database(label=conn_id or default_conn_id, conn_id=conn_id or default_conn_id)
    try:
        checked = parse_dsn(dsn, source)
    except DsnError as error:
        raise UsageError(str(error)) from None
    return Database(label=checked.dbname or f"the database of {source}", dsn=checked)


def _resolve_databases(args: argparse.Namespace) -> None:
    """``args.<role>_db`` for every database the command has options for."""
    for role in DATABASE_ROLES:
        if hasattr(args, f"{role}_conn_id"):
            setattr(args, f"{role}_db", resolve_database(args, role))


def _dsns(args: argparse.Namespace) -> list[Dsn]:
    """The DSNs the command was given, whose user info no message may show."""
    databases = (getattr(args, f"{role}_db", None) for role in DATABASE_ROLES)
    return [database.dsn for database in databases if database is not None and database.dsn is not None]


def parse_space(name: str) -> JointSpace:
    try:
        return space_by_name(name)
    except KeyError as error:
        raise UsageError(error.args[0]) from None


def parse_date_range(values: Sequence[str]) -> tuple[date, date]:
    parsed = []
    for value in values:
        try:
            parsed.append(date.fromisoformat(value))
        except ValueError:
            raise UsageError(f"--date-range: {value!r} is not a date like 2025-01-31") from None
    first_date, last_date = parsed
    if last_date < first_date:
        raise UsageError(f"--date-range: START {first_date} is after END {last_date}")
    return first_date, last_date


def parse_json_object(text: str, option: str) -> dict:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise UsageError(f"{option} is not valid JSON ({error.msg} at character {error.pos}): {text!r}") from None
    if not isinstance(value, dict):
        raise UsageError(f"{option} must be a JSON object, got {text!r}")
    return value


def backfill_params(space: JointSpace, args: argparse.Namespace) -> tuple[dict, list[str]]:
    """The DAG-style params and ``--conf`` keys the options describe (validated later by RunConfig)."""
    conf = parse_json_object(args.conf, "--conf") if args.conf is not None else {}
    filters = {name: getattr(args, f"filter_{name}") for name in _filter_options()
               if getattr(args, f"filter_{name}") is not None}
    not_accepted = sorted(set(filters) - set(space.filter_names))
    if not_accepted:
        flags = ", ".join(f"--{name.replace('_', '-')}" for name in not_accepted)
        accepted = ", ".join(f"--{name.replace('_', '-')}" for name in space.filter_names)
        raise UsageError(f"{flags} is not a filter of {space.joint_type}; it accepts {accepted}")
    if args.region and "contexts" in conf:
        raise UsageError("give the contexts either with --region or in --conf's \"contexts\", not both")
    if filters and not args.region:
        raise UsageError("filter options apply to the --region options: name at least one --region")
    params = dict(conf)
    if args.region:
        params["contexts"] = [{"region": region, **filters} for region in args.region]
    for key in ("text_model_id", "joint_model_id", "source_type", "numeric_weight", "text_weight"):
        if getattr(args, key) is not None:
            params[key] = getattr(args, key)
    return params, list(conf)


# --- backfill ---------------------------------------------------------------------------------------------


def run_backfill(args: argparse.Namespace) -> int:
    space = parse_space(args.space)
    first_date, last_date = parse_date_range(args.date_range)
    params, conf_keys = backfill_params(space, args)
    config = RunConfig.from_params(space, params, conf_keys)

    from rich.console import Console
    from rich.markup import escape

    from joint_context import pipeline
    from joint_context.store import replace_joint_rows_for_dates

    console = Console(stderr=True)
    total_dates = (last_date - first_date).days + 1
    contexts_text = "; ".join(context.describe() for context in config.contexts)
    console.print(f"{space.joint_type} ({config.joint_model_id}) {first_date}..{last_date} ({total_dates} day(s)), "
                  f"contexts: {contexts_text}", highlight=False, markup=False, soft_wrap=True)

    tally = {"written": 0, "skipped": 0, "failed": 0}
    rows = {"written": 0, "replaced": 0, "skipped": 0, "removed": 0}
    failures: list[tuple[date, str]] = []
    pending: dict[date, list] = {}  # aggregated dates not yet written: date -> its contexts' results
    last_done: date | None = None  # the last date of the last chunk committed
    try:
        with _package_log_to(console, verbose=args.verbose), _progress(console, disabled=args.no_progress) as progress:
            bar = progress.add_task("reading inputs", total=total_dates, **tally)

            def write_pending(historical_conn) -> None:
                """Write the pending dates in one transaction, then count and log them."""
                nonlocal last_done
                if not pending:
                    return
                outcomes = replace_joint_rows_for_dates(
                    historical_conn, joint_type=space.joint_type, model_id=config.joint_model_id,
                    rows_by_date={as_of_date: pipeline.joint_rows(results) for as_of_date, results in pending.items()},
                )
                for as_of_date, results in pending.items():
                    counts = pipeline.log_outcomes(as_of_date, results, outcomes[as_of_date])["counts"]
                    for key in rows:
                        rows[key] += counts[key]
                    tally["written" if counts["written"] + counts["replaced"] else "skipped"] += 1
                last_done = max(pending)
                progress.update(bar, advance=len(pending), description="dates", **tally)
                pending.clear()

            with args.runtime_db.open() as runtime_conn, args.historical_db.open() as historical_conn:
                for day in pipeline.extract_range(runtime_conn, historical_conn, config, first_date, last_date,
                                                  bulk=True):
                    error = day.error
                    if error is None:
                        try:
                            results = pipeline.aggregate_day(day.contexts, config)
                        except JointDataError as aggregate_error:
                            error = aggregate_error
                    if error is not None:
                        tally["failed"] += 1
                        failures.append((day.as_of_date, f"{type(error).__name__}: {error}"))
                        progress.console.print(
                            f"[red]{day.as_of_date} failed[/]: {escape(f'{type(error).__name__}: {error}')}",
                            highlight=False,
                        )
                        progress.update(bar, advance=1, description="dates", **tally)
                        continue
                    pending[day.as_of_date] = results
                    if sum(map(len, pending.values())) >= WRITE_CHUNK_KEYS:
                        write_pending(historical_conn)
                write_pending(historical_conn)
    except (Exception, KeyboardInterrupt) as error:
        if isinstance(error, Exception) and not _is_database_error(error):
            raise
        stopped = ("interrupted" if isinstance(error, KeyboardInterrupt)
                   else describe_database_error(error, _dsns(args)))
        done = f"after {last_done}" if last_done else "before the first date was written"
        print(f"{stopped}\nStopped {done}. Rerun the same command to finish: it leaves the same rows for the dates "
              "already written.", file=sys.stderr)
        return 130 if isinstance(error, KeyboardInterrupt) else EXIT_DATABASE_ERROR

    print(
        f"{space.joint_type} {first_date}..{last_date}: {total_dates} date(s), {tally['written']} written, "
        f"{tally['skipped']} skipped (no data for any context), {tally['failed']} failed; "
        f"joint rows: {rows['written']} new, {rows['replaced']} replaced, {rows['skipped']} context-days skipped "
        f"({rows['removed']} stale rows removed)"
    )
    if failures:
        print(f"{len(failures)} date(s) failed and were left as they were:", file=sys.stderr)
        for as_of_date, message in failures:
            print(f"  {as_of_date}: {message}", file=sys.stderr)
        return EXIT_FAILED_DATES
    return EXIT_OK


@contextlib.contextmanager
def _package_log_to(console, *, verbose: bool) -> Iterator[None]:
    """The package's per-context log lines: to stderr above the bar with ``--verbose``, nowhere otherwise.

    Importing Airflow sends logging to stdout; the command's own output stays what it prints. Restored after.
    """
    import logging

    from rich.logging import RichHandler

    package_log = logging.getLogger("joint_context")
    saved = (package_log.propagate, package_log.handlers, package_log.level)
    package_log.propagate = False
    package_log.handlers = [RichHandler(console=console, show_path=False, markup=False)
                            if verbose else logging.NullHandler()]
    package_log.setLevel(logging.INFO if verbose else logging.WARNING)
    try:
        yield
    finally:
        package_log.propagate, package_log.handlers, package_log.level = saved


def _progress(console, *, disabled: bool):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("[green]{task.fields[written]} written[/] · {task.fields[skipped]} skipped · "
                   "[red]{task.fields[failed]} failed[/]"),
        TimeElapsedColumn(),
        console=console,
        disable=disabled,
    )


# --- show -------------------------------------------------------------------------------------------------

SHOW_COLUMNS = ("as_of_date", "region", "filters", "model_id", "dim", "l2_norm", "cosine_prev", "prev_date", "note")


def run_show(args: argparse.Namespace) -> int:
    space = parse_space(args.space)
    first_date, last_date = parse_date_range(args.date_range)
    from joint_context.views import fetch_joint_vectors

    with args.historical_db.open() as historical_conn:
        rows = fetch_joint_vectors(historical_conn, space, first_date=first_date, last_date=last_date,
                                   regions=args.region, model_id=args.joint_model_id)
    if not rows:
        regions = ", ".join(args.region) or "any region"
        model = f", model_id {args.joint_model_id}" if args.joint_model_id else ""
        print(f"No {space.joint_type} joint vectors for {regions} between {first_date} and {last_date}{model} "
              f"in {args.historical_db.label}.joint_embeddings.", file=sys.stderr)
        return EXIT_OK
    records = [
        (row.as_of_date.isoformat(), row.region, row.filters_text, row.model_id, row.dimension, row.l2_norm,
         row.previous_cosine, row.previous_date and row.previous_date.isoformat(), row.note)
        for row in rows
    ]
    if args.csv:
        _write_csv(SHOW_COLUMNS, records)
    else:
        print(f"{space.joint_type} ({space.title}), {first_date}..{last_date}: {len(rows)} vector(s); "
              f"cosine_prev = cosine similarity to the previous available day of the same series")
        _print_table(SHOW_COLUMNS, records)
    return EXIT_OK


# --- compare ----------------------------------------------------------------------------------------------


def run_compare(args: argparse.Namespace) -> int:
    first_date, last_date = parse_date_range(args.date_range)
    chosen_filters = {}
    for space in (REGIME_MACRO_V0, REGIME_CONTEXT_V0):
        option = f"--{space.filters_key.replace('_', '-')}"
        text = getattr(args, space.filters_key)
        if text is None:
            continue
        filters = parse_json_object(text, option)
        unknown = sorted(set(filters) - set(space.filter_names))
        if unknown:
            raise UsageError(f"{option}: {unknown} not a filter of {space.joint_type}; it accepts "
                             f"{list(space.filter_names)}")
        chosen_filters[space.joint_type] = filters
    if args.plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise UsageError("--plot needs matplotlib, which this environment lacks (pip install matplotlib)") from None
    from joint_context.views import compare_spaces, fetch_joint_vectors

    rows_by_space = {}
    with args.historical_db.open() as historical_conn:
        for space in (REGIME_MACRO_V0, REGIME_CONTEXT_V0):
            rows = fetch_joint_vectors(historical_conn, space, first_date=first_date, last_date=last_date,
                                       regions=[args.region], model_id=args.joint_model_id)
            if space.joint_type in chosen_filters:
                rows = [row for row in rows if row.filters == chosen_filters[space.joint_type]]
            rows_by_space[space.joint_type] = rows
    comparison = compare_spaces(rows_by_space[REGIME_MACRO_V0.joint_type],
                                rows_by_space[REGIME_CONTEXT_V0.joint_type], REGIME_MACRO_V0, REGIME_CONTEXT_V0)
    if not comparison.first_rows and not comparison.second_rows:
        print(f"No joint vectors of {REGIME_MACRO_V0.joint_type} or {REGIME_CONTEXT_V0.joint_type} for region "
              f"{args.region} between {first_date} and {last_date} (model_id {args.joint_model_id}"
              f"{', with the filters given' if chosen_filters else ''}).", file=sys.stderr)
        if args.plot:
            print(f"No plot written to {args.plot}.", file=sys.stderr)
            return EXIT_FAILED_DATES
        return EXIT_OK

    series = _comparison_series(comparison)
    dates = sorted({as_of_date for values in series.values() for as_of_date in values})
    if args.csv:
        _write_csv(("as_of_date", *series), ([day.isoformat(), *(values.get(day) for values in series.values())]
                                             for day in dates))
    else:
        print(f"Region {args.region}, {first_date}..{last_date}, model_id {args.joint_model_id}: cosine similarity")
        for number, label in enumerate(series, start=1):
            print(f"  [{number}] {label}")
        _print_table(("as_of_date", *(f"[{number}]" for number in range(1, len(series) + 1))),
                     ([day.isoformat(), *(values.get(day) for values in series.values())] for day in dates))
    if args.plot:
        plot_comparison(args.plot, series, title=f"Region {args.region}: {REGIME_MACRO_V0.joint_type} vs "
                                                 f"{REGIME_CONTEXT_V0.joint_type}, {first_date}..{last_date}")
        print(f"Plot written to {args.plot}", file=sys.stderr)
    return EXIT_OK


def _comparison_series(comparison) -> dict[str, dict[date, float | None]]:
    """Labelled date→cosine series: same-day across the spaces first, then day over day within each."""
    series: dict[str, dict[date, float | None]] = {
        f"same day: {label}": values for label, values in comparison.cross_cosines.items()
    }
    labels = comparison.series_labels()
    for space, rows in ((comparison.first_space, comparison.first_rows),
                        (comparison.second_space, comparison.second_rows)):
        for row in rows:
            key = f"day over day: {labels[(space.joint_type, row.series_key)]}"
            values = series.setdefault(key, {})
            if row.previous_cosine is not None:
                values[row.as_of_date] = row.previous_cosine
    return series


def plot_comparison(path: Path, series: dict[str, dict[date, float | None]], *, title: str) -> None:
    """Two stacked time series: same-day cosine across the spaces, and day-over-day cosine within each."""
    import logging

    import matplotlib

    logging.getLogger("matplotlib").setLevel(logging.WARNING)  # font cache notices would land on stdout
    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, (cross_axes, daily_axes) = pyplot.subplots(2, 1, sharex=True, figsize=(11, 7), constrained_layout=True)
    try:
        for axes, prefix, heading in (
            (cross_axes, "same day: ", "Same day, across the spaces"),
            (daily_axes, "day over day: ", "Day over day (previous available day), within each space"),
        ):
            for label, values in series.items():
                if not label.startswith(prefix):
                    continue
                points = sorted((day, value) for day, value in values.items() if value is not None)
                axes.plot([day for day, _ in points], [value for _, value in points], marker="o",
                          label=label.removeprefix(prefix))
            axes.set_title(heading)
            axes.set_ylabel("cosine similarity")
            axes.grid(True, alpha=0.3)
            if axes.get_legend_handles_labels()[0]:
                axes.legend(fontsize="small", loc="best")
            else:
                axes.text(0.5, 0.5, "no dates with both vectors", ha="center", va="center",
                          transform=axes.transAxes)
        daily_axes.set_xlabel("as_of_date (UTC day)")
        figure.autofmt_xdate()
        figure.suptitle(title)
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, dpi=100)
    finally:
        pyplot.close(figure)


# --- output helpers ---------------------------------------------------------------------------------------


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.6f}"
    return str(value)


def _print_table(columns: Sequence[str], records: Iterable[Sequence[object]]) -> None:
    cells = [[_cell(value) for value in record] for record in records]
    widths = [max([len(column), *(len(row[index]) for row in cells)]) for index, column in enumerate(columns)]
    print("  ".join(column.ljust(width) for column, width in zip(columns, widths, strict=True)).rstrip())
    print("  ".join("-" * width for width in widths))
    for row in cells:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def _write_csv(columns: Sequence[str], records: Iterable[Sequence[object]]) -> None:
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(columns)
    for record in records:
        writer.writerow(["" if value is None else repr(value) if isinstance(value, float) else value
                         for value in record])


# --- entry point ------------------------------------------------------------------------------------------

COMMANDS = {"backfill": run_backfill, "show": run_show, "compare": run_compare}


def _is_database_error(error: BaseException) -> bool:
    """A DB-API error of psycopg 3 or psycopg2, or an Airflow connection that is not defined."""
    return any(
        cls.__module__.split(".")[0] in DATABASE_DRIVERS or cls.__name__ == "AirflowNotFoundException"
        for cls in type(error).__mro__
    )


def describe_database_error(error: BaseException, dsns: Iterable[Dsn] = ()) -> str:
    """One line for a database or connection error, with nothing of the DSNs' user info in it."""
    if type(error).__name__ == "AirflowNotFoundException":
        return (f"connection error: {error}; define it as an Airflow connection, e.g. the environment variable "
                "AIRFLOW_CONN_<CONN_ID_IN_UPPER_CASE> holding its JSON or URI, or `airflow connections add`, "
                "or give a libpq DSN instead (--runtime-dsn / --historical-dsn)")
    return scrub(f"database error ({type(error).__name__}): {str(error).strip()}", dsns)


@contextlib.contextmanager
def _stdout_only_for_output() -> Iterator[None]:
    """Log records (Airflow's connection notices, library warnings) to stderr, so stdout is the command's output
    alone (a CSV stays a CSV). Importing Airflow points the root logger at stdout; restored afterwards."""
    import logging

    root = logging.getLogger()
    saved = list(root.handlers)
    to_stderr = logging.StreamHandler(sys.stderr)
    to_stderr.setLevel(logging.WARNING)
    to_stderr.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root.handlers = [handler for handler in saved
                     if getattr(handler, "stream", None) not in (sys.stdout, sys.__stdout__)] + [to_stderr]
    try:
        yield
    finally:
        root.handlers = saved


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        _resolve_databases(args)
        with _stdout_only_for_output():
            return COMMANDS[args.command](args)
    except (UsageError, ParamsError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as error:
        if not _is_database_error(error):
            raise
        print(describe_database_error(error, _dsns(args)), file=sys.stderr)
        return EXIT_DATABASE_ERROR


if __name__ == "__main__":
    sys.exit(main())
