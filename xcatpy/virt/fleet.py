"""What rmigrate and revacuate know about the hypervisors: the tables' view and the host's own.

Described on the command thread (every table read happens there) and observed on worker
threads (only the hosts are asked: their memory, CPU flags and the guests they really run),
so a plan rests on what the hosts report, not only on vm.host.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from xcatpy.drivers.base import DriverError
from xcatpy.virt import capacity
from xcatpy.virt.guest import (
    DEFAULT_MEMORY_MB,
    TOOLSTACK_FOR_MGT,
    GuestError,
    size_mb,
    table_disks,
)
from xcatpy.virt.hosts import HostDrivers, remote_shell
from xcatpy.virt.hypervisor import Hypervisor
from xcatpy.virt.model import ON, PAUSED, Disk, GuestStatus, HostInfo
from xcatpy.virt.vmcommon import each_in_parallel, error_text

_YES = {"1", "y", "yes", "true", "on", "enable", "enabled"}
_NO = {"0", "n", "no", "false", "off", "disable", "disabled"}


def yes_no(text: str | None, what: str) -> bool | None:
    """A yes/no column: None when unset; a value that is neither is an error naming it."""
    if text is None or not text.strip():
        return None
    word = text.strip().lower()
    if word in _YES:
        return True
    if word in _NO:
        return False
    raise GuestError(f"{what} must be yes or no, not '{text}'")


@dataclass
class HostFacts:
    host: str
    toolstack: str | None
    cluster: str | None = None
    maintenance: bool = False
    relocation: bool | None = None  # hypervisor.relocation; None: not said, the host decides
    relocation_from: frozenset[str] | None = None  # hypervisor.relocationhosts, expanded
    relocation_text: str | None = None
    cpu_mask: frozenset[str] | None = None  # hypervisor.cpufeatures
    limits: capacity.HostLimits | None = None
    # What the host said; error: why it could not be asked (or why the tables are wrong).
    info: HostInfo | None = None
    guests: dict[str, GuestStatus] = field(default_factory=dict)
    memory: capacity.HostMemory | None = None
    error: str | None = None

    def running(self) -> dict[str, GuestStatus]:
        return {n: g for n, g in self.guests.items() if g.state in (ON, PAUSED)}

    def guest_features(self) -> frozenset[str]:
        """What a guest started here may have seen of the CPU: the mask when one is set (the
        hypervisor hides the rest), else the host's own flags."""
        if self.cpu_mask is not None:
            return self.cpu_mask
        return self.info.cpu_flags if self.info else frozenset()

    def offered_features(self) -> frozenset[str] | None:
        """What an arriving guest can rely on: the hardware's flags (a mask restricts only
        what guests started here see); the mask when the host does not report flags."""
        if self.info and self.info.cpu_flags:
            return self.info.cpu_flags
        return self.cpu_mask


@dataclass
class GuestFacts:
    node: str
    source: str
    memory_mb: int
    disks: tuple[Disk, ...] = ()
    migrationdest: frozenset[str] | None = None
    migrationdest_text: str | None = None


