"""The day a run processes, for every DAG of the package (no Airflow import).

A scheduled or backfill run processes its data interval's day (``{{ ds }}``); an asset-triggered run of the
combined DAG the dates its events name; a manual run its logical date's UTC day, or the ``as_of_date`` param when
set (the trigger form's time-zone-free day field), which the other run types refuse: one date for every run of a
backfill would be a mistake.
"""

from __future__ import annotations

from datetime import date

from joint_context.errors import JointDataError, ParamsError

# The day a task processes: the ``as_of_date`` param when set, else ``ds``.
AS_OF_DATE_TEMPLATE = "{{ params.as_of_date or ds }}"

RUN_TYPES_WITH_THEIR_OWN_DAY = frozenset({"scheduled", "backfill", "asset_triggered", "dataset_triggered"})


def refuse_as_of_date_on_runs_with_their_own_day(as_of_date: date | None, dag_run: object) -> None:
    """Raise :class:`ParamsError` when ``as_of_date`` is set on a run that is not manual."""
    run_type = run_type_of(dag_run)
    if as_of_date is not None and run_type in RUN_TYPES_WITH_THEIR_OWN_DAY:
        raise ParamsError(f"as_of_date={as_of_date} is for manual runs; this {run_type} run processes its own "
                          "day (its data interval start, or the dates its asset events name): leave as_of_date out "
                          "of the conf")


def run_type_of(dag_run: object) -> str | None:
    run_type = getattr(dag_run, "run_type", None)
    return getattr(run_type, "value", run_type)  # a DagRunType enum or its plain string value


def parse_as_of_date(value: str | date) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value)
    except ValueError as error:
        raise JointDataError(f"as_of_date must be an ISO date like 2025-01-02, got {value!r}") from error
