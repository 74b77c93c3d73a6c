"""The command line's arguments: what each command accepts (no work is done here)."""

from __future__ import annotations

import argparse
import json

from joint_context.cli import argtypes
from joint_context.cli.status import ExitStatus
from joint_context.combined_space import COMBINED_SPACES, REGIME_COMBINED_V0
from joint_context.config import BRANCH_NORMALIZATION_VALUES, l2_model_id
from joint_context.connections import DATABASE_ROLES, DEFAULT_STATEMENT_TIMEOUT
from joint_context.spaces import JOINT_MODEL_ID, REGIME_CONTEXT_V0, REGIME_MACRO_V0, SPACES

PROGRAM = "joint-context"


def filter_options() -> dict[str, tuple[str, list[str]]]:
    """Every text filter any space accepts, as ``{name: (description, [joint types])}``."""
    options: dict[str, tuple[str, list[str]]] = {}
    for space in SPACES.values():
        for text_filter in space.filters:
            options.setdefault(text_filter.name, (text_filter.description, []))[1].append(space.joint_type)
    for combined in COMBINED_SPACES.values():  # a context of the combined space carries its branches' filters
        for name in combined.filter_names:
            options[name][1].append(combined.joint_type)
    return options


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROGRAM,
        description="Joint regime + text context embeddings: bulk backfill, inspection and explanation.",
        epilog=ExitStatus.epilog(),
    )
    commands = parser.add_subparsers(dest="command", required=True)  # argparse lists them: {backfill,show,...}
    _backfill(commands)
    _show(commands)
    _compare(commands)
    _explain(commands)
    _similar(commands)
    _vector_index(commands)
    _adopt_legacy(commands)
    return parser


def _backfill(commands) -> None:
    backfill = commands.add_parser(
        "backfill", help="write a space's joint vectors for a date range in one go",
        description="Write one joint vector per (date, context) that has data over a date range, with the "
                    "DAG's own code, reading the range in a few queries. Rows of skipped contexts are removed, "
                    "as the DAG does; a date with bad data fails alone.",
    )
    add_space_regions_and_dates(backfill, regions_help="a region to compute (repeatable); each gets the filters "
                                                       "below. Default: the DAG's default contexts.")
    for name, (description, joint_types) in filter_options().items():
        backfill.add_argument(f"--{name.replace('_', '-')}", dest=f"filter_{name}", metavar="VALUE",
                              help=f"{description}; applied to every --region (space: {', '.join(joint_types)})")
    backfill.add_argument("--conf", type=argtypes.json_object, metavar="JSON",
                          help="the DAG's --conf JSON, e.g. '{\"contexts\": [{\"region\": \"EU\", \"country\": "
                               "\"DE\"}], \"text_weight\": 2}'; the options below override its keys")
    backfill.add_argument("--text-model-id", help="text_embeddings.model_id to average (default: the space's)")
    backfill.add_argument("--joint-model-id", help="joint_embeddings.model_id to write (default: the space's, "
                                                    "joint-regime-core-v1 or joint-regime-combined-v1)")
    backfill.add_argument("--source-type", help="text_embeddings.source_type (default: the space's)")
    backfill.add_argument("--numeric-weight", type=argtypes.weight, metavar="W", help="w_num (default 0.5)")
    backfill.add_argument("--text-weight", type=argtypes.weight, metavar="W", help="w_text (default 0.5)")
    add_branch_normalization_option(backfill)
    combined = REGIME_COMBINED_V0.joint_type
    for branch in REGIME_COMBINED_V0.branches:
        backfill.add_argument(f"--{branch.name}-weight", type=argtypes.weight, metavar="W",
                              help=f"w_{branch.name} of {combined} (default 0.5; 0: its rows are not read)")
    backfill.add_argument("--source-model-id", help=f"model_id of the rows {combined} reads (default "
                                                     f"{REGIME_COMBINED_V0.default_source_model_id})")
    add_database_options(backfill, "runtime")
    add_database_options(backfill, "historical")
    backfill.add_argument("--no-progress", action="store_true", help="no progress bar (e.g. in cron logs)")
    backfill.add_argument("-v", "--verbose", action="store_true",
                          help="log every context of every date: written, replaced or skipped and why")