class Fleet:
    """The hypervisors one command deals with, their drivers, and what each reported."""

    def __init__(self, ctx) -> None:
        self.ctx = ctx
        self.drivers = HostDrivers(ctx.attrs, remote_shell(ctx.store.state_dir))
        self.hosts: dict[str, HostFacts] = {}
        self._placed: dict[str, list[str]] | None = None
        self._expanded: dict[str, frozenset[str]] = {}

    # -- the tables' view (command thread) ----------------------------------------------------

    def placed_guests(self) -> dict[str, list[str]]:
        """host -> the nodes whose vm.host names it."""
        if self._placed is None:
            placed: dict[str, list[str]] = {}
            attrs = self.ctx.attrs
            for node in attrs.node_names():
                host = attrs.lookup(node, "vm", "host")
                if host:
                    placed.setdefault(host, []).append(node)
            self._placed = placed
        return self._placed

    def forget_placement(self) -> None:
        """vm.host was written (a reconcile): placed_guests reads it again."""
        self._placed = None

    def toolstack(self, host: str) -> str | None:
        """hypervisor.type, else what the nodehm.mgt of the guests placed there implies."""
        attrs = self.ctx.attrs
        declared = attrs.lookup(host, "hypervisor", "type")
        if declared:
            return declared
        for guest in self.placed_guests().get(host, ()):
            implied = TOOLSTACK_FOR_MGT.get(attrs.lookup(guest, "nodehm", "mgt") or "")
            if implied:
                return implied
        return None

    def hypervisors(self) -> list[str]:
        """Every node that is a hypervisor: hypervisor.type is set, or a guest is placed
        there."""
        attrs = self.ctx.attrs
        found = {n for n in attrs.node_names() if attrs.lookup(n, "hypervisor", "type")}
        found.update(h for h in self.placed_guests() if attrs.is_node(h))
        return sorted(found)

    def candidates(self, leaving: Iterable[str]) -> list[str]:
        """Every other hypervisor, described: where the guests of `leaving` may go."""
        leaving = set(leaving)
        hosts = [h for h in self.hypervisors() if h not in leaving]
        self.describe(hosts)
        return hosts

    def describe(self, hosts: Iterable[str]) -> dict[str, HostFacts]:
        for host in hosts:
            if host not in self.hosts:
                self.hosts[host] = self._describe(host)
        return self.hosts

    def _describe(self, host: str) -> HostFacts:
        attrs = self.ctx.attrs
        facts = HostFacts(host, self.toolstack(host))
        try:
            if not attrs.is_node(host):
                raise GuestError(f"{host} is not a node")
            if facts.toolstack is None:
                raise GuestError(f"hypervisor.type of {host} is not set")
            facts.cluster = attrs.lookup(host, "hypervisor", "cluster")
            facts.maintenance = bool(yes_no(attrs.lookup(host, "hypervisor", "maintenance"),
                                            f"{host}: hypervisor.maintenance"))
            facts.relocation = yes_no(attrs.lookup(host, "hypervisor", "relocation"),
                                      f"{host}: hypervisor.relocation")
            facts.relocation_text = attrs.lookup(host, "hypervisor", "relocationhosts")
            if facts.relocation_text:
                facts.relocation_from = self._expand(facts.relocation_text)
            mask = attrs.lookup(host, "hypervisor", "cpufeatures")
            if mask:
                facts.cpu_mask = frozenset(f for f in mask.replace(",", " ").split() if f)
            facts.limits = capacity.host_limits(attrs, host)
        except DriverError as exc:
            facts.error = error_text(host, exc)
        return facts

    def guest(self, node: str, source: HostFacts, status: GuestStatus | None) -> GuestFacts:
        """A guest's facts; its memory is what its host reports it using, else vm.memory."""
        attrs = self.ctx.attrs
        if status is not None:
            memory = status.memory_mb
        else:
            memory = size_mb(attrs.lookup(node, "vm", "memory") or str(DEFAULT_MEMORY_MB),
                             f"{node}: vm.memory")
        dest_text = attrs.lookup(node, "vm", "migrationdest")
        return GuestFacts(
            node=node, source=source.host, memory_mb=memory,
            disks=tuple(table_disks(attrs, node, source.toolstack or "")),
            migrationdest=self._expand(dest_text) if dest_text else None,
            migrationdest_text=dest_text)

    def _expand(self, noderange: str) -> frozenset[str]:
        """A noderange named by many rows (a group's vm.migrationdest) is expanded once."""
        if noderange not in self._expanded:
            self._expanded[noderange] = frozenset(self.ctx.noderange(noderange,
                                                                     must_exist=False))
        return self._expanded[noderange]

    def driver(self, host: str) -> Hypervisor:
        return self.drivers.for_host(host, self.hosts[host].toolstack)

    # -- the hosts' view (worker threads, results applied on the command thread) -------------

    def observe(self, hosts: Iterable[str]) -> None:
        """Asks each host (in parallel) for its memory, CPU flags and guests; a host that
        cannot be asked gets `error`. Hosts already in error are not asked."""
        wanted = [self.hosts[h] for h in hosts if self.hosts[h].error is None]
        # Bound on the command thread: the drivers map is shared by the workers.
        drivers = {f.host: self.driver(f.host) for f in wanted}

        def ask(facts: HostFacts, _lines) -> tuple[HostInfo, dict[str, GuestStatus]]:
            driver = drivers[facts.host]
            return driver.host_info(), driver.guests()

        for done in each_in_parallel(self.ctx, wanted, ask):
            facts = done.item
            if done.error:
                facts.error = f"did not answer: {error_text(facts.host, done.error)}"
                continue
            facts.info, facts.guests = done.result
            try:
                facts.memory = capacity.account(facts.limits, facts.info, facts.guests)
            except DriverError as exc:
                facts.error = error_text(facts.host, exc)

    def missing_storage(self, disks_by_host: Mapping[str, list[Disk]]) -> dict[str, set[str]]:
        """host -> paths of the given disks it cannot open (asked in parallel, one command
        per host). A host that cannot be asked gets `error` and is left out."""
        asked = [(h, disks) for h, disks in disks_by_host.items()
                 if disks and self.hosts[h].error is None]
        drivers = {h: self.driver(h) for h, _ in asked}
        found: dict[str, set[str]] = {h: set() for h in disks_by_host}
        for done in each_in_parallel(
                self.ctx, asked, lambda item, _lines: drivers[item[0]].missing_storage(item[1])):
            host = done.item[0]
            if done.error:
                self.hosts[host].error = f"did not answer: {error_text(host, done.error)}"
            else:
                found[host] = set(done.result)
        return found


    def free_memory(self, hosts: Iterable[str]) -> dict[str, int]:
        """host -> MB free, for the planner. Every host is in it, so that the planner names
        the ones it refuses; one that did not answer counts 0 and the rule refuses it with
        what it said."""
        return {h: self.hosts[h].memory.free_mb if self.hosts[h].memory else 0 for h in hosts}

    def storage_seen(self, guests: Iterable[GuestFacts], candidates: Iterable[str],
                     toolstacks: set[str | None]) -> dict[str, set[str]]:
        """host -> the guests' disk paths it cannot open, asked only of the candidates that
        could take a guest at all (answered, not in maintenance, one of `toolstacks`)."""
        asked = [h for h in candidates
                 if not self.hosts[h].error and not self.hosts[h].maintenance
                 and self.hosts[h].toolstack in toolstacks]
        disks = unique_disks(guests)
        return self.missing_storage({h: disks for h in asked})


def unique_disks(guests: Iterable[GuestFacts]) -> list[Disk]:
    seen: dict[str, Disk] = {}
    for guest in guests:
        for disk in guest.disks:
            seen.setdefault(disk.path, disk)
    return list(seen.values())
