"""Where guests go when they must leave their host: a complete plan before anything moves.

Pure: it knows memory figures and a rule that says why a guest may not go to a host, nothing
about tables or hypervisors, so it is fast (1000 guests over 100 hosts in well under a
second) and its promises can be tested by property: no host is ever planned past its free
memory, and every guest is either moved or named with the reason it stays.

Largest guests first: they have the fewest hosts they fit on. Each goes to the allowed host
with the most memory still free once the moves planned before it are counted. That is the
best fit by free memory for spreading: the next guest finds the emptiest host, no host fills
up while others stay idle, and the migrations themselves spread over the destinations.
Ties go to the host with fewer moves planned into it, then by name (node2 before node10), so
a plan is repeatable.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from xcatpy.db.natural import natural_key, natural_sorted


@dataclass(frozen=True)
class Demand:
    """A guest that must leave `source`, needing `memory_mb` wherever it goes."""

    guest: str
    memory_mb: int
    source: str


@dataclass(frozen=True)
class Move:
    guest: str
    source: str
    dest: str
    memory_mb: int


@dataclass
class Plan:
    moves: list[Move] = field(default_factory=list)
    unplaced: dict[str, str] = field(default_factory=dict)  # guest -> why it stays
    free_mb: dict[str, int] = field(default_factory=dict)  # each host's free memory after

    def inbound(self, host: str) -> list[Move]:
        return [m for m in self.moves if m.dest == host]


# (demand, host) -> None when the guest may go there, else why not: one phrase with its
# numbers, not naming the host (the plan names it, and groups hosts refused alike).
Rule = Callable[[Demand, str], "str | None"]


def _no_rule(_demand: Demand, _host: str) -> None:
    return None


def plan(demands: Iterable[Demand], free_mb: Mapping[str, int], allowed: Rule = _no_rule,
         ) -> Plan:
    """Places every demand on one of the hosts of `free_mb` (host -> MB free now) that
    `allowed` accepts and that has the memory, never on its own source. A demand that cannot
    be placed is in Plan.unplaced with the reason; it never makes another guest move."""
    free = dict(free_mb)
    result = Plan()
    inbound: dict[str, int] = dict.fromkeys(free, 0)
    # Alphabetically first wins a tie: max() of -rank.
    rank = {host: i for i, host in enumerate(natural_sorted(free))}
    for demand in sorted(demands, key=lambda d: (-d.memory_mb, d.guest)):
        best: str | None = None
        best_key: tuple[int, int, int] | None = None
        refused: dict[str, str] = {}
        too_small: list[str] = []
        for host, room in free.items():
            if host == demand.source:
                continue
            reason = allowed(demand, host)
            if reason is not None:
                refused[host] = reason
                continue
            if room < demand.memory_mb:
                too_small.append(host)
                continue
            key = (room, -inbound[host], -rank[host])
            if best_key is None or key > best_key:
                best, best_key = host, key
        if best is None:
            result.unplaced[demand.guest] = _why_unplaced(demand, free, refused, too_small)
            continue
        free[best] -= demand.memory_mb
        inbound[best] += 1
        result.moves.append(Move(demand.guest, demand.source, best, demand.memory_mb))
    result.free_mb = free
    return result


def _why_unplaced(demand: Demand, free: Mapping[str, int], refused: Mapping[str, str],
                  too_small: list[str]) -> str:
    if too_small:
        roomiest = min(too_small, key=lambda h: (-free[h], natural_key(h)))
        others = f"; {len(refused)} other host{'' if len(refused) == 1 else 's'} not allowed" \
            if refused else ""
        return (f"no host has room: needs {demand.memory_mb} MB, the most free on an allowed "
                f"host is {free[roomiest]} MB on {roomiest}{others}")
    if not refused:
        return "no other hypervisor to move to"
    # The reasons, grouped, so 100 hosts refused for the same reason read as one phrase.
    by_reason: dict[str, list[str]] = {}
    for host, reason in refused.items():
        by_reason.setdefault(reason, []).append(host)
    parts = []
    for reason, hosts in sorted(by_reason.items(), key=lambda item: (-len(item[1]), item[0])):
        named = ",".join(natural_sorted(hosts)[:3]) + (f" and {len(hosts) - 3} more"
                                                if len(hosts) > 3 else "")
        parts.append(f"{named}: {reason}")
    return "no allowed destination (" + "; ".join(parts) + ")"
