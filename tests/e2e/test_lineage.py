"""OpenLineage: a real run of each DAG with the real provider and openlineage-python's file transport, read back.

The DAG runs in an ``airflow dags test`` process of its own: the provider decides at import whether lineage is on
(a transport configured) and caches its settings, so the transport is set in that process's environment, as a
deployment sets it. Expected namespaces and names are written here from the test database's DSN.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pytest
from psycopg.conninfo import conninfo_to_dict

from devtools.seed import insert_macro_event, insert_news_article, utc
from tests.e2e.rows import insert_joint_row, macro_scope, news_scope
from tests.helpers import joint_rows
from tests.reliability.conftest import seed_day

DAY = date(2025, 1, 2)
OL_NAMESPACE = "joint-context-tests"
RUN_TIMEOUT_SECONDS = 300


def run_with_lineage(tmp_path: Path, dag_id: str, conf: dict) -> tuple[subprocess.CompletedProcess, list[dict]]:
    """Run ``dag_id`` for DAY with lineage written to a file; return the process and the events it emitted."""
    events_file = tmp_path / "ol.jsonl"
    environment = {
        **os.environ,
        "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps({"type": "file", "log_file_path": str(events_file),
                                                       "append": True}),
        "AIRFLOW__OPENLINEAGE__NAMESPACE": OL_NAMESPACE,
    }
    process = subprocess.run(
        [str(Path(sys.executable).parent / "airflow"), "dags", "test", dag_id, DAY.isoformat(),
         "--conf", json.dumps(conf)],
        env=environment, capture_output=True, text=True, timeout=RUN_TIMEOUT_SECONDS,
    )
    lines = events_file.read_text().splitlines() if events_file.exists() else []
    return process, [json.loads(line) for line in lines]


@pytest.fixture
def lineage_run(airflow_metadata_db, clean_databases, tmp_path):
    """``lineage_run(dag_id, conf)``: :func:`run_with_lineage` in the session's Airflow home."""
    return lambda dag_id, conf: run_with_lineage(tmp_path, dag_id, conf)


def task_event(events: list[dict], dag_id: str, task_id: str, event_type: str) -> dict:
    found = [event for event in events
             if event["job"]["name"] == f"{dag_id}.{task_id}" and event["eventType"] == event_type]
    assert len(found) == 1, [(event["job"]["name"], event["eventType"]) for event in events]
    return found[0]


def namespace_of(dsn: str) -> str:
    """The provider's Postgres convention, ``postgres://{host}:{port}``: a socket folder as host is URL-encoded."""
    parts = conninfo_to_dict(dsn)
    return f"postgres://{quote(parts.get('host', '127.0.0.1'), safe='')}:{parts.get('port', 5432)}"


def datasets(event: dict, kind: str) -> list[tuple[str, str]]:
    return [(dataset["namespace"], dataset["name"]) for dataset in event[kind]]


def expected_inputs(databases, event_table: str) -> list[tuple[str, str]]:
    runtime, historical = namespace_of(databases.runtime_dsn), namespace_of(databases.historical_dsn)
    return [(runtime, f"{databases.runtime_name}.public.regimes"),
            (historical, f"{databases.historical_name}.public.text_embeddings"),
            (historical, f"{databases.historical_name}.public.{event_table}")]


