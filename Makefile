# Two commands set everything up on a fresh machine: `make demo` and `make test`.
# Both create .venv from the pinned requirements when it is missing or out of date.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
export PYTHONPATH := $(CURDIR)/plugins:$(CURDIR)

.PHONY: demo test lint clean-local airflow2 test-scheduler bench

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

## The main job on an embedded PostgreSQL: seed a month, run the DAGs through Airflow, print what was written.
demo: $(VENV)/.installed
	$(PY) -m devtools.demo

## The whole test suite against a real PostgreSQL (embedded unless JOINT_CONTEXT_TEST_DATABASE_URL is set).
test: $(VENV)/.installed airflow2
	$(VENV)/bin/ruff check .
	$(PY) -m pytest $(PYTEST_ARGS)

## The Airflow 2.11 environment tests/airflow2 runs dags/ in (from requirements-airflow2.txt; a no-op when up to date).
airflow2:
	$(PYTHON) devtools/airflow2.py

## Only the real-scheduler tests (api-server, scheduler, dag-processor, a Celery worker; about 5 min).
test-scheduler: $(VENV)/.installed
	$(PY) -m pytest tests/scheduler $(PYTEST_ARGS)

## The benchmark (BENCHMARKS.md). SCALE=tiny|small|full; BENCH_ARGS="--airflow --airflow-rounds 2 --profile" for all of it.
SCALE ?= small
bench: $(VENV)/.installed
	$(PY) -m bench.run --scale $(SCALE) $(BENCH_ARGS)

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .

## Remove what the demo left under .local/ (the embedded database and the Airflow home).
clean-local:
	rm -rf .local
