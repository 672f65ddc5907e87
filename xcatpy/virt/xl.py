"""The xl toolstack (hypervisor.type 'xen'): Xen hosts driven with `xl` over SSH.

xl keeps no guest definitions of its own: a guest is its config file, /etc/xen/<name>.cfg,
written with `tee` and started with `xl create`. So guests() is the running domains
(`xl list -v`) plus the config files of the others (`ls /etc/xen`), which are off.
Autostart is the xendomains convention: a copy of the config in /etc/xen/auto.

Migration: `xl migrate` ssh-es from this host to the destination and runs
`xl migrate-receive` there, so the hosts must trust each other's keys. It is always live
(xl accepts --live only for xm's sake). xl copies no config file; the driver moves the
guest's config after a successful migration, so that the guest is defined where it runs.

Hard reset: an HVM guest has a reset line (`xl trigger <guest> reset`, the reset button).
A PV guest has none, and `xl reboot` only asks the guest, which a hung guest ignores, so a
PV guest is destroyed and created again from its config.

xm (legacy xend) has the same command set and output shapes; `xcatpy.virt.xm` keeps only
the differences.
"""

from __future__ import annotations

import json
import posixpath
import re
from typing import ClassVar

from xcatpy.drivers.base import DriverError
from xcatpy.drivers.remote import CommandTimeout, RemoteError, RemoteResult, RemoteShell, Target
from xcatpy.virt import hostfiles, xenconfig
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
from xcatpy.virt.xenconfig import XenConfigError

CONFIG_DIR = "/etc/xen"
AUTOSTART_DIR = "/etc/xen/auto"

# Names a domain carries only while it migrates, next to the real one.
_TRANSIENT_SUFFIXES = ("--incoming", "--migratedaway")
_NOT_RUNNING = re.compile(r"invalid domain identifier|does not exist")
_HOSTNAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?")
_IPV6 = re.compile(r"[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*")
_USER = re.compile(r"[A-Za-z0-9._][A-Za-z0-9._-]*")
# Progress chatter of xl/xm that is never the reason a command failed.
_NOISE = re.compile(r"Parsing config from|Using config file|Shutting down domain|Rebooting "
                    r"domain|Waiting for|Saving to migration stream|Loading new save file|"
                    r" ?Savefile contains|migration (sender|target): (Ready|Transfer|Target has|"
                    r"Giving|Got)|libxl: info|Domain \d+ has been")
_REASON = re.compile(r"error|fail|refused|denied|not enough|cannot|can't|invalid|does not exist"
                     r"|no such|not found|exceed|already|timed out|no route", re.IGNORECASE)
_LIBXL_PREFIX = re.compile(r"^(libxl: (error|warning): [^:\s]+:\d+:[^:\s]*: (Domain \d+:)?"
                           r"|xc: error: |Error: )")


class XenToolstackError(DriverError):
    """xl or xm refused or failed; the message names the host and the guest."""


class GuestNotRunningError(XenToolstackError):
    """The toolstack has no running domain of that name."""