def _show(commands) -> None:
    show = commands.add_parser(
        "show", help="list a space's joint vectors: norm, dimension, cosine to the previous day",
        description="List the joint vectors of a space: as_of_date, region, filters, model_id, dimension, "
                    "L2 norm and cosine similarity to the previous available day of the same series "
                    "(same region, filters and model), looked up before the range too.",
    )
    add_space_regions_and_dates(show, regions_help="only this region (repeatable; default: all regions)")
    show.add_argument("--joint-model-id", help="only this joint model_id (default: all)")
    show.add_argument("--csv", action="store_true", help="CSV on stdout instead of a table")
    add_database_options(show, "historical")


def _compare(commands) -> None:
    compare = commands.add_parser(
        "compare", help=f"cosine similarity between {REGIME_MACRO_V0.joint_type} and "
                        f"{REGIME_CONTEXT_V0.joint_type} per date, and day over day in each",
        description="For one region: the cosine similarity between the two spaces' vectors on each date both "
                    "have, and between each day and the previous available day within each space. Every scope "
                    "(filter set) of the region is compared with every scope of the other space unless the "
                    "filter options pick one.",
    )
    compare.add_argument("--region", required=True, help="the region to compare")
    compare.add_argument("--spaces", nargs=2, type=argtypes.joint_space, metavar=("SPACE", "SPACE"),
                         help=f"the two spaces to compare, by joint type or DAG id (default "
                              f"{REGIME_MACRO_V0.joint_type} {REGIME_CONTEXT_V0.joint_type}), e.g. "
                              f"{REGIME_MACRO_V0.joint_type} {REGIME_COMBINED_V0.joint_type}")
    add_date_range_option(compare)
    for space in (REGIME_MACRO_V0, REGIME_CONTEXT_V0):
        example = json.dumps({name: "..." for name in space.filter_names[:1]})
        compare.add_argument(
            f"--{space.filters_key.replace('_', '-')}", dest=space.filters_key, metavar="JSON",
            type=argtypes.json_object,
            help=f"only the {space.joint_type} scope whose {space.filters_key} is exactly this object, e.g. "
                 f"'{example}' ('{{}}' = no filters). Default: every scope of the region.",
        )
    compare.add_argument("--joint-model-id", help=f"only this joint model_id (default: each space's own, "
                                                   f"{REGIME_MACRO_V0.default_joint_model_id} or "
                                                   f"{REGIME_COMBINED_V0.default_joint_model_id})")
    compare.add_argument("--plot", type=argtypes.png_path, metavar="FILE.png",
                         help="draw the similarities as a time series into this PNG file (checked before any work; "
                              "an existing file is replaced, and the output says so)")
    compare.add_argument("--plot-text-share", action="store_true",
                         help="with --plot, a third panel: the text branch's share of each scope's joint vector per "
                              "date, recomputed from the inputs with the DAG's default weights and "
                              "branch_normalization none (reads runtime_db too)")
    compare.add_argument("--csv", action="store_true", help="CSV on stdout instead of a table")
    add_database_options(compare, "historical")
    add_database_options(compare, "runtime")


