"""The combined space's operator: ``PostgresHook`` glue over :mod:`joint_context.pipeline.combine`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import TYPE_CHECKING

from joint_context.combined_config import CombinedRunConfig
from joint_context.combined_space import CombinedSpace
from joint_context.compat import BaseOperator, events_since_run_was_created, triggering_events
from joint_context.connections import HISTORICAL_CONN_ID, connection
from joint_context.errors import JointDataError
from joint_context.lineage_methods import ReportsLineage, count_facts, date_facts
from joint_context.operators import fail_without_retry_on_data_error
from joint_context.run_day import parse_as_of_date, refuse_as_of_date_on_runs_with_their_own_day

if TYPE_CHECKING:
    from joint_context.compat import Context


class CombineJointSpacesOperator(ReportsLineage, BaseOperator):
    """Compute the combined space for the run's dates: read the branches' newest rows, combine, write each date in
    its own transaction.

    The dates: ``as_of_date`` when given (the operator's, else the ``as_of_date`` param of a manual run); else every
    date named by the asset events that triggered the run and by
    the events of its ``inlets`` registered since, each once; else the run's ``{{ ds }}`` (scheduled, manual and
    backfill runs). A date with a malformed input row
    writes nothing; the other dates are written, then the task fails naming the bad rows.

    :param space: the combined space.
    :param as_of_date: one date to compute (templated), instead of the run's.
    :param historical_conn_id: Airflow connection to ``historical_db`` (read and written).
    :param statement_timeout: the server cancels a query running longer (``None``: the connection's setting).
    """

    template_fields: Sequence[str] = ("as_of_date", "historical_conn_id")

    def __init__(
        self, *, space: CombinedSpace, as_of_date: str | None = None, historical_conn_id: str = HISTORICAL_CONN_ID,
        statement_timeout: timedelta | None = None, **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.space = space
        self.as_of_date = as_of_date
        self.historical_conn_id = historical_conn_id
        self.statement_timeout = statement_timeout
        self.lineage_facts: dict = {}  # what execute got to, for the OpenLineage facet

    def execute(self, context: Context) -> dict:
        from joint_context.pipeline.combine import combine_range, write_combined_day

        with fail_without_retry_on_data_error():
            dag_run = context.get("dag_run")
            config = CombinedRunConfig.from_params(self.space, context["params"],
                                                   (getattr(dag_run, "conf", None) or {}).keys())
            refuse_as_of_date_on_runs_with_their_own_day(config.as_of_date, dag_run)
            dates = self.dates_to_compute(context, config)
            self.lineage_facts = {**date_facts(dates), "model_id": config.joint_model_id,
                                  "contexts": len(config.contexts)}
            summaries, failures = [], []
            with connection(self.historical_conn_id, self.statement_timeout) as historical_conn:
                for as_of_date in dates:
                    (day,) = combine_range(historical_conn, config, as_of_date, as_of_date)
                    if day.error is not None:
                        self.log.error("%s: %s, nothing written for this date", as_of_date, day.error)
                        failures.append(f"{as_of_date}: {day.error}")
                        continue
                    summaries.append(write_combined_day(historical_conn, config, as_of_date, day.results))
            self.lineage_facts.update(count_facts(summary["counts"] for summary in summaries))
            if failures:
                raise JointDataError(f"{len(failures)} date(s) failed, the others were written: {'; '.join(failures)}")
        return {"dates": [as_of_date.isoformat() for as_of_date in dates], "summaries": summaries}

    def dates_to_compute(self, context: Context, config: CombinedRunConfig) -> list[date]:
        """The operator's ``as_of_date``, else the run's ``as_of_date`` param, else the dates the asset events
        name, else ``{{ ds }}`` (see the class docstring)."""
        from joint_context.pipeline.combine import dates_named_by_events

        if self.as_of_date:
            return [parse_as_of_date(self.as_of_date)]
        if config.as_of_date is not None:
            return [config.as_of_date]
        if events := triggering_events(context):
            # events registered since the run was created are recomputed too: one may have lost its queue entry
            later = events_since_run_was_created(context, self.inlets)
            dates = dates_named_by_events(event.extra for event in [*events, *later])
            self.log.info("%d asset event(s), %d registered since the run was created, name %d date(s): %s",
                          len(events) + len(later), len(later), len(dates), ", ".join(map(str, dates)) or "none")
            return dates
        if context.get("ds") is not None:
            return [parse_as_of_date(context["ds"])]
        raise JointDataError("this run has no logical date, no as_of_date and no asset event naming a date: trigger "
                             "it with a logical date or an as_of_date, e.g. --conf '{\"as_of_date\": \"2025-01-02\"}'")

    def lineage(self, facts: dict):
        """OpenLineage: the branch spaces' rows of ``joint_embeddings`` in, the combined rows out, with the
        dates and counts."""
        from joint_context.lineage import combined_lineage

        return combined_lineage(self.space, self.historical_conn_id, facts)
