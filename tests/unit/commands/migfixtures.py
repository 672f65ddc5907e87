"""Hypervisor fleets for the tests of rmigrate, revacuate and chhypervisor.

`xlfleet`: simulated Xen hosts h1-h3 (tests/sim/xlsim.py, 16 GB, 1 GB dom0, /vms shared)
driven by the real xl driver through LocalShell; guests are put straight into the simulated
hosts' state (running, with their disk on the shared storage), so a test pays only for the
commands the command under test runs.
`gated`: an in-memory hypervisor (tests/unit/virt/fakehv.py) whose migrate() holds each
migration until the runner has started all it may (see Gate), counting how many are in
flight per source and per destination, so concurrency limits are measured without timing.
`bmc`: a fake power driver for the hypervisors' own BMCs (revacuate -f), registered under a
test-only nodehm.mgt name.
"""

from __future__ import annotations

import queue
import threading
import uuid as uuidlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.sim import hvstate
from tests.sim.localshell import LocalShell
from tests.unit.virt import fakehv
from xcatpy.drivers import power
from xcatpy.drivers.base import DriverError, Reply
from xcatpy.virt import hosts, hypervisor, migration
from xcatpy.virt.model import ON, GuestStatus

HOSTS = ("h1", "h2", "h3")
HOST_MB = 16384
DOM0_MB = 1024


# -- the eventlog --------------------------------------------------------------------------


def eventlog(store) -> list[dict]:
    """Every eventlog row, oldest first."""
    return sorted(store.rows("eventlog"), key=lambda r: int(r["recid"]))


def events_of(store, node: str | None = None, eventtype: str | None = None) -> list[dict]:
    return [e for e in eventlog(store) if (node is None or e["node"] == node)
            and (eventtype is None or e["eventtype"] == eventtype)]


def vm_host(run, node: str) -> str | None:
    out = run("nodels", node, "vm.host").out
    value = out[0].split(": ", 1)[1] if out else ""
    return value or None


# -- simulated Xen hosts ---------------------------------------------------------------------