class XlHypervisor(hostfiles.PosixHostFiles):
    toolstack: ClassVar[str] = "xen"
    max_nics: ClassVar[int | None] = xenconfig.MAX_NICS
    tool: ClassVar[str] = "xl"
    host_error: ClassVar[type[Exception]] = XenToolstackError
    dialect: ClassVar[str] = xenconfig.XL
    # Instances may lower these (tests do); a migration copies all guest memory, maybe
    # several times, and building a large domain or running pygrub takes a while.
    command_timeout: float = 60.0
    create_timeout: float = 300.0
    shutdown_timeout: float = 180.0
    migrate_timeout: float = 3600.0
    create_disk_timeout: float = 600.0

    def __init__(self, shell: RemoteShell, target: Target) -> None:
        self.shell = shell
        self.target = target
        self._written: dict[str, GuestSpec] = {}  # what define() last wrote, per guest

    # -- where a guest's files live -----------------------------------------------------

    def config_path(self, name: str) -> str:
        return f"{CONFIG_DIR}/{name}.cfg"

    def autostart_path(self, name: str) -> str:
        return f"{AUTOSTART_DIR}/{name}.cfg"

    def guest_name_of(self, filename: str) -> str | None:
        """The guest whose config file this /etc/xen entry is, if it is one."""
        if not filename.endswith(".cfg"):
            return None
        return name_or_none(filename[:-len(".cfg")])

    # -- host ---------------------------------------------------------------------------

    def host_info(self) -> HostInfo:
        fields = _fields(self._tool("info").stdout)
        cpuinfo = self._run(["cat", "/proc/cpuinfo"]).stdout
        try:
            version = f"{fields['xen_major']}.{fields['xen_minor']}{fields.get('xen_extra', '')}"
            return HostInfo(total_mb=int(fields["total_memory"]),
                            free_mb=int(fields["free_memory"]), cpus=int(fields["nr_cpus"]),
                            cpu_flags=cpu_flags(cpuinfo), version=version)
        except (KeyError, ValueError) as exc:
            raise XenToolstackError(f"{self.target.node}: cannot read '{self.tool} info' "
                                    f"output ({exc})") from None

    # -- guests -------------------------------------------------------------------------

    def guests(self) -> dict[str, GuestStatus]:
        found = self._running()
        for name in self._defined_names():
            if name not in found:
                found[name] = self._stopped_status(name)
        return found

    def define(self, spec: GuestSpec) -> None:
        name = self._name(spec.name)
        text = self._render(spec)
        paths = [self.config_path(name)]
        if spec.autostart:
            paths.append(self.autostart_path(name))
        self._run(["mkdir", "-p", AUTOSTART_DIR if spec.autostart else CONFIG_DIR])
        self._run(["tee", *paths], stdin=text.encode())
        if not spec.autostart:
            self._run(["rm", "-f", self.autostart_path(name)])
        self._written[name] = spec

    def undefine(self, name: str) -> None:
        name = self._name(name)
        if self._domid(name) is not None:
            raise XenToolstackError(f"{self.target.node}: guest {name} is running; stop it "
                                    "before removing its definition")
        self._run(["rm", "-f", self.config_path(name), self.autostart_path(name)])
        self._written.pop(name, None)

    def start(self, spec: GuestSpec) -> None:
        name = self._name(spec.name)
        if self._written.get(name) != spec:
            self.define(spec)
        try:
            self._tool("create", self.config_path(name), timeout=self.create_timeout)
        except RemoteError as exc:
            detail = toolstack_message(exc.result)
            if "already exists" in detail:
                # Running (or paused) already: on is what was asked for.
                self._guest_command(f"unpause {name}", ["unpause", name])
                return
            if "memory" in detail.lower():
                detail += self._memory_note(spec)
            raise XenToolstackError(f"{self.target.node}: cannot start {name}: {detail}") \
                from None

    def stop(self, name: str, *, hard: bool = False) -> None:
        name = self._name(name)
        args = ["destroy", name] if hard else self.shutdown_args(name)
        try:
            self._guest_command(f"{'stop' if hard else 'shut down'} {name}", args,
                                timeout=self.command_timeout if hard else self.shutdown_timeout)
        except GuestNotRunningError:
            return  # already off is what was asked for
        except CommandTimeout:
            raise CommandTimeout(f"{self.target.node}: {name} did not shut down within "
                                 f"{self.shutdown_timeout:g}s; a hard power off stops it at "
                                 "once") from None

    def shutdown_args(self, name: str) -> list[str]:
        # -F: an HVM guest without PV drivers gets the ACPI power button instead of a refusal.
        return ["shutdown", "-w", "-F", name]

    def reset(self, name: str) -> None:
        name = self._name(name)
        if self.guest_is_hvm(name):
            result = self._tool("trigger", name, "reset", check=False)
            # xl reports a failed trigger on stderr but still exits 0.
            if result.exit_status != 0 or _REASON.search(result.stderr):
                raise XenToolstackError(f"{self.target.node}: cannot reset {name}: "
                                        f"{toolstack_message(result)}")
            return
        config = self.config_path(name)
        if self._read_config(name) is None:
            raise XenToolstackError(f"{self.target.node}: cannot reset PV guest {name}: no "
                                    f"{config} on this host to create it again from")
        self._guest_command(f"stop {name}", ["destroy", name])
        self._guest_command(f"start {name}", ["create", config], timeout=self.create_timeout)

    def guest_is_hvm(self, name: str) -> bool:
        result = self._guest_command(f"inspect {name}", ["list", "-l", name])
        try:
            return json.loads(result.stdout)[0]["config"]["c_info"]["type"] == "hvm"
        except (ValueError, LookupError, TypeError) as exc:
            raise XenToolstackError(f"{self.target.node}: cannot read 'xl list -l {name}' "
                                    f"output ({exc})") from None

    def migrate(self, name: str, dest: Target, *, live: bool = True) -> str | None:
        name = self._name(name)
        args = self.migrate_args(name, dest, live=live)
        config = self._read_config(name)
        autostart = self._run(["ls", self.autostart_path(name)], check=False).exit_status == 0
        self._guest_command(f"migrate {name} to {dest.node}", args, timeout=self.migrate_timeout)
        self._written.pop(name, None)
        if config is not None:
            return self._move_config(name, config, dest, autostart=autostart)
        return None

    def migrate_args(self, name: str, dest: Target, *, live: bool) -> list[str]:
        """xl's own ssh reaches dest; xl runs it through `sh -c`, so only plain names,
        addresses and a numeric port get into that command line. Always live."""
        host = checked_address(dest)
        if dest.user != "root":
            if not _USER.fullmatch(dest.user):
                raise XenToolstackError(f"{dest.node}: not a user name: '{dest.user}'")
            host = f"{dest.user}@{host}"
        ssh = ["-s", f"ssh -p {int(dest.port)}"] if dest.port != 22 else []
        return ["migrate", *ssh, name, host]

    def set_memory(self, name: str, memory_mb: int) -> None:
        """A running guest balloons to memory_mb now; its config gets it for the next boot."""
        name, memory_mb = self._name(name), _positive(memory_mb, "memory")
        running = self._domid(name) is not None
        if running:
            self._guest_command(f"set the memory of {name}", ["mem-set", name, f"{memory_mb}m"])
        self._update_config(name, "memory", "maxmem", memory_mb, running=running)

    def set_vcpus(self, name: str, vcpus: int) -> None:
        """A running guest gets vcpus online now (up to the count it booted with); its config
        gets them for the next boot."""
        name, vcpus = self._name(name), _positive(vcpus, "vcpus")
        running = self._domid(name) is not None
        if running:
            self._guest_command(f"set the vcpus of {name}", ["vcpu-set", name, str(vcpus)])
        self._update_config(name, "vcpus", "maxvcpus", vcpus, running=running)

    # -- disks --------------------------------------------------------------------------

    def create_disk(self, disk: Disk) -> bool:
        """Block devices ('phy') are never created: False, nothing touched."""
        if disk.kind != "file":
            return False
        path = self._path(disk.path, "disk")
        probe = self._run(["qemu-img", "info", path], check=False)
        if probe.exit_status == 0 or "lock" in probe.stderr:
            return False  # exists (a locked image is in use, and exists too)
        if "No such file or directory" not in probe.stderr:
            # Something is there that qemu-img cannot read; creating would overwrite it.
            raise XenToolstackError(f"{self.target.node}: cannot tell whether {path} exists: "
                                    f"{toolstack_message(probe)}")
        if not disk.size_mb:
            raise XenToolstackError(f"{self.target.node}: disk {path} does not exist and has "
                                    "no size to create it with")
        if disk.fmt not in ("raw", "qcow2"):
            raise XenToolstackError(f"{self.target.node}: disk {path}: format '{disk.fmt}' "
                                    "(raw or qcow2)")
        self._run(["mkdir", "-p", posixpath.dirname(path)])
        self._run(["qemu-img", "create", "-f", disk.fmt, path, f"{int(disk.size_mb)}M"],
                  timeout=self.create_disk_timeout)
        return True

    def remove_disk(self, disk: Disk) -> None:
        """Removes a file image; a block device ('phy') is the site's, and is left alone."""
        if disk.kind == "file":
            self._run(["rm", "-f", self._path(disk.path, "disk")])

    def _disk_path(self, path: str) -> str:
        return self._path(path, "disk")

    # -- helpers ------------------------------------------------------------------------

    def list_args(self) -> list[str]:
        return ["list", "-v"]  # -v adds the UUID column

    def _running(self) -> dict[str, GuestStatus]:
        output = self._tool(*self.list_args()).stdout
        return parse_domain_list(self.target.node, output, with_uuid=True)

    def _defined_names(self) -> list[str]:
        result = self._run(["ls", CONFIG_DIR], check=False)
        if result.exit_status != 0:
            if "No such file or directory" in result.stderr:
                return []
            raise RemoteError(self.target, ["ls", CONFIG_DIR], result)
        names = (self.guest_name_of(line.strip()) for line in result.stdout.splitlines())
        return [name for name in names if name]

    def _stopped_status(self, name: str) -> GuestStatus:
        text = self._read_config(name)
        settings = xenconfig.read_settings(text) if text is not None else {}
        uuid = settings.get("uuid")
        return GuestStatus(name=name, state=OFF, memory_mb=_int(settings.get("memory"), 0),
                           vcpus=_int(settings.get("vcpus"), 1),
                           uuid=uuid if isinstance(uuid, str) else None)

    def _read_config(self, name: str) -> str | None:
        result = self._run(["cat", self.config_path(name)], check=False)
        return result.stdout if result.exit_status == 0 else None

    def _update_config(self, name: str, key: str, max_key: str, value: int, *,
                       running: bool) -> None:
        text = self._read_config(name)
        if text is None:
            if running:
                return  # migrated in without a config: nothing to keep in step
            raise XenToolstackError(f"{self.target.node}: no guest {name} (not running, no "
                                    f"{self.config_path(name)})")
        changes = {key: value}
        ceiling = xenconfig.read_settings(text).get(max_key)
        if isinstance(ceiling, int) and value > ceiling:
            changes[max_key] = value
        # The xendomains copy in /etc/xen/auto catches up at the next define (start).
        self._run(["tee", self.config_path(name)],
                  stdin=xenconfig.replace_settings(text, changes).encode())
        self._written.pop(name, None)

    def _move_config(self, name: str, config: str, dest: Target, *,
                     autostart: bool) -> str | None:
        paths = [self.config_path(name)] + ([self.autostart_path(name)] if autostart else [])
        try:
            self.shell.run(dest, ["mkdir", "-p", AUTOSTART_DIR if autostart else CONFIG_DIR],
                           timeout=self.command_timeout)
            self.shell.run(dest, ["tee", *paths], stdin=config.encode(),
                           timeout=self.command_timeout)
            self._run(["rm", "-f", self.config_path(name), self.autostart_path(name)])
        except DriverError as exc:
            # The guest runs on dest either way; the caller must record that, not an error,
            # and tell the admin: the old host may still autostart its copy of the config.
            return (f"its config file did not follow it from {self.target.node} to "
                    f"{dest.node}: {exc}")
        return None

    def _memory_note(self, spec: GuestSpec) -> str:
        try:
            free = int(_fields(self._tool("info").stdout)["free_memory"])
        except (DriverError, KeyError, ValueError):
            return ""
        return (f" ({spec.name} needs {spec.memory_mb} MiB; {self.target.node} has {free} MiB "
                "free)")

    def _domid(self, name: str) -> int | None:
        result = self._tool("domid", name, check=False)
        if result.exit_status == 0:
            try:
                return int(result.stdout.strip())
            except ValueError:
                pass
        if _NOT_RUNNING.search(result.stderr + result.stdout):
            return None
        raise RemoteError(self.target, [self.tool, "domid", name], result)

    def _guest_command(self, what: str, args: list[str], *,
                       timeout: float | None = None) -> RemoteResult:
        try:
            return self._tool(*args, timeout=timeout)
        except RemoteError as exc:
            detail = toolstack_message(exc.result)
            error = GuestNotRunningError if _NOT_RUNNING.search(detail) else XenToolstackError
            raise error(f"{self.target.node}: cannot {what}: {detail}") from None

    def _render(self, spec: GuestSpec) -> str:
        try:
            return xenconfig.render(spec, self.dialect)
        except XenConfigError as exc:
            raise XenConfigError(f"{self.target.node}: {exc}") from None

    def _name(self, name: str) -> str:
        """name, if it can be a guest here: its config file must be one guests() lists."""
        if self.guest_name_of(self.config_path(name).rpartition("/")[2]) == name:
            return name
        try:
            xenconfig.check_guest_name(name)
        except XenConfigError as exc:
            raise XenConfigError(f"{self.target.node}: {exc}") from None
        raise XenConfigError(f"{self.target.node}: '{name}' cannot be a guest name: "
                             f"{self.config_path(name)} is one of {self.tool}'s own files")

    def _path(self, path: str, what: str) -> str:
        try:
            return xenconfig.check_path(path, what)
        except XenConfigError as exc:
            raise XenConfigError(f"{self.target.node}: {exc}") from None

    def _tool(self, *args: str, check: bool = True, timeout: float | None = None,
              stdin: bytes | None = None) -> RemoteResult:
        return self._run([self.tool, *args], check=check, timeout=timeout, stdin=stdin)

    def _run(self, argv: list[str], *, stdin: bytes | None = None, check: bool = True,
             timeout: float | None = None) -> RemoteResult:
        return self.shell.run(self.target, argv, stdin=stdin, check=check,
                              timeout=timeout or self.command_timeout)


