"""The migration journal: what was moving when a command stopped without saying where it went.

A live migration runs on the hypervisors, not in xcatd: if xcatd dies (kill -9, OOM, power)
while `xl migrate` runs, the guest may land on its destination while vm.host still names
its source, and nothing else would say an evacuation was half done. So every move is
written here before it starts (one row per guest in the migrationjournal table: planned,
then moving) and the row is deleted in the same commit that records the outcome (vm.host,
eventlog). A row whose command is no longer running is an interrupted move.

Each row names the process that owns it (host:pid:start ticks), so a row of a command that
is still running in this or another live process is never taken for an interrupted one.

`reconcile` settles interrupted rows against what the hosts report they run: vm.host is set
to where the guest really runs, each correction is reported and logged, and only then are
the rows deleted. A guest found running on no host that answered is a critical event, never
dropped quietly.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from xcatpy.db import events
from xcatpy.virt.placement import Move

TABLE = "migrationjournal"
PLANNED, MOVING = "planned", "moving"


def _start_ticks(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (field 22 of /proc/pid/stat): with
    the pid, it names one process even after the pid is reused."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rpartition(")")[2].split()[19]


def owner_token() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{_start_ticks(os.getpid()) or '0'}"


def owner_alive(token: str | None) -> bool:
    """Whether the command that owns a row may still be running. A row from another machine
    (service nodes sharing one database) cannot be judged from here: taken as alive."""
    if not token:
        return False
    host, _, rest = token.partition(":")
    pid, _, ticks = rest.partition(":")
    if host != socket.gethostname():
        return True
    return pid.isdigit() and _start_ticks(int(pid)) == ticks


@dataclass(frozen=True)
class Batch:
    """The command that moves guests: what a journal row says besides the move itself."""

    application: str  # revacuate, revacuate -f, rmigrate
    hosts: str  # the hypervisors being emptied (revacuate), or the destination (rmigrate)
    command: str
    username: str
    started: str
    owner: str

    @classmethod
    def of(cls, ctx, application: str, hosts: Iterable[str]) -> Batch:
        request = ctx.request
        return cls(application, ",".join(hosts),
                   " ".join([request.command, *request.args]), request.user,
                   time.strftime("%Y-%m-%d %H:%M:%S"), owner_token())


@dataclass(frozen=True)
class Entry:
    """One journal row."""

    guest: str
    source: str
    dest: str
    state: str
    statetime: str
    application: str
    hosts: str
    command: str
    username: str
    started: str
    owner: str | None

    @property
    def interrupted(self) -> bool:
        return not owner_alive(self.owner)

    @property
    def host_list(self) -> list[str]:
        return [h for h in self.hosts.split(",") if h]

    def describe(self) -> str:
        """`'revacuate h1' by root at <time>`: the command, for messages."""
        return f"'{self.command}' by {self.username} at {self.started}"


def _row(move: Move, state: str, batch: Batch) -> dict:
    return {"node": move.guest, "source": move.source, "dest": move.dest, "state": state,
            "statetime": time.strftime("%Y-%m-%d %H:%M:%S"),
            "application": batch.application, "hosts": batch.hosts, "command": batch.command,
            "username": batch.username, "started": batch.started, "owner": batch.owner}


def entries(store, *, interrupted_only: bool = True) -> list[Entry]:
    found = []
    for r in store.rows(TABLE):
        entry = Entry(r["node"], r["source"] or "", r["dest"] or "", r["state"] or PLANNED,
                      r["statetime"] or "", r["application"] or "", r["hosts"] or "",
                      r["command"] or "", r["username"] or "", r["started"] or "", r["owner"])
        if entry.interrupted or not interrupted_only:
            found.append(entry)
    return sorted(found, key=lambda e: (e.started, e.command, e.guest))


# -- writing ---------------------------------------------------------------------------------


def plan(ctx, moves: list[Move], batch: Batch) -> None:
    """Every move of a plan, before the first starts."""
    if moves:
        ctx.write_now(lambda store: store.upsert_rows(TABLE, [_row(m, PLANNED, batch)
                                                              for m in moves]))


def moving(ctx, move: Move, batch: Batch) -> None:
    """Committed before the migration is asked for: from here on the guest may be anywhere."""
    ctx.write_now(lambda store: store.upsert_rows(TABLE, [_row(move, MOVING, batch)]))


def clear(store, guests: Iterable[str]) -> None:
    store.delete_rows(TABLE, [{"node": g} for g in guests])


def forget(ctx, guests: Iterable[str]) -> None:
    """Planned moves that will not run after all (the guest stays where it is)."""
    guests = list(guests)
    if guests:
        ctx.write_now(lambda store: clear(store, guests))


def abandon(ctx, guests: Iterable[str]) -> None:
    """The command is failing with moves unrecorded: its rows become interrupted ones at once
    (rather than when this process ends)."""
    guests = list(guests)

    def write(store) -> None:
        store.touched(TABLE)
        store.conn.executemany(f"UPDATE {TABLE} SET owner = NULL WHERE node = ?",
                               [(g,) for g in guests])

    if guests:
        ctx.write_now(write)


# -- reporting -------------------------------------------------------------------------------


def refuse_live(ctx, found: list[Entry]) -> set[str]:
    """The guests of rows whose command is still running, each reported as busy: a second
    command must not plan a move of a guest already moving."""
    live = [e for e in found if not e.interrupted]
    for entry in live:
        ctx.node_error(entry.guest, f"being moved from {entry.source} to {entry.dest} by "
                                    f"{entry.describe()}, which is still running")
    return {e.guest for e in live}


def _batches(found: list[Entry]) -> dict[tuple[str, str], list[Entry]]:
    by: dict[tuple[str, str], list[Entry]] = {}
    for entry in found:
        by.setdefault((entry.command, entry.started), []).append(entry)
    return by


def resume_hint(batch: list[Entry]) -> str:
    if batch[0].application == "revacuate":
        return f"run 'revacuate {batch[0].hosts}' or 'revacuate --resume'"
    if batch[0].application == "revacuate -f":
        return f"run 'revacuate -f {batch[0].hosts}' or 'revacuate --resume'"
    return "run 'revacuate --resume' to record where the guests run, then rmigrate again"


def summary_lines(found: list[Entry]) -> list[str]:
    """One line per interrupted command, then one per guest: what `revacuate --status`,
    lsvm and the startup log say."""
    lines = []
    for batch in _batches(found).values():
        first = batch[0]
        in_flight = sum(1 for e in batch if e.state == MOVING)
        lines.append(f"{first.hosts}: Warning: interrupted {first.application} "
                     f"({first.describe()}): {in_flight} migration"
                     f"{'' if in_flight == 1 else 's'} in flight and "
                     f"{len(batch) - in_flight} planned were never recorded; "
                     f"{resume_hint(batch)}")
        for e in batch:
            what = (f"was migrating from {e.source} to {e.dest} (since {e.statetime})"
                    if e.state == MOVING else
                    f"was planned to move from {e.source} to {e.dest}")
            lines.append(f"{e.guest}: Warning: {what} when {e.application} was interrupted")
    return lines


def report_interrupted(state_dir: Path) -> list[Entry]:
    """At xcatd start: every interrupted row is logged as a warning, and one eventlog entry per
    interrupted command names it and what to run."""
    from twisted.logger import Logger

    from xcatpy.db.store import Store

    store = Store.open(state_dir)
    try:
        found = entries(store)
        if not found:
            return []
        log = Logger()
        for line in summary_lines(found):
            log.warn("{line}", line=line)
        log_rows = []
        for batch in _batches(found).values():
            guests = ",".join(e.guest for e in batch)
            log_rows.append(events.Event(
                batch[0].hosts, batch[0].application, "interrupted",
                f"{batch[0].application} {batch[0].describe()} was interrupted (xcatd "
                f"stopped) with {len(batch)} move{'' if len(batch) == 1 else 's'} unrecorded "
                f"({guests}); {resume_hint(batch)}", events.CRITICAL))
        store.write(lambda s: events.record(s, log_rows))
        return found
    finally:
        store.close()
