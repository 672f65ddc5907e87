"""Moving running guests between hypervisors: the checks, one migration, and many at once.

`refusal` is every rule a destination must pass besides memory (the planner and rmigrate
count memory themselves, because several guests may be going to one host). `migrate_guest`
runs on a worker thread: it asks the source's toolstack to move the guest, announces the
guest from its new host, and when the toolstack reports a failure it finds out where the
guest really runs, so nothing is recorded where the guest is not. `MigrationRunner` keeps at
most `per_source` migrations leaving any host and `per_dest` arriving at any host, and hands
every outcome back on the command thread, where the tables are written. With a journal
batch, every move is in the migration journal before it starts and leaves it in the commit
that records its outcome (see journal.py).
"""

from __future__ import annotations

import queue
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from xcatpy.db import events
from xcatpy.drivers.base import DriverError
from xcatpy.drivers.targets import ssh_target
from xcatpy.virt import journal
from xcatpy.virt.fleet import Fleet, GuestFacts, HostFacts
from xcatpy.virt.guest import nic_bridges, node_macs
from xcatpy.virt.hypervisor import Hypervisor
from xcatpy.virt.model import ON, PAUSED, Nic
from xcatpy.virt.placement import Move
from xcatpy.virt.vmcommon import WithValues, error_text, max_parallel

DEFAULT_PER_SOURCE = 2
DEFAULT_PER_DEST = 2
_MAX_FLAGS_SHOWN = 8


def refusal(guest: GuestFacts, source: HostFacts, dest: HostFacts,
            missing_paths: set[str] | None = None, *, restart: bool = False) -> str | None:
    """Why `guest` may not move from `source` to `dest`, or None. One phrase with its
    numbers, not naming dest (the caller does). Memory is not checked here. restart: the
    guest boots afresh there (its host died), so CPU features and relocation do not
    matter."""
    if dest.error:
        return dest.error
    if dest.toolstack != source.toolstack:
        return f"a {dest.toolstack} hypervisor, and the guest runs on {source.toolstack}"
    if (source.cluster or dest.cluster) and source.cluster != dest.cluster:
        return (f"in cluster {dest.cluster or '(none)'}, the guest's host in "
                f"{source.cluster or '(none)'} (hypervisor.cluster)")
    if guest.migrationdest is not None and dest.host not in guest.migrationdest:
        return f"not in the guest's vm.migrationdest ({guest.migrationdest_text})"
    if dest.maintenance:
        return "in maintenance (hypervisor.maintenance)"
    if not restart:
        live = _live_refusal(source, dest)
        if live:
            return live
    unreachable = [d.path for d in guest.disks if missing_paths and d.path in missing_paths]
    if unreachable:
        return f"cannot reach the guest's storage: {', '.join(unreachable)}"
    return None


def _live_refusal(source: HostFacts, dest: HostFacts) -> str | None:
    """What only a live migration needs: dest accepts it, and its CPU has every feature the
    running guest may be using."""
    if dest.relocation is False:
        return "relocation is disabled (hypervisor.relocation)"
    if dest.relocation_from is not None and source.host not in dest.relocation_from:
        return (f"accepts migrations only from {dest.relocation_text} "
                "(hypervisor.relocationhosts)")
    needed, offered = source.guest_features(), dest.offered_features()
    lacking = sorted(needed - offered) if needed and offered is not None else []
    if lacking:
        shown = ", ".join(lacking[:_MAX_FLAGS_SHOWN])
        more = f" and {len(lacking) - _MAX_FLAGS_SHOWN} more" \
            if len(lacking) > _MAX_FLAGS_SHOWN else ""
        return (f"lacks CPU features the guest may use: {shown}{more} ({len(lacking)} of "
                f"the {len(needed)} on {source.host})")
    return None


def memory_refusal(needed_mb: int, dest: HostFacts, reserved_mb: int = 0) -> str | None:
    """Why dest's memory cannot take the guest, with every term of the sum, or None."""
    free = dest.memory.free_mb - reserved_mb
    if needed_mb <= free:
        return None
    held = f"; {reserved_mb} MB held for guests already moving there" if reserved_mb else ""
    return f"needs {needed_mb} MB, {dest.memory.explain()}{held}"


# -- one migration (worker thread) ----------------------------------------------------------


@dataclass
class Outcome:
    move: Move
    moved: bool = False
    where: str | None = None  # where the guest runs afterwards; None: found on neither host
    error: str | None = None
    warning: str | None = None  # the guest moved; something after it did not work
    dest_alive: bool = True


