"""revacuate: empty hypervisors of their running guests, live, with a plan made first.

1. The hosts go into maintenance (committed at once, so nothing else places guests there).
2. Each host is asked which guests it really runs; every other hypervisor is asked for its
   memory, CPU flags and guests, and (one command each) whether it reaches the guests' disks.
3. The whole plan is made before anything moves (placement.plan: largest first, to the
   allowed host with the most memory free, never past it) and printed.
4. The moves run with bounded concurrency (per source, per destination, site.vmmaxp).
   vm.host follows each guest as it lands. A destination that dies mid-way loses its
   pending guests to a new plan over the hosts left; a guest whose migration fails is
   looked for on both hosts and recorded where it runs.
Every step goes to the eventlog table; a guest that stays is an error, so the exit code
says whether the hosts are empty.

Every planned move is in the migration journal until its outcome is recorded (journal.py).
When an earlier command on these hosts was interrupted (xcatd died mid-way), its guests are
first found on the hosts and vm.host is set to where they run (reconcile.py); the new plan,
made from what the hosts report, then moves what is still on the sources: running revacuate
again resumes an interrupted evacuation.
"""

from __future__ import annotations

from xcatpy.db import events
from xcatpy.drivers.base import DriverError
from xcatpy.virt import journal, migration, placement, reconcile
from xcatpy.virt.fleet import Fleet, GuestFacts
from xcatpy.virt.vmcommon import error_text

APPLICATION = "revacuate"


def set_maintenance(ctx, hosts: list[str], on: bool, application: str) -> None:
    """hypervisor.maintenance for the hosts, with the event, in one commit; then one line
    per host saying where it now is."""
    value = "yes" if on else None
    word = "entered" if on else "left"

    def write(store) -> None:
        store.upsert_rows("hypervisor", [{"node": h, "maintenance": value} for h in hosts])
        events.record(store, [events.Event(h, application, "maintenance",
                                           f"{word} maintenance") for h in hosts])

    ctx.write_now(write)
    for host in hosts:
        ctx.out.data(f"{host}: {'in maintenance' if on else 'online'}")


def refuse_live_batches(ctx, hosts: list[str]) -> bool:
    """A command still running elsewhere (another client, another xcatd) is moving guests of
    these hosts: say so and do nothing, rather than plan moves of guests already moving."""
    rows = journal.entries(ctx.store, interrupted_only=False)
    return bool(journal.refuse_live(ctx, reconcile.touching(rows, hosts)))


def report_stay(ctx, guest: str, text: str, *, dry_run: bool) -> None:
    """A guest left where it is: an error for the exit code, and (unless only planning) a
    warning in the eventlog."""
    ctx.node_error(guest, text)
    if not dry_run:
        migration.log_events(ctx, [events.Event(guest, APPLICATION, "plan", text,
                                                events.WARNING)])


