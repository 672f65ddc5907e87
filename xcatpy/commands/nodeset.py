"""nodeset: choose what nodes do on their next network boot."""

from xcatpy.boot.chainstate import parse_request
from xcatpy.boot.nodeset import NodeSetter, site_paths
from xcatpy.commands.base import Context
from xcatpy.commands.options import CommandParser
from xcatpy.errors import UsageError

USAGE = """Usage:
  nodeset noderange [boot | shell | offline | stat | next | osimage[=<imagename>]]
  nodeset noderange [install | netboot | statelite] [<imagename>]
  nodeset [-?|-h|--help]"""

_parser = CommandParser("nodeset", USAGE)
_parser.add_argument("noderange", nargs="?")
_parser.add_argument("state", nargs="*")


def run(ctx: Context) -> int:
    opts = _parser.parse(ctx.args)
    if not opts.noderange:
        raise UsageError("nodeset: a noderange is required")
    action, image = parse_request(opts.state)
    nodes = ctx.noderange(opts.noderange)
    setter = NodeSetter(ctx, site_paths(ctx.attrs, ctx.store.state_dir))
    if action == "stat":
        setter.stat(nodes)
    elif action == "next":
        setter.next(nodes)
    else:
        setter.set(nodes, action, image)
    return 0
