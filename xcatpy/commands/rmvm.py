"""rmvm: remove guests' definitions from their hypervisors, and with -p their disk images.

The node stays in the tables with its UUID and MACs: a guest made again with mkvm or
`rpower on` comes back with the same identity, and its DHCP entry and boot configs (which
are looked up by MAC and UUID) stay valid in between.
"""

from dataclasses import dataclass, field

from xcatpy.commands.base import Context
from xcatpy.commands.options import CommandParser
from xcatpy.drivers.base import DriverError
from xcatpy.errors import UsageError
from xcatpy.virt import vmcommon
from xcatpy.virt.guest import table_disks
from xcatpy.virt.hosts import HostDrivers, remote_shell
from xcatpy.virt.hypervisor import Hypervisor
from xcatpy.virt.model import OFF, Disk

USAGE = """Usage:
  rmvm noderange [-f|--force] [-p|--purge]
  rmvm [-?|-h|--help]"""

_parser = CommandParser("rmvm", USAGE)
_parser.add_argument("noderange", nargs="?")
_parser.add_argument("-f", "--force", action="store_true")
_parser.add_argument("-p", "--purge", action="store_true")


@dataclass
class _Guest:
    node: str
    host: str
    driver: Hypervisor
    purge: list[Disk] = field(default_factory=list)
    # Set by the worker once the host no longer has the guest, even if purging fails later.
    gone: bool = False


def run(ctx: Context) -> int:
    opts = _parser.parse(ctx.args)
    if not opts.noderange:
        raise UsageError("rmvm: a noderange is required")
    nodes = ctx.noderange(opts.noderange)
    hosts = HostDrivers(ctx.attrs, remote_shell(ctx.store.state_dir))
    guests = []
    for node in nodes:
        try:
            host, toolstack, driver = hosts.for_guest(node)
            guest = _Guest(node, host, driver)
            if opts.purge:
                disks = table_disks(ctx.attrs, node, toolstack)
                guest.purge = [d for d in disks if d.kind == "file"]
            guests.append(guest)
        except DriverError as exc:
            ctx.node_error(node, vmcommon.error_text(node, exc))

    def remove(guest: _Guest, lines: list[str]) -> None:
        _remove(guest, lines, force=opts.force)

    for done in vmcommon.each_in_parallel(ctx, guests, remove):
        if done.item.gone:
            # It no longer runs anywhere; rpower stat would say the same.
            ctx.write_now(lambda store, n=done.item.node: store.upsert_rows(
                "vm", [{"node": n, "powerstate": OFF}]))
        vmcommon.report(ctx, done.item.node, done)
    return 0


def _remove(guest: _Guest, lines: list[str], *, force: bool) -> None:
    node, driver = guest.node, guest.driver
    status = driver.guests().get(node)
    if status is not None and status.state != OFF:
        if not force:
            raise DriverError(f"{vmcommon.state_word(status.state)} on {guest.host}; use "
                              "rpower off first or rmvm -f")
        driver.stop(node, hard=True)
        lines.append(f"stopped on {guest.host}")
    if status is None:
        lines.append(f"not defined on {guest.host}")
    else:
        driver.undefine(node)
        lines.append(f"removed from {guest.host}")
    guest.gone = True
    for disk in guest.purge:
        driver.remove_disk(disk)
        lines.append(f"purged {disk.path}")
