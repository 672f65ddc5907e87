"""Recording what a command did to the eventlog table, so an admin can read it afterwards
(`tabdump -n 20 eventlog`, `tabdump -w node==xen1 eventlog`)."""

from __future__ import annotations

import time
from dataclasses import dataclass

INFO, WARNING, CRITICAL = "informational", "warning", "critical"


@dataclass(frozen=True)
class Event:
    node: str  # what the event is about (a guest, a hypervisor)
    application: str  # the command: rmigrate, revacuate
    eventtype: str  # plan, migrate, maintenance, restart, ...
    message: str  # one line, with the numbers that explain it
    severity: str = INFO
    component: str | None = None  # e.g. "node01->node03"


def record(store, events: list[Event]) -> None:
    """Appends the events (inside the caller's transaction): recid counts up from the last."""
    if not events:
        return
    last = store.conn.execute(
        "SELECT COALESCE(MAX(CAST(recid AS INTEGER)), 0) FROM eventlog").fetchone()[0]
    now = time.strftime("%Y-%m-%d %H:%M:%S")
    store.insert_rows("eventlog", [
        {"recid": str(last + i), "eventtime": now, "eventtype": e.eventtype, "node": e.node,
         "application": e.application, "component": e.component, "severity": e.severity,
         "message": e.message}
        for i, e in enumerate(events, start=1)])
