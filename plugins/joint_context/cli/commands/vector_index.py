"""``vector-index rebuild``: refill the optional pgvector side table of ``similar`` from ``joint_embeddings``."""

from __future__ import annotations

import argparse

from joint_context.cli.output import note
from joint_context.cli.status import ExitStatus
from joint_context.store import VECTOR_INDEX_TABLE, vector_index_present


def run(args: argparse.Namespace) -> ExitStatus:
    from joint_context.search import rebuild_vector_index

    joint_types = [space.joint_type for space in args.space] or None
    with args.historical_db.open(args.statement_timeout) as historical_conn:
        with historical_conn.cursor() as cursor:
            present = vector_index_present(cursor)
        historical_conn.rollback()
        if not present:
            note(f"error: {args.historical_db.label} has no table {VECTOR_INDEX_TABLE}: run "
                 "include/sql/schema/optional_pgvector.sql there first (it needs the pgvector extension).")
            return ExitStatus.DATABASE_REFUSED
        rebuilt = rebuild_vector_index(historical_conn, joint_types)
    print(f"{VECTOR_INDEX_TABLE} rebuilt ({', '.join(joint_types) if joint_types else 'every joint type'}): "
          f"{rebuilt.copies} key(s) copied, {rebuilt.usable} with a vector, "
          f"{rebuilt.copies - rebuilt.usable} whose newest row's vector is NULL or malformed")
    return ExitStatus.OK
