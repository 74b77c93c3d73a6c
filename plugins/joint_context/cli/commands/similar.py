"""``similar``: the past days of a space that looked most like one day (analog-day search).

The search is :func:`joint_context.search.find_similar`; this module turns the options into its query key and
prints its result: a table, CSV or one JSON object on stdout, notes (rows left out, engine) on stderr.
"""

from __future__ import annotations

import argparse

from joint_context.cli.core import UsageError
from joint_context.cli.definition import filter_options
from joint_context.cli.output import note, print_table, write_csv, write_json
from joint_context.cli.status import ExitStatus
from joint_context.search import OTHER_DIMENSION, UNUSABLE, SearchResult
from joint_context.spaces import JointSpace, canonical_json

COLUMNS = ("rank", "as_of_date", "region", "entity_scope", "score", "joint_id")
SHOWN_IDS = 5


def query_scope(space: JointSpace, args: argparse.Namespace) -> dict:
    """The query's ``entity_scope``: the region and the filters (options or ``--scope``), as the key holds them."""
    options = {name: getattr(args, f"filter_{name}") for name in filter_options()
               if getattr(args, f"filter_{name}") is not None}
    if args.scope is not None and options:
        raise UsageError("give the filters either with --scope or with the filter options, not both")
    filters = args.scope if args.scope is not None else options
    not_accepted = sorted(set(filters) - set(space.filter_names))
    if not_accepted:
        accepted = ", ".join(space.filter_names) or "none"
        raise UsageError(f"{', '.join(not_accepted)}: not a filter of {space.joint_type}; it accepts {accepted}")
    not_text = sorted(name for name, value in filters.items() if not isinstance(value, str))
    if not_text:
        raise UsageError(f"--scope: the value of {', '.join(not_text)} must be a string")
    return space.entity_scope(args.region, space.canonical_filters(filters))


def run(args: argparse.Namespace) -> ExitStatus:
    from joint_context.search import SearchError, find_similar

    space = args.space
    entity_scope = query_scope(space, args)
    model_id = args.joint_model_id or space.default_joint_model_id
    with args.historical_db.open(args.statement_timeout) as historical_conn:
        try:
            result = find_similar(historical_conn, joint_type=space.joint_type, model_id=model_id,
                                  as_of_date=args.date, entity_scope=entity_scope, top=args.top,
                                  metric=args.metric, include_future=args.include_future,
                                  any_region=args.any_region, engine=args.engine, approximate=args.approximate)
        except SearchError as error:
            note(f"error: {error}")
            return ExitStatus.BAD_INPUT
    for line in result_notes(result):
        note(line)
    if args.format == "json":
        write_json(as_json(result))
    elif args.format == "csv":
        write_csv(COLUMNS, records(result))
    else:
        print(f"{space.joint_type} {result.query.as_of_date} {canonical_json(result.query.entity_scope)} "
              f"(model_id {model_id}, joint_id {result.query.joint_id}): {len(result.neighbours)} neighbour(s) by "
              f"{'cosine similarity' if result.metric == 'cosine' else 'L2 distance'}")
        print_table(COLUMNS, records(result))
    return ExitStatus.OK


def records(result: SearchResult) -> list[tuple]:
    return [(neighbour.rank, neighbour.as_of_date.isoformat(), neighbour.entity_scope.get("region"),
             canonical_json(neighbour.entity_scope), neighbour.score, neighbour.joint_id)
            for neighbour in result.neighbours]


def as_json(result: SearchResult) -> dict:
    """The issue's shape: the query key, the metric and the ranked neighbours (``score``: cosine or L2)."""
    query = result.query
    return {
        "query": {"joint_type": query.joint_type, "model_id": query.model_id,
                  "as_of_date": query.as_of_date.isoformat(), "entity_scope": query.entity_scope},
        "metric": result.metric,
        "neighbours": [{"rank": neighbour.rank, "as_of_date": neighbour.as_of_date.isoformat(),
                        "entity_scope": neighbour.entity_scope, "score": neighbour.score}
                       for neighbour in result.neighbours],
    }


def result_notes(result: SearchResult) -> list[str]:
    """What stderr says: the engine, any fallback, and the candidates left out, with their ids."""
    lines = [f"engine: {result.engine}", *result.notes]
    for reason, what in ((UNUSABLE, "a NULL or malformed vector"),
                         (OTHER_DIMENSION, f"a vector of another dimension than the query's "
                                           f"({result.query.vector.shape[0]})")):
        ids = result.left_out.get(reason, [])
        if ids:
            shown = ", ".join(map(str, ids[:SHOWN_IDS])) + (", ..." if len(ids) > SHOWN_IDS else "")
            lines.append(f"Left out {len(ids)} candidate(s) whose newest row holds {what} (joint_id {shown}).")
    if not result.neighbours:
        lines.append("No candidate days: nothing to rank.")
    return lines
