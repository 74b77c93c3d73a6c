"""4. Peak RSS of one day's extract + aggregate, measured by the child process ``bench.rss`` (package and upstream
mode) above its own baseline."""

from __future__ import annotations

import json
import subprocess
import sys

from bench.report import Report
from bench.workload import LAST_DATE, child_env
from devtools.paths import REPO_ROOT


def measure_rss(report: Report, results: dict, history) -> None:
    rows = []
    entries = {}
    for mode in ("package", "upstream"):
        completed = subprocess.run(
            [sys.executable, "-m", "bench.rss", "--runtime-dsn", history.runtime_dsn,
             "--historical-dsn", history.historical_dsn, "--date", LAST_DATE.isoformat(), "--mode", mode],
            capture_output=True, text=True, timeout=600, cwd=REPO_ROOT, env=child_env(), check=False,
        )
        if completed.returncode:
            raise RuntimeError(f"bench.rss --mode {mode} failed:\n{completed.stderr}")
        entry = json.loads(completed.stdout.strip().splitlines()[-1])
        entries[mode] = entry
        rows.append([mode, entry["text_vectors"], round(entry["baseline_rss_bytes"] / 2**20, 1),
                     round(entry["peak_rss_bytes"] / 2**20, 1), round(entry["above_baseline_bytes"] / 2**20, 1),
                     round(entry["seconds"], 2)])
    results["rss"] = entries
    results["ratios"]["rss_above_baseline_mb"] = round(entries["package"]["above_baseline_bytes"] / 2**20, 1)
    report.table("4. Peak RSS of one day's extract + aggregate (child process)",
                 ["mode", "text vectors", "baseline MiB", "peak MiB", "above baseline MiB", "seconds"], rows,
                 note="baseline: numpy, psycopg and the package imported, both connections open. "
                      "'upstream' = fetchall + list of arrays + np.mean, for scale (not a target).")
