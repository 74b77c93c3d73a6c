"""The benchmark's report: tables printed as they are measured and kept for the files, timing summaries, the
targets and their verdicts, the machine's facts, and the files a run leaves (results JSON and Markdown under
``bench/results/``; with ``--record`` one Markdown file per run under ``bench/reports/``, never overwritten)."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
from pathlib import Path

from devtools.paths import REPO_ROOT

TARGETS = {
    "history_x10_time_ratio": ("<", 1.3),
    "upstream_over_package_x10_macro": (">=", 20.0),
    "rss_above_baseline_mb": ("<", 150.0),
    "airflow_backfill_over_floor": ("<=", 1.2),
    "cli_rebuild_over_raw_read": ("<=", 2.0),
    "rebuild_dag_over_cli": ("<=", 2.0),
    "per_date_over_rebuild_dag": (">=", 50.0),
    "upstream_over_hnsw_search": (">=", 20.0),
    "hnsw_recall_at_10": (">=", 0.98),
}



def median_ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 3)


def timing_summary(samples: list[float]) -> dict:
    ordered = sorted(samples)
    return {
        "n": len(ordered),
        "median_ms": median_ms(ordered),
        "min_ms": round(ordered[0] * 1000, 3),
        "max_ms": round(ordered[-1] * 1000, 3),
    }


def format_table(headers: list[str], rows: list[list]) -> str:
    cells = [[str(cell) for cell in row] for row in [headers, *rows]]
    widths = [max(len(row[index]) for row in cells) for index in range(len(headers))]
    lines = [" | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) for row in cells]
    lines.insert(1, "-+-".join("-" * width for width in widths))
    return "\n".join(lines)


def markdown_table(headers: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


class Report:
    """Tables as they are measured: printed at once, kept for the JSON and Markdown files."""

    def __init__(self) -> None:
        self.sections: list[dict] = []

    def table(self, title: str, headers: list[str], rows: list[list], note: str = "") -> None:
        self.sections.append({"title": title, "headers": headers, "rows": rows, "note": note})
        print(f"\n## {title}\n{format_table(headers, rows)}" + (f"\n{note}" if note else ""), flush=True)

    def markdown(self) -> str:
        parts = []
        for section in self.sections:
            parts.append(f"### {section['title']}\n\n{markdown_table(section['headers'], section['rows'])}")
            if section["note"]:
                parts.append(section["note"])
        return "\n\n".join(parts) + "\n"


def machine_facts(admin_dsn: str) -> dict:
    import numpy
    import psycopg

    cpu = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory_gib = None
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        memory_gib = round(int(meminfo.read_text().split()[1]) / 2**20, 1)
    with psycopg.connect(admin_dsn) as conn:
        server_version = conn.execute("SHOW server_version").fetchone()[0]
        shared_buffers = conn.execute("SHOW shared_buffers").fetchone()[0]
    try:
        from importlib.metadata import version

        airflow_version = version("apache-airflow")
    except Exception:  # noqa: BLE001 - informational only
        airflow_version = None
    return {
        "platform": platform.platform(), "cpu": cpu, "cpus": os.cpu_count(), "memory_gib": memory_gib,
        "python": platform.python_version(), "numpy": numpy.__version__, "psycopg": psycopg.__version__,
        "postgresql": server_version, "shared_buffers": shared_buffers, "airflow": airflow_version,
    }


def check_targets(report: Report, results: dict) -> None:
    ratios = results["ratios"]
    rows = []
    checks = [
        ("per-date x10 history / x1 (macro)", "history_x10_time_ratio/REGIME_MACRO_V0", "history_x10_time_ratio"),
        ("per-date x10 history / x1 (news)", "history_x10_time_ratio/REGIME_CONTEXT_V0", "history_x10_time_ratio"),
        ("per-date x10 history / x1 (combined)", "history_x10_time_ratio/REGIME_COMBINED_V0",
         "history_x10_time_ratio"),
        ("upstream / package, x10 macro: per-date task body", "upstream_over_package_x10_macro",
         "upstream_over_package_x10_macro"),
        ("upstream / package, x10 macro: per date on open connections",
         "upstream_over_package_x10_macro_open_connections", "upstream_over_package_x10_macro"),
        ("upstream / package, x10 macro: read query (server)", "upstream_over_package_query_x10_macro",
         "upstream_over_package_x10_macro"),
        ("peak RSS above baseline, MiB", "rss_above_baseline_mb", "rss_above_baseline_mb"),
        ("Airflow backfill / empty-task floor", "airflow_backfill_over_floor", "airflow_backfill_over_floor"),
        ("bulk CLI rebuild / raw read", "cli_rebuild_over_raw_read", "cli_rebuild_over_raw_read"),
        ("rebuild DAG / bulk CLI, x10 macro", "rebuild_dag_over_cli", "rebuild_dag_over_cli"),
        ("per-date runs (projected) / rebuild DAG, x10 macro", "per_date_over_rebuild_dag",
         "per_date_over_rebuild_dag"),
        ("analog-day search: upstream p50 / pgvector HNSW p50", "upstream_over_hnsw_search",
         "upstream_over_hnsw_search"),
        ("analog-day search: HNSW recall@10 vs exact", "hnsw_recall_at_10", "hnsw_recall_at_10"),
    ]
    verdicts = {}
    for title, key, target_key in checks:
        operator, bound = TARGETS[target_key]
        value = ratios.get(key)
        if value is None:
            verdict = "not measured"
        else:
            met = {"<": value < bound, "<=": value <= bound, ">=": value >= bound}[operator]
            verdict = "met" if met else "MISSED"
        verdicts[key] = verdict
        rows.append([title, "-" if value is None else value, f"{operator} {bound}", verdict])
    rows.append(["package reads: seq scans of events/articles", ratios.get("package_seq_scans_of_event_tables"),
                 "= 0", "met" if ratios.get("package_seq_scans_of_event_tables") == 0 else "MISSED"])
    results["verdicts"] = verdicts
    report.table("Targets", ["measure", "value", "target", "verdict"], rows,
                 note="Timings come from one shared machine; the verdicts are for reading, CI does not judge them.")


def write_results(results_dir: Path, stamp: str, scale: str, results: dict, report: Report) -> tuple[Path, Path]:
    """``<stamp>-<scale>.json`` (every number, and the tables) and ``.md`` (the tables) in ``results_dir``."""
    results_dir.mkdir(parents=True, exist_ok=True)
    json_path = results_dir / f"{stamp}-{scale}.json"
    json_path.write_text(json.dumps({**results, "tables": report.sections}, indent=2, default=str))
    markdown_path = json_path.with_suffix(".md")
    markdown_path.write_text(f"<!-- bench.run --scale {scale}, {results['started_utc']} -->\n\n" + report.markdown())
    return json_path, markdown_path


def record_path(reports_dir: Path, stamp: str, scale: str) -> Path:
    """Where ``--record`` writes this run's report; raises if that file exists (a report is never rewritten)."""
    path = reports_dir / f"{stamp}-{scale}.md"
    if path.exists():
        raise FileExistsError(f"{path} exists: a recorded report is never overwritten")
    return path


