"""Where the repository is: the one definition of ``REPO_ROOT`` for devtools, bench and the tests.

Standard library only: ``devtools/airflow2.py`` imports it before any virtual environment exists.
"""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
LOCAL_DIR = REPO_ROOT / ".local"  # what `make demo` and `make stack` leave behind (git-ignored)