def _explain(commands) -> None:
    explain = commands.add_parser(
        "explain", help="recompute one day of one context and say how much the text branch weighs",
        description="Recompute one (date, context) from its inputs with the DAG's own steps and print the L2 norm of "
                    "each weighted branch, their shares of the sum, the cosine similarity of the joint vector with "
                    "the regime vector and with the mean text vector, and whether the stored row of the key (if "
                    "any) equals the recomputed vector. Nothing is written. A day without a joint vector (no regime, "
                    f"no text, bad data) says why and exits {ExitStatus.FAILED_DATES.value}.",
    )
    add_space_option(explain)
    explain.add_argument("--region", required=True, help="the context's region")
    for name, (description, joint_types) in filter_options().items():
        explain.add_argument(f"--{name.replace('_', '-')}", dest=f"filter_{name}", metavar="VALUE",
                             help=f"{description} (space: {', '.join(joint_types)})")
    explain.add_argument("--date", required=True, type=argtypes.iso_date, metavar="DATE",
                         help="the as_of_date (UTC day), e.g. 2025-01-15")
    explain.add_argument("--numeric-weight", type=argtypes.weight, metavar="W", help="w_num (default 0.5)")
    explain.add_argument("--text-weight", type=argtypes.weight, metavar="W", help="w_text (default 0.5)")
    add_branch_normalization_option(explain)
    explain.add_argument("--text-model-id", help="text_embeddings.model_id to average (default: the space's)")
    explain.add_argument("--source-type", help="text_embeddings.source_type (default: the space's)")
    explain.add_argument("--joint-model-id", help="joint_embeddings.model_id of the stored row to compare with "
                                                   "(default: joint-regime-core-v1)")
    explain.add_argument("--format", choices=("table", "json"), default="table", help="output (default table)")
    add_database_options(explain, "runtime")
    add_database_options(explain, "historical")


def add_branch_normalization_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--branch-normalization", choices=BRANCH_NORMALIZATION_VALUES,
                        help="none (default): average the branches as they are; l2: L2-normalise each branch first, "
                             "so the weights mean what they say (needs its own --joint-model-id, by convention "
                             f"{l2_model_id(JOINT_MODEL_ID)})")


def _adopt_legacy(commands) -> None:
    adopt = commands.add_parser(
        "adopt-legacy", help="give rows the upstream scripts wrote the space's keys: one row per key",
        description="Find a space's rows written in the upstream scripts' flat entity_scope shape (or in another "
                    "case of a case-insensitive filter, or duplicated), map each to the space's key, and per key "
                    "keep one row: the space's own newest row where there is one (the others are deleted), else "
                    "the newest upstream row rewritten into the space's shape. One transaction per date, under "
                    "the writers' locks; rows that map to no key are reported and left alone. Idempotent.",
    )
    add_space_option(adopt)
    add_date_range_option(adopt, required=False, default_help=" (default: every date)")
    adopt.add_argument("--dry-run", action="store_true", help="print what would change; change nothing")
    adopt.add_argument("--csv", action="store_true", help="CSV on stdout instead of a table")
    add_database_options(adopt, "historical")


def _similar(commands) -> None:
    similar = commands.add_parser(
        "similar", help="the past days of a space that looked most like one day (analog days)",
        description="Rank the days of a space by similarity to one day's joint vector: candidates are the newest "
                    "row of each key of the same joint_type and model_id whose entity_scope is the query's (same "
                    "region and exactly the same filters; --any-region: any region), dated strictly before --date "
                    "unless --include-future. Rows with a NULL or malformed vector are left out and counted on "
                    "stderr. Searched in the database when the pgvector side table exists "
                    "(include/sql/schema/optional_pgvector.sql), exactly with numpy otherwise: the same neighbours.",
    )
    add_space_option(similar)
    similar.add_argument("--region", required=True, help="the query's region")
    add_filter_options(similar, "the query's filter")
    similar.add_argument("--scope", type=argtypes.json_object, metavar="JSON",
                         help="the query's filters object directly, e.g. '{\"country\": \"US\"}' ('{}' = no "
                              "filters), instead of the filter options")
    similar.add_argument("--date", required=True, type=argtypes.iso_date, help="the query's as_of_date")
    similar.add_argument("--top", type=argtypes.positive_int, default=10, help="how many neighbours (default 10)")
    similar.add_argument("--metric", choices=("cosine", "l2"), default="cosine",
                         help="cosine similarity, highest first (default), or L2 distance, smallest first")
    similar.add_argument("--include-future", action="store_true",
                         help="also rank days after --date (never --date itself); default: only earlier days, "
                              "so a backtest never sees the future by accident")
    similar.add_argument("--any-region", action="store_true",
                         help="candidates from every region with the same source and filters")
    similar.add_argument("--joint-model-id", help="joint_embeddings.model_id (default: the space's, "
                                                   "joint-regime-core-v1)")
    similar.add_argument("--approximate", action="store_true",
                         help="with pgvector, search the HNSW index (cosine, 384 dimensions) instead of exactly")
    similar.add_argument("--engine", choices=("auto", "numpy", "pgvector"), default="auto",
                         help="auto (default): pgvector when the side table exists, numpy otherwise")
    similar.add_argument("--format", choices=("table", "csv", "json"), default="table",
                         help="what stdout holds (default table)")
    add_database_options(similar, "historical")


