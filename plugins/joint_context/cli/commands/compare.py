"""``compare``: same-day cosine similarity between two spaces' vectors of one region, and day over day in each."""

from __future__ import annotations

import argparse

from joint_context.cli.core import UsageError
from joint_context.cli.output import note, print_table, write_csv
from joint_context.cli.status import ExitStatus
from joint_context.spaces import REGIME_CONTEXT_V0, REGIME_MACRO_V0, JointSpace, canonical_json

COMPARED_SPACES = (REGIME_MACRO_V0, REGIME_CONTEXT_V0)  # the default pair; these have a --<filters_key> option


def compared_spaces(args: argparse.Namespace) -> tuple:
    """The two spaces ``--spaces`` names (default: macro vs news), which must differ."""
    first, second = args.spaces or COMPARED_SPACES
    if first.joint_type == second.joint_type:
        raise UsageError(f"--spaces names {first.joint_type} twice: name two different spaces")
    return first, second


def chosen_filters(args: argparse.Namespace, compared: tuple = COMPARED_SPACES) -> dict[str, dict]:
    """Per joint type, the filters object its ``--<space>-filters`` option picks (checked against the space)."""
    chosen = {}
    for space in COMPARED_SPACES:
        filters = getattr(args, space.filters_key)
        if filters is None:
            continue
        if space.joint_type not in {other.joint_type for other in compared}:
            raise UsageError(f"--{space.filters_key.replace('_', '-')} picks a {space.joint_type} scope, but "
                             f"{space.joint_type} is not compared here")
        unknown = sorted(set(filters) - set(space.filter_names))
        if unknown:
            raise UsageError(f"--{space.filters_key.replace('_', '-')}: {unknown} not a filter of "
                             f"{space.joint_type}; it accepts {list(space.filter_names)}")
        chosen[space.joint_type] = space.canonical_filters(filters)
    return chosen


def run(args: argparse.Namespace) -> ExitStatus:
    first_date, last_date = args.date_range
    spaces = compared_spaces(args)
    filters = chosen_filters(args, spaces)
    if args.plot_text_share and not args.plot:
        raise UsageError("--plot-text-share draws a panel of --plot's file: give --plot FILE.png too")
    model_ids = {space.joint_type: args.joint_model_id or space.default_joint_model_id for space in spaces}
    models_text = ", ".join(dict.fromkeys(model_ids.values()))
    if args.plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise UsageError("--plot needs matplotlib, which this environment lacks (pip install matplotlib)") from None
    from joint_context.comparison import compare_spaces
    from joint_context.views import fetch_joint_vectors

    rows_by_space = {}
    with args.historical_db.open(args.statement_timeout) as historical_conn:
        for space in spaces:
            stored = fetch_joint_vectors(historical_conn, space, first_date=first_date, last_date=last_date,
                                         regions=[args.region], model_id=model_ids[space.joint_type])
            if stored.foreign:
                note(stored.foreign_note(space))
            rows = stored.rows
            if space.joint_type in filters:  # a case-insensitive filter matches whatever case a row holds
                rows = [row for row in rows if space.canonical_filters(row.filters) == filters[space.joint_type]]
            rows_by_space[space.joint_type] = rows
    first_space, second_space = spaces
    comparison = compare_spaces(rows_by_space[first_space.joint_type], rows_by_space[second_space.joint_type],
                                first_space, second_space)
    if not comparison.first_rows and not comparison.second_rows:
        note(f"No joint vectors of {first_space.joint_type} or {second_space.joint_type} for region {args.region} "
             f"between {first_date} and {last_date} (model_id {models_text}"
             f"{', with the filters given' if filters else ''}).")
        if args.plot:
            note(f"No plot written to {args.plot}.")
            return ExitStatus.FAILED_DATES
        return ExitStatus.OK

    series = comparison.series()
    dates = sorted({as_of_date for values in series.values() for as_of_date in values})
    records = ([day.isoformat(), *(values.get(day) for values in series.values())] for day in dates)
    if args.csv:
        write_csv(("as_of_date", *series), records)
    else:
        print(f"Region {args.region}, {first_date}..{last_date}, model_id {models_text}: cosine similarity")
        for number, label in enumerate(series, start=1):
            print(f"  [{number}] {label}")
        print_table(("as_of_date", *(f"[{number}]" for number in range(1, len(series) + 1))), records)
    if args.plot_text_share:
        series.update(text_share_series(args, spaces, rows_by_space))
    if args.plot:
        from joint_context.cli.plot import plot_comparison

        replaced = args.plot.exists()
        plot_comparison(args.plot, series, title=f"Region {args.region}: {first_space.joint_type} vs "
                                                 f"{second_space.joint_type}, {first_date}..{last_date}")
        note(f"Plot written to {args.plot.resolve()}{' (replaced the file that was there)' if replaced else ''}")
    return ExitStatus.OK


def text_share_series(args: argparse.Namespace, spaces, rows_by_space: dict[str, list]) -> dict[str, dict]:
    """Per scope shown of a text space, the text branch's share of its joint vector per date, recomputed from the
    inputs with the DAG's default weights (``"text share: <joint type> <filters>"`` series)."""
    from joint_context.config import RunConfig
    from joint_context.pipeline.explain import text_shares

    series: dict[str, dict] = {}
    first_date, last_date = args.date_range
    with (args.runtime_db.open(args.statement_timeout) as runtime_conn,
          args.historical_db.open(args.statement_timeout) as historical_conn):
        for space in spaces:
            if not isinstance(space, JointSpace):  # the combined space has no text branch of its own
                continue
            scopes = {canonical_json(row.filters): row.filters for row in rows_by_space[space.joint_type]
                      if space.canonical_filters(row.filters) == row.filters}
            if not scopes:
                continue
            config = RunConfig.from_params(space, {"contexts": [{"region": args.region, **filters}
                                                                for filters in scopes.values()]})
            by_date = text_shares(runtime_conn, historical_conn, config, first_date, last_date)
            for index, filters_text in enumerate(scopes):
                series[f"text share: {space.joint_type} {filters_text}"] = {
                    day: results[index].text_share for day, results in by_date.items()}
    return series
