"""chvm: change guests' memory, CPUs and disks, in the tables and on their hypervisors.

For each guest: the new definition is checked against the tables as they will be; a
running guest that is to grow must fit on its host (else it is refused with the numbers and
nothing changes); new disk images are created (never over an existing file); the host's
persistent definition is replaced; the running guest gets the new memory and CPU count;
then the vm row records the change. Disks added or removed reach a running guest at its
next start: the hypervisor interface has no live attach.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
from dataclasses import dataclass, field

from xcatpy.commands.base import Context
from xcatpy.commands.options import CommandParser
from xcatpy.digits import decimal
from xcatpy.drivers.base import DriverError
from xcatpy.errors import UsageError
from xcatpy.virt import capacity, vmcommon
from xcatpy.virt.guest import GuestError, guest_spec, size_mb, table_disks
from xcatpy.virt.hosts import HostDrivers, remote_shell
from xcatpy.virt.hypervisor import Hypervisor
from xcatpy.virt.model import OFF, ON, PAUSED, Disk, GuestSpec

USAGE = """Usage:
  chvm noderange [--mem memory] [--cpus count] [-a|--adddisk size[,size...]]
       [-d|--deldisk disk[,disk...]] [-p|--purge disk[,disk...]]
  chvm [-?|-h|--help]"""

_parser = CommandParser("chvm", USAGE)
_parser.add_argument("noderange", nargs="?")
_parser.add_argument("--mem", dest="memory")
_parser.add_argument("--cpus", dest="cpus")
_parser.add_argument("-a", "--adddisk", action="append", default=[])
_parser.add_argument("-d", "--deldisk", action="append", default=[])
_parser.add_argument("-p", "--purge", action="append", default=[])


@dataclass
class _Change:
    """What the user asked, the same for every node."""

    memory: str | None = None
    memory_mb: int | None = None
    cpus: int | None = None
    add_mb: list[int] = field(default_factory=list)
    remove: list[str] = field(default_factory=list)
    purge: bool = False  # the removed disks' images go too


@dataclass
class _Guest:
    node: str
    host: str
    driver: Hypervisor
    spec: GuestSpec
    vm_values: dict[str, str]
    host_lock: threading.Lock
    limits: capacity.HostLimits | None = None
    old_maxmem_mb: int | None = None
    new_disks: list[Disk] = field(default_factory=list)
    removed: list[Disk] = field(default_factory=list)
    # Set by the worker once the host's definition (or, for a guest the host does not know,
    # nothing at all) stands for the new values: from then on the tables must follow.
    record: bool = False


def run(ctx: Context) -> int:
    opts = _parser.parse(ctx.args)
    if not opts.noderange:
        raise UsageError("chvm: a noderange is required")
    change = _parse_change(opts)
    nodes = ctx.noderange(opts.noderange)
    hosts = HostDrivers(ctx.attrs, remote_shell(ctx.store.state_dir))
    locks: dict[str, threading.Lock] = {}
    guests = []
    for node in nodes:
        try:
            guests.append(_plan(ctx, hosts, locks, node, change))
        except DriverError as exc:
            ctx.node_error(node, vmcommon.error_text(node, exc))

    def act(guest: _Guest, lines: list[str]) -> None:
        _apply(guest, change, lines)

    for done in vmcommon.each_in_parallel(ctx, guests, act):
        guest = done.item
        if guest.record:
            ctx.write_now(lambda store, g=guest: store.upsert_rows(
                "vm", [{"node": g.node, **{c: v or None for c, v in g.vm_values.items()}}]))
        vmcommon.report(ctx, guest.node, done)
    return 0


def _items(values: list[str]) -> list[str]:
    return [v.strip() for text in values for v in text.split(",") if v.strip()]


def _parse_change(opts) -> _Change:
    change = _Change()
    try:
        if opts.memory is not None:
            change.memory = opts.memory.strip()
            change.memory_mb = size_mb(change.memory, "chvm --mem")
        change.add_mb = [vmcommon.disk_size_mb(s, "chvm -a") for s in _items(opts.adddisk)]
    except DriverError as exc:
        raise UsageError(str(exc)) from None
    if opts.cpus is not None:
        cpus = decimal(opts.cpus.strip())
        if not cpus:
            raise UsageError(f"chvm --cpus is not a positive number: '{opts.cpus}'")
        change.cpus = cpus
    deregister, purge = _items(opts.deldisk), _items(opts.purge)
    change.remove = deregister + purge
    change.purge = bool(purge)
    if deregister and purge:
        raise UsageError("chvm: -d keeps the images and -p removes them; use one at a time")
    if change.add_mb and change.remove:
        # xCAT refuses this too: device names shift under both at once.
        raise UsageError("chvm: adding and removing disks at once is not supported; run "
                         "chvm twice")
    if change.memory is None and change.cpus is None and not change.add_mb \
            and not change.remove:
        raise UsageError("chvm: nothing to change (--mem, --cpus, -a, -d or -p)")
    return change


def _plan(ctx: Context, hosts: HostDrivers, locks: dict[str, threading.Lock], node: str,
          change: _Change) -> _Guest:
    attrs = ctx.attrs
    host, toolstack, driver = hosts.for_guest(node)
    old_disks = table_disks(attrs, node, toolstack)
    vm_values: dict[str, str] = {}
    if change.memory is not None:
        vm_values["memory"] = change.memory
    if change.cpus is not None:
        vm_values["cpus"] = str(change.cpus)
    removed = _disks_named(node, old_disks, change.remove, purge=change.purge)
    if removed:
        vm_values["storage"] = ",".join(vmcommon.storage_entries(
            [d for d in old_disks if d not in removed]))
    if change.add_mb:
        location = vmcommon.new_disk_location(old_disks, node)
        vm_values["storage"] = ",".join(
            [attrs.lookup(node, "vm", "storage") or ""] + [location] * len(change.add_mb))
    definition = vmcommon.checked_definition(ctx, node, host, toolstack, driver, vm_values,
                                             store_values=False)
    guest = _Guest(node, host, driver, definition.spec, vm_values,
                   locks.setdefault(host, threading.Lock()), removed=removed)
    if change.add_mb:
        fresh = definition.spec.disks[len(old_disks):]
        taken = {d.path for d in old_disks}
        for disk, mb in zip(fresh, change.add_mb, strict=True):
            if disk.path in taken:
                raise GuestError(f"a new disk would be {disk.path}, which the guest already "
                                 "uses; name the new image in vm.storage yourself")
            guest.new_disks.append(dataclasses.replace(disk, size_mb=mb))
    if change.memory_mb is not None:
        guest.limits = capacity.host_limits(attrs, host)
        try:
            old = guest_spec(attrs, node, definition.identity, toolstack=toolstack,
                             max_nics=getattr(driver, "max_nics", None))
            guest.old_maxmem_mb = old.maxmem_mb
        except GuestError:
            pass  # the tables were broken before this change; the ceiling is unknown
    return guest


def _disks_named(node: str, disks: list[Disk], names: list[str], *,
                 purge: bool) -> list[Disk]:
    chosen = []
    for name in names:
        found = [d for d in disks if name in (d.path, d.device, f"phy:{d.path}")]
        if not found:
            have = ", ".join(f"{d.device}={d.path}" for d in disks) or "none"
            raise GuestError(f"{node}: no disk '{name}' in vm.storage (its disks: {have})")
        if purge and found[0].kind == "phy":
            raise GuestError(f"{node}: {found[0].path} is a block device; it is never purged "
                             "(chvm -d takes it out of the definition)")
        chosen += [d for d in found if d not in chosen]
    return chosen


def _apply(guest: _Guest, change: _Change, lines: list[str]) -> None:
    node, host, driver = guest.node, guest.host, guest.driver
    # Memory checks and changes on one host go one at a time, so two guests growing in the
    # same command cannot both pass the check against the same free memory.
    serialise = guest.host_lock if change.memory_mb is not None else contextlib.nullcontext()
    with serialise:
        running = driver.guests()
        status = running.get(node)
        live = status is not None and status.state in (ON, PAUSED)
        if change.purge and status is not None and status.state != OFF:
            raise DriverError(f"{vmcommon.state_word(status.state)} on {host}; power it off "
                              "before purging its disks (chvm -d keeps the images)")
        if live and change.memory_mb is not None and change.memory_mb > status.memory_mb:
            _check_growth(guest, change.memory_mb, running)
        for disk in guest.new_disks:
            if driver.create_disk(disk):
                lines.append(f"created {disk.path} ({vmcommon.size_text(disk.size_mb)})")
            else:
                lines.append(f"kept existing {disk.path}")
        if status is None:
            lines.append(f"not defined on {host}; mkvm or rpower on creates it as changed")
        else:
            driver.define(guest.spec)
            lines.append(f"definition updated on {host}")
        guest.record = True
        if live and change.memory_mb is not None:
            driver.set_memory(node, change.memory_mb)
        if live and change.cpus is not None:
            driver.set_vcpus(node, change.cpus)
    now = driver.guests().get(node) if live else None
    if change.memory_mb is not None:
        lines.append(f"memory {change.memory_mb} MB" + (
            f" (the running guest has {now.memory_mb} MB)" if now else ""))
    if change.cpus is not None:
        lines.append(f"cpus {change.cpus}" + (
            f" (the running guest has {now.vcpus})" if now else ""))
    for disk in guest.removed:
        if change.purge:
            driver.remove_disk(disk)
            lines.append(f"purged {disk.path}")
        else:
            lines.append(f"removed {disk.path} from the definition (image kept)")
    if live and (guest.new_disks or guest.removed):
        lines.append("disk changes reach the running guest at its next start")


def _check_growth(guest: _Guest, memory_mb: int, running) -> None:
    ceiling = guest.old_maxmem_mb
    if ceiling is not None and memory_mb > ceiling:
        raise capacity.CapacityError(
            f"running on {guest.host} with at most {ceiling} MB (vm.maxmem, else vm.memory, "
            f"when it started); power it off to give it {memory_mb} MB, or raise vm.maxmem "
            "before its next start")
    info = guest.driver.host_info() if guest.limits.total_mb is None else None
    account = capacity.account(guest.limits, info, running).without_guest(guest.node)
    capacity.check_fits(guest.node, memory_mb, account)
