"""The benchmark's one command runs end to end at a tiny scale, so it cannot rot (timings are not judged)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import psycopg

from devtools.paths import REPO_ROOT


def test_tiny_benchmark_writes_its_tables_and_results_file(pg_admin_dsn, tmp_path):
    prefix = f"jc_bench_test_{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    completed = subprocess.run(
        [sys.executable, "-m", "bench.run", "--scale", "tiny", "--admin-dsn", pg_admin_dsn,
         "--db-prefix", prefix, "--results-dir", str(tmp_path)],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    for title in ("1-2. Per-date task body", "1c. Fixed costs", "3. Query plans", "4. Peak RSS", "6. Bulk CLI",
                  "Targets"):
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
    assert (results_file.with_suffix(".md")).read_text().count("### ") == len(results["tables"])

    with psycopg.connect(pg_admin_dsn) as admin:
        left = admin.execute("SELECT count(*) FROM pg_database WHERE datname LIKE %s", (prefix + "%",)).fetchone()[0]
    assert left == 0, "the benchmark's databases are dropped at the end"
