"""``explain``: recompute one day of one context and say how much each branch weighs in its joint vector."""

from __future__ import annotations

import argparse
from datetime import date

from joint_context.cli.commands.backfill import backfill_params
from joint_context.cli.core import UsageError
from joint_context.cli.output import note, print_figures, write_json
from joint_context.cli.status import ExitStatus
from joint_context.config import RunConfig
from joint_context.errors import JointDataError


def run(args: argparse.Namespace) -> ExitStatus:
    from joint_context.pipeline.explain import explain_day

    space = args.space
    if args.date == date.max:
        raise UsageError(f"--date {args.date} is the last date there is; a day's window ends at the next day")
    # the backfill's params for one --region: the same filters checks, defaults and model-id rule
    params, conf_keys = backfill_params(space, argparse.Namespace(**{**vars(args), "region": [args.region],
                                                                     "conf": None}))
    config = RunConfig.from_params(space, params, conf_keys)
    with (args.runtime_db.open(args.statement_timeout) as runtime_conn,
          args.historical_db.open(args.statement_timeout) as historical_conn):
        try:
            explanation = explain_day(runtime_conn, historical_conn, config, args.date)
        except JointDataError as error:  # a malformed input vector: the day has no joint vector
            note(f"No {space.joint_type} joint vector for {config.contexts[0].describe()} on {args.date}: "
                 f"{type(error).__name__}: {error}")
            return ExitStatus.FAILED_DATES
    figures = explanation.to_dict()
    if args.format == "json":
        write_json(figures)
    else:
        print_explanation(figures, explanation.result.description)
    if explanation.result.vector is None:
        note(f"No {space.joint_type} joint vector for {explanation.result.description} on {args.date}: "
             f"{explanation.result.skip_reason}.")
        return ExitStatus.FAILED_DATES
    return ExitStatus.OK


def print_explanation(figures: dict, description: str) -> None:
    print(f"{figures['joint_type']} {figures['as_of_date']} {description}: model_id {figures['model_id']}, "
          f"branch_normalization {figures['branch_normalization']}, weights w_num {figures['numeric_weight']} "
          f"w_text {figures['text_weight']}")
    print(f"Inputs: regime row {figures['regime_record_id'] or 'none'}; {figures['text_vector_count']} text "
          f"vector(s), {figures['text_null_count']} with a NULL vector left out")
    stored = figures["stored_row"]
    if stored is None:
        stored_text = f"none for this key and model_id {figures['model_id']}"
    elif stored["equal"] is None:
        stored_text = f"joint_id {stored['joint_id']}: not comparable ({stored['note'] or 'no recomputed vector'})"
    else:
        stored_text = (f"joint_id {stored['joint_id']}: {'equal to' if stored['equal'] else 'differs from'} the "
                       f"recomputed vector (max |difference| {stored['max_abs_difference']:.6g})"
                       f"{'; ' + stored['note'] if stored['note'] else ''}")
    print_figures([
        ("|w_num*z_num| (numeric branch)", figures["numeric_norm"]),
        ("|w_text*z_text| (text branch)", figures["text_norm"]),
        ("numeric share", figures["numeric_share"]),
        ("text share", figures["text_share"]),
        ("cos(z_joint, z_num)", figures["cosine_joint_numeric"]),
        ("cos(z_joint, z_text)", figures["cosine_joint_text"]),
        ("|z_joint|", figures["joint_l2_norm"]),
        ("dimension", figures["dimension"]),
        ("skip reason", figures["skip_reason"]),
        ("stored row", stored_text),
    ])
