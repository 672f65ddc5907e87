"""A guest's definition, from the vm, mac and hypervisor tables.

xCAT's vm columns are read as an admin writes them (`vm.memory=2G`, `vm.storage=/vms/disk`,
`vm.nics=br0,br1`); anything that cannot be turned into a definition is one error naming
the node and the column. A guest's MAC addresses and UUID are generated once, the first time
it is created, and stored (mac.mac, vm.uuid), so a guest keeps its identity across
re-creation, migration and reinstall, and makedhcp can publish it.
"""

from __future__ import annotations

import random
import re
import uuid
from dataclasses import dataclass
from decimal import Decimal

from xcatpy.db.attrs import split_list
from xcatpy.digits import decimal
from xcatpy.drivers.base import DriverError
from xcatpy.virt.model import Disk, GuestSpec, Nic

DEFAULT_MEMORY_MB = 512
DEFAULT_VCPUS = 1
# The size of a disk image created for a guest that never went through `mkvm -s`.
DEFAULT_DISK_MB = 20 * 1024
# The bridge a toolstack's guests join when neither vm.nics nor hypervisor.defaultnet says:
# what the toolstack's own network scripts create.
DEFAULT_BRIDGE = {"xen": "xenbr0", "xm": "xenbr0", "libvirt": "br0", "kvm": "br0",
                  "xenserver": "xenbr0"}
# What nodehm.mgt implies when the host's hypervisor.type is not set.
TOOLSTACK_FOR_MGT = {"xen": "xen", "xm": "xm", "kvm": "libvirt", "libvirt": "libvirt",
                     "xenserver": "xenserver"}
_DISK_PREFIX = {"xen": "xvd", "xm": "xvd", "xenserver": "xvd", "libvirt": "vd", "kvm": "vd"}
_IMAGE_SUFFIX = (".img", ".raw", ".qcow2")
# re.ASCII: '١٢' is not a size anyone typed (see xcatpy.digits).
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$", re.IGNORECASE | re.ASCII)
_UNIT_MB = {"": 1, "m": 1, "g": 1024, "t": 1024 * 1024, "k": Decimal(1) / 1024}
# 1 EiB: beyond any guest's memory or disk, and well inside SQLite's 64-bit integers.
MAX_SIZE_MB = 1 << 40
_MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
# 0x42: the locally administered bit set, the multicast bit clear; xCAT's KVM plugin uses
# the same first octet, so generated addresses are recognisable on a switch.
MAC_PREFIX = 0x42


class GuestError(DriverError):
    pass


def size_mb(text: str, what: str) -> int:
    """'512', '512M', '2G', '2GiB' -> megabytes (a bare number is megabytes, as in xCAT)."""
    match = _SIZE.match(text or "")
    if not match:
        raise GuestError(f"{what} is not a size: '{text}' (e.g. 512, 512M, 2G)")
    # Decimal, not float: float() makes 400 digits inf, and int(inf) raises.
    number, unit = Decimal(match.group(1)), match.group(2).lower()
    mb = number * _UNIT_MB[unit]
    if mb > MAX_SIZE_MB:
        shown = text.strip() if len(text.strip()) <= 24 else text.strip()[:21] + "..."
        raise GuestError(f"{what} is too large: '{shown}' (at most {MAX_SIZE_MB >> 20}T)")
    if int(mb) <= 0:
        raise GuestError(f"{what} must be positive: '{text}'")
    return int(mb)


def guest_host(attrs, node: str) -> str:
    host = attrs.lookup(node, "vm", "host")
    if not host:
        raise GuestError(f"{node}: vm.host is not set, so no hypervisor runs it")
    return host


def toolstack_of(attrs, node: str, host: str) -> str:
    """hypervisor.type of the guest's host, else what its nodehm.mgt implies."""
    declared = attrs.lookup(host, "hypervisor", "type")
    if declared:
        return declared
    mgt = attrs.lookup(node, "nodehm", "mgt") or ""
    if mgt in TOOLSTACK_FOR_MGT:
        return TOOLSTACK_FOR_MGT[mgt]
    raise GuestError(f"{node}: hypervisor.type of {host} is not set and nodehm.mgt="
                     f"'{mgt}' does not imply one")


@dataclass(frozen=True)
class Identity:
    uuid: str
    macs: tuple[str, ...]


def node_macs(value: str | None, node: str) -> list[str]:
    """mac.mac entries that belong to the node itself (`mac!othername` entries do not)."""
    macs = []
    for entry in (value or "").split("|"):
        entry = entry.strip()
        if not entry:
            continue
        mac, _, owner = entry.partition("!")
        if owner and owner != node:
            continue
        macs.append(mac.strip().lower().replace("-", ":"))
    return macs


def nic_bridges(attrs, node: str, host: str, toolstack: str) -> list[str]:
    items = split_list(attrs.lookup(node, "vm", "nics"))
    if not items:
        items = split_list(attrs.lookup(host, "hypervisor", "defaultnet")) or \
            [DEFAULT_BRIDGE.get(toolstack, "br0")]
    bridges = []
    for item in items:
        # xCAT's form is [physnet:]interface; the virtual switch (bridge) is the physnet
        # when given, else the interface name.
        physnet, _, interface = item.partition(":")
        bridge = physnet if interface else item
        if not re.fullmatch(r"[A-Za-z0-9_.-]{1,15}", bridge):
            raise GuestError(f"{node}: vm.nics entry '{item}' is not a bridge name")
        bridges.append(bridge)
    return bridges


