"""(Child process of ``bench.run``.) Peak RSS of extracting and aggregating one day, above the baseline.

The baseline is this interpreter's RSS once numpy, psycopg and the package are imported and both
connections are open; the high-water mark is reset there (``/proc/self/clear_refs``) and read after the
day is done (``VmHWM``), so what imports once needed does not count. ``--mode upstream`` does the same
day the way the previous scripts did (``fetchall`` of every row, a list of arrays, ``np.mean``), for scale.
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from datetime import date
from pathlib import Path

import numpy as np
import psutil
import psycopg

from bench.plans import UPSTREAM_TEXT_SQL, upstream_text_params
from joint_context.config import RunConfig
from joint_context.pipeline import aggregate_day, extract_day
from joint_context.spaces import space_by_name


def peak_rss_bytes() -> int:
    """The high-water mark of this process's RSS (``VmHWM``; ``ru_maxrss`` where /proc is missing)."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


def reset_peak_rss() -> bool:
    """Set the RSS high-water mark to the current RSS (Linux >= 4.0), so imports' peaks do not count."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runtime-dsn", required=True)
    parser.add_argument("--historical-dsn", required=True)
    parser.add_argument("--space", default="REGIME_CONTEXT_V0")
    parser.add_argument("--contexts", default='[{"region": "US"}]', help="JSON list of contexts")
    parser.add_argument("--date", type=date.fromisoformat, required=True)
    parser.add_argument("--mode", choices=("package", "upstream"), default="package")
    args = parser.parse_args(argv)

    space = space_by_name(args.space)
    config = RunConfig.from_params(space, {"contexts": json.loads(args.contexts)})
    with psycopg.connect(args.runtime_dsn) as runtime_conn, psycopg.connect(args.historical_dsn) as historical_conn:
        peak_was_reset = reset_peak_rss()
        baseline = psutil.Process().memory_info().rss
        started = time.perf_counter()
        if args.mode == "package":
            results = aggregate_day(extract_day(runtime_conn, historical_conn, config, args.date), config)
            vector_count = sum(result.text_vector_count for result in results)
            norm = results[0].l2_norm
        else:
            vector_count, norm = 0, None
            for context in config.contexts:
                rows = historical_conn.execute(
                    UPSTREAM_TEXT_SQL[space.joint_type], upstream_text_params(space, context.filter_dict, args.date)
                ).fetchall()
                vectors = [np.frombuffer(vector, dtype="<f4") for _row_id, vector in rows]
                text_mean = np.mean(vectors, axis=0, dtype=np.float64)
                vector_count += len(vectors)
                norm = float(np.linalg.norm(text_mean))
        seconds = time.perf_counter() - started
    peak = peak_rss_bytes()
    print(json.dumps({
        "mode": args.mode, "as_of_date": args.date.isoformat(), "text_vectors": vector_count,
        "baseline_rss_bytes": baseline, "peak_rss_bytes": peak, "above_baseline_bytes": peak - baseline,
        "seconds": seconds, "first_l2_norm": norm, "peak_was_reset": peak_was_reset,
    }))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
