"""rmigrate: live-migrate running guests to one hypervisor.

Every guest is checked against the destination before anything moves (same toolstack and
cluster, vm.migrationdest, not in maintenance, relocation allowed, CPU features, storage
reachable, and memory for all the guests going there together); a refusal names the reason
with its numbers and the other guests still go. After each migration vm.host follows the
guest and the guest is announced from its new host (ARP). Each move is in the migration
journal until its outcome is recorded; a guest left there by an interrupted command is first
found on its hosts and recorded where it runs, and one another running command is moving is
refused.
"""

from xcatpy.commands.base import Context
from xcatpy.commands.options import CommandParser
from xcatpy.db import events
from xcatpy.drivers.base import DriverError
from xcatpy.errors import UsageError, XcatError
from xcatpy.virt import journal, migration, reconcile
from xcatpy.virt.fleet import Fleet, GuestFacts
from xcatpy.virt.guest import guest_host
from xcatpy.virt.model import ON, PAUSED
from xcatpy.virt.placement import Move
from xcatpy.virt.vmcommon import error_text, state_word

USAGE = """Usage:
  rmigrate noderange target_host
  rmigrate [-?|-h|--help]"""

APPLICATION = "rmigrate"

_parser = CommandParser("rmigrate", USAGE)
_parser.add_argument("noderange", nargs="?")
_parser.add_argument("target", nargs="?")


def run(ctx: Context) -> int:
    opts = _parser.parse(ctx.args)
    if not opts.noderange or not opts.target:
        raise UsageError("rmigrate: a noderange and a target hypervisor are required")
    nodes = ctx.noderange(opts.noderange)
    dest = opts.target
    if not ctx.attrs.is_node(dest):
        raise XcatError(f"rmigrate: the target {dest} is not a node")
    nodes = _settle_journal(ctx, nodes)
    fleet = Fleet(ctx)
    sources: dict[str, str] = {}
    for node in nodes:
        try:
            sources[node] = guest_host(ctx.attrs, node)
        except DriverError as exc:
            ctx.node_error(node, error_text(node, exc))
    hosts = fleet.describe({dest, *sources.values()})
    if hosts[dest].error:
        raise XcatError(f"rmigrate: {dest}: {hosts[dest].error}")
    fleet.observe({dest, *sources.values()})
    if hosts[dest].error:
        raise XcatError(f"rmigrate: {dest}: {hosts[dest].error}")
    guests = _running_guests(ctx, fleet, sources, dest)
    missing = fleet.storage_seen(guests, [dest], {hosts[g.source].toolstack for g in guests})
    moves = _checked_moves(ctx, fleet, guests, dest, missing.get(dest, set()))
    runner = migration.MigrationRunner(ctx, fleet,
                                       batch=journal.Batch.of(ctx, APPLICATION, [dest]))
    runner.run(moves, lambda outcome: _finished(ctx, outcome, sources))
    return 0


def _settle_journal(ctx: Context, nodes: list[str]) -> list[str]:
    """The nodes to go on with: those another running command is moving are refused; those
    an interrupted one left in the journal are first recorded where they really run."""
    wanted = set(nodes)
    rows = [e for e in journal.entries(ctx.store, interrupted_only=False) if e.guest in wanted]
    busy = journal.refuse_live(ctx, rows)
    found = [e for e in rows if e.interrupted]
    if found:
        fleet = Fleet(ctx)
        fleet.describe(reconcile.hosts_to_ask(found))
        fleet.observe(reconcile.hosts_to_ask(found))
        reconcile.settle(ctx, fleet, found, APPLICATION)
        left = {e.guest for e in journal.entries(ctx.store, interrupted_only=False)}
        busy |= wanted & left  # still journalled: where it runs is unknown
    return [n for n in nodes if n not in busy]


def _running_guests(ctx: Context, fleet: Fleet, sources: dict[str, str],
                    dest: str) -> list[GuestFacts]:
    guests = []
    for node, source in sources.items():
        facts = fleet.hosts[source]
        if source == dest:
            ctx.out.data(f"{node}: already on {dest}")
            continue
        if facts.error:
            ctx.node_error(node, f"{source}: {facts.error}")
            continue
        status = facts.guests.get(node)
        if status is None or status.state not in (ON, PAUSED):
            state = state_word(status.state) if status else "not defined there"
            ctx.node_error(node, f"not running on {source} ({state}); rmigrate moves running "
                                 "guests")
            continue
        try:
            guests.append(fleet.guest(node, facts, status))
        except DriverError as exc:
            ctx.node_error(node, error_text(node, exc))
    return guests


def _checked_moves(ctx: Context, fleet: Fleet, guests: list[GuestFacts], dest: str,
                   missing: set[str]) -> list[Move]:
    """Largest first, so the memory goes to the guests that need the most of it."""
    target = fleet.hosts[dest]
    reserved = 0
    moves = []
    refused = []
    for guest in sorted(guests, key=lambda g: (-g.memory_mb, g.node)):
        reason = migration.refusal(guest, fleet.hosts[guest.source], target, missing) or \
            migration.memory_refusal(guest.memory_mb, target, reserved)
        if reason:
            ctx.node_error(guest.node, f"cannot migrate to {dest}: {reason}")
            refused.append(events.Event(guest.node, APPLICATION, "refused",
                                        f"not migrated from {guest.source} to {dest}: {reason}",
                                        events.WARNING, f"{guest.source}->{dest}"))
            continue
        reserved += guest.memory_mb
        moves.append(Move(guest.node, guest.source, dest, guest.memory_mb))
    if refused:
        migration.log_events(ctx, refused)
    return moves


def _finished(ctx: Context, outcome: migration.Outcome, sources: dict[str, str]) -> None:
    migration.record_outcome(ctx, outcome, APPLICATION, sources.get(outcome.move.guest))
    migration.report_outcome(ctx, outcome)
