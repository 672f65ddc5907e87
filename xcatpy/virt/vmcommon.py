"""What mkvm, rmvm, chvm and lsvm share: checking a guest's definition before writing it,
its identity, and running the hypervisor work of many guests at once.

Like rpower for guests (vmpower), each command plans on the command thread (every table
read happens there: the database connection belongs to it), acts on worker threads that
only talk to hypervisors (site.vmmaxp at once), and records on the command thread, as each
guest finishes, with ctx.write_now.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Generic, TypeVar

from xcatpy.digits import decimal
from xcatpy.drivers.base import DriverError
from xcatpy.virt.guest import (
    GuestError,
    Identity,
    assign_identity,
    guest_spec,
    nic_bridges,
    node_macs,
    size_mb,
)
from xcatpy.virt.hypervisor import Hypervisor
from xcatpy.virt.model import CRASHED, OFF, ON, PAUSED, Disk, GuestSpec

DEFAULT_VMMAXP = 64
# What rmvm and chvm call a guest in each state when they refuse to touch it.
STATE_WORDS = {ON: "running", PAUSED: "paused", CRASHED: "crashed", OFF: "off"}
# A placeholder that only lets guest_spec check a definition before anything is stored.
_NO_MAC = "00:00:00:00:00:00"


def max_parallel(attrs) -> int:
    text = attrs.site("vmmaxp") or ""
    return decimal(text) or DEFAULT_VMMAXP


def disk_size_mb(text: str, what: str) -> int:
    """A disk size as xCAT's -s and -a take it: a bare number is gigabytes."""
    if re.fullmatch(r"\s*\d+(\.\d+)?\s*", text or ""):
        text = text.strip() + "G"
    return size_mb(text, what)


def size_text(mb: int) -> str:
    return f"{mb // 1024} GB" if mb % 1024 == 0 else f"{mb} MB"


def error_text(node: str, exc: Exception | str) -> str:
    """A driver or table error as `node: Error: ...` wants it: without the node's name in
    front a second time (guest and capacity errors name the guest themselves)."""
    text = str(exc)
    prefix = f"{node}: "
    return text[len(prefix):] if text.startswith(prefix) else text


class WithValues:
    """A node's attributes as they will read once `vm_values` ({column: text} of its vm row)
    are stored: a command checks the definition it is about to write before writing it."""

    def __init__(self, attrs, node: str, vm_values: Mapping[str, str]) -> None:
        self.attrs = attrs
        self.node = node
        self.vm_values = dict(vm_values)

    def lookup(self, node: str, table: str, column: str) -> str | None:
        if node == self.node and table == "vm" and column in self.vm_values:
            return self.vm_values[column] or None
        return self.attrs.lookup(node, table, column)

    def __getattr__(self, name: str):
        return getattr(self.attrs, name)


def stored_identity(attrs, node: str) -> Identity:
    return Identity(attrs.lookup(node, "vm", "uuid") or "",
                    tuple(node_macs(attrs.lookup(node, "mac", "mac"), node)))


def storage_entries(disks: list[Disk]) -> list[str]:
    """vm.storage entries naming exactly these disks. Directory entries name their images by
    position (<node>-xvdb.img), so after a disk is taken out of the middle every remaining
    one is written as its own path, or the later ones would point at other files."""
    return [f"phy:{d.path}" if d.kind == "phy" else d.path for d in disks]


def new_disk_location(disks: list[Disk], node: str) -> str:
    """Where chvm -a puts new images: next to the last file disk, as xCAT uses the
    rightmost vm.storage location."""
    files = [d for d in disks if d.kind == "file"]
    if not files:
        raise GuestError(f"{node}: vm.storage names no directory or image file to put a new "
                         "disk next to; set vm.storage to a directory on the hypervisor")
    return posixpath.dirname(files[-1].path)


@dataclass
class Definition:
    """A guest's definition checked against the tables as they will be, and its identity."""

    spec: GuestSpec
    identity: Identity


def checked_definition(ctx, node: str, host: str, toolstack: str, driver: Hypervisor,
                       vm_values: Mapping[str, str] | None = None, *, store_values: bool,
                       disk_mb: int | None = None) -> Definition:
    """Checks the definition the vm columns `vm_values` would give, then stores what it
    needs: the values themselves when store_values, and a UUID and MACs the first time (in
    one write_now, so a definition that fails its check leaves the tables as they were)."""
    vm_values = dict(vm_values or {})
    view = WithValues(ctx.attrs, node, vm_values)
    max_nics = getattr(driver, "max_nics", None)
    bridges = nic_bridges(view, node, host, toolstack)
    current = stored_identity(view, node)
    missing = max(0, len(bridges) - len(current.macs))
    placeholder = Identity(current.uuid or "pending", current.macs + (_NO_MAC,) * missing)
    guest_spec(view, node, placeholder, toolstack=toolstack, max_nics=max_nics,
               disk_mb=disk_mb)
    row = {"node": node, **vm_values} if store_values and vm_values else None
    identity = current
    if row or missing or not current.uuid:
        def store(s) -> Identity:
            if row:
                s.upsert_rows("vm", [row])
            return assign_identity(s, node, len(bridges))

        identity = ctx.write_now(store)
    spec = guest_spec(view, node, identity, toolstack=toolstack, max_nics=max_nics,
                      disk_mb=disk_mb)
    return Definition(spec, identity)


# -- running many guests' hypervisor work at once --------------------------------------------

T = TypeVar("T")


@dataclass
class Finished(Generic[T]):
    """One item's work: the lines it produced so far, and its result or error (one line)."""

    item: T
    lines: list[str]
    result: object = None
    error: str | None = None


def each_in_parallel(ctx, items: list[T],
                     act: Callable[[T, list[str]], object]) -> Iterator[Finished[T]]:
    """Runs act(item, lines) on worker threads, site.vmmaxp at once, and yields each item on
    the calling thread as soon as it finishes. `act` talks only to hypervisors; it appends
    what it did to `lines` as it goes, so a guest that fails halfway still reports the disk
    it created before the failure."""
    if not items:
        return
    limit = max_parallel(ctx.attrs)
    pool = ThreadPoolExecutor(max_workers=min(limit, len(items)), thread_name_prefix="vmcmd")
    running = {}
    for item in items:
        lines: list[str] = []
        running[pool.submit(act, item, lines)] = (item, lines)
    try:
        for future in as_completed(running):
            item, lines = running[future]
            done = Finished(item, lines)
            try:
                done.result = future.result()
            except DriverError as exc:
                done.error = str(exc)
            except Exception as exc:  # a driver bug is this guest's error, not the command's
                done.error = f"{type(exc).__name__}: {exc}"
            yield done
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def report(ctx, node: str, done: Finished) -> None:
    for line in done.lines:
        ctx.out.data(f"{node}: {line}")
    if done.error:
        ctx.node_error(node, error_text(node, done.error))


def state_word(state: str) -> str:
    return STATE_WORDS.get(state, state)