class Evacuation:
    def __init__(self, ctx, sources: list[str], *, dry_run: bool = False,
                 per_source: int = migration.DEFAULT_PER_SOURCE,
                 per_dest: int = migration.DEFAULT_PER_DEST) -> None:
        self.ctx = ctx
        self.sources = sources
        self.dry_run = dry_run
        self.fleet = Fleet(ctx)
        self.runner = migration.MigrationRunner(ctx, self.fleet, per_source=per_source,
                                                per_dest=per_dest)
        self.guests: dict[str, GuestFacts] = {}
        self.missing: dict[str, set[str]] = {}
        self.free: dict[str, int] = {}
        self.interrupted: list[journal.Entry] = []
        self.moved = 0
        self.stayed = 0
        self.total = 0
        self._started = 0

    # -- the plan ---------------------------------------------------------------------------

    def run(self) -> None:
        ctx, fleet = self.ctx, self.fleet
        if refuse_live_batches(ctx, self.sources):
            return
        self.interrupted = reconcile.touching(journal.entries(ctx.store), self.sources)
        hosts = fleet.describe([*self.sources, *reconcile.hosts_to_ask(self.interrupted)])
        sources = []
        for host in self.sources:
            if hosts[host].error:
                ctx.node_error(host, hosts[host].error)
            else:
                sources.append(host)
        if not sources:
            return
        if not self.dry_run:
            set_maintenance(ctx, sources, True, APPLICATION)
            for host in sources:
                hosts[host].maintenance = True
        candidates = fleet.candidates(self.sources)
        asked = {*sources, *candidates}
        fleet.observe([*asked, *(reconcile.hosts_to_ask(self.interrupted) - asked)])
        self._settle()
        sources = self._answered(sources)
        if not sources:
            return
        demands = self._demands(sources)
        self.missing = fleet.storage_seen(self.guests.values(), candidates,
                                          {hosts[s].toolstack for s in sources})
        plan = placement.plan(demands, fleet.free_memory(candidates), self._allowed)
        self.free = plan.free_mb
        self.total = len(plan.moves)
        self._report_plan(sources, demands, plan)
        if self.dry_run or not plan.moves:
            self._summary(sources)
            return
        self.runner.batch = journal.Batch.of(ctx, APPLICATION, sources)
        self.runner.run(plan.moves, self._finished, started=self._started_move)
        self._summary(sources)

    def _settle(self) -> None:
        """An interrupted evacuation's guests are recorded where they run before the plan
        (which rests on what the hosts report) moves what is still on the sources."""
        if not self.interrupted:
            return
        for line in journal.summary_lines(self.interrupted):
            self.ctx.out.error(line)
        if self.dry_run:
            self.ctx.out.data("Dry run: the interrupted moves above are not settled")
            return
        reconcile.settle(self.ctx, self.fleet, self.interrupted, APPLICATION)

    def _answered(self, sources: list[str]) -> list[str]:
        """The sources that said what they run; no plan speaks for a host never asked."""
        answered = []
        for host in sources:
            error = self.fleet.hosts[host].error
            if error:
                self.ctx.node_error(host, f"{error}; if it is down, revacuate -f restarts "
                                          "its guests elsewhere")
            else:
                answered.append(host)
        return answered

    def _demands(self, sources: list[str]) -> list[placement.Demand]:
        ctx, fleet = self.ctx, self.fleet
        demands = []
        for host in sources:
            facts = fleet.hosts[host]
            for name, status in sorted(facts.running().items()):
                if not ctx.attrs.is_node(name):
                    self._stays(name, host, "runs there but is not a node in the tables")
                    continue
                try:
                    guest = fleet.guest(name, facts, status)
                except DriverError as exc:
                    self._stays(name, host, error_text(name, exc))
                    continue
                self.guests[name] = guest
                demands.append(placement.Demand(name, guest.memory_mb, host))
        return demands

    def _allowed(self, demand: placement.Demand, host: str) -> str | None:
        guest = self.guests[demand.guest]
        return migration.refusal(guest, self.fleet.hosts[demand.source],
                                 self.fleet.hosts[host], self.missing.get(host))

    def _report_plan(self, sources: list[str], demands: list[placement.Demand],
                     plan: placement.Plan) -> None:
        out = self.ctx.out
        total_mb = sum(d.memory_mb for d in demands)
        out.data(f"Plan for {','.join(sources)}: {len(demands)} running guest"
                 f"{'' if len(demands) == 1 else 's'} ({total_mb} MB), {len(plan.moves)} to "
                 f"move, {len(plan.unplaced)} staying")
        for move in plan.moves:
            out.data(f"{move.guest}: {move.source} -> {move.dest} ({move.memory_mb} MB)")
        sources_of = {d.guest: d.source for d in demands}
        for guest, reason in sorted(plan.unplaced.items()):
            self._stays(guest, sources_of[guest], reason)
        log = [events.Event(m.guest, APPLICATION, "plan",
                            f"planned {m.source} -> {m.dest} ({m.memory_mb} MB)"
                            + (" (dry run)" if self.dry_run else ""),
                            component=f"{m.source}->{m.dest}") for m in plan.moves]
        if not self.dry_run:
            migration.log_events(self.ctx, log)

    def _stays(self, guest: str, host: str, reason: str) -> None:
        self.stayed += 1
        report_stay(self.ctx, guest, f"stays on {host}: {reason}", dry_run=self.dry_run)

    # -- the moves --------------------------------------------------------------------------

    def _started_move(self, move: placement.Move) -> None:
        self._started += 1
        self.ctx.out.data(f"{move.guest}: migrating from {move.source} to {move.dest} "
                          f"({self._started} of {self.total})")

    def _finished(self, outcome: migration.Outcome) -> None:
        ctx, move = self.ctx, outcome.move
        migration.record_outcome(ctx, outcome, APPLICATION,
                                 ctx.attrs.lookup(move.guest, "vm", "host"))
        if not outcome.moved and not outcome.dest_alive and outcome.where == move.source:
            self._destination_died(move, outcome)
            return
        migration.report_outcome(ctx, outcome)
        if outcome.moved:
            self.moved += 1
            return
        self.stayed += 1
        if move.dest in self.free:  # what the plan held there is free again
            self.free[move.dest] += move.memory_mb

    def _destination_died(self, move: placement.Move, outcome: migration.Outcome) -> None:
        """The guest is still on its source and the destination no longer answers: it and
        every guest still waiting for that host get a new plan over the hosts left."""
        dead = self.fleet.hosts[move.dest]
        dead.error = "stopped answering during the evacuation"
        waiting = [m for m in self.runner.pending if m.dest == move.dest]
        self.runner.pending = [m for m in self.runner.pending if m.dest != move.dest]
        self.free.pop(move.dest, None)
        again = [placement.Demand(m.guest, m.memory_mb, m.source) for m in [move, *waiting]]
        self.ctx.out.error(f"{move.dest}: Warning: did not answer after a failed migration "
                           f"({outcome.error}); re-planning {len(again)} guest"
                           f"{'' if len(again) == 1 else 's'}")
        plan = placement.plan(again, self.free, self._allowed)
        self.free = {**self.free, **plan.free_mb}
        self.total += len(plan.moves) - len(waiting)
        for new in plan.moves:
            self.ctx.out.data(f"{new.guest}: {new.source} -> {new.dest} ({new.memory_mb} MB), "
                              "re-planned")
        migration.log_events(self.ctx, [
            events.Event(move.dest, APPLICATION, "host",
                         f"stopped answering during the evacuation ({outcome.error}); "
                         f"{len(again)} guest{'' if len(again) == 1 else 's'} re-planned",
                         events.CRITICAL),
            *(events.Event(m.guest, APPLICATION, "plan",
                         f"re-planned {m.source} -> {m.dest} after {move.dest} died",
                         events.WARNING, f"{m.source}->{m.dest}") for m in plan.moves)])
        sources_of = {d.guest: d.source for d in again}
        for guest, reason in sorted(plan.unplaced.items()):
            self._stays(guest, sources_of[guest], reason)
        journal.forget(self.ctx, plan.unplaced)
        if self.runner.batch:
            journal.plan(self.ctx, plan.moves, self.runner.batch)
        self.runner.pending = sorted([*self.runner.pending, *plan.moves],
                                     key=lambda m: (-m.memory_mb, m.guest))

    def _summary(self, sources: list[str]) -> None:
        if self.dry_run:
            return
        self.ctx.out.data(f"{','.join(sources)}: {self.moved} guest"
                          f"{'' if self.moved == 1 else 's'} moved, {self.stayed} stayed")
