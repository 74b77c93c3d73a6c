"""Write: one date's joint rows in one transaction, and the log lines that say what happened (no Airflow)."""

from __future__ import annotations

import logging
from datetime import date

from joint_context.config import RunConfig
from joint_context.pipeline.aggregate import ScopeResult
from joint_context.pipeline.extract import ExtractedScope
from joint_context.store import JointRow, WriteOutcome, replace_joint_rows
from joint_context.vectors import encode_vector

log = logging.getLogger("joint_context.pipeline")
ACTION_COUNTS = ("written", "replaced", "skipped", "removed")


def joint_rows(results: list[ScopeResult]) -> list[JointRow]:
    """What each scope should leave in ``joint_embeddings``: its encoded vector, or nothing if skipped."""
    return [
        JointRow(result.entity_scope, None if result.vector is None else encode_vector(result.vector))
        for result in results
    ]


def write_day(historical_conn, config: RunConfig, as_of_date: date, results: list[ScopeResult]) -> list[WriteOutcome]:
    """Write the date's joint rows and remove the stale rows of skipped scopes, in one transaction."""
    return replace_joint_rows(
        historical_conn, joint_type=config.space.joint_type, model_id=config.joint_model_id,
        as_of_date=as_of_date, rows=joint_rows(results), case_insensitive=config.space.case_insensitive_filters,
    )


def log_extracted(as_of_date: date, extracted: list[ExtractedScope]) -> None:
    for item in extracted:
        log.info(
            "%s %s: regime row %s; %d text vectors, %d with a NULL vector left out",
            as_of_date, item.scope.describe(), item.regime_record_id or "none", item.text.vector_count,
            item.text.null_count,
        )


def log_results(as_of_date: date, results: list[ScopeResult]) -> None:
    for result in results:
        if result.vector is None:
            log.info("%s %s: skipped, %s", as_of_date, result.description, result.skip_reason)
        else:
            log.info(
                "%s %s: joint vector from regime %s and %d text vectors, dim %d, L2 norm %.6f; %s",
                as_of_date, result.description, result.regime_record_id, result.text_vector_count,
                result.vector.shape[0], result.l2_norm, branch_text(result),
            )


def branch_text(result: ScopeResult) -> str:
    """The weighted branches' norms and the text branch's share of a scope's joint vector, for a log line."""
    if result.text_share is None and result.numeric_branch_norm is None:
        return "branch norms not computed"
    share = "undefined (both 0)" if result.text_share is None else f"{result.text_share:.3g}"
    return (f"branch norms |w_num*z_num| {result.numeric_branch_norm:.6g}, |w_text*z_text| "
            f"{result.text_branch_norm:.6g}, text share {share}")


def log_outcomes(as_of_date: date, results: list[ScopeResult], outcomes: list[WriteOutcome]) -> dict:
    """Log what the write did per scope; return the counts per action and a line per scope."""
    counts = dict.fromkeys(ACTION_COUNTS, 0)
    summary = []
    for result, outcome in zip(results, outcomes, strict=True):
        if outcome.action == "written":
            log.info("%s %s: written; %s", as_of_date, result.description, branch_text(result))
        elif outcome.action == "replaced":
            log.info("%s %s: replaced %d previous row(s); %s", as_of_date, result.description, outcome.previous_rows,
                     branch_text(result))
        elif outcome.action == "removed":
            log.info(
                "%s %s: skipped (%s); removed %d stale row(s) of an earlier run",
                as_of_date, result.description, result.skip_reason, outcome.previous_rows,
            )
        else:
            log.info("%s %s: skipped (%s)", as_of_date, result.description, result.skip_reason)
        counts["skipped" if outcome.action in ("removed", "nothing") else outcome.action] += 1
        counts["removed"] += outcome.action == "removed"
        summary.append({
            "entity_scope": result.entity_scope,
            "action": "skipped" if outcome.action == "nothing" else outcome.action,
            "previous_rows": outcome.previous_rows,
            "skip_reason": result.skip_reason,
            "text_vector_count": result.text_vector_count,
            "l2_norm": result.l2_norm,
            "text_share": result.text_share,
        })
    log.info(
        "%s: %d written, %d replaced, %d skipped (%d stale rows removed)",
        as_of_date, counts["written"], counts["replaced"], counts["skipped"], counts["removed"],
    )
    return {"as_of_date": as_of_date.isoformat(), "counts": counts, "contexts": summary}
