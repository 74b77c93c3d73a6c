"""OpenLineage of the tasks that read or write the tables: extract, write, a rebuild's chunks and the combined
space's task; the tables they read and write, and what the day (or range) did.

Airflow layer. Imported only from the operators' ``get_openlineage_facets_on_*`` methods, which the
``apache-airflow-providers-openlineage`` listener calls, so the package imports (and the DAGs run) without the
provider. Datasets follow the provider's Postgres naming: namespace ``postgres://{host}:{port}`` and name
``{database}.{schema}.{table}``, both from the task's Airflow connection as ``PostgresHook`` reports them (the
hook the tasks open their connections with), so they name the same tables as the provider's own SQL operators.
"""

from __future__ import annotations

import attrs
from airflow.providers.openlineage.extractors import OperatorLineage
from attrs import define
from openlineage.client.event_v2 import Dataset
from openlineage.client.facet_v2 import RunFacet, column_lineage_dataset

from joint_context.combined_space import CombinedSpace
from joint_context.spaces import JointSpace

SCHEMA = "public"  # the schema include/sql/schema creates the tables in; the package's queries name no schema
REGIMES_TABLE = "regimes"
TEXT_EMBEDDINGS_TABLE = "text_embeddings"
JOINT_EMBEDDINGS_TABLE = "joint_embeddings"
RUN_FACET_NAME = "jointContext"


@define
class JointContextRunFacet(RunFacet):
    """What one task of one joint space did for one ``as_of_date`` (or a range of them: a rebuild chunk, a combined
    run of several dates, where the counts are context-days); counts are absent when it did not get that far.

    :param joint_type: the space, e.g. ``REGIME_MACRO_V0``.
    :param as_of_date: the UTC day processed (ISO date).
    :param first_date: the first UTC day of a range processed.
    :param last_date: the last UTC day of a range processed.
    :param source_joint_types: the spaces whose rows were combined (the combined space).
    :param model_id: the ``model_id`` of the joint rows.
    :param contexts: contexts (region + filters) of the run.
    :param text_vectors_read: text vectors of the day the contexts' means were taken over (NULL vectors left out).
    :param null_text_vectors: text rows of the day with a NULL vector (extract).
    :param regimes_found: contexts whose region had a regime vector that day (extract).
    :param contexts_written: contexts written with no previous row (write).
    :param contexts_replaced: contexts whose previous row(s) were replaced (write).
    :param contexts_skipped: contexts with no row that day: no regime or no text (write).
    :param stale_rows_removed: skipped contexts whose row of an earlier run was removed (write).
    """

    joint_type: str
    as_of_date: str | None = None
    first_date: str | None = None
    last_date: str | None = None
    source_joint_types: list[str] | None = None
    model_id: str | None = None
    contexts: int | None = None
    text_vectors_read: int | None = None
    null_text_vectors: int | None = None
    regimes_found: int | None = None
    contexts_written: int | None = None
    contexts_replaced: int | None = None
    contexts_skipped: int | None = None
    stale_rows_removed: int | None = None

    # no schema of its own is published: _schemaURL stays the spec's generic RunFacet, which allows these fields
    _additional_skip_redact = ["joint_type", "as_of_date", "first_date", "last_date", "source_joint_types",
                               "model_id"]


def namespace_and_database(conn_id: str) -> tuple[str, str | None]:
    """``postgres://host:port`` and the database name of an Airflow connection, by the provider's conventions."""
    from airflow.providers.openlineage.sqlparser import SQLParser
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    hook = PostgresHook(postgres_conn_id=conn_id)
    database_info = hook.get_openlineage_database_info(hook.get_connection(conn_id))
    return SQLParser.create_namespace(database_info), database_info.database


def table_dataset(conn_id: str, table: str) -> Dataset:
    """The OpenLineage dataset of ``public.<table>`` in the database of ``conn_id``."""
    from airflow.providers.openlineage.sqlparser import from_table_meta
    from openlineage.common.sql import DbTableMeta

    namespace, database = namespace_and_database(conn_id)
    return from_table_meta(DbTableMeta(f"{SCHEMA}.{table}"), database, namespace, is_uppercase=False)


def input_datasets(runtime_conn_id: str, historical_conn_id: str, event_table: str) -> list[Dataset]:
    """``regimes`` of runtime_db, ``text_embeddings`` and the space's event table of historical_db."""
    return [
        table_dataset(runtime_conn_id, REGIMES_TABLE),
        table_dataset(historical_conn_id, TEXT_EMBEDDINGS_TABLE),
        table_dataset(historical_conn_id, event_table.rpartition(".")[2]),  # "historical_db.macro_events"
    ]