def test_a_run_emits_its_inputs_output_namespaces_and_counts(lineage_run, clean_databases, runtime_conn,
                                                             historical_conn):
    """Two contexts: US (4 text vectors, one NULL vector left out) written; ASIA (no regime) skipped."""
    seeded = seed_day(runtime_conn, historical_conn)
    insert_macro_event(historical_conn, timestamp=utc(DAY, 22), vector=None, country="US")
    conf = {"contexts": [seeded.params["contexts"][0], {"region": "ASIA", "country": "DE"}]}

    process, events = lineage_run("joint_regime_macro_context", conf)

    assert process.returncode == 0, (process.stdout + process.stderr)[-3000:]
    assert [row[2]["region"] for row in joint_rows(historical_conn)] == ["US"]
    dag_id = "joint_regime_macro_context"
    inputs = expected_inputs(clean_databases, "macro_events")
    output = [(namespace_of(clean_databases.historical_dsn),
               f"{clean_databases.historical_name}.public.joint_embeddings")]
    extract = task_event(events, dag_id, "extract", "COMPLETE")
    write = task_event(events, dag_id, "write", "COMPLETE")
    started = task_event(events, dag_id, "write", "START")  # START names the datasets already, and no counts
    assert datasets(started, "inputs") == inputs and datasets(started, "outputs") == output
    assert "contexts_written" not in started["run"]["facets"]["jointContext"]
    assert extract["job"]["namespace"] == write["job"]["namespace"] == OL_NAMESPACE
    assert datasets(extract, "inputs") == inputs and datasets(extract, "outputs") == []
    assert datasets(write, "inputs") == inputs and datasets(write, "outputs") == output
    facet = {key: value for key, value in extract["run"]["facets"]["jointContext"].items()
             if not key.startswith("_")}
    assert facet == {"joint_type": "REGIME_MACRO_V0", "as_of_date": DAY.isoformat(),
                     "model_id": "joint-regime-core-v1", "contexts": 2, "regimes_found": 1,
                     "text_vectors_read": 4 + 3, "null_text_vectors": 1}
    columns = write["outputs"][0]["facets"]["columnLineage"]
    assert {name: [(f["namespace"], f["name"], f["field"]) for f in field["inputFields"]]
            for name, field in columns["fields"].items()} == {
        "vector": [(*inputs[0], "regime_embedding"), (*inputs[1], "vector")],
        "as_of_date": [(*inputs[0], "as_of_date"), (*inputs[2], "timestamp")],
        "entity_scope": [(*inputs[0], "region")],
    }
    assert {(*inputs[2], "country"), (*inputs[2], "event_type")} <= {
        (f["namespace"], f["name"], f["field"]) for f in columns["dataset"]}
    facet = {key: value for key, value in write["run"]["facets"]["jointContext"].items() if not key.startswith("_")}
    assert facet == {"joint_type": "REGIME_MACRO_V0", "as_of_date": DAY.isoformat(),
                     "model_id": "joint-regime-core-v1", "contexts": 2, "text_vectors_read": 4 + 3,
                     "contexts_written": 1, "contexts_replaced": 0, "contexts_skipped": 1, "stale_rows_removed": 0}


def test_the_news_space_names_its_own_event_table(lineage_run, clean_databases, runtime_conn, historical_conn):
    seed_day(runtime_conn, historical_conn)
    insert_news_article(historical_conn, timestamp=utc(DAY, 3), language="en", vector=[0.5] * 16)

    process, events = lineage_run("joint_regime_news_context", {"contexts": [{"region": "US"}]})

    assert process.returncode == 0, (process.stdout + process.stderr)[-3000:]
    write = task_event(events, "joint_regime_news_context", "write", "COMPLETE")
    assert datasets(write, "inputs") == expected_inputs(clean_databases, "news_articles")
    assert write["run"]["facets"]["jointContext"]["joint_type"] == "REGIME_CONTEXT_V0"
    assert write["run"]["facets"]["jointContext"]["contexts_written"] == 1


def facet_of(event: dict) -> dict:
    return {key: value for key, value in event["run"]["facets"]["jointContext"].items() if not key.startswith("_")}


def test_a_rebuild_chunk_reports_the_tables_of_the_write_task_with_its_range_and_counts(
        lineage_run, clean_databases, runtime_conn, historical_conn):
    seeded = seed_day(runtime_conn, historical_conn)
    dag_id = "joint_regime_macro_context_rebuild"
    conf = {**seeded.params, "first_date": DAY.isoformat(), "last_date": (DAY + timedelta(days=1)).isoformat()}

    process, events = lineage_run(dag_id, conf)

    assert process.returncode == 0, (process.stdout + process.stderr)[-3000:]
    chunk = task_event(events, dag_id, "rebuild_chunk", "COMPLETE")
    assert datasets(chunk, "inputs") == expected_inputs(clean_databases, "macro_events")
    assert datasets(chunk, "outputs") == [(namespace_of(clean_databases.historical_dsn),
                                           f"{clean_databases.historical_name}.public.joint_embeddings")]
    assert facet_of(chunk) == {"joint_type": "REGIME_MACRO_V0", "first_date": conf["first_date"],
                               "last_date": conf["last_date"], "model_id": "joint-regime-core-v1", "contexts": 2,
                               "contexts_written": 2, "contexts_replaced": 0, "contexts_skipped": 2,
                               "stale_rows_removed": 0}  # the second day has no data: two context-days skipped


