"""Build ``.venv-airflow2``, the Airflow 2.11 environment the same ``dags/`` and package are tested in.

    python3 devtools/airflow2.py            # build it if missing or out of date (fast no-op otherwise)
    python3 devtools/airflow2.py --check    # only say whether it is ready (exit 1 and why, if not)

The environment is made from the pinned ``requirements-airflow2.txt`` with a Python 3.11 interpreter, and the
``joint_context`` package is installed into it editable (``--no-deps``), as into ``.venv``: both environments
import the same code. A stamp file inside it records the SHA-256 of the pins and of the package's build description
(``pyproject.toml`` without its tool settings), so editing either triggers a rebuild and nothing else does.
Standard library only: it runs before ``.venv`` exists.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

if not __package__:  # run as `python3 devtools/airflow2.py`: the repository root is not on sys.path yet
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from devtools.paths import REPO_ROOT  # noqa: E402

REQUIREMENTS = REPO_ROOT / "requirements-airflow2.txt"
DEFAULT_VENV = REPO_ROOT / ".venv-airflow2"
STAMP_NAME = ".installed"
PYTHON_VERSION = (3, 11)
BUILD_COMMAND = "python3 devtools/airflow2.py"
PIP_TIMEOUT_SECONDS = 1800


def requirements_digest(requirements: Path = REQUIREMENTS) -> str:
    """SHA-256 of the pins and of the package's build description (not of pyproject's tool settings)."""
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    package = {key: pyproject.get(key) for key in ("build-system", "project")}
    package["setuptools"] = pyproject.get("tool", {}).get("setuptools")
    return hashlib.sha256(requirements.read_bytes() + json.dumps(package, sort_keys=True).encode()).hexdigest()


def venv_bin(venv: Path = DEFAULT_VENV) -> Path:
    return venv / "bin"


def problem_with(venv: Path = DEFAULT_VENV, requirements: Path = REQUIREMENTS) -> str | None:
    """Why ``venv`` is not a ready Airflow 2.11 environment for ``requirements``, or None when it is."""
    stamp = venv / STAMP_NAME
    if not (venv_bin(venv) / "python").exists():
        return f"{venv} does not exist"
    if not (venv_bin(venv) / "airflow").exists():
        return f"{venv} has no airflow command"
    if not stamp.exists():
        return f"{venv} was not fully installed (no {STAMP_NAME} stamp)"
    if stamp.read_text().strip() != requirements_digest(requirements):
        return f"{venv} was built from an older {requirements.name} or pyproject.toml"
    return None


def how_to_build(venv: Path = DEFAULT_VENV) -> str:
    option = "" if venv == DEFAULT_VENV else f" --venv {venv}"
    return f"build it with `{BUILD_COMMAND}{option}` (about a minute; needs PyPI)"


def find_python(requested: str | None) -> str:
    """A Python 3.11 interpreter: ``requested``, this one, or ``python3.11`` on PATH."""
    if requested:
        return requested
    if sys.version_info[:2] == PYTHON_VERSION:
        return sys.executable
    found = shutil.which("python{}.{}".format(*PYTHON_VERSION))
    if not found:
        raise SystemExit("no Python 3.11 found: pass --python /path/to/python3.11")
    return found


def build(venv: Path, python: str, requirements: Path = REQUIREMENTS) -> None:
    """(Re)create ``venv`` from scratch and install the pinned set; the stamp is written last."""
    if venv.exists():
        shutil.rmtree(venv)
    subprocess.run([python, "-m", "venv", str(venv)], check=True)
    pip = [str(venv_bin(venv) / "python"), "-m", "pip"]
    subprocess.run([*pip, "install", "--quiet", "--upgrade", "pip"], check=True, timeout=PIP_TIMEOUT_SECONDS)
    subprocess.run([*pip, "install", "--quiet", "-r", str(requirements)], check=True, timeout=PIP_TIMEOUT_SECONDS)
    subprocess.run([*pip, "install", "--quiet", "--no-deps", "-e", str(REPO_ROOT)], check=True,
                   timeout=PIP_TIMEOUT_SECONDS)
    subprocess.run([*pip, "check"], check=True, timeout=120)
    (venv / STAMP_NAME).write_text(requirements_digest(requirements) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venv", type=Path, default=DEFAULT_VENV, help="where the environment lives")
    parser.add_argument("--python", help="the Python 3.11 interpreter to build it with")
    parser.add_argument("--check", action="store_true", help="only report whether it is ready")
    parser.add_argument("--force", action="store_true", help="rebuild even when it is ready")
    args = parser.parse_args(argv)
    venv = args.venv.resolve()
    problem = problem_with(venv)
    if args.check:
        print(f"{venv}: {problem}; {how_to_build(venv)}" if problem else f"{venv}: ready")
        return 1 if problem else 0
    if problem is None and not args.force:
        print(f"{venv}: ready (built from this {REQUIREMENTS.name})")
        return 0
    print(f"{venv}: {problem or 'rebuild requested'}; building from {REQUIREMENTS.name}", flush=True)
    build(venv, find_python(args.python))
    print(f"{venv}: ready")
    return 0


if __name__ == "__main__":
    sys.exit(main())
