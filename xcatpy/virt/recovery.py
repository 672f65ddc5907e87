"""revacuate -f: a hypervisor died; start the guests it was running on other hosts.

Only after the host's BMC says its power is off: a host that merely stopped answering SSH
may still be running its guests, and starting them a second time from the same shared disks
would corrupt them. The guests restarted are those the tables record there as on
(vm.powerstate, kept by rpower, rmigrate and revacuate); they boot afresh from their disks,
so the destination must reach that storage, and CPU features and relocation do not matter.
Each restart is in the migration journal until recorded: after an interrupted revacuate -f,
a guest already restarted elsewhere is found there (and vm.host set) before anything is
restarted, so running it again never starts a guest twice from the same disks.
"""

from __future__ import annotations

from dataclasses import dataclass

from xcatpy.db import events
from xcatpy.drivers.base import DriverError
from xcatpy.drivers.dispatch import each_driver
from xcatpy.virt import journal, migration, placement, reconcile
from xcatpy.virt.evacuation import (
    APPLICATION,
    refuse_live_batches,
    report_stay,
    set_maintenance,
)
from xcatpy.virt.fleet import Fleet, GuestFacts
from xcatpy.virt.guest import guest_spec
from xcatpy.virt.hypervisor import Hypervisor
from xcatpy.virt.model import GuestSpec
from xcatpy.virt.vmcommon import WithValues, error_text, stored_identity

# vm.powerstate values that mean the guest was running; 'reset' and 'boot' were recorded by
# rpower before it recorded the resulting state, and such rows may still be around.
_WAS_RUNNING = {"on", "reset", "boot"}


@dataclass
class Restart:
    move: placement.Move
    driver: Hypervisor
    spec: GuestSpec


def restart_guest(restart: Restart) -> migration.Outcome:
    """Defines and starts the guest on its new host; disks are never created: a guest
    whose disk is not there stays down rather than booting a blank one."""
    outcome = migration.Outcome(restart.move)
    try:
        restart.driver.define(restart.spec)
        restart.driver.start(restart.spec)
    except DriverError as exc:
        outcome.error = error_text(restart.move.dest, exc)
        outcome.where = restart.move.source
        return outcome
    outcome.moved, outcome.where = True, restart.move.dest
    return outcome


