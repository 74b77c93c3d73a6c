"""docker-compose.yaml, Dockerfile and .env.example: parsed by Docker Compose v2, and held to the house rules."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote

import pytest
import yaml

from devtools import localdb
from tests.deploy.conftest import (
    COMPOSE_FILE,
    DOCKERFILE,
    ENV_EXAMPLE,
    REPO_ROOT,
    REQUIRED_SECRETS,
    env_example_values,
    filled_env_file,
    run_compose_config,
)

AIRFLOW_COMPONENTS = {
    "airflow-apiserver": "api-server",
    "airflow-scheduler": "scheduler",
    "airflow-dag-processor": "dag-processor",
    "airflow-worker": "celery worker",
    "airflow-triggerer": "triggerer",
}
INIT_SCRIPT = REPO_ROOT / "deploy" / "data-db" / "10-joint-context-databases.sh"
SCHEMA_MOUNT = "/joint-context/schema"
ROLES_MOUNT = "/joint-context/roles.sql"


def pinned_airflow_version() -> str:
    (version,) = re.findall(r"^apache-airflow==(\S+)$", (REPO_ROOT / "requirements.txt").read_text(), re.M)
    return version


def binds(service: dict) -> list[dict]:
    return [volume for volume in service.get("volumes", []) if volume["type"] == "bind"]


def test_compose_parses_with_every_profile_and_has_the_official_services(compose_model):
    assert set(compose_model["services"]) == {
        *AIRFLOW_COMPONENTS, "airflow-init", "airflow-cli", "flower", "postgres", "redis",
        "data-postgres", "data-seed",
    }
    for service, command in AIRFLOW_COMPONENTS.items():
        assert compose_model["services"][service]["command"] == command.split(), service


def test_the_parser_rejects_an_invalid_compose_file(tmp_path, secrets):
    # The same file with one key misspelled or one condition unknown: a validating parser must refuse each.
    for good, bad, complaint in (
        ("    restart: always", "    restrat: always", "additional properties 'restrat' not allowed"),
        ("condition: service_healthy", "condition: service_happy", "condition value must be one of"),
    ):
        broken = tmp_path / "docker-compose.yaml"
        broken.write_text(COMPOSE_FILE.read_text().replace(good, bad, 1))
        completed = run_compose_config(filled_env_file(tmp_path, secrets), "*", compose_file=broken)
        assert completed.returncode != 0, bad
        assert complaint in completed.stderr


@pytest.mark.parametrize("missing", REQUIRED_SECRETS)
def test_compose_refuses_to_start_while_a_secret_is_empty(tmp_path, secrets, missing):
    completed = run_compose_config(filled_env_file(tmp_path, secrets, leave_empty=missing))
    assert completed.returncode != 0
    assert f"required variable {missing} is missing a value" in completed.stderr


def test_env_example_commits_no_secret():
    values = env_example_values()
    assert {key: values[key] for key in REQUIRED_SECRETS} == dict.fromkeys(REQUIRED_SECRETS, "")
    # Whatever else it sets is a name, a port, a profile or a reference to another variable, never a literal
    # password: the connection URIs take theirs from JOINT_CONTEXT_DB_PASSWORD.
    for key, value in values.items():
        if "PASSWORD" in key or "SECRET" in key or "KEY" in key:
            assert value == "", key
        for password in re.findall(r"//[^:/@]+:([^@]*)@", value):
            assert re.fullmatch(r"\$\{\w+\}", password), (key, password)
    ignored = subprocess.run(["git", "check-ignore", "--quiet", ".env"], cwd=REPO_ROOT, check=False)
    assert ignored.returncode == 0, ".env must stay out of git"


def test_compose_file_commits_no_secret():
    # Every value whose name says password / secret / key comes from the environment, with no default.
    raw = COMPOSE_FILE.read_text()
    secret_lines = re.findall(r"^\s*(\w*(?:PASSWORD|SECRET|FERNET_KEY)\w*):\s*(.+)$", raw, re.M)
    assert secret_lines, "the compose file sets its secrets somewhere"
    for name, value in secret_lines:
        if name.endswith("_FILE"):
            continue  # a path, not a secret
        assert re.fullmatch(r"\$\{\w+:\?[^}]*\}", value.strip()), (name, value)
    url_passwords = re.findall(r"://[^:/@\s'\"]+:([^\n]*?)@", raw)
    assert len(url_passwords) == 2  # the metadata database and the Celery result backend
    for password in url_passwords:
        assert re.fullmatch(r"\$\{\w+:\?[^}]*\}", password), password


def test_connections_from_env_example_are_the_packages_two_postgres_connections(compose_model, secrets):
    from airflow.models.connection import Connection

    for service in ("airflow-worker", "airflow-scheduler", "airflow-apiserver", "airflow-triggerer"):
        environment = compose_model["services"][service]["environment"]
        for conn_id, database in (("RUNTIME_DB", "runtime_db"), ("HISTORICAL_DB", "historical_db")):
            connection = Connection(conn_id=database.lower(), uri=environment[f"AIRFLOW_CONN_{conn_id}"])
            assert (connection.conn_type, connection.host, connection.port, connection.schema) == (
                "postgres", "data-postgres", 5432, database), service
            assert connection.login == "joint_context"
            assert unquote(connection.password) == secrets["JOINT_CONTEXT_DB_PASSWORD"]
    data_db = compose_model["services"]["data-postgres"]["environment"]
    assert data_db["JOINT_CONTEXT_DB_USER"] == "joint_context"
    assert data_db["JOINT_CONTEXT_DB_PASSWORD"] == secrets["JOINT_CONTEXT_DB_PASSWORD"]


def test_airflow_components_share_executor_broker_and_signing_secrets(compose_model, secrets):
    airflow_services = [*AIRFLOW_COMPONENTS, "airflow-init", "airflow-cli", "flower"]
    for service in airflow_services:
        environment = compose_model["services"][service]["environment"]
        assert environment["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", service
        assert environment["AIRFLOW__CELERY__BROKER_URL"] == "redis://redis:6379/0", service
        assert environment["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/"
        assert environment["AIRFLOW__API_AUTH__JWT_SECRET"] == secrets["AIRFLOW__API_AUTH__JWT_SECRET"], service
        assert environment["AIRFLOW__CORE__FERNET_KEY"] == secrets["AIRFLOW__CORE__FERNET_KEY"], service
        assert secrets["AIRFLOW_DB_PASSWORD"] in environment["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"], service
    init = compose_model["services"]["airflow-init"]["environment"]
    assert init["_AIRFLOW_DB_MIGRATE"] == "true"
    assert init["ADMIN_PASSWORD"] == secrets["AIRFLOW_ADMIN_PASSWORD"]
    for service in AIRFLOW_COMPONENTS:
        assert compose_model["services"][service]["depends_on"]["airflow-init"]["condition"] == (
            "service_completed_successfully"), service


def test_each_secret_reaches_only_the_services_that_use_it(compose_model, secrets):
    # .env feeds interpolation only: no service reads it whole, so no container sees more than it names.
    raw_services = yaml.safe_load(COMPOSE_FILE.read_text())["services"]  # YAML merge keys resolved
    assert [name for name, service in raw_services.items() if "env_file" in service] == []
    holders = {
        key: {name for name, service in compose_model["services"].items()
              if any(value and secret in value for value in service.get("environment", {}).values())}
        for key, secret in secrets.items()
    }
    airflow_services = {*AIRFLOW_COMPONENTS, "airflow-init", "airflow-cli", "flower"}
    assert holders["DATA_DB_ADMIN_PASSWORD"] == {"data-postgres", "data-seed"}
    assert holders["AIRFLOW_ADMIN_PASSWORD"] == {"airflow-init"}
    assert holders["JOINT_CONTEXT_DB_PASSWORD"] == airflow_services | {"data-postgres"}
    assert holders["AIRFLOW_DB_PASSWORD"] == airflow_services | {"postgres"}
    for key in ("AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__API__SECRET_KEY"):
        assert holders[key] == airflow_services, key


def test_every_published_port_binds_loopback_only(compose_model):
    published = {
        (name, port["target"]): port.get("host_ip")
        for name, service in compose_model["services"].items() for port in service.get("ports", [])
    }
    assert {("airflow-apiserver", 8080), ("data-postgres", 5432), ("flower", 5555)} <= set(published)
    assert set(published.values()) == {"127.0.0.1"}, published


def test_every_mounted_path_and_build_context_exists_in_the_repository(compose_model):
    mounted = []
    for name, service in compose_model["services"].items():
        for volume in binds(service):
            source = Path(volume["source"])
            assert source.exists(), f"{name} mounts {source}, which does not exist (compose would create a folder)"
            assert source.is_relative_to(REPO_ROOT), (name, source)
            mounted.append(source.relative_to(REPO_ROOT).as_posix())
        if "build" in service:
            context = Path(service["build"]["context"])
            assert context == REPO_ROOT and (context / service["build"]["dockerfile"]).is_file(), name
    assert {"dags", "include/sql/schema", "include/sql/roles.sql"} <= set(mounted)
    worker = compose_model["services"]["airflow-worker"]
    worker_targets = {volume["target"]: volume["source"] for volume in binds(worker)}
    # The package is installed in the image: a mounted plugins/ would only shadow nothing and mislead.
    assert worker_targets == {"/opt/airflow/dags": str(REPO_ROOT / "dags")}
    assert ENV_EXAMPLE.is_file()


def test_data_db_init_runs_the_same_schema_files_as_the_tests(compose_model):
    data_db = compose_model["services"]["data-postgres"]
    mounts = {volume["target"]: Path(volume["source"]) for volume in binds(data_db)}
    assert mounts[SCHEMA_MOUNT] == localdb.SCHEMA_DIR
    assert mounts["/docker-entrypoint-initdb.d/10-joint-context-databases.sh"] == INIT_SCRIPT
    script = INIT_SCRIPT.read_text()
    assert f'JOINT_CONTEXT_SCHEMA_DIR:={SCHEMA_MOUNT}' in script
    for database, schema_file in localdb.SCHEMA_FILES.items():
        assert (localdb.SCHEMA_DIR / schema_file).is_file()
        assert f'"$JOINT_CONTEXT_SCHEMA_DIR/{schema_file}"' in script, database
    # No copy of the DDL anywhere under deploy/: the schema lives in include/sql/schema only.
    ddl_copies = [path for path in (REPO_ROOT / "deploy").rglob("*") if path.is_file()
                  and "CREATE TABLE" in path.read_text(errors="ignore")]
    assert ddl_copies == []


def test_data_db_init_grants_exactly_include_sql_roles_sql(compose_model):
    data_db = compose_model["services"]["data-postgres"]
    mounts = {volume["target"]: Path(volume["source"]) for volume in binds(data_db)}
    assert mounts[ROLES_MOUNT] == REPO_ROOT / "include" / "sql" / "roles.sql"
    script = INIT_SCRIPT.read_text()
    assert f"ROLES_SQL={ROLES_MOUNT}" in script
    # No second list of grants anywhere under deploy/: the grants live in include/sql/roles.sql only.
    grant_copies = [path for path in (REPO_ROOT / "deploy").rglob("*") if path.is_file()
                    and re.search(r"\bGRANT\b", path.read_text(errors="ignore"))]
    assert grant_copies == []


def test_image_is_the_airflow_release_that_requirements_pin():
    version = pinned_airflow_version()
    (base_image,) = re.findall(r"^FROM\s+(\S+)", DOCKERFILE.read_text(), re.M)
    assert base_image == f"apache/airflow:slim-{version}-python3.11"
    raw = yaml.safe_load(COMPOSE_FILE.read_text())
    assert raw["x-airflow-common"]["image"].endswith(f":{version}}}")


def test_image_installs_requirements_txt_then_the_package_and_copies_the_dags():
    dockerfile = DOCKERFILE.read_text()
    assert re.search(r"^COPY .*\brequirements\.txt /opt/airflow/requirements\.txt$", dockerfile, re.M)
    assert re.search(r"^RUN pip install --no-cache-dir -r /opt/airflow/requirements\.txt$", dockerfile, re.M)
    assert re.search(r"^RUN pip install --no-cache-dir --no-deps /opt/airflow/src/joint-context$", dockerfile, re.M)
    assert dockerfile.index("USER airflow") < dockerfile.index("RUN pip install")
    copied = [source for sources in re.findall(r"^COPY (?:--\S+ )*(.+) \S+$", dockerfile, re.M)
              for source in sources.split()]
    assert copied == ["requirements.txt", "pyproject.toml", "README.md", "plugins/", "plugins/processed_day_plugin.py",
                      "dags/", "include/"]
    for source in copied:
        assert (REPO_ROOT / source).exists(), source
    # .dockerignore keeps the build context to exactly those (no .env, no venv).
    allowed = [line[1:].rstrip("/") for line in (REPO_ROOT / ".dockerignore").read_text().splitlines()
               if line.startswith("!")]
    assert sorted(allowed) == sorted({source.split("/")[0] for source in copied})
    assert "_PIP_ADDITIONAL_REQUIREMENTS" not in COMPOSE_FILE.read_text()


def test_airflow_init_writes_the_admin_password_the_auth_manager_reads(compose_model, tmp_path):
    from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager

    init = compose_model["services"]["airflow-init"]
    assert init["entrypoint"] == ["/bin/bash"] and init["command"][0] == "-c"
    script = init["command"][1]
    syntax = subprocess.run(["bash", "-n", "-c", script], capture_output=True, text=True, timeout=30)
    assert syntax.returncode == 0, syntax.stderr
    # The script's own password writer, run on a password that JSON must escape.
    (writer,) = re.findall(r"python -c '([^']+)'", script)
    password_file = Path(init["environment"]["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"])
    assert f"> {password_file}" in script
    tricky = 'p"a\\ss wörd'
    written = subprocess.run(
        [sys.executable, "-c", writer], capture_output=True, text=True, timeout=30, check=True,
        env={**os.environ, "ADMIN_USERNAME": init["environment"]["ADMIN_USERNAME"], "ADMIN_PASSWORD": tricky},
    )
    (tmp_path / "passwords.json").write_text(written.stdout)
    with (tmp_path / "passwords.json").open() as stream:
        assert SimpleAuthManager._get_passwords(stream) == {"admin": tricky}
    users = init["environment"]["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"]
    assert users == "admin:admin"  # user admin, role admin


def test_the_package_installed_as_in_the_image_finds_its_sql_and_the_dags_import_it(tmp_path):
    # The Dockerfile's `pip install --no-deps` of the package, into a folder of its own standing in for the image's
    # site-packages; the DAG files copied as the image lays them out; Airflow's own sys.path handling.
    site_packages, dags, source = (tmp_path / "site-packages", tmp_path / "opt" / "airflow" / "dags",
                                   tmp_path / "src" / "joint-context")
    source.mkdir(parents=True)  # what the Dockerfile copies, away from the repository (a build writes beside it)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO_ROOT / name, source / name)
    shutil.copytree(REPO_ROOT / "plugins", source / "plugins", ignore=shutil.ignore_patterns("__pycache__", "*.egg*"))
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(site_packages),
                    str(source)], check=True, capture_output=True, timeout=300)
    shutil.copytree(REPO_ROOT / "dags", dags, ignore=shutil.ignore_patterns("__pycache__"))
    probe = (
        "import json\n"
        "from airflow.dag_processing.dagbag import DagBag\n"
        "bag = DagBag()\n"
        "import joint_context\n"
        "from joint_context import store\n"
        "print(json.dumps({'dags': sorted(bag.dag_ids), 'errors': {k: str(v) for k, v in bag.import_errors.items()},"
        " 'package': joint_context.__file__, 'query': store.read_sql('select_regimes.sql')}))\n"
    )
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("AIRFLOW", "PYTHONPATH"))}
    environment.update(PYTHONPATH=str(site_packages), AIRFLOW_HOME=str(tmp_path / "opt" / "airflow"),
                       AIRFLOW__CORE__LOAD_EXAMPLES="False", AIRFLOW__CORE__DAGS_FOLDER=str(dags))
    completed = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=180,
                               env=environment, cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr[-3000:]
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    assert result["errors"] == {}
    assert {"joint_regime_macro_context", "joint_regime_news_context"} <= set(result["dags"])
    assert Path(result["package"]).is_relative_to(site_packages)  # the installed copy, not the repository's
    assert result["query"] == (REPO_ROOT / "plugins" / "joint_context" / "sql" / "select_regimes.sql").read_text()