@dataclass
class Step:
    """What a worker needs for one move, prepared on the command thread."""

    move: Move
    source: Hypervisor
    dest: Hypervisor
    dest_target: object  # drivers.remote.Target
    nics: tuple[Nic, ...]
    address: str | None


def _running_on(driver: Hypervisor, guest: str) -> bool:
    status = driver.guests().get(guest)
    return status is not None and status.state in (ON, PAUSED)


def migrate_guest(step: Step) -> Outcome:
    move = step.move
    outcome = Outcome(move)
    warnings = []
    try:
        warnings.append(step.source.migrate(move.guest, step.dest_target, live=True))
    except DriverError as exc:
        outcome.error = error_text(move.source, exc)
        _locate_after_failure(step, outcome)
        if not outcome.moved:
            return outcome
    outcome.moved, outcome.where = True, move.dest
    if step.address and step.nics:
        try:
            step.dest.announce(step.nics, step.address)
        except DriverError as exc:
            warnings.append(f"ARP not refreshed on {move.dest}: {error_text(move.dest, exc)}")
    outcome.warning = "; ".join(w for w in warnings if w) or None
    return outcome


def _locate_after_failure(step: Step, outcome: Outcome) -> None:
    """A failed migration may still have moved the guest (the answer was lost), or the
    destination may have died under it: ask both hosts before anything is recorded."""
    move = outcome.move
    try:
        if _running_on(step.dest, move.guest):
            outcome.where, outcome.moved, outcome.error = move.dest, True, None
            return
    except DriverError:
        outcome.dest_alive = False
    try:
        if _running_on(step.source, move.guest):
            outcome.where = move.source
    except DriverError as exc:
        outcome.error += f"; {move.source} could not be asked afterwards either: " \
                         f"{error_text(move.source, exc)}"


# -- many migrations (command thread) -------------------------------------------------------


class MigrationRunner:
    """Runs moves, at most per_source leaving any host, per_dest arriving at any host, and
    site.vmmaxp in all, in the order given (largest first, from the plan). `started` and
    `finished` are called on the command thread; `finished` may change `pending` (drop moves
    to a dead host, add re-planned ones; a move it drops for good leaves the journal with
    journal.forget)."""

    def __init__(self, ctx, fleet: Fleet, *, per_source: int = DEFAULT_PER_SOURCE,
                 per_dest: int = DEFAULT_PER_DEST, batch: journal.Batch | None = None) -> None:
        self.ctx = ctx
        self.fleet = fleet
        self.per_source = per_source
        self.per_dest = per_dest
        self.batch = batch
        self.pending: list[Move] = []

    def step(self, move: Move) -> Step:
        attrs = self.ctx.attrs
        dest = self.fleet.hosts[move.dest]
        # The guest's bridges as they are on the destination (hypervisor.defaultnet is per
        # host), its MACs as stored.
        view = WithValues(attrs, move.guest, {"host": move.dest})
        try:
            bridges = nic_bridges(view, move.guest, move.dest, dest.toolstack or "")
        except DriverError:
            bridges = []
        macs = node_macs(attrs.lookup(move.guest, "mac", "mac"), move.guest)
        nics = tuple(Nic(mac, bridge) for mac, bridge in zip(macs, bridges, strict=False))
        return Step(move, self.fleet.driver(move.source), self.fleet.driver(move.dest),
                    ssh_target(attrs, move.dest), nics, attrs.lookup(move.guest, "hosts", "ip"))

    def run(self, moves: list[Move], finished: Callable[[Outcome], None], *,
            started: Callable[[Move], None] = lambda move: None,
            prepare: Callable[[Move], object] | None = None,
            act: Callable[[object], Outcome] = migrate_guest) -> None:
        """prepare (command thread) turns a move into what `act` (a worker) needs; by
        default a live migration's Step."""
        prepare = prepare or self.step
        self.pending = list(moves)
        if self.batch:
            journal.plan(self.ctx, self.pending, self.batch)
        unrecorded = {m.guest for m in self.pending}
        limit = max_parallel(self.ctx.attrs)
        leaving: dict[str, int] = {}
        arriving: dict[str, int] = {}
        done: queue.Queue[Outcome] = queue.Queue()
        running = 0
        pool = ThreadPoolExecutor(max_workers=limit, thread_name_prefix="migrate")

        def work(move: Move, prepared: object) -> None:
            try:
                done.put(act(prepared))
            except Exception as exc:  # a driver bug is this guest's failure, reported
                done.put(Outcome(move, where=None, error=f"{type(exc).__name__}: {exc}"))

        try:
            while self.pending or running:
                for move in list(self.pending):
                    if running >= limit:
                        break
                    if leaving.get(move.source, 0) >= self.per_source or \
                            arriving.get(move.dest, 0) >= self.per_dest:
                        continue
                    self.pending.remove(move)
                    leaving[move.source] = leaving.get(move.source, 0) + 1
                    arriving[move.dest] = arriving.get(move.dest, 0) + 1
                    running += 1
                    started(move)
                    try:
                        prepared = prepare(move)
                    except DriverError as exc:
                        done.put(Outcome(move, where=move.source,
                                         error=error_text(move.guest, exc)))
                        continue
                    if self.batch:
                        journal.moving(self.ctx, move, self.batch)
                    unrecorded.add(move.guest)
                    pool.submit(work, move, prepared)
                if not running:
                    break  # nothing startable is left (cannot happen with limits >= 1)
                outcome = done.get()
                running -= 1
                leaving[outcome.move.source] -= 1
                arriving[outcome.move.dest] -= 1
                finished(outcome)
                unrecorded.discard(outcome.move.guest)
        except BaseException:
            if self.batch:
                journal.abandon(self.ctx, unrecorded)
            raise
        finally:
            pool.shutdown(wait=False, cancel_futures=True)