class Recovery:
    def __init__(self, ctx, sources: list[str], *, dry_run: bool = False,
                 per_dest: int = migration.DEFAULT_PER_DEST) -> None:
        self.ctx = ctx
        self.sources = sources
        self.dry_run = dry_run
        self.fleet = Fleet(ctx)
        # Every restart leaves the same dead host: only the destinations need a limit.
        self.runner = migration.MigrationRunner(ctx, self.fleet, per_source=1 << 30,
                                                per_dest=per_dest)
        self.guests: dict[str, GuestFacts] = {}
        self.missing: dict[str, set[str]] = {}
        self.restarted = 0
        self.stayed = 0

    def run(self) -> None:
        ctx, fleet = self.ctx, self.fleet
        if refuse_live_batches(ctx, self.sources):
            return
        hosts = fleet.describe(self.sources)
        dead = [h for h in self.sources if not hosts[h].error and self._confirmed_off(h)]
        for host in self.sources:
            if hosts[host].error:
                ctx.node_error(host, hosts[host].error)
        if not dead:
            return
        if not self.dry_run:
            set_maintenance(ctx, dead, True, APPLICATION)
        candidates = fleet.candidates(self.sources)
        interrupted = reconcile.touching(journal.entries(ctx.store), dead)
        fleet.describe(reconcile.hosts_to_ask(interrupted))
        fleet.observe({*candidates, *reconcile.hosts_to_ask(interrupted)} - set(dead))
        if interrupted:
            for line in journal.summary_lines(interrupted):
                ctx.out.error(line)
            if not self.dry_run:
                reconcile.settle(ctx, fleet, interrupted, APPLICATION, off_hosts=dead)
        demands = self._demands(dead)
        self.missing = fleet.storage_seen(self.guests.values(), candidates,
                                          {hosts[h].toolstack for h in dead})
        plan = placement.plan(demands, fleet.free_memory(candidates), self._allowed)
        sources_of = {d.guest: d.source for d in demands}
        ctx.out.data(f"Plan for {','.join(dead)} (down): {len(demands)} guest"
                     f"{'' if len(demands) == 1 else 's'} to restart elsewhere, "
                     f"{len(plan.moves)} placed, {len(plan.unplaced)} staying down")
        for move in plan.moves:
            ctx.out.data(f"{move.guest}: {move.source} -> {move.dest} ({move.memory_mb} MB), "
                         "restart from shared storage")
        for guest, reason in sorted(plan.unplaced.items()):
            self._stays(guest, sources_of[guest], reason)
        if self.dry_run:
            return
        self.runner.batch = journal.Batch.of(ctx, f"{APPLICATION} -f", dead)
        self.runner.run(plan.moves, self._finished, prepare=self._prepare, act=restart_guest)
        ctx.out.data(f"{','.join(dead)}: {self.restarted} guest"
                     f"{'' if self.restarted == 1 else 's'} restarted elsewhere, "
                     f"{self.stayed} stayed down")

    def _confirmed_off(self, host: str) -> bool:
        """The BMC's word that the host is off; anything else refuses, naming what it said."""
        replies = dict(each_driver(self.ctx, [host],
                                   lambda driver, nodes: driver.power(nodes, "stat")))
        reply = replies.get(host)
        if reply is not None and not reply.error and reply.text.strip() == "off":
            if not self.dry_run:
                migration.log_events(self.ctx, [events.Event(
                    host, APPLICATION, "power", "confirmed off by its BMC before restarting "
                    "its guests elsewhere", events.WARNING)])
            return True
        said = "no reply" if reply is None else (reply.text if reply.error
                                                 else f"power is {reply.text}")
        self.ctx.node_error(host, f"not restarting its guests elsewhere: cannot confirm it is "
                                  f"down ({said}); they may still be running there")
        return False

    def _demands(self, dead: list[str]) -> list[placement.Demand]:
        ctx, fleet = self.ctx, self.fleet
        demands = []
        for host in dead:
            facts = fleet.hosts[host]
            for node in sorted(fleet.placed_guests().get(host, ())):
                state = (ctx.attrs.lookup(node, "vm", "powerstate") or "").lower()
                if state not in _WAS_RUNNING:
                    ctx.out.data(f"{node}: was not on when {host} went down; left there")
                    continue
                try:
                    guest = fleet.guest(node, facts, None)
                except DriverError as exc:
                    self._stays(node, host, error_text(node, exc))
                    continue
                self.guests[node] = guest
                demands.append(placement.Demand(node, guest.memory_mb, host))
        return demands

    def _allowed(self, demand: placement.Demand, host: str) -> str | None:
        return migration.refusal(self.guests[demand.guest], self.fleet.hosts[demand.source],
                                 self.fleet.hosts[host], self.missing.get(host), restart=True)

    def _prepare(self, move: placement.Move) -> Restart:
        """The guest's definition as its tables give it, placed on the new host."""
        attrs = self.ctx.attrs
        dest = self.fleet.hosts[move.dest]
        driver = self.fleet.driver(move.dest)
        view = WithValues(attrs, move.guest, {"host": move.dest})
        identity = stored_identity(attrs, move.guest)
        if not identity.uuid:
            raise DriverError(f"{move.guest}: has no vm.uuid, so it was never created here; "
                              "start it with rpower on")
        spec = guest_spec(view, move.guest, identity, toolstack=dest.toolstack,
                          max_nics=getattr(driver, "max_nics", None))
        return Restart(move, driver, spec)

    def _stays(self, guest: str, host: str, reason: str) -> None:
        self.stayed += 1
        report_stay(self.ctx, guest, f"stays down on {host}: {reason}", dry_run=self.dry_run)

    def _finished(self, outcome: migration.Outcome) -> None:
        move = outcome.move
        migration.record_outcome(self.ctx, outcome, APPLICATION, move.source,
                                 restarted_from_dead=True)
        if outcome.moved:
            self.restarted += 1
            self.ctx.out.data(f"{move.guest}: restarted on {move.dest}")
        else:
            self.stayed += 1
            self.ctx.node_error(move.guest, f"restart on {move.dest} failed, stays down on "
                                            f"{move.source}: {outcome.error}")
