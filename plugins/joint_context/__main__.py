"""``python -m joint_context backfill|show|compare``: see :mod:`joint_context.cli`."""

import sys

from joint_context.cli import main

sys.exit(main())
