"""An in-memory Hypervisor for tests of the code above the toolstack drivers."""

from __future__ import annotations

import threading

from xcatpy.drivers.base import DriverError
from xcatpy.virt import hypervisor
from xcatpy.virt.model import OFF, ON, GuestStatus, HostInfo


class FakeWorld:
    """Every fake host's guests, shared by the driver instances of one test."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running: dict[str, dict[str, GuestStatus]] = {}
        self.defined: dict[str, dict[str, object]] = {}
        self.disks: dict[str, set[str]] = {}  # host -> disk paths that exist there
        self.shared_disks: set[str] = set()  # paths every host can open
        self.total_mb: dict[str, int] = {}
        self.calls: list[tuple] = []
        self.down: set[str] = set()
        self.failing: set[tuple[str, str]] = set()  # (host, method) that raise DriverError


WORLD = FakeWorld()


class FakeHypervisor:
    toolstack = "fake"
    max_nics = 3

    def __init__(self, shell, target) -> None:
        self.host = target.node

    def _call(self, *call):
        with WORLD.lock:
            if self.host in WORLD.down:
                raise DriverError(f"{self.host}: cannot connect: host is down")
            WORLD.calls.append((self.host, *call))
            if (self.host, call[0]) in WORLD.failing:
                raise DriverError(f"{self.host}: {call[0]} failed (fault injected)")

    def host_info(self) -> HostInfo:
        self._call("host_info")
        return HostInfo(total_mb=WORLD.total_mb.get(self.host, 8192), free_mb=0, cpus=4)

    def guests(self) -> dict[str, GuestStatus]:
        self._call("guests")
        with WORLD.lock:
            running = dict(WORLD.running.get(self.host, {}))
            for name in WORLD.defined.get(self.host, {}):
                running.setdefault(name, GuestStatus(name, OFF, 0, 0))
            return running

    def define(self, spec) -> None:
        self._call("define", spec.name)
        with WORLD.lock:
            WORLD.defined.setdefault(self.host, {})[spec.name] = spec

    def undefine(self, name) -> None:
        self._call("undefine", name)
        with WORLD.lock:
            WORLD.defined.get(self.host, {}).pop(name, None)

    def create_disk(self, disk) -> bool:
        self._call("create_disk", disk.path)
        with WORLD.lock:
            disks = WORLD.disks.setdefault(self.host, set())
            if disk.path in disks or disk.path in WORLD.shared_disks:
                return False
            disks.add(disk.path)
            return True

    def remove_disk(self, disk) -> None:
        self._call("remove_disk", disk.path)
        with WORLD.lock:
            WORLD.disks.get(self.host, set()).discard(disk.path)

    def start(self, spec) -> None:
        self._call("start", spec.name)
        with WORLD.lock:
            WORLD.running.setdefault(self.host, {})[spec.name] = GuestStatus(
                spec.name, ON, spec.memory_mb, spec.vcpus, spec.uuid)

    def stop(self, name, *, hard=False) -> None:
        self._call("stop", name, hard)
        with WORLD.lock:
            WORLD.running.get(self.host, {}).pop(name, None)

    def reset(self, name) -> None:
        self._call("reset", name)

    def migrate(self, name, dest, *, live=True) -> None:
        self._call("migrate", name, dest.node)
        with WORLD.lock:
            WORLD.running.setdefault(dest.node, {})[name] = WORLD.running[self.host].pop(name)

    def missing_storage(self, disks) -> set[str]:
        self._call("missing_storage", tuple(disk.path for disk in disks))
        with WORLD.lock:
            present = WORLD.disks.get(self.host, set()) | WORLD.shared_disks
            return {disk.path for disk in disks if disk.path not in present}

    def announce(self, nics, address) -> None:
        """Recorded in WORLD.calls as (host, "announce", ((mac, bridge), ...), address)."""
        self._call("announce", tuple((nic.mac, nic.bridge) for nic in nics), address)

    def set_memory(self, name, memory_mb) -> None:
        self._call("set_memory", name, memory_mb)

    def set_vcpus(self, name, vcpus) -> None:
        self._call("set_vcpus", name, vcpus)


def install() -> FakeWorld:
    """A fresh world, and the 'fake' hypervisor type registered."""
    global WORLD
    WORLD = FakeWorld()
    hypervisor.register("fake", FakeHypervisor)
    return WORLD
