"""The plain data a toolstack driver works with, independent of the tables."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Disk:
    """One guest disk. kind 'file': an image at `path` (created when absent, never
    overwritten); kind 'phy': a block device that must already exist."""

    path: str
    device: str  # guest-side name: xvda, xvdb (Xen), vda (virtio), hda
    kind: str = "file"  # 'file' | 'phy'
    fmt: str = "raw"  # 'raw' | 'qcow2' (file disks)
    size_mb: int | None = None  # required to create a file disk


@dataclass(frozen=True)
class Nic:
    mac: str  # lower case, colon separated
    bridge: str  # the host bridge or network it joins
    model: str | None = None  # e.g. virtio, e1000, netfront (None: toolstack default)


@dataclass(frozen=True)
class GuestSpec:
    name: str
    uuid: str
    memory_mb: int
    maxmem_mb: int  # >= memory_mb
    vcpus: int
    disks: tuple[Disk, ...] = ()
    nics: tuple[Nic, ...] = ()
    boot_order: tuple[str, ...] = ("network", "hd")  # 'network' | 'hd' | 'cd'
    autostart: bool = False
    paravirt: bool = False  # Xen PV guest (vm.virtflags contains 'pv'); HVM otherwise
    extra: dict[str, str] = field(default_factory=dict)  # toolstack-specific (vm.othersettings)


@dataclass(frozen=True)
class HostInfo:
    total_mb: int
    free_mb: int  # what the toolstack itself reports free
    cpus: int
    cpu_flags: frozenset[str] = frozenset()
    version: str = ""


# Guest states as rpower reports them.
ON, OFF, PAUSED, CRASHED = "on", "off", "paused", "crashed"


@dataclass(frozen=True)
class GuestStatus:
    name: str
    state: str  # ON | OFF | PAUSED | CRASHED
    memory_mb: int
    vcpus: int
    uuid: str | None = None
    domid: int | None = None


def cpu_flags(cpuinfo: str) -> frozenset[str]:
    """The `flags` line of a host's /proc/cpuinfo (the first CPU's: they agree)."""
    for line in cpuinfo.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() == "flags":
            return frozenset(value.split())
    return frozenset()