def parse_domain_list(node: str, text: str, *, with_uuid: bool) -> dict[str, GuestStatus]:
    """`xl list [-v]` / `xm list` rows -> guests, without Domain-0 and migration transients.

    Rows are split from the right, the name column being the only free-form one:
    name, ID, Mem, VCPUs, State, Time(s) [, UUID, Reason-Code, Security Label]."""
    found = {}
    for line in text.splitlines():
        if not line.strip() or line.startswith("Name "):
            continue
        fields = line.rsplit(None, 8 if with_uuid else 5)
        try:
            name, domid, memory, vcpus = fields[0], int(fields[1]), int(fields[2]), int(fields[3])
            state = domain_state(fields[4])
            uuid = fields[6] if with_uuid else None
        except (IndexError, ValueError):
            raise XenToolstackError(f"{node}: cannot read this domain list line: "
                                    f"{line.strip()!r}") from None
        if name in ("Domain-0", "(null)") or name.endswith(_TRANSIENT_SUFFIXES):
            continue
        found[name] = GuestStatus(name=name, state=state, memory_mb=memory, vcpus=vcpus,
                                  uuid=uuid, domid=domid)
    return found


def domain_state(flags: str) -> str:
    """The State column: r b p s <shutdown reason> d, '-' where unset. xl puts the reason
    letter ('c' for a crash) in the fifth place; xm puts its crashed flag there too."""
    if len(flags) != 6:
        raise ValueError(f"not a domain state: {flags}")
    if flags[4] == "c":
        return CRASHED
    if flags[3] == "s" or flags[5] == "d":
        return OFF
    if flags[2] == "p":
        return PAUSED
    return ON


