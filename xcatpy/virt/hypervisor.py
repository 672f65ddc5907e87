"""What a toolstack driver offers, and the registry that picks one by hypervisor.type.

A new hypervisor is one module: a class implementing `Hypervisor`, registered under its
type name. Each instance is bound to one host and runs its commands through a RemoteShell.
Every method raises DriverError (RemoteError, UnreachableError, ...) with a one-line
message on failure and returns only when the toolstack has done the work.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import ClassVar, Protocol

from xcatpy.drivers.remote import RemoteShell, Target
from xcatpy.virt.model import Disk, GuestSpec, GuestStatus, HostInfo, Nic


class Hypervisor(Protocol):
    toolstack: ClassVar[str]  # 'xen' (xl), 'xm', 'libvirt', 'xenserver'
    max_nics: ClassVar[int | None]  # Xen guests: 3 (the seeds' limit); None: no limit

    def __init__(self, shell: RemoteShell, target: Target) -> None: ...

    def host_info(self) -> HostInfo: ...

    def guests(self) -> dict[str, GuestStatus]:
        """Every guest the host knows: running ones, and defined but stopped ones where the
        toolstack keeps definitions (libvirt, xenserver, and xl/xm config files)."""

    def define(self, spec: GuestSpec) -> None:
        """Create or replace the guest's persistent definition; does not start it."""

    def undefine(self, name: str) -> None:
        """Remove the definition (the guest must be off); disks are left alone."""

    def create_disk(self, disk: Disk) -> bool:
        """Create a file disk; False (and nothing touched) when the path already exists."""

    def remove_disk(self, disk: Disk) -> None: ...

    def start(self, spec: GuestSpec) -> None: ...

    def stop(self, name: str, *, hard: bool = False) -> None:
        """hard=False: orderly shutdown request (softoff); hard=True: destroy (off)."""

    def reset(self, name: str) -> None: ...

    def migrate(self, name: str, dest: Target, *, live: bool = True) -> str | None:
        """Moves the running guest to dest. Returns a warning when the guest moved but a
        step after it did not work (e.g. its config file stayed behind), else None."""

    def missing_storage(self, disks: Sequence[Disk]) -> set[str]:
        """The paths of `disks` this host cannot open, so a guest migrated or restarted here
        would miss them; empty when every disk is reachable. Asked of a destination before
        anything moves (one command for all the disks asked about)."""

    def announce(self, nics: Sequence[Nic], address: str) -> None:
        """After a guest arrived here: one unsolicited ARP per NIC, from the guest's MAC and
        `address`, on the NIC's bridge, so switches and neighbours learn where it now is."""

    def set_memory(self, name: str, memory_mb: int) -> None: ...

    def set_vcpus(self, name: str, vcpus: int) -> None: ...


# type name -> module that registers it; imported on first use so that a site without
# XenServer never imports its driver.
_MODULES = {
    "xen": "xcatpy.virt.xl",
    "xm": "xcatpy.virt.xm",
    "libvirt": "xcatpy.virt.libvirt",
    "kvm": "xcatpy.virt.libvirt",
    "xenserver": "xcatpy.virt.xenserver",
}
_CLASSES: dict[str, type] = {}


def register(name: str, cls: type) -> None:
    _CLASSES[name] = cls


def toolstacks() -> list[str]:
    return sorted(_MODULES)


def hypervisor_class(name: str) -> type:
    """The driver class for a hypervisor.type; KeyError names the choices."""
    if name not in _CLASSES and name in _MODULES:
        importlib.import_module(_MODULES[name])
    if name not in _CLASSES:
        raise KeyError(f"unknown hypervisor type '{name}' (one of: {', '.join(toolstacks())})")
    return _CLASSES[name]
