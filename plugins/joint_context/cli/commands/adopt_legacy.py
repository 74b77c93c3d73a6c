"""``adopt-legacy``: give a space's rows of the upstream scripts' shapes the space's keys, one row per key."""

from __future__ import annotations

import argparse
from datetime import date

from joint_context.cli.output import note, print_table, write_csv
from joint_context.cli.status import ExitStatus

ADOPT_COLUMNS = ("as_of_date", "model_id", "region", "filters", "kept_joint_id", "kept", "vector", "deleted_joint_ids")
SHOWN_LEFT_ALONE = 10


def run(args: argparse.Namespace) -> ExitStatus:
    from joint_context.pipeline.adopt import adopt_legacy_rows
    from joint_context.spaces import canonical_json

    space = args.space
    first_date, last_date = args.date_range or (date.min, date.max)
    records, left_alone, dates, rewritten, deleted = [], [], 0, 0, 0
    with args.historical_db.open(args.statement_timeout) as historical_conn:
        for adoption in adopt_legacy_rows(historical_conn, space, first_date=first_date, last_date=last_date,
                                          dry_run=args.dry_run):
            dates += bool(adoption.keys)
            rewritten, deleted = rewritten + adoption.rewritten, deleted + adoption.deleted
            left_alone += adoption.left_alone
            records += [
                (key.as_of_date.isoformat(), key.model_id, key.entity_scope["region"],
                 canonical_json(key.entity_scope[space.filters_key]), key.kept_joint_id,
                 "rewritten from upstream" if key.rewrite else "already the space's",
                 "yes" if key.kept_has_vector else "NULL", " ".join(map(str, key.deleted_joint_ids)) or "-")
                for key in adoption.keys
            ]
    if args.csv:
        write_csv(ADOPT_COLUMNS, records)
    elif records:
        print_table(ADOPT_COLUMNS, records)
    verb = ("would rewrite", "would delete") if args.dry_run else ("rewrote", "deleted")
    note(f"{space.joint_type}: {len(records)} key(s) on {dates} date(s) in {args.historical_db.label}: "
         f"{verb[0]} {rewritten} row(s) into the space's shape, {verb[1]} {deleted} row(s)"
         f"{' (dry run: nothing changed)' if args.dry_run else ''}.")
    if left_alone:
        shown = "; ".join(f"joint_id {row.joint_id} ({row.as_of_date}): {row.reason}"
                          for row in left_alone[:SHOWN_LEFT_ALONE])
        more = f"; and {len(left_alone) - SHOWN_LEFT_ALONE} more" if len(left_alone) > SHOWN_LEFT_ALONE else ""
        note(f"Left alone {len(left_alone)} row(s) that map to no {space.joint_type} key: {shown}{more}.")
    return ExitStatus.OK
