"""The libvirt toolstack: guests on a KVM or Xen (libxl) host, driven with `virsh` over SSH.

Which hypervisor a host runs is whatever its libvirtd connects to by default; `virsh uri`
says so (qemu:///system or xen:///system), and the domain XML, the migration URI and the
disk drivers follow it. So hypervisor.type 'libvirt' (and xCAT's 'kvm') means "ask the host",
and one host never needs a table change when it is reinstalled with the other hypervisor.

Definitions are written to DEFINITIONS_DIR on the host with `tee` and loaded with
`virsh define <file>`, because libvirt reads domain XML only from a file.
"""

from __future__ import annotations

import posixpath
import re
from typing import ClassVar
from urllib.parse import urlsplit

from xcatpy.drivers.base import DriverError
from xcatpy.drivers.remote import RemoteError, RemoteResult, RemoteShell, Target
from xcatpy.virt import hostfiles
from xcatpy.virt.domainxml import domain_xml
from xcatpy.virt.hypervisor import register
from xcatpy.virt.model import (
    CRASHED,
    OFF,
    ON,
    PAUSED,
    Disk,
    GuestSpec,
    GuestStatus,
    HostInfo,
    cpu_flags,
)

DEFINITIONS_DIR = "/var/lib/xcatpy/vms"
MIGRATE_TIMEOUT = 3600.0  # a live migration copies all guest memory, maybe several times
CREATE_DISK_TIMEOUT = 600.0

# virsh's words for domain states (vshDomainStateToString) -> what rpower reports.
_STATES = {
    "running": ON, "idle": ON, "in shutdown": ON, "no state": ON,
    "paused": PAUSED, "pmsuspended": PAUSED,
    "shut off": OFF, "crashed": CRASHED,
}
# The connection URI scheme -> the <domain type=...> its driver accepts.
_DOMAIN_TYPE = {"qemu": "kvm", "xen": "xen"}
_HOSTNAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?")
_USER = re.compile(r"[A-Za-z0-9._][A-Za-z0-9._-]*")


class LibvirtError(DriverError):
    """A value or an answer the libvirt driver cannot work with."""


class VirshError(RemoteError):
    """virsh failed. It prints what failed and why as separate `error: ` lines ("Failed to
    start domain 'g'", "internal error: ... Cannot allocate memory"); the message joins them."""

    def __init__(self, target: Target, argv: list[str], result: RemoteResult) -> None:
        super().__init__(target, argv, result)
        lines = [ln.strip().removeprefix("error: ") for ln in result.stderr.splitlines()
                 if ln.strip()]
        if lines:
            self.args = (f"{target.node}: 'virsh {argv[1]}' failed: {': '.join(lines)}",)


