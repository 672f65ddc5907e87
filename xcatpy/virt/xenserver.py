"""The XenServer toolstack: VMs of a XenServer pool, driven with `xe` over SSH.

xe run on any pool member acts on the whole pool, so the host this driver is bound to is
both where commands go and "this host" for placement: start() boots a VM on it, guests()
reports the VMs resident on it plus the pool's halted VMs (a halted VM belongs to the pool,
not to a host, and is "off" wherever it is looked up). Hosts are matched to pool members by
name-label, hostname or address, so hypervisor nodes should be named as their XenServer
hosts are.

XenServer assigns a VM's UUID itself (vm-install takes none), so GuestSpec.uuid is not
imposed. A disk is a VDI in the pool's default SR, and Disk.path is its name-label; VDIs
are created if absent and never overwritten, like image files. XenServer allows 7 VIFs per
VM (device 0-6).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import ClassVar

from xcatpy.drivers.base import DriverError
from xcatpy.drivers.remote import RemoteError, RemoteResult, RemoteShell, Target
from xcatpy.virt import hostfiles
from xcatpy.virt.hypervisor import register
from xcatpy.virt.model import OFF, ON, PAUSED, Disk, GuestSpec, GuestStatus, HostInfo, Nic

MIB = 1024 * 1024
DEFAULT_TEMPLATE = "Other install media"
MIGRATE_TIMEOUT = 3600.0
EVACUATE_TIMEOUT = 4 * 3600.0
NOT_IN_DATABASE = "<not in database>"

_POWER = {"running": ON, "paused": PAUSED, "halted": OFF, "suspended": OFF}
_BOOT_LETTER = {"network": "n", "hd": "c", "cd": "d"}
# `name ( RO): value`, `name (MRW): k: v; k2: v2`, `name (SRO): a; b`
_FIELD = re.compile(r"^\s*(\S+) \([ MS]R[OW]\)\s*: ?(.*)$")
_VM_PARAMS = ("uuid,name-label,power-state,memory-static-min,memory-static-max,"
              "memory-dynamic-max,VCPUs-max,VCPUs-at-startup,resident-on,dom-id")
_HOST_PARAMS = ("uuid,name-label,hostname,address,enabled,memory-total,memory-free,cpu_info,"
                "software-version")


class XenServerError(DriverError):
    """A value or an answer the XenServer driver cannot work with."""


class XeCommandError(RemoteError):
    """xe failed. xapi prints its error's description, then one `name: value` line per
    parameter (the numbers that matter: needed and available memory, expected and actual
    power state); the message keeps them all on one line."""

    def __init__(self, target: Target, argv: list[str], result: RemoteResult) -> None:
        super().__init__(target, argv, result)
        lines = [ln.strip() for ln in (result.stderr or result.stdout).splitlines() if ln.strip()]
        if lines:
            detail = lines[0] + (f" ({'; '.join(lines[1:])})" if len(lines) > 1 else "")
            self.args = (f"{target.node}: 'xe {argv[1]}' failed: {detail}",)


def parse_records(text: str) -> list[dict[str, str]]:
    """xe's record output (blank lines between records) as one dict per record."""
    records: list[dict[str, str]] = []
    current: dict[str, str] = {}
    for line in text.splitlines():
        match = _FIELD.match(line)
        if match:
            current[match.group(1)] = match.group(2)
        elif not line.strip() and current:
            records.append(current)
            current = {}
    if current:
        records.append(current)
    return records


def parse_map(text: str) -> dict[str, str]:
    """A map field's value, `k: v; k2: v2`, as a dict."""
    entries = (entry.partition(": ") for entry in text.split("; ") if entry)
    return {key: value for key, _, value in entries}


