"""The benchmark's one command runs end to end at a tiny scale, so it cannot rot (timings are not judged); a run it
records is a report file of its own, never overwritten."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid

import psycopg
import pytest

from bench import report
from devtools.paths import REPO_ROOT


def test_tiny_benchmark_writes_its_tables_results_file_and_recorded_report(pg_admin_dsn, tmp_path):
    prefix = f"jc_bench_test_{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    reports_dir = tmp_path / "reports"
    completed = subprocess.run(
        [sys.executable, "-m", "bench.run", "--scale", "tiny", "--admin-dsn", pg_admin_dsn,
         "--db-prefix", prefix, "--results-dir", str(tmp_path), "--record", "--reports-dir", str(reports_dir)],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    for title in ("1-2. Per-date task body", "1c. Fixed costs", "1d. Combined space", "3. Query plans", "4. Peak RSS",
                  "6. Bulk CLI", "7. Rebuild DAG", "8. Analog-day search", "Targets"):
        assert f"## {title}" in completed.stdout

    (results_file,) = tmp_path.glob("*-tiny.json")
    results = json.loads(results_file.read_text())
    # tiny: 5 macro events a day (countries US, DE, JP, FR, GB in turn), 20 articles (en, EN, de, ja, fr)
    expected_text_vectors = {"REGIME_MACRO_V0": 3, "REGIME_CONTEXT_V0": 8 + 4 + 20}
    for key, entry in results["per_date"].items():
        space = key.split("/")[0]
        assert entry["text_vectors_per_date"] == expected_text_vectors[space], key
        assert entry["joint_rows_written_per_date"] == 3, key
        assert entry["upstream_rows_written_per_date"] == 3, key
        assert entry["package"]["total"]["median_ms"] > 0
    assert results["ratios"]["package_seq_scans_of_event_tables"] == 0
    assert results["rss"]["package"]["text_vectors"] == 2_000
    assert results["rss"]["package"]["first_l2_norm"] is not None
    # the bulk CLI rebuilt the whole x10 history of each space (its exit status was checked) and COPY read bytes
    assert {space: entry["days"] for space, entry in results["cli"]["spaces"].items()} == {
        "REGIME_MACRO_V0": 70, "REGIME_CONTEXT_V0": 30}
    assert all(entry["raw_read_mib"] > 0 for entry in results["cli"]["spaces"].values())
    # ... once with DSNs (the ratio) and once through Airflow connections
    assert all(entry["rebuild_seconds"] > 0 and entry["rebuild_conn_ids_seconds"] > 0
               for entry in results["cli"]["spaces"].values())
    assert results["ratios"]["cli_rebuild_over_raw_read"] == results["cli"]["ratio"]
    assert results["cli"]["ratio_conn_ids"] > 0
    # the rebuild DAG rebuilt the x10 macro history (both chunk sizes) and left the CLI's row count
    assert results["rebuild_dag"]["days"] == 70 and results["rebuild_dag"]["joint_rows"] > 0
    assert set(results["rebuild_dag"]["rebuild_dag_seconds_by_chunk_days"]) == {"92", "366"}
    assert results["ratios"]["rebuild_dag_over_cli"] > 0
    # the search ran every engine (pgvector on an embedded server of its own when this one has none), and exact
    # pgvector found numpy's neighbours for every query
    search = results["search"]
    assert search["rows"] == 4 * 73 and search["exact_pgvector_equals_numpy"] == "5/5"
    assert set(search["timings"]) == {"upstream", "numpy", "pgvector exact", "pgvector HNSW"}
    assert 0 < results["ratios"]["hnsw_recall_at_10"] <= 1
    markdown = results_file.with_suffix(".md").read_text()
    assert markdown.count("### ") == len(results["tables"])

    (recorded,) = reports_dir.glob("*.md")
    assert recorded.name == results_file.with_suffix(".md").name  # <stamp>-<scale>.md, the same run
    header, tables = recorded.read_text().split("\n\n## Tables\n\n", 1)
    assert header.startswith(f"# Benchmark report: run `{recorded.stem}`\n")
    for field in ("| command | `python -m bench.run --scale tiny", "| scale | tiny (macro_days=7,",
                  f"| UTC time | started {results['started_utc']}", f"| machine | {results['machine']['platform']},",
                  f"| PostgreSQL | {results['machine']['postgresql']},"):
        assert field in header, field
    assert re.search(r"\| code \| commit `[0-9a-f]{40}`", header)
    assert tables == markdown.split("\n\n", 1)[1]  # the same tables as the results' Markdown

    with psycopg.connect(pg_admin_dsn) as admin:
        left = admin.execute("SELECT count(*) FROM pg_database WHERE datname LIKE %s", (prefix + "%",)).fetchone()[0]
    assert left == 0, "the benchmark's databases are dropped at the end"


def test_a_recorded_report_is_never_overwritten(tmp_path):
    existing = tmp_path / "20261201T000000Z-tiny.md"
    existing.write_text("an earlier run\n")
    with pytest.raises(FileExistsError, match="never overwritten"):
        report.record_path(tmp_path, "20261201T000000Z", "tiny")
    results = {"scale": "tiny", "scale_parameters": {}, "started_utc": "2026-12-01T00:00:00+00:00", "seconds": 1.0,
               "machine": dict.fromkeys(("platform", "cpu", "cpus", "memory_gib", "python", "numpy", "psycopg",
                                         "airflow", "postgresql", "shared_buffers"), "?")}
    with pytest.raises(FileExistsError):
        report.record(existing, "python -m bench.run --record", results, report.Report())
    assert existing.read_text() == "an earlier run\n"
    assert report.record_path(tmp_path, "20261201T000001Z", "tiny") == tmp_path / "20261201T000001Z-tiny.md"
