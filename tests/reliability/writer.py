"""A separate writer process for the concurrency and fault tests: one date's extract → aggregate → write.

Runs the code the DAG's tasks run: ``pipeline.extract_day`` / ``aggregate_day`` and then either
``pipeline.write_day`` on a psycopg connection (``--mode pipeline``) or ``WriteJointEmbeddingsOperator.execute``
with the Airflow connection ``historical_db`` (``--mode operator``). With ``--gate-key`` it waits on a shared
advisory lock the test holds, so that all writers reach the write at the same moment.

Prints one JSON line with the outcomes (or ``{"error": ...}`` and exit code 1).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date, timedelta

import psycopg


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runtime-dsn", required=True)
    parser.add_argument("--historical-dsn", required=True)
    parser.add_argument("--as-of-date", required=True, type=date.fromisoformat)
    parser.add_argument("--params", required=True, type=json.loads, help="the run's params (conf) as JSON")
    parser.add_argument("--mode", choices=("pipeline", "operator"), default="pipeline")
    parser.add_argument("--gate-key", type=int)
    parser.add_argument("--application-name", default="jc-reliability-writer")
    parser.add_argument("--statement-timeout-ms", type=int)
    args = parser.parse_args(argv)

    from joint_context.config import RunConfig
    from joint_context.pipeline import aggregate_day, extract_day, write_day
    from joint_context.spaces import REGIME_MACRO_V0

    try:
        config = RunConfig.from_params(REGIME_MACRO_V0, args.params, args.params.keys())
        with (
            psycopg.connect(args.runtime_dsn) as runtime_conn,
            psycopg.connect(args.historical_dsn) as historical_conn,
        ):
            results = aggregate_day(extract_day(runtime_conn, historical_conn, config, args.as_of_date), config)
        if args.gate_key is not None:
            with psycopg.connect(args.historical_dsn, autocommit=True) as gate:
                gate.execute("SELECT pg_advisory_lock_shared(%s)", (args.gate_key,))
                gate.execute("SELECT pg_advisory_unlock_shared(%s)", (args.gate_key,))
        if args.mode == "operator":
            from joint_context.operators import WriteJointEmbeddingsOperator

            operator = WriteJointEmbeddingsOperator(
                task_id="write", space=REGIME_MACRO_V0, execution_timeout=timedelta(minutes=2),
                aggregated={"as_of_date": args.as_of_date.isoformat(),
                            "results": [result.to_xcom() for result in results]},
            )
            summary = operator.execute({"params": args.params, "dag_run": None})
            actions = [context["action"] for context in summary["contexts"]]
        else:
            options = f"-c statement_timeout={args.statement_timeout_ms}" if args.statement_timeout_ms else ""
            with psycopg.connect(args.historical_dsn, application_name=args.application_name,
                                 options=options) as historical_conn:
                actions = [outcome.action for outcome in write_day(historical_conn, config, args.as_of_date, results)]
    except Exception as error:  # reported to the test, which asserts on it
        print(json.dumps({"error": type(error).__name__, "message": str(error)}))
        return 1
    print(json.dumps({"actions": actions}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