class XenServerHypervisor:
    toolstack: ClassVar[str] = "xenserver"
    max_nics: ClassVar[int | None] = 7

    def __init__(self, shell: RemoteShell, target: Target) -> None:
        self.shell = shell
        self.target = target
        self.template = DEFAULT_TEMPLATE
        self.command_timeout = 60.0  # per xe command, except migration and evacuation
        self.migrate_timeout = MIGRATE_TIMEOUT
        self._own_uuid: str | None = None

    # -- host and pool ------------------------------------------------------------------

    def host_info(self) -> HostInfo:
        host = self._host_record(self.target)
        try:
            cpu_info = parse_map(host.get("cpu_info", ""))
            return HostInfo(total_mb=int(host["memory-total"]) // MIB,
                            free_mb=int(host["memory-free"]) // MIB,
                            cpus=int(cpu_info["cpu_count"]),
                            cpu_flags=frozenset(cpu_info.get("flags", "").split()),
                            version=parse_map(host.get("software-version", "")).get(
                                "product_version", ""))
        except (KeyError, ValueError) as exc:
            raise XenServerError(f"{self.target.node}: cannot read 'xe host-list' output "
                                 f"({exc})") from None

    def disable_host(self, host_name: str) -> None:
        """Maintenance: the pool places no VM on the host until enable_host."""
        self._xe("host-disable", f"host={_label(self.target, host_name)}")

    def enable_host(self, host_name: str) -> None:
        self._xe("host-enable", f"host={_label(self.target, host_name)}")

    def evacuate_host(self, host_name: str) -> None:
        """Live-migrates every running VM off the host; xapi plans all before moving any."""
        self._xe("host-evacuate", f"host={_label(self.target, host_name)}",
                 timeout=EVACUATE_TIMEOUT)

    # -- guests -------------------------------------------------------------------------

    def guests(self) -> dict[str, GuestStatus]:
        own = self._own_host_uuid()
        found = {}
        for vm in self._records("vm-list", "is-control-domain=false", f"params={_VM_PARAMS}"):
            if vm.get("resident-on") == own or vm.get("power-state") in ("halted", "suspended"):
                status = _status(self.target, vm)
                found[status.name] = status
        return found

    def define(self, spec: GuestSpec) -> None:
        self._check(spec)
        self._define(spec, self._vm(spec.name))

    def _check(self, spec: GuestSpec) -> None:
        name = _label(self.target, spec.name)
        if len(spec.nics) > self.max_nics:
            raise XenServerError(f"{self.target.node}: guest {name} has {len(spec.nics)} NICs; "
                                 f"XenServer allows {self.max_nics}")
        if spec.memory_mb > spec.maxmem_mb:
            raise XenServerError(f"{self.target.node}: guest {name}: memory {spec.memory_mb} "
                                 f"MiB exceeds maxmem {spec.maxmem_mb} MiB")

    def _define(self, spec: GuestSpec, vm: dict[str, str] | None) -> dict[str, str]:
        """define() of a checked spec, given the VM's current record; returns the record as
        it was before its settings changed."""
        name = spec.name
        if vm is None:
            uuid = self._xe("vm-install", f"template={self.template}",
                            f"new-name-label={name}").stdout.strip()
            vm = self._vm_record(f"uuid={uuid}")
        else:
            self._require_halted(name, vm, "redefining it")
            uuid = vm["uuid"]
            for vif in self._uuids("vif-list", f"vm-uuid={uuid}"):
                self._xe("vif-destroy", f"uuid={vif}")
            for vbd in self._uuids("vbd-list", f"vm-uuid={uuid}", "type=Disk"):
                self._xe("vbd-destroy", f"uuid={vbd}")
        memory, maxmem = spec.memory_mb * MIB, spec.maxmem_mb * MIB
        self._xe("vm-memory-limits-set", f"uuid={uuid}", f"static-min={memory}",
                 f"static-max={maxmem}", f"dynamic-min={memory}", f"dynamic-max={memory}")
        self._set_vcpus(uuid, spec.vcpus, vm)
        self._xe("vm-param-set", f"uuid={uuid}", *_boot_params(spec),
                 f"other-config:auto_poweron={'true' if spec.autostart else 'false'}")
        for index, disk in enumerate(spec.disks):
            self._attach_disk(uuid, disk, index)
        networks: dict[str, str] = {}
        for index, nic in enumerate(spec.nics):
            if nic.bridge not in networks:
                networks[nic.bridge] = self._network(nic.bridge)
            self._xe("vif-create", f"vm-uuid={uuid}", f"network-uuid={networks[nic.bridge]}",
                     f"mac={nic.mac}", f"device={index}")
        return vm

    def undefine(self, name: str) -> None:
        """vm-destroy, not vm-uninstall: the VM goes, its VDIs stay."""
        vm = self._vm(_label(self.target, name))
        if vm is None:
            return
        self._require_halted(name, vm, "removing it")
        self._xe("vm-destroy", f"uuid={vm['uuid']}")

    def start(self, spec: GuestSpec) -> None:
        self._check(spec)
        vm = self._vm(spec.name) or self._define(spec, None)
        state = vm.get("power-state")
        if state == "running":
            return
        if state == "paused":
            self._xe("vm-unpause", f"uuid={vm['uuid']}")
            return
        self._xe("vm-start", f"uuid={vm['uuid']}", f"on={self._own_host_uuid()}")

    def stop(self, name: str, *, hard: bool = False) -> None:
        argv = ["vm-shutdown", f"vm={_label(self.target, name)}"] + (["--force"] if hard else [])
        try:
            self._xe(*argv)
        except RemoteError as exc:
            # Already off is what was asked for; rpower off must not fail on it.
            if "actual: halted" not in exc.result.stderr:
                raise

    def reset(self, name: str) -> None:
        self._xe("vm-reboot", f"vm={_label(self.target, name)}", "--force")

    def migrate(self, name: str, dest: Target, *, live: bool = True) -> None:
        host = self._host_record(dest)
        self._xe("vm-migrate", f"vm={_label(self.target, name)}", f"host={host['uuid']}",
                 *(["live=true"] if live else []), timeout=self.migrate_timeout)

    def set_memory(self, name: str, memory_mb: int) -> None:
        """A halted VM gets new limits; a running one a new dynamic range (ballooning),
        within its static maximum."""
        vm = self._existing(name)
        size = int(memory_mb) * MIB
        if vm["power-state"] == "halted":
            static_min = min(int(vm["memory-static-min"]), size)
            static_max = max(int(vm["memory-static-max"]), size)
            self._xe("vm-memory-limits-set", f"uuid={vm['uuid']}", f"static-min={static_min}",
                     f"static-max={static_max}", f"dynamic-min={size}", f"dynamic-max={size}")
        else:
            self._xe("vm-memory-dynamic-range-set", f"uuid={vm['uuid']}", f"min={size}",
                     f"max={size}")

    def set_vcpus(self, name: str, vcpus: int) -> None:
        vm = self._existing(name)
        self._set_vcpus(vm["uuid"], int(vcpus), vm)

    # -- disks (VDIs) -------------------------------------------------------------------

    def create_disk(self, disk: Disk) -> bool:
        label = _label(self.target, disk.path)
        if self._uuids("vdi-list", f"name-label={label}"):
            return False
        if not disk.size_mb:
            raise XenServerError(f"{self.target.node}: VDI '{label}' does not exist and has no "
                                 "size to create it with")
        sr = self._xe("pool-list", "params=default-SR", "--minimal").stdout.strip()
        if not sr or sr == NOT_IN_DATABASE:
            raise XenServerError(f"{self.target.node}: the pool has no default SR to create "
                                 f"VDI '{label}' in (xe pool-param-set default-SR=...)")
        self._xe("vdi-create", f"sr-uuid={sr}", f"name-label={label}", "type=user",
                 f"virtual-size={int(disk.size_mb) * MIB}")
        return True

    def remove_disk(self, disk: Disk) -> None:
        for vdi in self._uuids("vdi-list", f"name-label={_label(self.target, disk.path)}"):
            self._xe("vdi-destroy", f"uuid={vdi}")

    def missing_storage(self, disks: Sequence[Disk]) -> set[str]:
        """The VDIs (by name-label) that are absent, or that some VDI of that name keeps on
        an SR that is not shared: only shared SRs are plugged on every pool member."""
        labels = {_label(self.target, disk.path) for disk in disks}
        if not labels:
            return set()
        srs: dict[str, set[str]] = {}  # label -> the SRs its VDIs are on
        for vdi in self._records("vdi-list", "params=name-label,sr-uuid"):
            if vdi.get("name-label") in labels:
                srs.setdefault(vdi["name-label"], set()).add(vdi.get("sr-uuid", ""))
        shared = set(self._uuids("sr-list", "shared=true")) if srs else set()
        return {label for label in labels if not srs.get(label) or srs[label] - shared}

    # -- network ------------------------------------------------------------------------

    def announce(self, nics: Sequence[Nic], address: str) -> None:
        """Nic.bridge names a pool network (by bridge or name-label, as define() reads it);
        the ARP goes out on that network's bridge on this host. dom0 needs Habets' arping:
        the iputils arping XenServer ships takes other options and fails here."""
        bridges: dict[str, str] = {}

        def interface(network: str) -> str:
            if network not in bridges:
                bridges[network] = self._network(network, "bridge")
            return bridges[network]

        def run(argv: list[str]) -> RemoteResult:
            return self.shell.run(self.target, argv, check=False,
                                  timeout=self.command_timeout)

        try:
            hostfiles.announce(run, nics, address, interface)
        except ValueError as exc:
            raise XenServerError(f"{self.target.node}: cannot announce {address}: {exc}") \
                from None

    # -- helpers ------------------------------------------------------------------------

    def _xe(self, *args: str, timeout: float | None = None) -> RemoteResult:
        argv = ["xe", *args]
        result = self.shell.run(self.target, argv, check=False,
                                timeout=timeout or self.command_timeout)
        if result.exit_status != 0:
            raise XeCommandError(self.target, argv, result)
        return result

    def _records(self, *args: str) -> list[dict[str, str]]:
        return parse_records(self._xe(*args).stdout)

    def _uuids(self, *args: str) -> list[str]:
        return self._values("uuid", *args)

    def _values(self, field: str, *args: str) -> list[str]:
        """One field of every object a list command selects (xe's --minimal output)."""
        text = self._xe(*args, f"params={field}", "--minimal").stdout.strip()
        return [u for u in text.split(",") if u]

    def _host_record(self, target: Target) -> dict[str, str]:
        hosts = self._records("host-list", f"params={_HOST_PARAMS}")
        for host in hosts:
            if target.node in (host.get("name-label"), host.get("hostname")) or \
                    target.address in (host.get("address"), host.get("hostname")):
                return host
        raise XenServerError(f"{self.target.node}: {target.node} is not a host of this "
                             "XenServer pool (no name-label, hostname or address matches)")

    def _own_host_uuid(self) -> str:
        if self._own_uuid is None:
            self._own_uuid = self._host_record(self.target)["uuid"]
        return self._own_uuid

    def _vm(self, name: str) -> dict[str, str] | None:
        vms = self._records("vm-list", f"name-label={name}", "is-control-domain=false",
                            f"params={_VM_PARAMS}")
        if len(vms) > 1:
            raise XenServerError(f"{self.target.node}: {len(vms)} VMs are named {name}; "
                                 "rename the extra ones in XenServer")
        return vms[0] if vms else None

    def _vm_record(self, selector: str) -> dict[str, str]:
        vms = self._records("vm-list", selector, f"params={_VM_PARAMS}")
        if len(vms) != 1:
            raise XenServerError(f"{self.target.node}: no single VM matches {selector}")
        return vms[0]

    def _existing(self, name: str) -> dict[str, str]:
        vm = self._vm(_label(self.target, name))
        if vm is None:
            raise XenServerError(f"{self.target.node}: no VM named {name}")
        return vm

    def _require_halted(self, name: str, vm: dict[str, str], doing: str) -> None:
        if vm.get("power-state") != "halted":
            raise XenServerError(f"{self.target.node}: VM {name} is {vm.get('power-state')}; "
                                 f"shut it down before {doing}")

    def _set_vcpus(self, uuid: str, count: int, vm: dict[str, str]) -> None:
        # xapi keeps VCPUs-at-startup <= VCPUs-max at every step, so the order depends on
        # the direction; a running VM's maximum cannot change, so it is left alone if equal.
        current_max = int(vm.get("VCPUs-max", "1"))
        if count > current_max:
            steps = [("VCPUs-max", count), ("VCPUs-at-startup", count)]
        elif count < current_max:
            steps = [("VCPUs-at-startup", count), ("VCPUs-max", count)]
        else:
            steps = [("VCPUs-at-startup", count)] if vm.get("VCPUs-at-startup") != str(count) \
                else []
        for field, value in steps:
            self._xe("vm-param-set", f"uuid={uuid}", f"{field}={value}")

    def _attach_disk(self, vm_uuid: str, disk: Disk, index: int) -> None:
        label = _label(self.target, disk.path)
        if disk.kind != "file":
            raise XenServerError(f"{self.target.node}: disk '{label}': XenServer disks are "
                                 "VDIs; block devices are attached through an SR")
        vdis = self._uuids("vdi-list", f"name-label={label}")
        if len(vdis) != 1:
            raise XenServerError(f"{self.target.node}: {len(vdis) or 'no'} VDIs named "
                                 f"'{label}'; need exactly one")
        self._xe("vbd-create", f"vm-uuid={vm_uuid}", f"vdi-uuid={vdis[0]}",
                 f"device={_userdevice(disk.device, index)}",
                 f"bootable={'true' if index == 0 else 'false'}", "mode=RW", "type=Disk")

    def _network(self, bridge: str, field: str = "uuid") -> str:
        """A field (default: the uuid) of the pool network with this bridge or name-label."""
        bridge = _label(self.target, bridge)
        for selector in (f"bridge={bridge}", f"name-label={bridge}"):
            found = self._values(field, "network-list", selector)
            if found:
                return found[0]
        raise XenServerError(f"{self.target.node}: no pool network has bridge or name-label "
                             f"'{bridge}'")


