"""noderm: remove nodes and every row that belongs to them."""

from xcatpy.commands.base import Context
from xcatpy.commands.options import CommandParser
from xcatpy.db.nodeops import remove_nodes
from xcatpy.errors import UsageError

USAGE = """Usage:
  noderm noderange
  noderm [-?|-h|--help]"""

_parser = CommandParser("noderm", USAGE)
_parser.add_argument("noderange", nargs="?")


def run(ctx: Context) -> int:
    opts = _parser.parse(ctx.args)
    if not opts.noderange:
        raise UsageError("noderm: a noderange is required")
    remove_nodes(ctx.attrs, ctx.noderange(opts.noderange))
    return 0
