"""What a write task says in its asset events: the date it wrote, so that a DAG scheduled on the asset (the
combined space) recomputes exactly that date (Airflow layer; ``outlet_events`` on Airflow 3 and 2.11 alike)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from joint_context.compat import BaseOperator, Context


def attach_asset_extra(operator: BaseOperator, context: Context, summary: dict) -> None:
    """Name the date written in the ``extra`` of the task's asset events, so that a DAG scheduled on the asset
    (the combined space) recomputes exactly that date: ``{"as_of_date", "written", "skipped", "removed"}``,
    ``written`` counting new and replaced rows."""
    outlet_events = context.get("outlet_events")
    if outlet_events is None:  # an operator run outside a task (a test's plain dict)
        return
    counts = summary["counts"]
    extra = {"as_of_date": summary["as_of_date"], "written": counts["written"] + counts["replaced"],
             "skipped": counts["skipped"], "removed": counts["removed"]}
    for outlet in operator.outlets:
        outlet_events[outlet].extra = extra
