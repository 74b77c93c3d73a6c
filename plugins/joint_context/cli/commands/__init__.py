"""One module per command; each has ``run(args) -> ExitStatus``."""

from joint_context.cli.commands import backfill, compare, show, similar, vector_index

COMMANDS = {"backfill": backfill.run, "show": show.run, "compare": compare.run, "similar": similar.run,
            "vector-index": vector_index.run}