class LibvirtHypervisor(hostfiles.PosixHostFiles):
    """Nic.bridge is the host bridge the guest's interface joins (domainxml), as announce
    needs it."""

    toolstack: ClassVar[str] = "libvirt"
    max_nics: ClassVar[int | None] = None
    host_error: ClassVar[type[Exception]] = LibvirtError

    def __init__(self, shell: RemoteShell, target: Target) -> None:
        self.shell = shell
        self.target = target
        self.command_timeout = 60.0  # per command, except migration and disk creation
        self.migrate_timeout = MIGRATE_TIMEOUT
        self._scheme: str | None = None

    # -- host ---------------------------------------------------------------------------

    def host_info(self) -> HostInfo:
        node = _fields(self._virsh("nodeinfo").stdout)
        free = _fields(self._virsh("freecell").stdout)
        version = _fields(self._virsh("version").stdout).get("Running hypervisor", "")
        cpuinfo = self._run(["cat", "/proc/cpuinfo"]).stdout
        try:
            return HostInfo(total_mb=_kib(node["Memory size"]) // 1024,
                            free_mb=_kib(free["Total"]) // 1024,
                            cpus=int(node["CPU(s)"]), cpu_flags=cpu_flags(cpuinfo),
                            version=version)
        except (KeyError, ValueError) as exc:
            raise LibvirtError(f"{self.target.node}: cannot read 'virsh nodeinfo'/'virsh "
                               f"freecell' output ({exc})") from None

    def domain_type(self) -> str:
        """'kvm' or 'xen': what this host's default libvirt connection drives."""
        return _DOMAIN_TYPE[self._uri_scheme()]

    # -- guests -------------------------------------------------------------------------

    def guests(self) -> dict[str, GuestStatus]:
        names = [n.strip() for n in self._virsh("list", "--all", "--name").stdout.splitlines()]
        found = {}
        for name in filter(None, names):
            status = self._status(name)
            if status is not None:  # undefined between the two commands
                found[name] = status
        return found

    def define(self, spec: GuestSpec) -> None:
        name = _checked_name(self.target, spec.name)
        for disk in spec.disks:
            _absolute(self.target, disk.path)
        try:
            xml = domain_xml(spec, self.domain_type())
        except ValueError as exc:
            raise LibvirtError(f"{self.target.node}: guest {name}: {exc}") from None
        path = f"{DEFINITIONS_DIR}/{name}.xml"
        self._run(["mkdir", "-p", DEFINITIONS_DIR])
        self._run(["tee", path], stdin=xml.encode())
        self._virsh("define", path)
        self._virsh("autostart", *(() if spec.autostart else ("--disable",)), name)

    def undefine(self, name: str) -> None:
        name = _checked_name(self.target, name)
        state = self._state(name)
        if state is None:
            return
        if state != OFF:
            raise LibvirtError(f"{self.target.node}: guest {name} is {state}; stop it before "
                               "removing its definition")
        self._virsh("undefine", name)

    def start(self, spec: GuestSpec) -> None:
        name = _checked_name(self.target, spec.name)
        state = self._state(name)
        if state is None:
            self.define(spec)
        elif state == ON:
            return
        elif state == PAUSED:
            self._virsh("resume", name)
            return
        self._virsh("start", name)

    def stop(self, name: str, *, hard: bool = False) -> None:
        name = _checked_name(self.target, name)
        try:
            self._virsh("destroy" if hard else "shutdown", name)
        except RemoteError as exc:
            # Already off is what was asked for; rpower off must not fail on it.
            if "domain is not running" not in exc.result.stderr:
                raise

    def reset(self, name: str) -> None:
        self._virsh("reset", _checked_name(self.target, name))

    def migrate(self, name: str, dest: Target, *, live: bool = True) -> None:
        name = _checked_name(self.target, name)
        flags = ["--live"] if live else []
        self._virsh("migrate", *flags, "--persistent", "--undefinesource", name,
                    self.migration_uri(dest), timeout=self.migrate_timeout)

    def migration_uri(self, dest: Target) -> str:
        """The libvirt URI of dest, reached from this host over SSH."""
        # libvirt reads query parameters (netcat=, socket=) from this URI, and a crafted
        # address could smuggle one in, so only plain names and addresses pass.
        host = dest.address
        if ":" in host:
            if not re.fullmatch(r"[0-9A-Fa-f:.]+", host):
                raise LibvirtError(f"{dest.node}: not an address: '{host}'")
            host = f"[{host}]"
        elif not _HOSTNAME.fullmatch(host):
            raise LibvirtError(f"{dest.node}: not a host name or address: '{host}'")
        if not _USER.fullmatch(dest.user):
            raise LibvirtError(f"{dest.node}: not a user name: '{dest.user}'")
        port = "" if dest.port == 22 else f":{int(dest.port)}"
        return f"{self._uri_scheme()}+ssh://{dest.user}@{host}{port}/system"

    def set_memory(self, name: str, memory_mb: int) -> None:
        """Changes the persistent definition; a running guest gets it at its next boot."""
        name = _checked_name(self.target, name)
        kib = int(memory_mb) * 1024
        info = self._dominfo(name)
        if info is None:
            raise LibvirtError(f"{self.target.node}: no guest {name}")
        if kib > _kib(info["Max memory"]):
            self._virsh("setmaxmem", name, str(kib), "--config")
        self._virsh("setmem", name, str(kib), "--config")

    def set_vcpus(self, name: str, vcpus: int) -> None:
        """Changes the persistent definition; a running guest gets it at its next boot."""
        name = _checked_name(self.target, name)
        count = str(int(vcpus))
        # The maximum first: libvirt refuses a count above it, and lowers the count with it.
        self._virsh("setvcpus", name, count, "--config", "--maximum")
        self._virsh("setvcpus", name, count, "--config")

    # -- disks --------------------------------------------------------------------------

    def create_disk(self, disk: Disk) -> bool:
        """Block devices ('phy') are never created: False, nothing touched."""
        if disk.kind != "file":
            return False
        path = _absolute(self.target, disk.path)
        # -U: an image in use by a running guest is locked, and still exists.
        probe = self._run(["qemu-img", "info", "-U", path], check=False)
        if probe.exit_status == 0:
            return False
        if "No such file or directory" not in probe.stderr:
            # Something is there that qemu-img cannot read; creating would overwrite it.
            raise RemoteError(self.target, ["qemu-img", "info", path], probe)
        if not disk.size_mb:
            raise LibvirtError(f"{self.target.node}: disk {path} does not exist and has no "
                               "size to create it with")
        self._run(["mkdir", "-p", posixpath.dirname(path)])
        self._run(["qemu-img", "create", "-f", disk.fmt, path, f"{int(disk.size_mb)}M"],
                  timeout=CREATE_DISK_TIMEOUT)
        return True

    def remove_disk(self, disk: Disk) -> None:
        """Removes a file image; a block device ('phy') is the site's, and is left alone."""
        if disk.kind == "file":
            self._run(["rm", "-f", _absolute(self.target, disk.path)])

    def _disk_path(self, path: str) -> str:
        return _absolute(self.target, path)

    # -- helpers ------------------------------------------------------------------------

    def _run(self, argv: list[str], *, stdin: bytes | None = None, check: bool = True,
             timeout: float | None = None) -> RemoteResult:
        return self.shell.run(self.target, argv, stdin=stdin, check=check,
                              timeout=timeout or self.command_timeout)

    def _virsh(self, *args: str, check: bool = True, timeout: float | None = None
               ) -> RemoteResult:
        argv = ["virsh", *args]
        result = self._run(argv, check=False, timeout=timeout)
        if check and result.exit_status != 0:
            raise VirshError(self.target, argv, result)
        return result

    def _uri_scheme(self) -> str:
        if self._scheme is None:
            uri = self._virsh("uri").stdout.strip()
            scheme = urlsplit(uri).scheme.split("+")[0]
            if scheme not in _DOMAIN_TYPE:
                raise LibvirtError(f"{self.target.node}: libvirt connects to '{uri}'; only "
                                   "qemu (KVM) and xen are supported")
            self._scheme = scheme
        return self._scheme

    def _dominfo(self, name: str) -> dict[str, str] | None:
        result = self._virsh("dominfo", name, check=False)
        if result.exit_status != 0:
            if "failed to get domain" in result.stderr:
                return None
            raise VirshError(self.target, ["virsh", "dominfo", name], result)
        return _fields(result.stdout)

    def _state(self, name: str) -> str | None:
        info = self._dominfo(name)
        return None if info is None else _state(self.target, name, info)

    def _status(self, name: str) -> GuestStatus | None:
        info = self._dominfo(name)
        if info is None:
            return None
        try:
            domid = None if info.get("Id", "-") == "-" else int(info["Id"])
            return GuestStatus(name=name, state=_state(self.target, name, info),
                               memory_mb=_kib(info["Used memory"]) // 1024,
                               vcpus=int(info["CPU(s)"]), uuid=info.get("UUID"), domid=domid)
        except (KeyError, ValueError) as exc:
            raise LibvirtError(f"{self.target.node}: cannot read 'virsh dominfo {name}' "
                               f"output ({exc})") from None


