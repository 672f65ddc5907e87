"""vm.host against what the hypervisors really run.

After an interrupted migration (see journal.py) the tables may place a guest on the host it
left. `settle` takes the journal's interrupted rows, looks for each guest on every host the
fleet has asked, and records the truth: vm.host follows the guest, every correction is
printed and logged, and the rows are deleted in the same commit. A guest running on no host
that answered is a critical event and an error; a guest whose hosts could not be asked
keeps its row, so the next attempt looks again. `reconcile_hosts` does the same for every
guest of some hypervisors, journalled or not (`revacuate --reconcile`).
"""

from __future__ import annotations

from collections.abc import Iterable

from xcatpy.db import events
from xcatpy.virt import journal
from xcatpy.virt.fleet import Fleet


def _answered(fleet: Fleet) -> list[str]:
    return [h for h, f in fleet.hosts.items() if f.error is None and f.info is not None]


def touching(found: list[journal.Entry], hosts: Iterable[str]) -> list[journal.Entry]:
    """The rows that concern any of these hosts: leaving, arriving or being emptied."""
    hosts = set(hosts)
    return [e for e in found
            if hosts & {e.source, e.dest, *e.host_list}]


def hosts_to_ask(found: list[journal.Entry]) -> set[str]:
    return {h for e in found for h in (e.source, e.dest) if h}


def settle(ctx, fleet: Fleet, found: list[journal.Entry], application: str, *,
           off_hosts: Iterable[str] = ()) -> None:
    """Records where each journalled guest runs, from the hosts the fleet has observed (the
    caller has asked at least each row's source and destination). off_hosts: hosts whose BMC
    said they are off: asked, in effect, and running nothing."""
    if not found:
        return
    off_hosts = set(off_hosts)
    answered = _answered(fleet)
    rows, log, settled = [], [], []
    for entry in found:
        text, where, severity, done = _verdict(ctx, fleet, entry, answered, off_hosts)
        component = f"{entry.source}->{entry.dest}"
        if severity == events.CRITICAL or not done:
            ctx.node_error(entry.guest, text)
        else:
            ctx.out.data(f"{entry.guest}: {text}")
        log.append(events.Event(entry.guest, application, "reconcile", text, severity,
                                component))
        if where is not None:
            rows.append({"node": entry.guest, "host": where, "powerstate": "on"})
        if done:
            settled.append(entry.guest)

    def write(store) -> None:
        if rows:
            store.upsert_rows("vm", rows)
        journal.clear(store, settled)
        events.record(store, log)

    ctx.write_now(write)
    fleet.forget_placement()


def _verdict(ctx, fleet: Fleet, entry: journal.Entry, answered: list[str],
             off_hosts: set[str]) -> tuple[str, str | None, str, bool]:
    """(message, new vm.host or None, severity, whether the row is settled)."""
    recorded = ctx.attrs.lookup(entry.guest, "vm", "host") or "(unset)"
    what = ("an interrupted migration" if entry.state == journal.MOVING
            else "an interrupted evacuation")
    running = [h for h in answered if entry.guest in fleet.hosts[h].running()]
    if len(running) == 1:
        host = running[0]
        if host != recorded:
            return (f"found on {host} after {what}; vm.host was {recorded}", host,
                    events.WARNING, True)
        return f"on {host} as recorded, after {what}", None, events.INFO, True
    if len(running) > 1:
        return (f"running on {' and '.join(running)} at once after {what} from "
                f"{entry.source} to {entry.dest}; stop one copy, then run revacuate "
                "--resume", None, events.CRITICAL, False)
    unasked = [h for h in (entry.source, entry.dest)
               if h not in answered and h not in off_hosts]
    if unasked:
        reasons = "; ".join(f"{h}: {fleet.hosts[h].error}" if h in fleet.hosts and
                            fleet.hosts[h].error else f"{h}: not asked" for h in unasked)
        return (f"not found on any host that answered after {what} from {entry.source} to "
                f"{entry.dest} ({reasons}); kept in the journal until they answer",
                None, events.WARNING, False)
    if entry.source in off_hosts and entry.application == "revacuate -f":
        return (f"not running anywhere after an interrupted restart from {entry.source} "
                f"(off); left to revacuate -f", None, events.INFO, True)
    defined = [h for h in answered if entry.guest in fleet.hosts[h].guests]
    seen = (f"; defined but not running on {','.join(defined)}" if defined
            else "; defined on no host that answered")
    return (f"running on no host after {what} from {entry.source} to {entry.dest}{seen}; "
            f"vm.host left at {recorded}", None, events.CRITICAL, True)


def reconcile_hosts(ctx, fleet: Fleet, hosts: list[str], application: str) -> None:
    """vm.host of every guest these hosts run, set to the host; guests the tables place on
    them that none of them runs are named (they may run on a host not asked)."""
    answered = [h for h in hosts if fleet.hosts[h].error is None]
    for host in hosts:
        if fleet.hosts[host].error:
            ctx.node_error(host, fleet.hosts[host].error)
    rows, log, running = [], [], set()
    for host in answered:
        for guest in sorted(fleet.hosts[host].running()):
            running.add(guest)
            if not ctx.attrs.is_node(guest):
                ctx.out.error(f"{host}: Warning: runs {guest}, which is not a node")
                continue
            recorded = ctx.attrs.lookup(guest, "vm", "host") or "(unset)"
            if recorded == host:
                continue
            text = f"found on {host}; vm.host was {recorded}"
            ctx.out.data(f"{guest}: {text}")
            rows.append({"node": guest, "host": host, "powerstate": "on"})
            log.append(events.Event(guest, application, "reconcile", text, events.WARNING))
    placed = fleet.placed_guests()
    for host in answered:
        for guest in sorted(set(placed.get(host, ())) - running - set(fleet.hosts[host].guests)):
            ctx.out.error(f"{guest}: Warning: vm.host is {host}, which does not know it, and "
                          "no host asked runs it")
    if rows:
        def write(store) -> None:
            store.upsert_rows("vm", rows)
            events.record(store, log)

        ctx.write_now(write)
        fleet.forget_placement()
    ctx.out.data(f"{','.join(answered)}: {len(rows)} vm.host correction"
                 f"{'' if len(rows) == 1 else 's'}")
