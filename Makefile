# Two commands set everything up on a fresh machine: `make demo` and `make test`; `make help` lists the rest.
# Every target creates .venv from the pinned requirements (and installs the package into it, editable) when it is
# missing or out of date.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.DEFAULT_GOAL := help
.PHONY: help demo test lint bench airflow2 test-scheduler stack demo-db cli clean-local

$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

## List the targets and what each does.
help:
	@awk '/^## /{doc=substr($$0, 4); next} /^[a-z0-9-]+:/{if (doc) {sub(/:.*/, ""); printf "  make %-15s %s\n", $$0, doc}} {doc=""}' $(MAKEFILE_LIST)

## The main job on an embedded PostgreSQL: seed a month, run the DAGs through Airflow, print what was written.
demo: $(VENV)/.installed
	$(PY) -m devtools.demo

## The whole test suite against a real PostgreSQL (embedded unless JOINT_CONTEXT_TEST_DATABASE_URL is set).
test: $(VENV)/.installed airflow2
	$(VENV)/bin/ruff check .
	$(PY) -m pytest $(PYTEST_ARGS)

## Lint only (ruff, with Airflow's AIR rules).
lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .

SCALE ?= small
## The benchmark (BENCHMARKS.md). SCALE=tiny|small|full; BENCH_ARGS="--airflow --profile" for all of it.
bench: $(VENV)/.installed
	$(PY) -m bench.run --scale $(SCALE) $(BENCH_ARGS)

## The Airflow 2.11 environment .venv-airflow2 (from requirements-airflow2.txt; a no-op when up to date).
airflow2:
	$(PYTHON) devtools/airflow2.py

## Only the real-scheduler tests (api-server, scheduler, dag-processor, Celery workers; several minutes).
test-scheduler: $(VENV)/.installed
	$(PY) -m pytest tests/scheduler $(PYTEST_ARGS)

## A real Airflow 3 (api-server, scheduler, dag-processor) on the demo database; STACK_ARGS="--executor CeleryExecutor".
stack: $(VENV)/.installed
	$(PY) -m devtools.airflow_stack $(STACK_ARGS)

## Serve the demo's PostgreSQL (after `make demo`) and print the settings to reach it; Ctrl-C stops it.
demo-db: $(VENV)/.installed
	$(PY) -m devtools.demo --serve

## The command line on the demo database, e.g. make cli ARGS="show --date-range 2025-01-01 2025-01-31".
cli: $(VENV)/.installed
	$(PY) -m devtools.demo --cli $(ARGS)

## Remove what the demo left under .local/ (the embedded database and the Airflow homes).
clean-local:
	rm -rf .local