def _checked_name(target: Target, name: str) -> str:
    # The name becomes a file name on the host and a virsh argument: no '/', no option.
    if not name or "/" in name or name.startswith("-") or name in (".", "..") or "\0" in name:
        raise LibvirtError(f"{target.node}: '{name}' cannot be a libvirt guest name")
    return name


def _absolute(target: Target, path: str) -> str:
    if not path.startswith("/"):
        raise LibvirtError(f"{target.node}: disk path '{path}' is not absolute")
    return path


def _fields(text: str) -> dict[str, str]:
    """`Key:   value` lines (virsh nodeinfo, dominfo, freecell, version) as a dict."""
    fields = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip()] = value.strip()
    return fields


def _kib(text: str) -> int:
    """'16384000 KiB' -> 16384000."""
    number, _, unit = text.partition(" ")
    if unit.strip() not in ("KiB", "kB", ""):
        raise ValueError(f"unexpected unit in '{text}'")
    return int(number)


def _state(target: Target, name: str, info: dict[str, str]) -> str:
    word = info.get("State", "")
    if word not in _STATES:
        raise LibvirtError(f"{target.node}: guest {name} is in unknown state '{word}'")
    return _STATES[word]


register("libvirt", LibvirtHypervisor)
register("kvm", LibvirtHypervisor)
