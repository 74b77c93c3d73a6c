"""Extract, aggregate and write operators for a joint space: ``PostgresHook`` glue over :mod:`pipeline`.

Each task reads the run's params through :class:`RunConfig` (so a bad ``--conf`` fails before any data is
touched), and hands the next task O(dimension) data per context through XCom.
A data error (malformed vector, bad params) or a database error no retry can fix (an undefined column, a missing
grant, a read-only database: classified by SQLSTATE) fails the task at once without retries; a transient one,
such as a dropped connection or a serialization failure, fails it normally so that Airflow retries it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from datetime import date, timedelta
from typing import TYPE_CHECKING

from joint_context.compat import AirflowFailException, AirflowSensorTimeout, BaseOperator, BaseSensorOperator
from joint_context.config import RunConfig
from joint_context.connections import (
    HISTORICAL_CONN_ID,
    RUNTIME_CONN_ID,
    connection,
    describe_database_error,
    is_database_error,
    is_transient,
    what_to_fix,
)
from joint_context.errors import JointDataError
from joint_context.spaces import JointSpace

if TYPE_CHECKING:
    from joint_context.compat import Context

# joint_context.pipeline and .store (numpy, SQL) are imported inside execute(): DAG files parse without them.


@contextlib.contextmanager
def fail_without_retry_on_data_error() -> Iterator[None]:
    """Turn a :class:`JointDataError`, or a database error that is not transient, into ``AirflowFailException``:
    retrying cannot fix the data, the schema, the grants or the database's mode."""
    try:
        yield
    except JointDataError as error:
        raise AirflowFailException(f"{type(error).__name__}: {error}") from error
    except Exception as error:
        if not is_database_error(error) or is_transient(error):
            raise
        fix = what_to_fix(error)
        raise AirflowFailException(f"{describe_database_error(error)}; retrying will not help"
                                   f"{' until it is fixed: ' + fix if fix else ''}") from error


def run_config(space: JointSpace, context: Context) -> RunConfig:
    """The run's validated config from ``params``, rejecting unknown ``dag_run.conf`` keys."""
    dag_run = context.get("dag_run")
    conf_keys = (getattr(dag_run, "conf", None) or {}).keys()
    return RunConfig.from_params(space, context["params"], conf_keys)


def parse_as_of_date(value: str | date) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value)
    except ValueError as error:
        raise JointDataError(f"as_of_date must be an ISO date like 2025-01-02, got {value!r}") from error


