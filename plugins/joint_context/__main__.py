"""``python -m joint_context``: the ``joint-context`` command line (:mod:`joint_context.cli`)."""

import sys

from joint_context.cli import main

# Airflow imports every file under plugins/ when it loads plugins: only run when started as a program.
if __name__ == "__main__":
    sys.exit(main())
