"""``backfill``: write a space's joint vectors for a date range in one go, with the DAG's own steps.

The range is read in one regime query and one binary ``COPY`` per filter set, and written in chunked
transactions by :func:`joint_context.pipeline.rebuild_range` (the rebuild DAG's code too).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from datetime import date

from joint_context.cli.core import UsageError, database_error_status, given_dsns
from joint_context.cli.definition import filter_options
from joint_context.cli.output import package_log_to, progress_bar
from joint_context.cli.status import ExitStatus
from joint_context.combined_config import CombinedRunConfig, combined_default_params
from joint_context.combined_space import CombinedSpace
from joint_context.config import RunConfig, default_params
from joint_context.connections import describe_database_error, is_database_error
from joint_context.spaces import JointSpace

MODEL_OPTIONS = ("text_model_id", "joint_model_id", "source_type", "numeric_weight", "text_weight",
                 "branch_normalization", "source_model_id", "macro_weight", "news_weight")


def backfill_params(space: JointSpace | CombinedSpace, args: argparse.Namespace) -> tuple[dict, list[str]]:
    """The DAG-style params and ``--conf`` keys the options describe (validated later by RunConfig)."""
    conf = args.conf if args.conf is not None else {}
    filters = {name: getattr(args, f"filter_{name}") for name in filter_options()
               if getattr(args, f"filter_{name}") is not None}
    not_accepted = sorted(set(filters) - set(space.filter_names))
    if not_accepted:
        flags = ", ".join(f"--{name.replace('_', '-')}" for name in not_accepted)
        accepted = ", ".join(f"--{name.replace('_', '-')}" for name in space.filter_names)
        raise UsageError(f"{flags} is not a filter of {space.joint_type}; it accepts {accepted}")
    if conf.get("as_of_date") is not None:
        raise UsageError("--conf's \"as_of_date\" is the DAG's day of one manual run; --date-range gives the days here")
    if args.region and "contexts" in conf:
        raise UsageError("give the contexts either with --region or in --conf's \"contexts\", not both")
    if filters and not args.region:
        raise UsageError("filter options apply to the --region options: name at least one --region")
    params = dict(conf)
    if args.region:
        params["contexts"] = [{"region": region, **filters} for region in args.region]
    given = {key: getattr(args, key) for key in MODEL_OPTIONS if getattr(args, key) is not None}
    accepted = combined_default_params(space) if isinstance(space, CombinedSpace) else default_params(space)
    not_options = sorted(set(given) - set(accepted))
    if not_options:
        raise UsageError(f"{', '.join('--' + key.replace('_', '-') for key in not_options)}: not an option of "
                         f"{space.joint_type}")
    params.update(given)
    return params, list(conf)


def rebuilt_dates(args: argparse.Namespace, config: RunConfig | CombinedRunConfig, first_date: date,
                  last_date: date) -> Iterator:
    """Each date's :class:`~joint_context.pipeline.DateOutcome`, once committed, from the space's chunked rebuild
    (the combined space reads only ``historical_db``)."""
    if isinstance(config, CombinedRunConfig):
        from joint_context.pipeline.combine import rebuild_combined_range

        with args.historical_db.open(args.statement_timeout) as historical_conn:
            yield from rebuild_combined_range(historical_conn, config, first_date, last_date)
        return
    from joint_context.pipeline import rebuild_range

    with (args.runtime_db.open(args.statement_timeout) as runtime_conn,
          args.historical_db.open(args.statement_timeout) as historical_conn):
        yield from rebuild_range(runtime_conn, historical_conn, config, first_date, last_date)


def run(args: argparse.Namespace) -> ExitStatus:
    from rich.console import Console
    from rich.markup import escape

    from joint_context.pipeline import ACTION_COUNTS

    space, (first_date, last_date) = args.space, args.date_range
    params, conf_keys = backfill_params(space, args)
    config_class = CombinedRunConfig if isinstance(space, CombinedSpace) else RunConfig
    config = config_class.from_params(space, params, conf_keys)
    console = Console(stderr=True)
    total_dates = (last_date - first_date).days + 1
    contexts_text = "; ".join(scope.describe() for scope in config.contexts)
    console.print(f"{space.joint_type} ({config.joint_model_id}) {first_date}..{last_date} ({total_dates} day(s)), "
                  f"contexts: {contexts_text}", highlight=False, markup=False, soft_wrap=True)

    tally = {"written": 0, "skipped": 0, "failed": 0}
    rows = dict.fromkeys(ACTION_COUNTS, 0)
    failures: list[tuple[date, str]] = []
    last_done: date | None = None  # the last date committed
    try:
        with package_log_to(console, verbose=args.verbose), progress_bar(console, disabled=args.no_progress) as bar:
            task = bar.add_task("reading inputs", total=total_dates, **tally)
            for outcome in rebuilt_dates(args, config, first_date, last_date):
                tally[outcome.status] += 1
                for key in rows:
                    rows[key] += outcome.counts[key]
                if outcome.error is not None:
                    message = f"{type(outcome.error).__name__}: {outcome.error}"
                    failures.append((outcome.as_of_date, message))
                    bar.console.print(f"[red]{outcome.as_of_date} failed[/]: {escape(message)}", highlight=False)
                last_done = outcome.as_of_date
                bar.update(task, advance=1, description="dates", **tally)
    except (Exception, KeyboardInterrupt) as error:
        if isinstance(error, Exception) and not is_database_error(error):
            raise
        interrupted = isinstance(error, KeyboardInterrupt)
        print("interrupted" if interrupted else describe_database_error(error, given_dsns(args)), file=sys.stderr)
        status = ExitStatus.INTERRUPTED if interrupted else database_error_status(error)
        done = f"after {last_done}" if last_done else "before the first date was written"
        first = "Fix that, then rerun" if status == ExitStatus.DATABASE_REFUSED else "Rerun"
        print(f"Stopped {done}. {first} the same command to finish: it leaves the same rows for the dates already "
              "written.", file=sys.stderr)
        return status

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
        return ExitStatus.FAILED_DATES
    return ExitStatus.OK
