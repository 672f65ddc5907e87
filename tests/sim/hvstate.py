"""State shared by every simulated hypervisor host: one JSON file, locked while in use.

All simulated hosts of a test read and write the same file, so `xl migrate g h2` run on h1
really moves g to h2, and a test (or the demo) can look at or change what the "hardware"
holds. Files the toolstacks would keep on a host's disk (xl configs, disk images) live under
a per-host directory, or a shared one for paths the test declares shared storage.

Environment (set by the sshd harness for each simulated host, or by LocalShell):
  XCATSIM_STATE  the JSON file;   XCATSIM_HOST  which host this command runs on;
  XCATSIM_LOG    JSON lines of every command received (default: <state dir>/commands.log).

Layout of the file:
  hosts:  name -> {toolstack, memory_mb, dom0_mb, cpus, cpu_flags, relocation, faults, address}
  guests: name -> {host, state, memory_mb, maxmem_mb, vcpus, uuid, domid, macs, bridges,
                   disks, autostart, defined, ...}  (state: running|paused|shutoff|crashed)
  shared_paths: path prefixes that are shared storage (same files on every host)
  next_domid: the next domain id any host hands out
Toolstack-specific keys: hosts may carry `libvirt_driver` ("qemu" default, or "xen"),
`disabled` and `uuid` (XenServer); guests `pending` (virsh --config changes held until the
next start), `maxvcpus`, `domain_type`, `os_type`, `boot`, `xml_path`, `xe`; libvirt guests
list disks as {path, kind, device}, XenServer VMs as VDI name-labels; `xenserver` holds the
pool's SRs, networks, VDIs, VBDs and VIFs.
A host marked `"down": true` is unreachable: every command sent to it exits 255 with ssh's
"No route to host" (and is not logged: it never arrived), and every toolstack's migrate
refuses it as a destination with that toolstack's own transport failure. Optional
`interfaces` (a list) are the host's network interfaces; arping refuses any other one.
`incoming` counts the migrations completed into a host (see `arrived`).
Faults, per host: {"hang": [command prefix, ...]} sleeps instead of running;
  {"fail": {command prefix: "message"}} exits 1 with that message on stderr;
  {"down_after_incoming": N}: the N-th migration into the host completes, then the host is
  marked down, as a destination dying in the middle of an evacuation would;
  {"migrate_seconds": N}: a migration leaving the host (xl/xm migrate) takes N seconds
  before the guest switches hosts, and completes even when the caller goes away meanwhile
  (the toolstack runs it, as a real one past its start would): a test can kill xcatd while
  a migration is in flight. While it waits, the guest is marked "migrating_to" the
  destination, so the test can tell when the migration has started.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

RUNNING, PAUSED, SHUTOFF, CRASHED = "running", "paused", "shutoff", "crashed"

HOST_DEFAULTS = {
    "toolstack": "xen",
    "memory_mb": 16384,
    "dom0_mb": 1024,
    "cpus": 8,
    "cpu_flags": ["fpu", "vme", "de", "pse", "tsc", "msr", "pae", "mce", "cx8", "apic", "sse",
                  "sse2", "vmx"],
    "relocation": True,
    "faults": {},
}


def state_path() -> Path:
    return Path(os.environ["XCATSIM_STATE"])


def current_host() -> str:
    return os.environ["XCATSIM_HOST"]


def files_root(state: Path | None = None) -> Path:
    """Where host files live: beside the state file, so a test finds them from its path."""
    return (state or state_path()).parent / "files"


def log_path() -> Path:
    log = os.environ.get("XCATSIM_LOG")
    return Path(log) if log else state_path().parent / "commands.log"


def create(path: Path, hosts: dict[str, dict], shared_paths: list[str] = ()) -> None:
    """A fresh state file with these hosts (each dict overrides HOST_DEFAULTS)."""
    data = {
        "hosts": {name: {**json.loads(json.dumps(HOST_DEFAULTS)), **spec}
                  for name, spec in hosts.items()},
        "guests": {},
        "shared_paths": list(shared_paths),
        "next_domid": 1,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    _write(path, data)


def _write(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
    os.replace(tmp, path)


@contextlib.contextmanager
def locked(path: Path | None = None) -> Iterator[dict]:
    """The state, exclusively: changes made to the dict are saved when the block ends
    without an exception."""
    path = path or state_path()
    with open(path.with_name(path.name + ".lock"), "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        data = json.loads(path.read_text())
        yield data
        _write(path, data)


def read(path: Path | None = None) -> dict:
    path = path or state_path()
    with open(path.with_name(path.name + ".lock"), "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_SH)
        return json.loads(path.read_text())


def host_path(host: str, path: str, state: dict, root: Path | None = None) -> Path:
    """Where a host's absolute path lives on this machine; shared storage is one place.
    root: the files root (default: that of the state file in XCATSIM_STATE)."""
    if not path.startswith("/") or ".." in Path(path).parts:
        raise ValueError(f"not an absolute path without '..': {path}")
    shared = any(path == p or path.startswith(p.rstrip("/") + "/")
                 for p in state.get("shared_paths", ()))
    base = (root or files_root()) / ("shared" if shared else f"hosts/{host}")
    return base / path.lstrip("/")


def host_file(state: Path, host: str, path: str) -> Path:
    """For tests: where `path` on simulated `host` lives, given the shared state file."""
    return host_path(host, path, read(state), files_root(state))


def guests_on(state: dict, host: str) -> dict[str, dict]:
    return {n: g for n, g in state["guests"].items() if g["host"] == host}


def used_memory(state: dict, host: str) -> int:
    """Memory held by the host's running or paused guests (what it cannot give away)."""
    return sum(g["memory_mb"] for g in guests_on(state, host).values()
               if g["state"] in (RUNNING, PAUSED))