def toolstack_message(result: RemoteResult) -> str:
    """The line of a failed xl/xm run that says why, without libxl's source location."""
    lines = [ln.strip() for ln in (result.stderr + "\n" + result.stdout).splitlines()]
    lines = [ln for ln in lines if ln and not _NOISE.match(ln)]
    if not lines:
        return f"exit status {result.exit_status}"
    reason = next((ln for ln in lines if _REASON.search(ln)), lines[-1])
    return _LIBXL_PREFIX.sub("", reason)


def checked_address(dest: Target) -> str:
    """dest's address, if it is a plain host name or IP address (it reaches a shell)."""
    address = dest.address
    if not (_HOSTNAME.fullmatch(address) or _IPV6.fullmatch(address)):
        raise XenToolstackError(f"{dest.node}: not a host name or address: '{address}'")
    return address


def name_or_none(name: str) -> str | None:
    """name if it is a valid guest name, else None."""
    try:
        return xenconfig.check_guest_name(name)
    except XenConfigError:
        return None


def _positive(value: int, what: str) -> int:
    number = int(value)
    if number <= 0:
        raise XenConfigError(f"{what} must be positive, not {value}")
    return number


def _int(value: object, default: int) -> int:
    return int(value) if isinstance(value, (int, float)) else default


def _fields(text: str) -> dict[str, str]:
    """`key : value` lines (xl info, xm info) as a dict."""
    fields = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip()] = value.strip()
    return fields


register("xen", XlHypervisor)