class ExtractJointInputsOperator(BaseOperator):
    """Read one date's newest regime vector and text-vector sum and count for every context of a space.

    :param space: the joint space to compute.
    :param as_of_date: the UTC day to read (templated; ``{{ ds }}`` by default).
    :param runtime_conn_id: Airflow connection to ``runtime_db`` (regimes).
    :param historical_conn_id: Airflow connection to ``historical_db`` (text embeddings and events).
    :param statement_timeout: the server cancels a query running longer (``None``: the connection's setting).
    """

    template_fields: Sequence[str] = ("as_of_date", "runtime_conn_id", "historical_conn_id")

    def __init__(
        self,
        *,
        space: JointSpace,
        as_of_date: str = "{{ ds }}",
        runtime_conn_id: str = RUNTIME_CONN_ID,
        historical_conn_id: str = HISTORICAL_CONN_ID,
        statement_timeout: timedelta | None = None,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.space = space
        self.as_of_date = as_of_date
        self.runtime_conn_id = runtime_conn_id
        self.historical_conn_id = historical_conn_id
        self.statement_timeout = statement_timeout

    def execute(self, context: Context) -> dict:
        from joint_context.pipeline import extract_day, log_extracted

        with fail_without_retry_on_data_error():
            config = run_config(self.space, context)
            as_of_date = parse_as_of_date(self.as_of_date)
            with (
                connection(self.runtime_conn_id, self.statement_timeout) as runtime_conn,
                connection(self.historical_conn_id, self.statement_timeout) as historical_conn,
            ):
                extracted = extract_day(runtime_conn, historical_conn, config, as_of_date)
        log_extracted(as_of_date, extracted)
        return {"as_of_date": as_of_date.isoformat(), "contexts": [item.to_xcom() for item in extracted]}


class AggregateJointOperator(BaseOperator):
    """Fuse each context's regime vector with its mean text vector using the run's weights.

    :param space: the joint space to compute.
    :param extracted: the extract task's output (templated; pass ``extract_task.output``).
    """

    template_fields: Sequence[str] = ("extracted",)

    def __init__(self, *, space: JointSpace, extracted, **kwargs) -> None:
        super().__init__(**kwargs)
        self.space = space
        self.extracted = extracted

    def execute(self, context: Context) -> dict:
        from joint_context.pipeline import ExtractedScope, aggregate_day, log_results

        with fail_without_retry_on_data_error():
            config = run_config(self.space, context)
            as_of_date = parse_as_of_date(self.extracted["as_of_date"])
            extracted = [ExtractedScope.from_xcom(item) for item in self.extracted["contexts"]]
            results = aggregate_day(extracted, config)
        log_results(as_of_date, results)
        return {"as_of_date": as_of_date.isoformat(), "results": [result.to_xcom() for result in results]}


class WriteJointEmbeddingsOperator(BaseOperator):
    """Write the date's joint vectors to ``joint_embeddings``, one row per key, in one transaction.

    Rows of skipped contexts left by earlier runs are removed, so derived rows mirror their sources.

    :param space: the joint space to write.
    :param aggregated: the aggregate task's output (templated; pass ``aggregate_task.output``).
    :param historical_conn_id: Airflow connection to ``historical_db``.
    :param statement_timeout: the server cancels a statement running longer (``None``: the connection's setting).
    """

    template_fields: Sequence[str] = ("aggregated", "historical_conn_id")

    def __init__(
        self, *, space: JointSpace, aggregated, historical_conn_id: str = HISTORICAL_CONN_ID,
        statement_timeout: timedelta | None = None, **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.space = space
        self.aggregated = aggregated
        self.historical_conn_id = historical_conn_id
        self.statement_timeout = statement_timeout

    def execute(self, context: Context) -> dict:
        from joint_context.pipeline import ScopeResult, log_outcomes, write_day

        with fail_without_retry_on_data_error():
            config = run_config(self.space, context)
            as_of_date = parse_as_of_date(self.aggregated["as_of_date"])
            results = [ScopeResult.from_xcom(item) for item in self.aggregated["results"]]
            with connection(self.historical_conn_id, self.statement_timeout) as historical_conn:
                outcomes = write_day(historical_conn, config, as_of_date, results)
        summary = log_outcomes(as_of_date, results, outcomes)
        attach_asset_extra(self, context, summary)
        return summary


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


class RegimeAvailableSensor(BaseSensorOperator):
    """On scheduled runs, wait until every context's region has a regime row for the date.

    Manual runs and backfills do not wait: a missing regime is skipped there, as it always was.

    :param space: the joint space whose contexts to check.
    :param as_of_date: the UTC day (templated; ``{{ ds }}`` by default).
    :param runtime_conn_id: Airflow connection to ``runtime_db``.
    :param statement_timeout: the server cancels a query running longer (``None``: the connection's setting).
    """

    template_fields: Sequence[str] = ("as_of_date", "runtime_conn_id")

    def __init__(
        self, *, space: JointSpace, as_of_date: str = "{{ ds }}", runtime_conn_id: str = RUNTIME_CONN_ID,
        statement_timeout: timedelta | None = None, **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.space = space
        self.as_of_date = as_of_date
        self.runtime_conn_id = runtime_conn_id
        self.statement_timeout = statement_timeout
        self.missing_regions: list[str] = []

    def execute(self, context: Context):
        try:
            return super().execute(context)
        except AirflowSensorTimeout as error:
            raise AirflowSensorTimeout(
                f"{error} Still missing in runtime_db.regimes for {self.as_of_date}: "
                f"a regime_embedding for region(s) {self.missing_regions}."
            ) from error

    def poke(self, context: Context) -> bool:
        run_type = getattr(context.get("dag_run"), "run_type", None)
        run_type = getattr(run_type, "value", run_type)  # a DagRunType enum or its plain string value
        if run_type != "scheduled":
            self.log.info("%s run: not waiting for inputs (missing regimes are skipped)", run_type or "unknown")
            return True
        with fail_without_retry_on_data_error():
            config = run_config(self.space, context)
            as_of_date = parse_as_of_date(self.as_of_date)
        from joint_context.store import fetch_regimes

        regions = sorted({item.region for item in config.contexts})
        with connection(self.runtime_conn_id, self.statement_timeout) as runtime_conn:
            regimes = fetch_regimes(runtime_conn, regions, as_of_date, as_of_date)
        self.missing_regions = [
            region for region in regions
            if regimes.get((region, as_of_date)) is None or regimes[(region, as_of_date)].regime_embedding is None
        ]
        if self.missing_regions:
            self.log.info("%s: waiting for regimes of %s", as_of_date, self.missing_regions)
            return False
        self.log.info("%s: regimes present for %s", as_of_date, regions)
        return True

