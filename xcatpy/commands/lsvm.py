"""lsvm: what hypervisors really run, and where a guest stands.

For a hypervisor (a node with hypervisor.type, or the vm.host of some guest), one line per
guest the host knows, `host: guest (state, memory, vcpus)` as xCAT prints `host: guest`,
then the guests the tables place there that the host does not know, then its memory
account. For a guest, one line joining what its host reports with what the tables say.
Each host is asked once, however many of the noderange's nodes it concerns. Guests and
hosts an interrupted evacuation or migration left unrecorded (xcatd stopped mid-way) are
named first, on stderr: their vm.host may be wrong until `revacuate --resume`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from xcatpy.commands.base import Context
from xcatpy.commands.options import CommandParser
from xcatpy.db.natural import natural_sorted
from xcatpy.drivers.base import DriverError
from xcatpy.errors import UsageError
from xcatpy.virt import capacity, journal, reconcile, vmcommon
from xcatpy.virt.guest import (
    DEFAULT_MEMORY_MB,
    DEFAULT_VCPUS,
    GuestError,
    nic_bridges,
    node_macs,
    size_mb,
    table_disks,
    toolstack_of,
)
from xcatpy.virt.hosts import HostDrivers, remote_shell
from xcatpy.virt.hypervisor import Hypervisor
from xcatpy.virt.model import GuestStatus, HostInfo

USAGE = """Usage:
  lsvm noderange
  lsvm [-?|-h|--help]"""

_parser = CommandParser("lsvm", USAGE)
_parser.add_argument("noderange", nargs="?")


@dataclass
class _TableGuest:
    """What the tables say about a guest, read on the command thread."""

    node: str
    memory: str
    cpus: str
    uuid: str
    disks: str
    nics: str


@dataclass
class _Host:
    name: str
    driver: Hypervisor
    # Set when the host itself is in the noderange: list its guests and its account.
    listed: bool = False
    limits: capacity.HostLimits | None = None
    limits_error: str | None = None
    placed: list[str] = field(default_factory=list)  # guests whose vm.host is this host
    guests: list[_TableGuest] = field(default_factory=list)  # guest nodes asked about


def run(ctx: Context) -> int:
    opts = _parser.parse(ctx.args)
    if not opts.noderange:
        raise UsageError("lsvm: a noderange is required")
    nodes = ctx.noderange(opts.noderange)
    wanted = set(nodes)
    interrupted = [e for e in journal.entries(ctx.store)
                   if e.guest in wanted or reconcile.touching([e], wanted)]
    for line in journal.summary_lines(interrupted):
        ctx.out.error(line)
    hosts = _plan(ctx, nodes)
    for done in vmcommon.each_in_parallel(ctx, list(hosts.values()), _ask):
        host = done.item
        if done.error:
            for node in ([host.name] if host.listed else []) + [g.node for g in host.guests]:
                ctx.node_error(node, vmcommon.error_text(node, done.error))
            continue
        running, info = done.result
        if host.listed:
            _print_host(ctx, host, running, info)
        for table_guest in host.guests:
            _print_guest(ctx, host.name, table_guest, running.get(table_guest.node))
    return 0


def _plan(ctx: Context, nodes: list[str]) -> dict[str, _Host]:
    attrs = ctx.attrs
    drivers = HostDrivers(attrs, remote_shell(ctx.store.state_dir))
    placed: dict[str, list[str]] = {}
    for node in attrs.node_names():
        vmhost = attrs.lookup(node, "vm", "host")
        if vmhost:
            placed.setdefault(vmhost, []).append(node)
    hosts: dict[str, _Host] = {}
    for node in nodes:
        try:
            if attrs.lookup(node, "hypervisor", "type") or node in placed:
                host = _host_entry(attrs, drivers, hosts, node, placed)
                host.listed = True
                try:
                    host.limits = capacity.host_limits(attrs, node)
                except DriverError as exc:
                    host.limits_error = str(exc)
            elif not attrs.lookup(node, "vm", "host"):
                ctx.node_error(node, "neither a hypervisor (no hypervisor.type, and no guest's "
                                     "vm.host names it) nor a guest (vm.host is not set)")
            else:
                name, toolstack, driver = drivers.for_guest(node)
                host = hosts.setdefault(name, _Host(name, driver, placed=placed.get(name, [])))
                host.guests.append(_table_guest(attrs, node, name, toolstack))
        except DriverError as exc:
            ctx.node_error(node, vmcommon.error_text(node, exc))
    return hosts


def _host_entry(attrs, drivers: HostDrivers, hosts: dict[str, _Host], node: str,
                placed: dict[str, list[str]]) -> _Host:
    if node in hosts:
        return hosts[node]
    toolstack = attrs.lookup(node, "hypervisor", "type")
    if not toolstack:
        # No hypervisor.type: the guests' nodehm.mgt says what the host runs, as for rpower.
        toolstack = toolstack_of(attrs, placed[node][0], node)
    hosts[node] = _Host(node, drivers.for_host(node, toolstack), placed=placed.get(node, []))
    return hosts[node]


def _table_guest(attrs, node: str, host: str, toolstack: str) -> _TableGuest:
    memory_text = attrs.lookup(node, "vm", "memory") or str(DEFAULT_MEMORY_MB)
    try:
        memory = f"{size_mb(memory_text, 'vm.memory')} MB"
    except GuestError:
        memory = memory_text  # shown as written: lsvm reports, mkvm complains
    try:
        disks = ",".join(d.path if d.kind == "file" else f"phy:{d.path}"
                         for d in table_disks(attrs, node, toolstack)) or "none"
    except GuestError:
        disks = attrs.lookup(node, "vm", "storage") or "none"
    macs = node_macs(attrs.lookup(node, "mac", "mac"), node)
    try:
        bridges = nic_bridges(attrs, node, host, toolstack)
    except GuestError:
        bridges = [attrs.lookup(node, "vm", "nics") or "?"]
    macs += ["unassigned"] * (len(bridges) - len(macs))
    nics = ",".join(f"{mac}@{bridge}" for mac, bridge in zip(macs, bridges, strict=False))
    return _TableGuest(node=node, memory=memory,
                       cpus=attrs.lookup(node, "vm", "cpus") or str(DEFAULT_VCPUS),
                       uuid=attrs.lookup(node, "vm", "uuid") or "unassigned",
                       disks=disks, nics=nics or "none")


def _ask(host: _Host, lines: list[str]) -> tuple[dict[str, GuestStatus], HostInfo | None]:
    running = host.driver.guests()
    wants_total = host.listed and host.limits is not None and host.limits.total_mb is None
    return running, host.driver.host_info() if wants_total else None


def _print_host(ctx: Context, host: _Host, running: dict[str, GuestStatus],
                info: HostInfo | None) -> None:
    attrs = ctx.attrs
    for name in natural_sorted(running):
        status = running[name]
        cpus = f"{status.vcpus} vcpu{'' if status.vcpus == 1 else 's'}"
        notes = [status.state, f"{status.memory_mb} MB", cpus]
        if not attrs.is_node(name):
            notes.append("not a node")
        elif (vmhost := attrs.lookup(name, "vm", "host")) != host.name:
            notes.append(f"vm.host={vmhost or 'unset'}")
        ctx.out.data(f"{host.name}: {name} ({', '.join(notes)})")
    for name in natural_sorted(set(host.placed) - set(running)):
        ctx.out.data(f"{host.name}: {name} (not defined here)")
    if host.limits_error:
        ctx.node_error(host.name, vmcommon.error_text(host.name, host.limits_error))
        return
    try:
        account = capacity.account(host.limits, info, running)
    except DriverError as exc:
        ctx.node_error(host.name, vmcommon.error_text(host.name, exc))
        return
    ctx.out.data(f"{host.name}: memory: {account.explain()}")


def _print_guest(ctx: Context, host: str, table: _TableGuest,
                 status: GuestStatus | None) -> None:
    if status is None:
        state, memory, cpus, uuid = "not defined", table.memory, table.cpus, table.uuid
    else:
        state, memory, cpus = status.state, f"{status.memory_mb} MB", str(status.vcpus)
        uuid = status.uuid or table.uuid
    ctx.out.data(f"{table.node}: host={host}, state={state}, memory={memory}, cpus={cpus}, "
                 f"uuid={uuid}, disks={table.disks}, nics={table.nics}")
