"""Data flows one way: DAG files → the Airflow layer (operators, dag_factory, compat) → pipeline → store and math.
Nothing below imports anything above it, and the layers below the Airflow one import no Airflow at all."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import joint_context

PACKAGE_DIR = Path(joint_context.__file__).parent
AIRFLOW_LAYER = {"joint_context.operators", "joint_context.rebuild_operators", "joint_context.combine_operator",
                 "joint_context.dag_factory", "joint_context.compat", "joint_context.lineage",
                 "joint_context.timetables", "joint_context.asset_events"}
FRONT_DOORS = AIRFLOW_LAYER | {"joint_context.cli", "joint_context.__main__"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE_DIR.rglob("*.py"))}
CORE = sorted(name for name in MODULES
              if not any(name == door or name.startswith(door + ".") for door in FRONT_DOORS))


def imported_names(path: Path) -> set[str]:
    """Every module an ``import`` statement of the file names, at any depth (lazy imports included)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_the_core_is_what_the_layering_says():
    assert {"joint_context.spaces", "joint_context.store", "joint_context.pipeline.extract",
            "joint_context.connections", "joint_context.views", "joint_context.search"} <= set(CORE)
    assert not set(CORE) & FRONT_DOORS


def test_no_core_module_imports_the_airflow_layer_or_the_command_line():
    offending = {name: sorted(imported for imported in imported_names(MODULES[name])
                              if any(imported == door or imported.startswith(door + ".") for door in FRONT_DOORS))
                 for name in CORE}
    assert {name: found for name, found in offending.items() if found} == {}


def test_the_command_line_does_not_import_the_airflow_layer():
    cli_modules = [name for name in MODULES if name.startswith("joint_context.cli")]
    offending = {name: sorted(imported_names(MODULES[name]) & AIRFLOW_LAYER) for name in cli_modules}
    assert {name: found for name, found in offending.items() if found} == {}


def test_importing_every_core_module_loads_no_airflow():
    probe = ("import importlib, json, sys\n"
             f"for name in {CORE!r}:\n"
             "    importlib.import_module(name)\n"
             "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] == 'airflow')))\n")
    completed = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    assert json.loads(completed.stdout.splitlines()[-1]) == []


def test_the_operators_and_the_dags_import_and_build_without_the_openlineage_provider():
    """The provider is optional: its imports sit inside the lineage methods, which only its listener calls.
    Its code and the openlineage client are made unimportable (only the metadata Airflow's provider discovery
    reads stays, as an entry point of the installed distribution)."""
    probe = ("import importlib.abc, sys\n"
             "METADATA = {'airflow.providers.openlineage', 'airflow.providers.openlineage.get_provider_info'}\n"
             "class NoOpenLineage(importlib.abc.MetaPathFinder):\n"
             "    def find_spec(self, name, path=None, target=None):\n"
             "        if name.split('.')[0] == 'openlineage' or (\n"
             "                name.startswith('airflow.providers.openlineage.') and name not in METADATA):\n"
             "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
             "sys.meta_path.insert(0, NoOpenLineage())\n"
             "from joint_context.dag_factory import build_joint_context_dag\n"
             "from joint_context.spaces import SPACES\n"
             "dags = [build_joint_context_dag(space, doc_md='probe') for space in SPACES.values()]\n"
             "print(sorted(task.task_id for dag in dags for task in dag.tasks))\n"
             "print(sorted(m for m in sys.modules if 'openlineage' in m and m not in METADATA))\n")
    completed = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert completed.stdout.splitlines()[-1] == "[]"
    assert "'write'" in completed.stdout.splitlines()[-2]