def record_outcome(ctx, outcome: Outcome, application: str, recorded_host: str | None,
                   *, restarted_from_dead: bool = False) -> None:
    """vm.host follows the guest: where it runs now (the destination after a move, the
    source after a refused one if the table had it elsewhere), with the event logged in the
    same commit, which also takes the move out of the migration journal. A guest found on
    neither host keeps its row, with a critical event."""
    move = outcome.move
    rows = []
    if outcome.where and outcome.where != recorded_host:
        rows.append({"node": move.guest, "host": outcome.where, "powerstate": "on"})
    if outcome.moved:
        what = (f"restarted on {move.dest} from shared storage after {move.source} was "
                f"confirmed off by its BMC ({move.memory_mb} MB)" if restarted_from_dead else
                f"migrated from {move.source} to {move.dest} ({move.memory_mb} MB)")
        log = [events.Event(move.guest, application,
                            "restart" if restarted_from_dead else "migrate", what,
                            component=f"{move.source}->{move.dest}")]
        if outcome.warning:
            log.append(events.Event(move.guest, application, "warning", outcome.warning,
                                    events.WARNING, f"{move.source}->{move.dest}"))
    elif restarted_from_dead:
        log = [events.Event(move.guest, application, "restart",
                            f"restart on {move.dest} failed, stays down on {move.source}: "
                            f"{outcome.error}", events.CRITICAL,
                            f"{move.source}->{move.dest}")]
    elif outcome.where:
        log = [events.Event(move.guest, application, "migrate",
                            f"migration from {move.source} to {move.dest} failed, still on "
                            f"{outcome.where}: {outcome.error}", events.WARNING,
                            f"{move.source}->{move.dest}")]
    else:
        log = [events.Event(move.guest, application, "migrate",
                            f"migration from {move.source} to {move.dest} failed and the guest "
                            f"was found running on neither host: {outcome.error}",
                            events.CRITICAL, f"{move.source}->{move.dest}")]

    def write(store) -> None:
        if rows:
            store.upsert_rows("vm", rows)
        journal.clear(store, [move.guest])
        events.record(store, log)

    ctx.write_now(write)


def report_outcome(ctx, outcome: Outcome) -> None:
    """The lines a user sees for one finished move, as xCAT words a success."""
    move = outcome.move
    if outcome.moved:
        ctx.out.data(f"{move.guest}: migrated to {move.dest}")
        if outcome.warning:
            ctx.out.error(f"{move.guest}: Warning: {outcome.warning}")
    elif outcome.where:
        ctx.node_error(move.guest, f"migration to {move.dest} failed, still running on "
                                   f"{outcome.where}: {outcome.error}")
    else:
        ctx.node_error(move.guest, f"migration to {move.dest} failed and the guest was found "
                                   f"running on neither {move.source} nor {move.dest}: "
                                   f"{outcome.error}")


def log_events(ctx, log: list[events.Event]) -> None:
    ctx.write_now(lambda store: events.record(store, log))