def test_the_combined_task_reads_the_branch_spaces_rows_and_writes_its_own(lineage_run, clean_databases,
                                                                            historical_conn):
    for joint_type, scope in (("REGIME_MACRO_V0", macro_scope("US", country="US")),
                              ("REGIME_CONTEXT_V0", news_scope("US"))):
        insert_joint_row(historical_conn, joint_type, DAY, scope, np.full(8, 0.25))

    process, events = lineage_run("joint_regime_combined_context", {"contexts": [{"region": "US", "country": "US"}]})

    assert process.returncode == 0, (process.stdout + process.stderr)[-3000:]
    combine = task_event(events, "joint_regime_combined_context", "combine", "COMPLETE")
    table = [(namespace_of(clean_databases.historical_dsn),
              f"{clean_databases.historical_name}.public.joint_embeddings")]
    assert datasets(combine, "inputs") == table and datasets(combine, "outputs") == table
    assert facet_of(combine) == {"joint_type": "REGIME_COMBINED_V0",
                                 "source_joint_types": ["REGIME_MACRO_V0", "REGIME_CONTEXT_V0"],
                                 "as_of_date": DAY.isoformat(), "model_id": "joint-regime-combined-v1",
                                 "contexts": 1, "contexts_written": 1, "contexts_replaced": 0,
                                 "contexts_skipped": 0, "stale_rows_removed": 0}
    columns = combine["outputs"][0]["facets"]["columnLineage"]["fields"]
    assert [(f["name"], f["field"]) for f in columns["vector"]["inputFields"]] == [(table[0][1], "vector")]


def test_a_failing_extract_emits_a_fail_event_with_its_inputs_and_space(lineage_run, clean_databases, runtime_conn,
                                                                       historical_conn):
    seeded = seed_day(runtime_conn, historical_conn)
    insert_macro_event(historical_conn, timestamp=utc(DAY, 23), vector=b"\x00" * 7, country="US")

    process, events = lineage_run("joint_regime_macro_context", seeded.params)

    assert joint_rows(historical_conn) == []
    failed = task_event(events, "joint_regime_macro_context", "extract", "FAIL")
    assert datasets(failed, "inputs") == expected_inputs(clean_databases, "macro_events")
    facet = failed["run"]["facets"]["jointContext"]
    assert (facet["joint_type"], facet["as_of_date"]) == ("REGIME_MACRO_V0", DAY.isoformat())
    assert "text_vectors_read" not in facet  # it failed while reading: no counts are claimed
    assert "vector has 7 bytes" in failed["run"]["facets"]["errorMessage"]["message"]  # the provider's own facet
    assert not [event for event in events if event["job"]["name"].endswith(".write")]


@pytest.mark.parametrize("host, port, expected", [
    ("db.internal.example", 6432, "postgres://db.internal.example:6432"),
    ("10.0.0.7", None, "postgres://10.0.0.7:5432"),
])
def test_the_namespace_is_the_connections_real_host_and_port(monkeypatch, host, port, expected):
    """A TCP server (CI's): the namespace names host:port of the connection, not its id."""
    from joint_context.lineage import table_dataset

    connection = {"conn_type": "postgres", "host": host, "login": "joint", "schema": "historical"}
    monkeypatch.setenv("AIRFLOW_CONN_LINEAGE_PROBE", json.dumps({**connection, **({"port": port} if port else {})}))

    dataset = table_dataset("lineage_probe", "joint_embeddings")

    assert (dataset.namespace, dataset.name) == (expected, "historical.public.joint_embeddings")