def free_memory(state: dict, host: str) -> int:
    h = state["hosts"][host]
    return h["memory_mb"] - h["dom0_mb"] - used_memory(state, host)


def new_domid(state: dict) -> int:
    domid = state["next_domid"]
    state["next_domid"] = domid + 1
    return domid


def arrived(state: dict, host: str) -> None:
    """Each simulated migration calls this, in the locked state it moved the guest in, once a
    guest has arrived on `host`: counts it, and applies a down_after_incoming fault."""
    spec = state["hosts"][host]
    spec["incoming"] = spec.get("incoming", 0) + 1
    if spec["incoming"] == spec.get("faults", {}).get("down_after_incoming"):
        spec["down"] = True


def migration_delay(host: str, guest: str, dest: str | None) -> None:
    """A migrate_seconds fault of `host`: marks the guest as migrating, waits, and carries on
    whatever happens to the SSH session that asked for it."""
    seconds = read()["hosts"].get(host, {}).get("faults", {}).get("migrate_seconds")
    if not seconds:
        return
    for sig in (signal.SIGHUP, signal.SIGPIPE, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)
    with locked() as state:
        if guest in state["guests"]:
            state["guests"][guest]["migrating_to"] = dest
    time.sleep(float(seconds))
    with locked() as state:
        if guest in state["guests"]:
            state["guests"][guest].pop("migrating_to", None)


def unreachable(host: str, state: dict) -> str:
    """What ssh says about a host that is down."""
    address = state["hosts"].get(host, {}).get("address", host)
    return f"ssh: connect to host {address} port 22: No route to host"


def apply_faults(host: str, command_line: str, spec: dict | None = None) -> str | None:
    """Called by each simulated command first: hangs for a 'hang' fault (until killed), and
    returns the message of a matching 'fail' fault (the caller exits 1 with it).
    spec: the host's record, if the caller has read it already."""
    if spec is None:
        spec = read()["hosts"].get(host, {})
    faults = spec.get("faults", {})
    for prefix in faults.get("hang", ()):
        if command_line.startswith(prefix):
            while True:
                time.sleep(3600)
    for prefix, message in faults.get("fail", {}).items():
        if command_line.startswith(prefix):
            return message
    return None


def enter(argv: list[str]) -> int | None:
    """What every simulated command does first: fail as ssh would if the host is down,
    record itself, then hang or fail as the host's faults say. Returns the exit status to end
    with, or None to go on."""
    host = current_host()
    state = read()
    spec = state["hosts"].get(host, {})
    if spec.get("down"):
        sys.stderr.write(unreachable(host, state) + "\n")
        return 255
    log_command(host, argv)
    message = apply_faults(host, " ".join(argv), spec)
    if message is None:
        return None
    sys.stderr.write(message + "\n")
    return 1


def log_command(host: str, argv: list[str]) -> None:
    with open(log_path(), "a") as log:
        log.write(json.dumps({"host": host, "argv": argv, "time": time.time()}) + "\n")


def commands_run(state: Path, host: str | None = None) -> list[list[str]]:
    """For tests: the argv of every simulated command run (on `host`, if given), in order."""
    return [entry["argv"] for entry in logged_commands(state.parent / "commands.log")
            if host is None or entry["host"] == host]


def logged_commands(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
