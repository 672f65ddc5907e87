"""How much memory a hypervisor can still give a guest, and the refusal when it cannot.

free = total - hypervisor overhead - dom0 memory - memory of the guests running there.
total, overhead and dom0 come from the hypervisor table (total falls back to what the
toolstack reports); the guests come from the host itself, not from vm.host, because a guest
placed there but powered off holds no memory, and one started behind our back does.
A refusal carries every number of that sum, so the admin sees why without doing arithmetic.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from xcatpy.drivers.base import DriverError
from xcatpy.virt.guest import size_mb
from xcatpy.virt.model import ON, PAUSED, GuestStatus, HostInfo


class CapacityError(DriverError):
    pass


@dataclass(frozen=True)
class HostMemory:
    host: str
    total_mb: int
    overhead_mb: int = 0
    dom0_mb: int = 0
    guests_mb: Mapping[str, int] = field(default_factory=dict)

    @property
    def free_mb(self) -> int:
        return self.total_mb - self.overhead_mb - self.dom0_mb - sum(self.guests_mb.values())

    def explain(self) -> str:
        count = len(self.guests_mb)
        return (f"{self.free_mb} MB free ({self.total_mb} MB total - {self.overhead_mb} "
                f"overhead - {self.dom0_mb} dom0 - {sum(self.guests_mb.values())} in {count} "
                f"running guest{'' if count == 1 else 's'})")

    def with_guest(self, name: str, memory_mb: int) -> HostMemory:
        return HostMemory(self.host, self.total_mb, self.overhead_mb, self.dom0_mb,
                          {**self.guests_mb, name: memory_mb})

    def without_guest(self, name: str) -> HostMemory:
        return HostMemory(self.host, self.total_mb, self.overhead_mb, self.dom0_mb,
                          {n: m for n, m in self.guests_mb.items() if n != name})


def _table_mb(attrs, host: str, column: str) -> int | None:
    text = attrs.lookup(host, "hypervisor", column)
    return size_mb(text, f"{host}: hypervisor.{column}") if text else None


@dataclass(frozen=True)
class HostLimits:
    """The hypervisor table's part of the account; total None: ask the toolstack."""

    host: str
    total_mb: int | None
    overhead_mb: int
    dom0_mb: int


def host_limits(attrs, host: str) -> HostLimits:
    return HostLimits(host, _table_mb(attrs, host, "memory"),
                      _table_mb(attrs, host, "overhead") or 0,
                      _table_mb(attrs, host, "dom0mem") or 0)


def account(limits: HostLimits, info: HostInfo | None,
            guests: Mapping[str, GuestStatus]) -> HostMemory:
    """The host's memory account; `guests` is what the host reports running (only running
    and paused ones count); `info` is needed only when the table gives no total."""
    total = limits.total_mb
    if total is None:
        if info is None:
            raise CapacityError(f"{limits.host}: hypervisor.memory is not set and the host "
                                "did not report its memory")
        total = info.total_mb
    return HostMemory(
        host=limits.host, total_mb=total, overhead_mb=limits.overhead_mb,
        dom0_mb=limits.dom0_mb,
        guests_mb={name: g.memory_mb for name, g in guests.items()
                   if g.state in (ON, PAUSED)})


def check_fits(guest: str, memory_mb: int, account: HostMemory) -> None:
    """Refuses (CapacityError) a guest that needs more than the host has free."""
    if memory_mb > account.free_mb:
        raise CapacityError(f"{guest}: does not fit on {account.host}: needs {memory_mb} MB, "
                            f"{account.explain()}")