def record(path: Path, command: str, results: dict, report: Report) -> Path:
    """The run's report: what ran, when, on what machine and code, then every table; fails if ``path`` exists."""
    machine = results["machine"]
    facts = [
        ["run", f"`{path.stem}`"],
        ["command", f"`{command}`"],
        ["scale", f"{results['scale']} ("
                  + ", ".join(f"{key}={value}" for key, value in results["scale_parameters"].items()) + ")"],
        ["UTC time", f"started {results['started_utc']}, took {results['seconds']} s"],
        ["code", git_commit()],
        ["machine", f"{machine['platform']}, {machine['cpu']}, {machine['cpus']} CPUs, {machine['memory_gib']} GiB"],
        ["PostgreSQL", f"{machine['postgresql']}, `shared_buffers` {machine['shared_buffers']}"],
        ["Python stack", f"Python {machine['python']}, numpy {machine['numpy']}, psycopg {machine['psycopg']}, "
                         f"Airflow {machine['airflow']}"],
    ]
    header = (f"# Benchmark report: run `{path.stem}`\n\n"
              "Written by `bench.run --record` as the run ended; a report is not edited afterwards. Method (data, "
              "contexts, dates, what each measurement times): [BENCHMARKS.md](../../BENCHMARKS.md#method).\n\n"
              f"{markdown_table(['', ''], facts)}\n\n## Tables\n\n")
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("x") as file:  # "x": never overwrite a report already recorded
        file.write(header + report.markdown())
    return path


def git_commit() -> str:
    """``HEAD``'s commit, and whether tracked files differ from it (the numbers are of the code as it was run)."""
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(REPO_ROOT), *args], capture_output=True, text=True, timeout=30,
                              check=True).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        changed = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError) as error:
        return f"unknown ({error})"
    return f"commit `{commit}`" + (" with uncommitted changes to tracked files" if changed else "")
