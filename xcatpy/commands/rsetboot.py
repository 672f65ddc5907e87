"""rsetboot: the device a node boots from next (an IPMI boot override for bare metal)."""

from xcatpy.commands.base import Context
from xcatpy.commands.options import CommandParser
from xcatpy.commands.rpower import report
from xcatpy.drivers import power
from xcatpy.drivers.dispatch import each_driver
from xcatpy.errors import UsageError

USAGE = """Usage:
  rsetboot noderange [net|hd|cd|def|stat]
  rsetboot [-?|-h|--help]"""

_ALIASES = {"network": "net", "pxe": "net", "disk": "hd", "cdrom": "cd", "default": "def"}

_parser = CommandParser("rsetboot", USAGE)
_parser.add_argument("noderange", nargs="?")
_parser.add_argument("device", nargs="?")


def run(ctx: Context) -> int:
    opts = _parser.parse(ctx.args)
    if not opts.noderange or not opts.device:
        raise UsageError("rsetboot: a noderange and a boot device are required")
    device = _ALIASES.get(opts.device.lower(), opts.device.lower())
    if device not in power.BOOT_DEVICES:
        raise UsageError(f"rsetboot: unsupported boot device '{opts.device}' "
                         f"(one of {', '.join(power.BOOT_DEVICES)})")
    nodes = ctx.noderange(opts.noderange)
    replies = each_driver(ctx, nodes,
                          lambda driver, members: driver.set_boot_device(members, device))
    report(ctx, replies)
    return 0