def _vector_index(commands) -> None:
    vector_index = commands.add_parser(
        "vector-index", help="maintain the optional pgvector side table of similar",
        description="rebuild: refill joint_vector_index (include/sql/schema/optional_pgvector.sql) from "
                    "joint_embeddings, one copy per key (its newest row), in one transaction: for rows written "
                    "before the table existed or by other tools. The package's own writes keep it in sync.",
    )
    vector_index.add_argument("action", choices=("rebuild",), help="what to do")
    vector_index.add_argument("--space", type=argtypes.joint_space, action="append", default=[],
                              help="only this space's rows (repeatable; default: every joint type)")
    add_database_options(vector_index, "historical")


def add_filter_options(parser: argparse.ArgumentParser, applies: str) -> None:
    """One ``--<filter>`` option per text filter any space accepts (``dest`` ``filter_<name>``)."""
    for name, (description, joint_types) in filter_options().items():
        parser.add_argument(f"--{name.replace('_', '-')}", dest=f"filter_{name}", metavar="VALUE",
                            help=f"{applies}: {description} (space: {', '.join(joint_types)})")


def add_space_regions_and_dates(parser: argparse.ArgumentParser, *, regions_help: str) -> None:
    """``--space``, repeatable ``--region`` and ``--date-range``: what a command over a space's rows needs."""
    add_space_option(parser)
    parser.add_argument("--region", action="append", default=[], metavar="REGION", help=regions_help)
    add_date_range_option(parser)


def add_space_option(parser: argparse.ArgumentParser) -> None:
    names = ", ".join(f"{space.joint_type} ({space.dag_id})"
                      for space in (*SPACES.values(), *COMBINED_SPACES.values()))
    parser.add_argument("--space", type=argtypes.joint_space, default=REGIME_MACRO_V0,
                        help=f"joint type or DAG id (default {REGIME_MACRO_V0.joint_type}); one of {names}")


def add_date_range_option(parser: argparse.ArgumentParser, *, required: bool = True, default_help: str = "") -> None:
    parser.add_argument("--date-range", nargs=2, required=required, type=argtypes.iso_date, action=argtypes.DateRange,
                        metavar=("START", "END"),
                        help="first and last as_of_date (UTC days, inclusive), e.g. 2025-01-01 2025-01-31"
                             + default_help)


def add_database_options(parser: argparse.ArgumentParser, role: str) -> None:
    """``--<role>-conn-id`` or ``--<role>-dsn``, not both (no argparse default: the environment is read later);
    with the first database, the ``--statement-timeout`` of every query."""
    if not any(action.dest == "statement_timeout" for action in parser._actions):
        parser.add_argument("--statement-timeout", type=argtypes.duration, default=DEFAULT_STATEMENT_TIMEOUT,
                            metavar="DURATION",
                            help="the server cancels any one query running longer, as in the DAG (e.g. 600s, 30m, "
                                 "1h; 0 = no limit; default 10m)")
    conn_id, variable = DATABASE_ROLES[role]
    group = parser.add_mutually_exclusive_group()
    group.add_argument(f"--{role}-conn-id", metavar="CONN_ID",
                       help=f"Airflow connection to {role}_db (default {conn_id}, unless {variable} is set)")
    group.add_argument(f"--{role}-dsn", metavar="DSN",
                       help=f"libpq connection string or URI of {role}_db (e.g. 'host=... dbname=...' or "
                            f"postgresql://user@host:5432/dbname), instead of an Airflow connection: Airflow is not "
                            f"loaded when every database is given this way. Default: ${variable}, if set")
