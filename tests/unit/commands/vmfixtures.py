"""Hypervisors for the tests of mkvm, rmvm, lsvm and chvm.

`world`/`cluster`: a hypervisor kept in memory, implementing the Hypervisor interface with
the semantics the commands rely on (create_disk never overwrites, undefine refuses a
running guest), so most tests exercise the commands' own logic and nothing else.
`xen`: a simulated Xen host (tests/sim/xlsim.py) driven by the real xl driver through
LocalShell, for a few tests end to end.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.sim import hvstate
from tests.sim.localshell import LocalShell
from xcatpy.drivers.base import DriverError
from xcatpy.virt import hosts, hypervisor
from xcatpy.virt.model import OFF, ON, Disk, GuestSpec, GuestStatus, HostInfo


@dataclass
class FakeGuest:
    host: str
    spec: GuestSpec
    state: str = OFF
    memory_mb: int = 0
    vcpus: int = 0


@dataclass
class FakeWorld:
    host_memory_mb: dict[str, int] = field(default_factory=dict)
    guests: dict[str, FakeGuest] = field(default_factory=dict)
    files: dict[tuple[str, str], bytes] = field(default_factory=dict)  # (host, path) -> data
    sizes: dict[tuple[str, str], int] = field(default_factory=dict)  # created images, MB
    calls: list[tuple] = field(default_factory=list)
    fail: dict[tuple[str, str], str] = field(default_factory=dict)  # (host, method) -> text
    lock: threading.Lock = field(default_factory=threading.Lock)

    def on(self, name: str, host: str, memory_mb: int, vcpus: int = 1) -> None:
        """A guest the host runs, defined there behind mkvm's back."""
        spec = GuestSpec(name=name, uuid="", memory_mb=memory_mb, maxmem_mb=memory_mb,
                         vcpus=vcpus)
        self.guests[name] = FakeGuest(host, spec, ON, memory_mb, vcpus)


class FakeHypervisor:
    toolstack = "fake"
    max_nics = 3
    world: FakeWorld

    def __init__(self, shell, target) -> None:
        self.host = target.node

    def _call(self, method: str, *args) -> None:
        self.world.calls.append((self.host, method, *args))
        message = self.world.fail.get((self.host, method))
        if message:
            raise DriverError(f"{self.host}: {message}")

    def host_info(self) -> HostInfo:
        with self.world.lock:
            self._call("host_info")
            total = self.world.host_memory_mb.get(self.host, 16384)
            return HostInfo(total_mb=total, free_mb=total, cpus=8)

    def guests(self) -> dict[str, GuestStatus]:
        with self.world.lock:
            self._call("guests")
            return {name: GuestStatus(name, g.state, g.memory_mb, g.vcpus, g.spec.uuid or None)
                    for name, g in self.world.guests.items() if g.host == self.host}

    def define(self, spec: GuestSpec) -> None:
        with self.world.lock:
            self._call("define", spec)
            old = self.world.guests.get(spec.name)
            if old is not None and old.host == self.host and old.state != OFF:
                old.spec = spec  # the persistent definition; the running guest keeps its own
                return
            self.world.guests[spec.name] = FakeGuest(self.host, spec, OFF, spec.memory_mb,
                                                     spec.vcpus)

    def undefine(self, name: str) -> None:
        with self.world.lock:
            self._call("undefine", name)
            guest = self.world.guests.get(name)
            if guest is None or guest.host != self.host:
                return
            if guest.state != OFF:
                raise DriverError(f"{self.host}: {name} is {guest.state}")
            del self.world.guests[name]

    def create_disk(self, disk: Disk) -> bool:
        with self.world.lock:
            self._call("create_disk", disk)
            key = (self.host, disk.path)
            if key in self.world.files:
                return False
            self.world.files[key] = b""
            self.world.sizes[key] = disk.size_mb
            return True

    def remove_disk(self, disk: Disk) -> None:
        with self.world.lock:
            self._call("remove_disk", disk)
            if disk.kind == "file":
                self.world.files.pop((self.host, disk.path), None)

    def start(self, spec: GuestSpec) -> None:
        with self.world.lock:
            self._call("start", spec)
            guest = self.world.guests[spec.name]
            guest.state, guest.memory_mb, guest.vcpus = ON, spec.memory_mb, spec.vcpus

    def stop(self, name: str, *, hard: bool = False) -> None:
        with self.world.lock:
            self._call("stop", name, hard)
            self.world.guests[name].state = OFF

    def reset(self, name: str) -> None:
        self._call("reset", name)

    def migrate(self, name: str, dest, *, live: bool = True) -> None:
        raise NotImplementedError

    def set_memory(self, name: str, memory_mb: int) -> None:
        with self.world.lock:
            self._call("set_memory", name, memory_mb)
            self.world.guests[name].memory_mb = memory_mb

    def set_vcpus(self, name: str, vcpus: int) -> None:
        with self.world.lock:
            self._call("set_vcpus", name, vcpus)
            self.world.guests[name].vcpus = vcpus


@pytest.fixture
def world():
    """A fresh fake world, registered as hypervisor.type 'fake'; no SSH is ever used."""
    FakeHypervisor.world = FakeWorld()
    hypervisor.register("fake", FakeHypervisor)
    hosts.use_shell(lambda state_dir: None)
    yield FakeHypervisor.world
    hosts.use_shell(None)


@pytest.fixture
def cluster(run, world):
    """hv1 and hv2 (8 GB each, 1 GB dom0) and guests g1-g3 on hv1, 1 GB each, one disk."""
    assert run("nodeadd", "hv1,hv2", "groups=hypervisors,all", "hypervisor.type=fake",
               "hypervisor.memory=8192", "hypervisor.dom0mem=1024").rc == 0
    assert run("nodeadd", "g1-g3", "groups=guests,all", "vm.host=hv1", "vm.storage=/vms",
               "vm.memory=1024", "vm.nics=br0", "nodehm.mgt=xen").rc == 0
    return run


def row(store, table: str, node: str) -> dict:
    """A node's row as the command left it (run() ends each command's transaction)."""
    return store.get(table, {"node": node}) or {}



@dataclass
class XenSim:
    state: Path  # the simulated hosts' shared state file

    def file(self, host: str, path: str) -> Path:
        """Where a path on a simulated host lives on this machine."""
        return hvstate.host_file(self.state, host, path)

    def guest(self, name: str) -> dict | None:
        return hvstate.read(self.state)["guests"].get(name)


@pytest.fixture
def xen(run, tmp_path):
    """xh1, a simulated Xen host (8 GB, 1 GB dom0, memory known only from `xl info`), and
    guests x1, x2 on it (1 GB, disks under /vms), managed with hypervisor.type=xen."""
    state = tmp_path / "sim" / "state.json"
    hvstate.create(state, {"xh1": {"memory_mb": 8192, "dom0_mb": 1024}})
    hosts.use_shell(lambda state_dir: LocalShell(state))
    assert run("nodeadd", "xh1", "groups=hypervisors,all", "hypervisor.type=xen",
               "hypervisor.dom0mem=1024").rc == 0
    assert run("nodeadd", "x1,x2", "groups=guests,all", "vm.host=xh1", "vm.storage=/vms",
               "vm.memory=1024", "nodehm.mgt=xen").rc == 0
    yield XenSim(state)
    hosts.use_shell(None)