def table_disks(attrs, node: str, toolstack: str, disk_mb: int | None = None) -> list[Disk]:
    """The node's disks as vm.storage describes them, without checking the rest of the
    definition: a guest whose vm.memory is broken can still be listed and purged."""
    fmt = (attrs.lookup(node, "vm", "storageformat") or "raw").lower()
    if fmt not in ("raw", "qcow2"):
        raise GuestError(f"{node}: vm.storageformat must be raw or qcow2, not '{fmt}'")
    prefix = _DISK_PREFIX.get(toolstack, "xvd")
    disks: list[Disk] = []
    for index, item in enumerate(split_list(attrs.lookup(node, "vm", "storage"))):
        device = prefix + "abcdefghijklmnopqrstuvwxyz"[index]
        kind, path = "file", item
        if item.startswith("phy:"):
            kind, path = "phy", item[4:]
        elif item.startswith("file:"):
            path = item[5:]
        elif item.startswith("dir://"):
            path = item[6:]
        elif "://" in item:
            raise GuestError(f"{node}: vm.storage '{item}' is not supported; mount it on the "
                             "hypervisors and give the mount point")
        if not path.startswith("/") or "\n" in path or ".." in path.split("/"):
            raise GuestError(f"{node}: vm.storage '{item}' is not an absolute path")
        if kind == "file" and not path.endswith(_IMAGE_SUFFIX):
            suffix = "qcow2" if fmt == "qcow2" else "img"
            name = f"{node}.{suffix}" if index == 0 else f"{node}-{device}.{suffix}"
            path = path.rstrip("/") + "/" + name
        disks.append(Disk(path=path, device=device, kind=kind, fmt=fmt,
                          size_mb=disk_mb or DEFAULT_DISK_MB if kind == "file" else None))
    return disks


def guest_spec(attrs, node: str, identity: Identity, *, toolstack: str,
               max_nics: int | None = None, disk_mb: int | None = None) -> GuestSpec:
    """The definition of `node` as its tables describe it. Raises GuestError (one line)."""
    host = guest_host(attrs, node)
    memory = size_mb(attrs.lookup(node, "vm", "memory") or str(DEFAULT_MEMORY_MB),
                     f"{node}: vm.memory")
    maxmem_text = attrs.lookup(node, "vm", "maxmem")
    maxmem = size_mb(maxmem_text, f"{node}: vm.maxmem") if maxmem_text else memory
    if maxmem < memory:
        raise GuestError(f"{node}: vm.maxmem ({maxmem} MB) is below vm.memory ({memory} MB)")
    cpus_text = attrs.lookup(node, "vm", "cpus") or str(DEFAULT_VCPUS)
    if not decimal(cpus_text):
        raise GuestError(f"{node}: vm.cpus is not a positive number: '{cpus_text}'")
    bridges = nic_bridges(attrs, node, host, toolstack)
    if max_nics is not None and len(bridges) > max_nics:
        raise GuestError(f"{node}: {len(bridges)} NICs in vm.nics, but {toolstack} guests "
                         f"have at most {max_nics}")
    if len(identity.macs) < len(bridges):
        raise GuestError(f"{node}: {len(bridges)} NICs but only {len(identity.macs)} MAC "
                         "addresses")
    model = attrs.lookup(node, "vm", "nicmodel")
    nics = tuple(Nic(mac=mac, bridge=bridge, model=model)
                 for mac, bridge in zip(identity.macs, bridges, strict=False))
    order = []
    for item in split_list(attrs.lookup(node, "vm", "bootorder") or "net,hd"):
        mapped = {"net": "network", "network": "network", "hd": "hd", "disk": "hd",
                  "cd": "cd", "cdrom": "cd"}.get(item.lower())
        if mapped is None:
            raise GuestError(f"{node}: vm.bootorder entry '{item}' is not net, hd or cd")
        order.append(mapped)
    flags = {f.strip().lower() for f in re.split(r"[,; ]", attrs.lookup(node, "vm",
                                                                         "virtflags") or "")}
    autostart = (attrs.lookup(node, "vm", "autostart") or "").lower() in ("1", "yes", "true")
    return GuestSpec(
        name=node, uuid=identity.uuid, memory_mb=memory, maxmem_mb=maxmem,
        vcpus=int(cpus_text), disks=tuple(table_disks(attrs, node, toolstack, disk_mb)), nics=nics,
        boot_order=tuple(order), autostart=autostart, paravirt="pv" in flags)


def assign_identity(store, node: str, nic_count: int) -> Identity:
    """Inside a write transaction: the node's UUID and MACs, generating and storing what is
    missing. Generated MACs are unique among every address in the mac table."""
    vm_row = store.get("vm", {"node": node}) or {}
    mac_row = store.get("mac", {"node": node}) or {}
    guest_uuid = vm_row.get("uuid") or str(uuid.uuid4())
    raw = mac_row.get("mac") or ""
    macs = node_macs(raw, node)
    for mac in macs:
        if not _MAC.fullmatch(mac):
            raise GuestError(f"{node}: mac.mac entry '{mac}' is not a MAC address")
    if len(macs) < nic_count:
        taken = {entry.partition("!")[0].strip().lower() for row in store.rows("mac")
                 for entry in (row.get("mac") or "").split("|")}
        taken |= set(macs)
        rng = random.SystemRandom()
        new = []
        while len(macs) + len(new) < nic_count:
            mac = ":".join(f"{b:02x}" for b in [MAC_PREFIX] + [rng.randrange(256)
                                                               for _ in range(5)])
            if mac not in taken:
                taken.add(mac)
                new.append(mac)
        macs += new
        store.upsert_rows("mac", [{"node": node, "mac": "|".join(
            [e for e in raw.split("|") if e.strip()] + new)}])
    if not vm_row.get("uuid"):
        store.upsert_rows("vm", [{"node": node, "uuid": guest_uuid}])
    return Identity(uuid=guest_uuid, macs=tuple(macs))
