"""rinstall: nodeset, then boot from the network, then power on or reset.

The boot state is committed before any power action: a BMC that does not answer leaves the
node ready to install on its next boot (reported, exit 1), not back in its old state.
"""

from xcatpy.boot.chainstate import parse_request
from xcatpy.boot.nodeset import NodeSetter, site_paths
from xcatpy.commands.base import Context
from xcatpy.commands.options import CommandParser
from xcatpy.drivers.base import NodeReplies
from xcatpy.drivers.dispatch import each_driver
from xcatpy.errors import UsageError

USAGE = """Usage:
  rinstall noderange [boot | shell | osimage[=<imagename>]]
  rinstall [-?|-h|--help]"""

_parser = CommandParser("rinstall", USAGE)
_parser.add_argument("noderange", nargs="?")
_parser.add_argument("state", nargs="*")


def run(ctx: Context) -> int:
    opts = _parser.parse(ctx.args)
    if not opts.noderange:
        raise UsageError("rinstall: a noderange is required")
    action, image = parse_request(opts.state or ["osimage"])
    if action not in ("osimage", "install", "netboot", "statelite", "boot", "shell"):
        raise UsageError(f"rinstall: '{action}' is not a state rinstall can boot into")
    nodes = ctx.noderange(opts.noderange)
    states = NodeSetter(ctx, site_paths(ctx.attrs, ctx.store.state_dir)).set(
        nodes, action, image)
    if not states:
        return 1
    ctx.store.commit()
    ctx.store.begin(write=False)
    errors = {node: reply.text
              for node, reply in each_driver(ctx, list(states), _netboot) if reply.error}
    for node in nodes:
        if node in errors:
            ctx.node_error(node, f"{errors[node]} (its boot state is set: power it on "
                           "or reset it to install)")
    return 0


def _netboot(driver, nodes: list[str]) -> NodeReplies:
    """Boot device first, then power: a node whose override failed is not powered, since
    it would boot its disk instead of installing."""
    ready = []
    for node, reply in driver.set_boot_device(nodes, "net"):
        if reply.error:
            yield node, reply
        else:
            ready.append(node)
    if ready:
        yield from driver.power(ready, "boot")
