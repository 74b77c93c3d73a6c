"""``show``: list a space's joint vectors with norm, dimension and cosine to the previous available day."""

from __future__ import annotations

import argparse

from joint_context.cli.output import note, print_table, write_csv
from joint_context.cli.status import ExitStatus

SHOW_COLUMNS = ("as_of_date", "region", "filters", "model_id", "dim", "l2_norm", "cosine_prev", "prev_date", "note")


def run(args: argparse.Namespace) -> ExitStatus:
    from joint_context.views import fetch_joint_vectors

    space, (first_date, last_date) = args.space, args.date_range
    with args.historical_db.open(args.statement_timeout) as historical_conn:
        stored = fetch_joint_vectors(historical_conn, space, first_date=first_date, last_date=last_date,
                                     regions=args.region, model_id=args.joint_model_id)
    if stored.foreign:
        note(stored.foreign_note(space))
    rows = stored.rows
    if not rows:
        regions = ", ".join(args.region) or "any region"
        model = f", model_id {args.joint_model_id}" if args.joint_model_id else ""
        note(f"No {space.joint_type} joint vectors for {regions} between {first_date} and {last_date}{model} "
             f"in {args.historical_db.label}.joint_embeddings.")
        return ExitStatus.OK
    records = [
        (row.as_of_date.isoformat(), row.region, row.filters_text, row.model_id, row.dimension, row.l2_norm,
         row.previous_cosine, row.previous_date and row.previous_date.isoformat(), row.note)
        for row in rows
    ]
    if args.csv:
        write_csv(SHOW_COLUMNS, records)
    else:
        print(f"{space.joint_type} ({space.title}), {first_date}..{last_date}: {len(rows)} vector(s); "
              f"cosine_prev = cosine similarity to the previous available day of the same series")
        print_table(SHOW_COLUMNS, records)
    return ExitStatus.OK
