"""One module per command; each has ``run(args) -> ExitStatus``."""

from joint_context.cli.commands import backfill, compare, explain, show

COMMANDS = {"backfill": backfill.run, "show": show.run, "compare": compare.run, "explain": explain.run}