@dataclass
class XlFleet:
    state: Path
    run: Callable

    def data(self) -> dict:
        return hvstate.read(self.state)

    def record(self, name: str) -> dict | None:
        return self.data()["guests"].get(name)

    def where(self, name: str) -> str | None:
        """The host the guest runs on, or None when it runs nowhere."""
        guest = self.record(name)
        if guest is None or guest["state"] not in (hvstate.RUNNING, hvstate.PAUSED):
            return None
        return guest["host"]

    def commands(self, host: str | None = None) -> list[list[str]]:
        return hvstate.commands_run(self.state, host)

    def host(self, name: str, **values) -> None:
        """Changes a simulated host's record (faults, cpu_flags, down, ...)."""
        with hvstate.locked(self.state) as data:
            data["hosts"][name].update(values)

    def fail(self, host: str, prefix: str, message: str) -> None:
        with hvstate.locked(self.state) as data:
            data["hosts"][host].setdefault("faults", {}).setdefault("fail", {})[prefix] = message

    def file_exists(self, host: str, path: str) -> bool:
        return hvstate.host_file(self.state, host, path).is_file()

    def disk(self, path: str, host: str = "h1") -> Path:
        """Creates an image file at `path` as seen from `host` (shared under /vms)."""
        target = hvstate.host_file(self.state, host, path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(b"")
        return target

    def guest(self, name: str, host: str, memory_mb: int = 1024, *, node: bool = True,
              storage: str | None = "/vms", macs: tuple[str, ...] | None = None,
              bridges: tuple[str, ...] = ("br0",), ip: str | None = None,
              powerstate: str | None = "on", running: bool = True, **columns: str) -> None:
        """A guest running on `host` (its domain put straight into the simulated state), its
        disk on the storage, and (node=True) its node in the tables with vm.host=host."""
        uuid = str(uuidlib.uuid5(uuidlib.NAMESPACE_DNS, name))
        if macs is None:  # one per guest, stable: 42: and five bytes of its uuid
            macs = ("42:" + ":".join(uuid.replace("-", "")[i:i + 2] for i in range(0, 10, 2)),)
        disks = []
        if storage:
            disks = [storage if storage.endswith(".img") else f"{storage}/{name}.img"]
            for path in disks:
                self.disk(path, host)
        if running:
            with hvstate.locked(self.state) as data:
                data["guests"][name] = {
                    "host": host, "state": hvstate.RUNNING, "memory_mb": memory_mb,
                    "maxmem_mb": memory_mb, "vcpus": 1, "max_vcpus": 1, "uuid": uuid,
                    "domid": hvstate.new_domid(data), "type": "pv", "toolstack": "xen",
                    "macs": list(macs), "bridges": list(bridges), "disks": disks,
                    "disk_devices": ["xvda"][:len(disks)], "defined": True,
                    "autostart": False}
        if not node:
            return
        args = [name, "groups=guests,all", f"vm.host={host}", f"vm.memory={memory_mb}",
                "nodehm.mgt=xen", f"vm.uuid={uuid}", f"mac.mac={'|'.join(macs)}",
                f"vm.nics={','.join(bridges)}"]
        if storage:
            args.append(f"vm.storage={storage}")
        if ip:
            args.append(f"hosts.ip={ip}")
        if powerstate:
            args.append(f"vm.powerstate={powerstate}")
        args += [f"{k.replace('__', '.')}={v}" for k, v in columns.items()]
        r = self.run("nodeadd", *args)
        assert r.rc == 0, r.err

    def off(self, name: str, host: str, memory_mb: int = 1024) -> None:
        """A guest defined on `host` (its xl config there) but not running."""
        config = hvstate.host_file(self.state, host, f"/etc/xen/{name}.cfg")
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text(f'name = "{name}"\nmemory = {memory_mb}\nvcpus = 1\n')
        with hvstate.locked(self.state) as data:
            data["guests"][name] = {
                "host": host, "state": hvstate.SHUTOFF, "memory_mb": memory_mb,
                "maxmem_mb": memory_mb, "vcpus": 1, "max_vcpus": 1,
                "uuid": str(uuidlib.uuid5(uuidlib.NAMESPACE_DNS, name)), "domid": None,
                "type": "pv", "toolstack": "xen", "macs": [], "bridges": [], "disks": [],
                "disk_devices": [], "defined": True, "autostart": False}
        r = self.run("nodeadd", name, "groups=guests,all", f"vm.host={host}",
                     f"vm.memory={memory_mb}", "nodehm.mgt=xen", "vm.storage=/vms")
        assert r.rc == 0, r.err



@pytest.fixture
def xlfleet(run, tmp_path):
    """h1, h2, h3: simulated xl hosts, 16 GB each with 1 GB for dom0 (hypervisor.dom0mem;
    hypervisor.memory unset, so the total is what `xl info` reports), /vms shared."""
    state = tmp_path / "sim" / "state.json"
    hvstate.create(state, {h: {"memory_mb": HOST_MB, "dom0_mb": DOM0_MB} for h in HOSTS},
                   shared_paths=["/vms"])
    hosts.use_shell(lambda state_dir: LocalShell(state))
    r = run("nodeadd", ",".join(HOSTS), "groups=hypervisors,all", "hypervisor.type=xen",
            f"hypervisor.dom0mem={DOM0_MB}")
    assert r.rc == 0, r.err
    yield XlFleet(state, run)
    hosts.use_shell(None)


# -- an in-memory hypervisor whose migrations the test holds -----------------------------


@dataclass
class Gate:
    """Counts the migrations in flight per source and destination, and holds each in
    migrate() until the runner has started every migration it is going to start for now.

    The runner (MigrationRunner.run) starts what its limits allow, then waits for an
    outcome. The fixture gives it a queue whose get() first waits until every migration
    submitted has entered migrate() (where they are held, so none can finish), takes a
    snapshot of what is in flight, and only then releases them: a runner that starts more
    than its limits allow is caught every time, and no timing is involved (the waits'
    timeouts are safety nets only)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    changed: threading.Condition = field(init=False)
    hold: bool = True
    round: int = 0
    submitted: int = 0
    entered: int = 0
    leaving: dict[str, int] = field(default_factory=dict)
    arriving: dict[str, int] = field(default_factory=dict)
    in_flight: int = 0
    max_leaving: dict[str, int] = field(default_factory=dict)
    max_arriving: dict[str, int] = field(default_factory=dict)
    max_in_flight: int = 0
    # What was in flight each time the runner had started all it could: (leaving, arriving).
    snapshots: list[tuple[dict[str, int], dict[str, int]]] = field(default_factory=list)
    started: list[tuple[str, str, str]] = field(default_factory=list)  # (guest, from, to)
    # guest -> message: migrate() moves the guest, then raises (the answer was lost)
    lost_answer: dict[str, str] = field(default_factory=dict)
    # guest -> message: migrate() makes the guest vanish from both hosts, then raises
    vanish: dict[str, str] = field(default_factory=dict)
    # Called on the worker thread as each migration begins: (guest, source, dest).
    on_migrate: Callable[[str, str, str], None] | None = None
    stuck: list[str] = field(default_factory=list)  # safety-net timeouts that fired

    def __post_init__(self) -> None:
        self.changed = threading.Condition(self.lock)

    def wait(self, predicate, what: str) -> None:
        if not self.changed.wait_for(predicate, SAFETY_NET_S):
            self.stuck.append(what)

    def runner_waits(self) -> None:
        """The runner started all it can and waits for an outcome: snapshot, release."""
        with self.changed:
            self.wait(lambda: self.entered >= self.submitted,
                      f"{self.submitted - self.entered} submitted migrations never began")
            if self.in_flight:
                self.snapshots.append((
                    {h: n for h, n in self.leaving.items() if n},
                    {h: n for h, n in self.arriving.items() if n}))
            self.round += 1
            self.changed.notify_all()


SAFETY_NET_S = 20.0


class GatedHypervisor(fakehv.FakeHypervisor):
    gate: Gate

    def migrate(self, name, dest, *, live=True) -> None:
        gate = self.gate
        if gate.on_migrate is not None:
            gate.on_migrate(name, self.host, dest.node)
        with gate.changed:
            gate.started.append((name, self.host, dest.node))
            gate.entered += 1
            gate.leaving[self.host] = gate.leaving.get(self.host, 0) + 1
            gate.arriving[dest.node] = gate.arriving.get(dest.node, 0) + 1
            gate.in_flight += 1
            gate.max_leaving[self.host] = max(gate.max_leaving.get(self.host, 0),
                                              gate.leaving[self.host])
            gate.max_arriving[dest.node] = max(gate.max_arriving.get(dest.node, 0),
                                               gate.arriving[dest.node])
            gate.max_in_flight = max(gate.max_in_flight, gate.in_flight)
            gate.changed.notify_all()
            mine = gate.round
            if gate.hold:
                gate.wait(lambda: gate.round > mine, f"{name} was never released")
        try:
            if name in gate.vanish:
                with fakehv.WORLD.lock:
                    fakehv.WORLD.running.get(self.host, {}).pop(name, None)
                raise DriverError(f"{self.host}: {gate.vanish[name]}")
            super().migrate(name, dest, live=live)
            if name in gate.lost_answer:
                raise DriverError(f"{self.host}: {gate.lost_answer[name]}")
        finally:
            with gate.changed:
                gate.leaving[self.host] -= 1
                gate.arriving[dest.node] -= 1
                gate.in_flight -= 1
                gate.changed.notify_all()


def gated_runner_parts(gate: Gate):
    """The queue and executor MigrationRunner.run uses, reporting to the gate."""

    class RunnerQueue(queue.Queue):
        def get(self, block=True, timeout=None):
            gate.runner_waits()
            return super().get(block, timeout)

    class RunnerPool(ThreadPoolExecutor):
        def submit(self, fn, /, *args, **kwargs):
            with gate.changed:
                gate.submitted += 1
            return super().submit(fn, *args, **kwargs)

    return SimpleNamespace(Queue=RunnerQueue), RunnerPool


@dataclass
class Gated:
    world: fakehv.FakeWorld
    gate: Gate
    run: Callable

    def hypervisors(self, names: str, memory_mb: int = 65536) -> None:
        r = self.run("nodeadd", names, "groups=hypervisors,all", "hypervisor.type=fake",
                     f"hypervisor.memory={memory_mb}", "hypervisor.dom0mem=1024")
        assert r.rc == 0, r.err

    def guest(self, name: str, host: str, memory_mb: int) -> None:
        """A guest running on host (in the fake world), its node with vm.host=host, its
        disk /vms/<name>.img on storage every host reaches."""
        with self.world.lock:
            self.world.shared_disks.add(f"/vms/{name}.img")
            self.world.running.setdefault(host, {})[name] = GuestStatus(
                name, ON, memory_mb, 1, str(uuidlib.uuid5(uuidlib.NAMESPACE_DNS, name)))
        r = self.run("nodeadd", name, "groups=guests,all", f"vm.host={host}",
                     f"vm.memory={memory_mb}", "vm.storage=/vms", "nodehm.mgt=xen")
        assert r.rc == 0, r.err

    def where(self, name: str) -> list[str]:
        with self.world.lock:
            return sorted(h for h, guests in self.world.running.items() if name in guests)


@pytest.fixture
def gated(run, monkeypatch):
    """An in-memory hypervisor type 'fake' whose migrate() counts the migrations in flight
    and holds them as Gate says (gate.hold=False: never held)."""
    world = fakehv.install()
    gate = Gate()
    GatedHypervisor.gate = gate
    hypervisor.register("fake", GatedHypervisor)
    hosts.use_shell(lambda state_dir: None)
    runner_queue, runner_pool = gated_runner_parts(gate)
    monkeypatch.setattr(migration, "queue", runner_queue)
    monkeypatch.setattr(migration, "ThreadPoolExecutor", runner_pool)
    yield Gated(world, gate, run)
    with gate.changed:
        gate.hold = False
        gate.round += 1 << 20
        gate.changed.notify_all()
    hosts.use_shell(None)
    hypervisor.register("fake", fakehv.FakeHypervisor)
    assert gate.stuck == []


# -- the hypervisors' BMCs -------------------------------------------------------------------

BMC_MGT = "testbmc"


@dataclass
class FakeBmc:
    """host -> what its BMC says to `stat`: "on", "off", or an Exception/str error."""

    states: dict[str, object] = field(default_factory=dict)
    asked: list[tuple[str, str]] = field(default_factory=list)

    def factory(self, ctx) -> FakeBmc:
        return self

    def power(self, nodes, action):
        for node in nodes:
            self.asked.append((node, action))
            said = self.states.get(node, "on")
            if action not in ("stat", "state"):
                yield node, Reply.fail(f"the test BMC does not do '{action}'")
            elif isinstance(said, BaseException):
                yield node, Reply.fail(str(said))
            else:
                yield node, Reply(str(said))

    def set_boot_device(self, nodes, device):
        for node in nodes:
            yield node, Reply.fail("not supported")


@pytest.fixture
def bmc():
    fake = FakeBmc()
    power.register(BMC_MGT, fake.factory)
    yield fake
    power._FACTORIES.pop(BMC_MGT, None)

