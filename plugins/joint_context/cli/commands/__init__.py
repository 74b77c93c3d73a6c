"""One module per command; each has ``run(args) -> ExitStatus``."""

from joint_context.cli.commands import adopt_legacy, backfill, compare, explain, show, similar, vector_index

COMMANDS = {
    "backfill": backfill.run,
    "show": show.run,
    "compare": compare.run,
    "explain": explain.run,
    "similar": similar.run,
    "vector-index": vector_index.run,
    "adopt-legacy": adopt_legacy.run,
}
