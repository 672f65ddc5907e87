"""rpower: power bare metal through its BMC and guests through their hypervisor."""

from xcatpy.commands.base import Context
from xcatpy.commands.options import CommandParser
from xcatpy.drivers import power
from xcatpy.drivers.dispatch import each_driver
from xcatpy.errors import UsageError

USAGE = """Usage:
  rpower noderange [on|off|softoff|reset|boot|stat|state]
  rpower [-?|-h|--help]"""

_parser = CommandParser("rpower", USAGE)
_parser.add_argument("noderange", nargs="?")
_parser.add_argument("action", nargs="?")


def run(ctx: Context) -> int:
    opts = _parser.parse(ctx.args)
    if not opts.noderange or not opts.action:
        raise UsageError("rpower: a noderange and an action are required")
    action = opts.action.lower()
    if action not in power.POWER_ACTIONS:
        raise UsageError(f"rpower: unsupported action '{opts.action}' "
                         f"(one of {', '.join(power.POWER_ACTIONS)})")
    nodes = ctx.noderange(opts.noderange)
    replies = each_driver(ctx, nodes,
                          lambda driver, members: driver.power(members, action))
    report(ctx, replies)
    return 0


def report(ctx: Context, replies) -> None:
    for node, reply in replies:
        if reply.error:
            ctx.node_error(node, reply.text)
        else:
            ctx.out.data(f"{node}: {reply.text}")