def _field(dataset: Dataset, field: str, kind: str, subtype: str,
           description: str) -> column_lineage_dataset.InputField:
    return column_lineage_dataset.InputField(
        namespace=dataset.namespace, name=dataset.name, field=field,
        transformations=[column_lineage_dataset.Transformation(type=kind, subtype=subtype, description=description)],
    )


def column_lineage(space: JointSpace, inputs: list[Dataset]) -> column_lineage_dataset.ColumnLineageDatasetFacet:
    """Which input columns make each column of the rows written (``inputs``: as :func:`input_datasets` gives them)."""
    regimes, text, events = inputs
    fields = {
        "vector": [_field(regimes, "regime_embedding", "DIRECT", "TRANSFORMATION", "weighted with the text mean"),
                   _field(text, "vector", "DIRECT", "AGGREGATION", "mean of the day's text vectors")],
        "as_of_date": [_field(regimes, "as_of_date", "DIRECT", "IDENTITY", "the day processed"),
                       _field(events, "timestamp", "INDIRECT", "FILTER", "events of that UTC day")],
        "entity_scope": [_field(regimes, "region", "DIRECT", "IDENTITY", "region of the context")],
    }
    filters = [_field(events, name, "INDIRECT", "FILTER", f"the context's {space.filters_key}.{name}")
               for name in space.filter_names]
    return column_lineage_dataset.ColumnLineageDatasetFacet(
        fields={name: column_lineage_dataset.Fields(inputFields=found) for name, found in fields.items()},
        dataset=[*filters, _field(regimes, "created_at", "INDIRECT", "SORT", "the newest regime row wins"),
                 _field(text, "source_type", "INDIRECT", "FILTER", "the run's source type"),
                 _field(text, "model_id", "INDIRECT", "FILTER", "the run's text model")],
    )


def extract_lineage(space: JointSpace, runtime_conn_id: str, historical_conn_id: str, facts: dict) -> OperatorLineage:
    """The extract task's lineage: the three tables it reads, and what it found (``facts``: facet fields)."""
    return OperatorLineage(
        inputs=input_datasets(runtime_conn_id, historical_conn_id, space.event_table),
        run_facets={RUN_FACET_NAME: JointContextRunFacet(joint_type=space.joint_type, **facts)},
    )


def write_lineage(space: JointSpace, runtime_conn_id: str, historical_conn_id: str, facts: dict) -> OperatorLineage:
    """The write task's lineage: ``joint_embeddings`` out, derived from the tables the extract read (so a lineage
    graph links them), and what the write did (``facts``: facet fields)."""
    inputs = input_datasets(runtime_conn_id, historical_conn_id, space.event_table)
    output = attrs.evolve(table_dataset(historical_conn_id, JOINT_EMBEDDINGS_TABLE),
                          facets={"columnLineage": column_lineage(space, inputs)})
    return OperatorLineage(
        inputs=inputs,
        outputs=[output],
        run_facets={RUN_FACET_NAME: JointContextRunFacet(joint_type=space.joint_type, **facts)},
    )


def combined_lineage(space: CombinedSpace, historical_conn_id: str, facts: dict) -> OperatorLineage:
    """The combined task's lineage: the branch spaces' rows of ``joint_embeddings`` in (named in the run facet's
    ``source_joint_types``), the combined rows of the same table out."""
    table = table_dataset(historical_conn_id, JOINT_EMBEDDINGS_TABLE)
    branches = ", ".join(branch.space.joint_type for branch in space.branches)
    fields = {
        "vector": [_field(table, "vector", "DIRECT", "AGGREGATION", f"weighted mean of the {branches} rows")],
        "as_of_date": [_field(table, "as_of_date", "DIRECT", "IDENTITY", "the day combined")],
        "entity_scope": [_field(table, "entity_scope", "DIRECT", "TRANSFORMATION", "the branches' filters, merged")],
    }
    columns = column_lineage_dataset.ColumnLineageDatasetFacet(
        fields={name: column_lineage_dataset.Fields(inputFields=found) for name, found in fields.items()},
        dataset=[_field(table, "joint_type", "INDIRECT", "FILTER", f"the branch spaces: {branches}"),
                 _field(table, "model_id", "INDIRECT", "FILTER", "the run's source_model_id"),
                 _field(table, "created_at", "INDIRECT", "SORT", "the newest branch row wins")],
    )
    return OperatorLineage(
        inputs=[table],
        outputs=[attrs.evolve(table, facets={"columnLineage": columns})],
        run_facets={RUN_FACET_NAME: JointContextRunFacet(
            joint_type=space.joint_type, source_joint_types=[branch.space.joint_type for branch in space.branches],
            **facts)},
    )
