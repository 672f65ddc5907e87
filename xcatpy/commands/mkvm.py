"""mkvm: define guests on their hypervisors and create their disk images.

mkvm does not start a guest, so it needs no free memory on the host; the definition must
still be whole (every vm column readable) before anything is stored or created. A disk
image that exists is kept as it is, whatever its size: mkvm never overwrites one.
"""

from dataclasses import dataclass

from xcatpy.commands.base import Context
from xcatpy.commands.options import CommandParser
from xcatpy.digits import decimal
from xcatpy.drivers.base import DriverError
from xcatpy.errors import UsageError
from xcatpy.virt import vmcommon
from xcatpy.virt.guest import size_mb, table_disks
from xcatpy.virt.hosts import HostDrivers, remote_shell
from xcatpy.virt.hypervisor import Hypervisor
from xcatpy.virt.model import GuestSpec

USAGE = """Usage:
  mkvm noderange [-s|--size disksize] [--mem memory] [--cpus count]
  mkvm [-?|-h|--help]"""

_parser = CommandParser("mkvm", USAGE)
_parser.add_argument("noderange", nargs="?")
_parser.add_argument("-s", "--size", dest="size")
_parser.add_argument("--mem", dest="memory")
_parser.add_argument("--cpus", dest="cpus")


@dataclass
class _Guest:
    node: str
    host: str
    driver: Hypervisor
    spec: GuestSpec


def run(ctx: Context) -> int:
    opts = _parser.parse(ctx.args)
    if not opts.noderange:
        raise UsageError("mkvm: a noderange is required")
    disk_mb, vm_values = _options(opts)
    nodes = ctx.noderange(opts.noderange)
    hosts = HostDrivers(ctx.attrs, remote_shell(ctx.store.state_dir))
    guests = []
    for node in nodes:
        try:
            guests.append(_plan(ctx, hosts, node, vm_values, disk_mb))
        except DriverError as exc:
            ctx.node_error(node, vmcommon.error_text(node, exc))
    for done in vmcommon.each_in_parallel(ctx, guests, _create):
        vmcommon.report(ctx, done.item.node, done)
    return 0


def _options(opts) -> tuple[int | None, dict[str, str]]:
    try:
        disk_mb = vmcommon.disk_size_mb(opts.size, "mkvm -s") if opts.size else None
        vm_values = {}
        if opts.memory is not None:
            size_mb(opts.memory, "mkvm --mem")
            vm_values["memory"] = opts.memory.strip()
    except DriverError as exc:
        raise UsageError(str(exc)) from None
    if opts.cpus is not None:
        if not decimal(opts.cpus.strip()):
            raise UsageError(f"mkvm --cpus is not a positive number: '{opts.cpus}'")
        vm_values["cpus"] = opts.cpus.strip()
    return disk_mb, vm_values


def _plan(ctx: Context, hosts: HostDrivers, node: str, vm_values: dict[str, str],
          disk_mb: int | None) -> _Guest:
    host, toolstack, driver = hosts.for_guest(node)
    if disk_mb is not None:
        disks = table_disks(ctx.attrs, node, toolstack)
        if not any(d.kind == "file" for d in disks):
            # xCAT refuses this too: the size would silently go nowhere.
            raise DriverError("-s gives a disk size, but vm.storage names no disk image "
                              "(block devices are never created)")
    definition = vmcommon.checked_definition(ctx, node, host, toolstack, driver, vm_values,
                                             store_values=True, disk_mb=disk_mb)
    return _Guest(node, host, driver, definition.spec)


def _create(guest: _Guest, lines: list[str]) -> None:
    for disk in guest.spec.disks:
        if disk.kind != "file":
            continue
        if guest.driver.create_disk(disk):
            lines.append(f"created {disk.path} ({vmcommon.size_text(disk.size_mb)})")
        else:
            lines.append(f"kept existing {disk.path}")
    guest.driver.define(guest.spec)
    lines.append(f"defined on {guest.host}")