def _label(target: Target, value: str) -> str:
    # A line break would split xe's record output, and an empty value selects everything.
    if not value or any(ord(c) < 32 for c in value):
        raise XenServerError(f"{target.node}: '{value!r}' cannot be a XenServer name")
    return value


def _userdevice(device: str, index: int) -> str:
    """xvda -> 0, xvdb -> 1 (XenServer numbers a VM's disks); a bare number as given."""
    match = re.fullmatch(r"(?:xvd|hd|sd|vd)([a-z])", device)
    if match:
        return str(ord(match.group(1)) - ord("a"))
    return device if device.isdigit() else str(index)


def _boot_params(spec: GuestSpec) -> list[str]:
    if spec.paravirt:
        return ["HVM-boot-policy=", "PV-bootloader=pygrub"]
    order = "".join(_BOOT_LETTER[w] for w in spec.boot_order if w in _BOOT_LETTER)
    return ["HVM-boot-policy=BIOS order", f"HVM-boot-params:order={order or 'cn'}",
            "PV-bootloader="]


def _status(target: Target, vm: dict[str, str]) -> GuestStatus:
    try:
        domid = int(vm.get("dom-id", "-1"))
        return GuestStatus(name=vm["name-label"], state=_POWER[vm["power-state"]],
                           memory_mb=int(vm["memory-dynamic-max"]) // MIB,
                           vcpus=int(vm["VCPUs-at-startup"]), uuid=vm.get("uuid"),
                           domid=domid if domid >= 0 else None)
    except (KeyError, ValueError) as exc:
        raise XenServerError(f"{target.node}: cannot read 'xe vm-list' output ({exc})") from None


register("xenserver", XenServerHypervisor)
