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
from datetime import timedelta
from typing import TYPE_CHECKING

from joint_context.asset_events import attach_asset_extra
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
from joint_context.lineage_methods import ReportsLineage, count_facts
from joint_context.run_day import (
    AS_OF_DATE_TEMPLATE,
    parse_as_of_date,
    refuse_as_of_date_on_runs_with_their_own_day,
    run_type_of,
)
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
    """The run's validated config from ``params``, rejecting unknown ``dag_run.conf`` keys, and an ``as_of_date``
    on a run that is not manual (:mod:`joint_context.run_day`)."""
    dag_run = context.get("dag_run")
    conf_keys = (getattr(dag_run, "conf", None) or {}).keys()
    config = RunConfig.from_params(space, context["params"], conf_keys)
    refuse_as_of_date_on_runs_with_their_own_day(config.as_of_date, dag_run)
    return config


class ExtractJointInputsOperator(ReportsLineage, BaseOperator):
    """Read one date's newest regime vector and text-vector sum and count for every context of a space.

    :param space: the joint space to compute.
    :param as_of_date: the UTC day to read (templated; the ``as_of_date`` param when set, else ``{{ ds }}``).
    :param runtime_conn_id: Airflow connection to ``runtime_db`` (regimes).
    :param historical_conn_id: Airflow connection to ``historical_db`` (text embeddings and events).
    :param statement_timeout: the server cancels a query running longer (``None``: the connection's setting).
    """

    template_fields: Sequence[str] = ("as_of_date", "runtime_conn_id", "historical_conn_id")

    def __init__(
        self,
        *,
        space: JointSpace,
        as_of_date: str = AS_OF_DATE_TEMPLATE,
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
        self.lineage_facts: dict = {}  # what execute got to, for the OpenLineage facet

    def execute(self, context: Context) -> dict:
        from joint_context.pipeline import extract_day, log_extracted

        self.lineage_facts = {"as_of_date": str(self.as_of_date)}
        with fail_without_retry_on_data_error():
            config = run_config(self.space, context)
            as_of_date = parse_as_of_date(self.as_of_date)
            self.lineage_facts["model_id"] = config.joint_model_id
            with (
                connection(self.runtime_conn_id, self.statement_timeout) as runtime_conn,
                connection(self.historical_conn_id, self.statement_timeout) as historical_conn,
            ):
                extracted = extract_day(runtime_conn, historical_conn, config, as_of_date)
        log_extracted(as_of_date, extracted)
        self.lineage_facts.update(
            contexts=len(extracted), regimes_found=sum(item.regime_vector is not None for item in extracted),
            text_vectors_read=sum(item.text.vector_count for item in extracted),
            null_text_vectors=sum(item.text.null_count for item in extracted),
        )
        return {"as_of_date": as_of_date.isoformat(), "contexts": [item.to_xcom() for item in extracted]}

    def lineage(self, facts: dict):
        """OpenLineage: ``regimes``, ``text_embeddings`` and the event table read, with the space, date and counts."""
        from joint_context.lineage import extract_lineage

        return extract_lineage(self.space, self.runtime_conn_id, self.historical_conn_id, facts)


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


class WriteJointEmbeddingsOperator(ReportsLineage, BaseOperator):
    """Write the date's joint vectors to ``joint_embeddings``, one row per key, in one transaction.

    Rows of skipped contexts left by earlier runs are removed, so derived rows mirror their sources.

    :param space: the joint space to write.
    :param aggregated: the aggregate task's output (templated; pass ``aggregate_task.output``).
    :param historical_conn_id: Airflow connection to ``historical_db``.
    :param statement_timeout: the server cancels a statement running longer (``None``: the connection's setting).
    :param runtime_conn_id: the extract's connection to ``runtime_db``: not opened, only named as an input in the
        task's OpenLineage events.
    """

    template_fields: Sequence[str] = ("aggregated", "historical_conn_id", "runtime_conn_id")

    def __init__(
        self, *, space: JointSpace, aggregated, historical_conn_id: str = HISTORICAL_CONN_ID,
        statement_timeout: timedelta | None = None, runtime_conn_id: str = RUNTIME_CONN_ID, **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.space = space
        self.aggregated = aggregated
        self.historical_conn_id = historical_conn_id
        self.statement_timeout = statement_timeout
        self.runtime_conn_id = runtime_conn_id
        self.lineage_facts: dict = {}  # what execute got to, for the OpenLineage facet

    def execute(self, context: Context) -> dict:
        from joint_context.pipeline import ScopeResult, log_outcomes, write_day

        with fail_without_retry_on_data_error():
            config = run_config(self.space, context)
            as_of_date = parse_as_of_date(self.aggregated["as_of_date"])
            results = [ScopeResult.from_xcom(item) for item in self.aggregated["results"]]
            self.lineage_facts = {"as_of_date": as_of_date.isoformat(), "model_id": config.joint_model_id,
                                  "contexts": len(results),
                                  "text_vectors_read": sum(result.text_vector_count for result in results)}
            with connection(self.historical_conn_id, self.statement_timeout) as historical_conn:
                outcomes = write_day(historical_conn, config, as_of_date, results)
        summary = log_outcomes(as_of_date, results, outcomes)
        self.lineage_facts.update(count_facts([summary["counts"]]))
        attach_asset_extra(self, context, summary)
        return summary

    def lineage(self, facts: dict):
        """OpenLineage: ``joint_embeddings`` written from ``regimes``, ``text_embeddings`` and the event table,
        with the space, date and counts."""
        from joint_context.lineage import write_lineage

        return write_lineage(self.space, self.runtime_conn_id, self.historical_conn_id, facts)


class RegimeAvailableSensor(BaseSensorOperator):
    """On scheduled runs, wait until every context's region has a regime row for the date.

    Manual runs and backfills do not wait: a missing regime is skipped there, as it always was. A transient
    database error during a poke (refused or reset connection, restart, statement timeout) is logged and the
    sensor pokes again at the next interval; an error no wait can fix (missing grant, table or column) fails it.

    :param space: the joint space whose contexts to check.
    :param as_of_date: the UTC day (templated; the ``as_of_date`` param when set, else ``{{ ds }}``).
    :param runtime_conn_id: Airflow connection to ``runtime_db``.
    :param statement_timeout: the server cancels a query running longer (``None``: the connection's setting).
    """

    template_fields: Sequence[str] = ("as_of_date", "runtime_conn_id")

    def __init__(
        self, *, space: JointSpace, as_of_date: str = AS_OF_DATE_TEMPLATE, runtime_conn_id: str = RUNTIME_CONN_ID,
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
        run_type = run_type_of(context.get("dag_run"))
        if run_type != "scheduled":
            self.log.info("%s run: not waiting for inputs (missing regimes are skipped)", run_type or "unknown")
            return True
        with fail_without_retry_on_data_error():
            config = run_config(self.space, context)
            as_of_date = parse_as_of_date(self.as_of_date)
        from joint_context.store import fetch_regimes

        regions = sorted({item.region for item in config.contexts})
        with fail_without_retry_on_data_error():
            try:
                with connection(self.runtime_conn_id, self.statement_timeout) as runtime_conn:
                    regimes = fetch_regimes(runtime_conn, regions, as_of_date, as_of_date)
            except Exception as error:
                if not (is_database_error(error) and is_transient(error)):
                    raise
                # a blip (refused or reset connection, restart, timeout) must not fail a run that may wait hours
                self.log.warning("%s: could not read runtime_db.regimes (%s): a transient error; poking again "
                                 "in %s s", as_of_date, describe_database_error(error), self.poke_interval)
                return False
        self.missing_regions = [
            region for region in regions
            if regimes.get((region, as_of_date)) is None or regimes[(region, as_of_date)].regime_embedding is None
        ]
        if self.missing_regions:
            self.log.info("%s: waiting for regimes of %s", as_of_date, self.missing_regions)
            return False
        self.log.info("%s: regimes present for %s", as_of_date, regions)
        return True

