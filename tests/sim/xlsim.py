"""Simulated `xl` (Xen 4) and `xm` (Xen 3, xend): the toolstack of a simulated Xen host.

Domains are the guest records of hvstate whose host is this one and whose state is
running, paused or crashed (a crashed domain stays listed, as with on_crash="preserve");
Domain-0 is synthesised from the host's dom0_mb and cpus. `create` reads a real config
file (from the host's directory under XCATSIM_ROOT) with its own parser, so a driver's
rendering is checked by something that does not share its code.

Output formats, messages and exit codes follow xl's C sources (xl_info.c, xl_vmcontrol.c,
xl_migrate.c) and xm's main.py/xend for the common cases: the `xl list` columns, `key : value`
info lines, "<dom> is an invalid domain identifier (rc=-6)", "Error: Domain 'x' does not
exist.", "failed to free memory for the domain", xend's "I need N KiB but only have M".

Migration moves the guest record to the destination host (found by hosts[*].address or
name) and keeps it running. Like real xl and xend, it copies no config file: /etc/xen on
the destination is untouched. A destination with `relocation: false` refuses: xl sees its
ssh connection refused, xm cannot connect to xend's relocation port. One that is `down` has
no route: xl's ssh and xm's connection to xend fail with "No route to host".

A host runs one toolstack: `xl` on a host whose toolstack is "xm" is not found, and the
other way round.
Usage: python -m tests.sim.xlsim xl|xm <subcommand> args...
"""

from __future__ import annotations

import json
import re
import sys
import uuid as uuidlib

from tests.sim import hvstate

TOOLSTACK = {"xl": "xen", "xm": "xm"}
DOMAIN_STATES = (hvstate.RUNNING, hvstate.PAUSED, hvstate.CRASHED)
_FLAGS = {
    "xl": {hvstate.RUNNING: "-b----", hvstate.PAUSED: "--p---", hvstate.CRASHED: "---sc-"},
    "xm": {hvstate.RUNNING: "-b----", hvstate.PAUSED: "--p---", hvstate.CRASHED: "----c-"},
}
_VERSIONS = {  # (release, xen_major, xen_minor, xen_extra)
    "xl": ("4.19.0-21-amd64", 4, 11, ".4"),
    "xm": ("2.6.18-92.el5xen", 3, 1, ".2-92.el5"),
}
_TRIGGERS = ("nmi", "reset", "init", "power", "sleep", "s3resume")
_UNITS = {"b": 1 / 1024, "k": 1, "m": 1024, "g": 1024 * 1024, "t": 1024 ** 3}  # -> KiB


class Refused(Exception):
    """The command fails: message on stderr, this exit code."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


class Toolstack:
    def __init__(self, tool: str, host: str) -> None:
        self.tool = tool
        self.host = host

    # -- domains --------------------------------------------------------------------------

    def domains(self, state: dict) -> dict[str, dict]:
        return {n: g for n, g in hvstate.guests_on(state, self.host).items()
                if g["state"] in DOMAIN_STATES}

    def find(self, state: dict, ident: str, *, dom0: bool = False) -> tuple[str, dict | None]:
        """(name, record) of a domain by name or id; record None for Domain-0."""
        if dom0 and ident in ("0", "Domain-0"):
            return "Domain-0", None
        for name, guest in self.domains(state).items():
            if ident == name or ident == str(guest.get("domid")):
                return name, guest
        if self.tool == "xl":
            raise Refused(f"{ident} is an invalid domain identifier (rc=-6)")
        raise Refused(f"Error: Domain '{ident}' does not exist.")

    def flags(self, guest: dict | None) -> str:
        return "r-----" if guest is None else _FLAGS[self.tool][guest["state"]]

    # -- list, info, domid ----------------------------------------------------------------

    def cmd_list(self, args: list[str]) -> None:
        opts, names = _options(args, flags="lvZcn", long={"long": "l", "verbose": "v"})
        state = hvstate.read()
        host = state["hosts"][self.host]
        wanted = [self.find(state, n, dom0=True) for n in names] if names else \
            [("Domain-0", None)] + sorted(self.domains(state).items(),
                                          key=lambda item: item[1].get("domid") or 0)
        if "l" in opts:
            if self.tool == "xl":
                print(json.dumps([_xl_json(n, g) for n, g in wanted if g is not None],
                                 indent=4))
            else:
                for name, guest in wanted:
                    print(_xm_sxp(name, guest, host))
            return
        verbose = "v" in opts and self.tool == "xl"
        if self.tool == "xl":
            print("Name                                        ID   Mem VCPUs\tState\tTime(s)"
                  + ("   UUID                            Reason-Code\tSecurity Label"
                     if verbose else ""))
        else:
            print(f"{'Name':<40} {'ID':>3} {'Mem':>5} {'VCPUs':>5} {'State':>10} {'Time(s)':>9}")
        for name, guest in wanted:
            domid = 0 if guest is None else guest.get("domid") or 0
            memory = host["dom0_mb"] if guest is None else guest["memory_mb"]
            vcpus = host["cpus"] if guest is None else guest["vcpus"]
            cpu_time = 1742.3 if guest is None else float(guest.get("cpu_time", 21.5))
            if self.tool == "xm":
                print(f"{name:<40} {domid!s:>3} {memory:5d} {vcpus:5d} {self.flags(guest):>10} "
                      f"{cpu_time:8.1f}")
                continue
            row = (f"{name:<40} {domid:5d} {memory:5d} {vcpus:5d}     {self.flags(guest)}  "
                   f"{cpu_time:8.1f}")
            if verbose:
                uuid = "00000000-0000-0000-0000-000000000000" if guest is None else guest["uuid"]
                crashed = guest is not None and guest["state"] == hvstate.CRASHED
                row += f" {uuid} {'3' if crashed else '-':>8} {'-':>16}"
            print(row)

    def cmd_info(self, args: list[str]) -> None:
        state = hvstate.read()
        host = state["hosts"][self.host]
        release, major, minor, extra = _VERSIONS[self.tool]
        if host.get("xen_version"):
            major, minor, extra = _split_version(host["xen_version"])
        fields = [
            ("host", self.host), ("release", release), ("version", "#1 SMP"),
            ("machine", "x86_64"), ("nr_cpus", host["cpus"]), ("max_cpu_id", host["cpus"] - 1),
            ("nr_nodes", 1), ("cores_per_socket", host["cpus"]), ("threads_per_core", 1),
            ("cpu_mhz", "2394.454"), ("virt_caps", "hvm hvm_directio"),
            ("total_memory", host["memory_mb"]),
            ("free_memory", hvstate.free_memory(state, self.host)),
            ("xen_major", major), ("xen_minor", minor), ("xen_extra", extra),
        ]
        if self.tool == "xl":
            fields.append(("xen_version", f"{major}.{minor}{extra}"))
        fields += [
            ("xen_caps", "xen-3.0-x86_64 xen-3.0-x86_32p hvm-3.0-x86_32 hvm-3.0-x86_64"),
            ("xen_scheduler", "credit"), ("xen_pagesize", 4096),
            ("xen_commandline", f"placeholder dom0_mem={host['dom0_mb']}M"),
            ("cc_compiler", "gcc version 8.3.0 (Debian 8.3.0-6)"),
            ("xend_config_format", 4 if self.tool == "xl" else 2),
        ]
        selected = args[0] if args and not args[0].startswith("-") else None
        for key, value in fields:
            if selected is None:
                print(f"{key:<23}: {value}")
            elif key.startswith(selected):
                print(value)

    def cmd_domid(self, args: list[str]) -> None:
        state = hvstate.read()
        name = args[0] if args else ""
        try:
            _, guest = self.find(state, name, dom0=True)
        except Refused:
            if self.tool == "xl":
                raise Refused(f"Can't get domid of domain name '{name}', maybe this domain "
                              "does not exist.") from None
            raise
        print(0 if guest is None else guest["domid"])

    # -- create ---------------------------------------------------------------------------

    def cmd_create(self, args: list[str]) -> None:
        opts, positional = _options(args, flags="qpceFVdn", long={}, valued="f")
        path = opts.get("f") or (positional.pop(0) if positional else "")
        if not path:
            raise Refused("Config file not specified" if self.tool == "xl"
                          else "Error: No config file specified")
        if not path.startswith("/"):
            path = "/root/" + path  # the ssh session's working directory
        with hvstate.locked() as state:
            text = _read_host_file(self.host, path, state)
            if text is None:
                raise Refused(f"Failed to read config file: {path}: No such file or directory"
                              if self.tool == "xl" else
                              f"Error: Unable to open config file: {path}")
            if self.tool == "xm":
                print(f'Using config file "{path}".')
            elif "q" not in opts:
                sys.stderr.write(f"Parsing config from {path}\n")
            extra = "\n".join(p for p in positional if "=" in p)
            try:
                config = parse_config(text + "\n" + extra)
            except ConfigSyntaxError as exc:
                raise Refused(self._syntax_message(path, exc)) from None
            guest = self._domain_from_config(state, config)
            self._check_create(state, guest)
            guest["domid"] = hvstate.new_domid(state)
            guest["state"] = hvstate.PAUSED if "p" in opts else hvstate.RUNNING
            guest["config"] = path
            state["guests"][guest["name"]] = {
                k: v for k, v in {**state["guests"].get(guest["name"], {}), **guest}.items()
                if k != "name"}
        if self.tool == "xm":
            print(f"Started domain {guest['name']} (id={guest['domid']})")

    def _syntax_message(self, path: str, exc: ConfigSyntaxError) -> str:
        if self.tool == "xl":
            return (f"{path}:{exc.lineno}: config parsing error near `{exc.near}': syntax "
                    "error\nFailed to parse config: Invalid argument")
        return f"Error: invalid syntax ({path}, line {exc.lineno})"

    def _domain_from_config(self, state: dict, config: dict) -> dict:
        name = config.get("name")
        if not isinstance(name, str) or not name:
            raise Refused("Domain name must be specified." if self.tool == "xl"
                          else "Error: Domain name must be specified")
        memory = int(config.get("memory", 128))
        hvm = (config.get("type") == "hvm" or config.get("builder") == "hvm")
        previous = state["guests"].get(name, {})
        disks = [self._disk(spec) for spec in config.get("disk", [])]
        vifs = [_fields(spec) for spec in config.get("vif", [])]
        return {
            "name": name, "host": self.host, "memory_mb": memory,
            "maxmem_mb": max(int(config.get("maxmem", memory)), memory),
            "vcpus": int(config.get("vcpus", 1)),
            "max_vcpus": int(config.get("maxvcpus", config.get("vcpus", 1))),
            "uuid": str(config.get("uuid") or previous.get("uuid") or uuidlib.uuid4()),
            "type": "hvm" if hvm else "pv", "toolstack": TOOLSTACK[self.tool],
            "macs": [v.get("mac") or _random_mac() for v in vifs],
            "bridges": [v.get("bridge", "xenbr0") for v in vifs],
            "disks": [d["target"] for d in disks], "disk_devices": [d["vdev"] for d in disks],
            "defined": True, "autostart": previous.get("autostart", False),
        }

    def _disk(self, spec: str) -> dict:
        if self.tool == "xl" and "target=" in spec:
            head, target = spec.split("target=", 1)
            keys = _fields(head)
            return {"target": target, "vdev": keys.get("vdev", "")}
        parts = spec.split(",")
        uname = parts[0].strip()
        match = re.match(r"(phy|file|tap:aio|tap:qcow2?|tap:vhd|aio|raw|qcow2?):(.*)", uname)
        if match is None and self.tool == "xm":
            raise Refused(f"Error: Invalid disk specifier '{spec}'")
        target = match.group(2) if match else uname
        vdev = parts[1].strip() if len(parts) > 2 or self.tool == "xm" else ""
        if self.tool == "xl" and len(parts) >= 4:
            vdev = parts[2].strip()
        return {"target": target, "vdev": re.sub(r"^ioemu:|:(cdrom|disk)$", "", vdev)}

    def _check_create(self, state: dict, guest: dict) -> None:
        name = guest["name"]
        current = state["guests"].get(name)
        if current and current["state"] in DOMAIN_STATES:
            if current["host"] == self.host:
                if self.tool == "xl":
                    raise Refused(f'libxl: error: libxl_domain.c:341:libxl__domain_rename: '
                                  f'Domain with name "{name}" already exists.\n'
                                  "libxl: error: libxl_create.c:1262:initiate_domain_create: "
                                  "cannot make domain: -6", 3)
                raise Refused(f"Error: Domain '{name}' already exists with ID "
                              f"'{current['domid']}'")
            raise Refused(f"xlsim: {name} already runs on {current['host']} (the simulation "
                          "keeps one record per guest name)")
        for target, vdev in zip(guest["disks"], guest["disk_devices"], strict=True):
            if _read_host_file(self.host, target, state, probe=True) is None:
                if self.tool == "xl":
                    raise Refused(_disk_missing_xl(target, vdev), 3)
                raise Refused(f"Error: Device {_xen_devno(vdev)} (vbd) could not be "
                              f"connected. {target} does not exist.")
        free = hvstate.free_memory(state, self.host)
        if guest["memory_mb"] > free:
            if self.tool == "xl":
                raise Refused("failed to free memory for the domain", 3)
            raise Refused("Error: Not enough free memory and enable-dom0-ballooning is False, "
                          "so I cannot release any more.  I need "
                          f"{guest['memory_mb'] * 1024} KiB but only have {free * 1024}.")

    # -- life cycle -----------------------------------------------------------------------

    def cmd_shutdown(self, args: list[str]) -> None:
        opts, names = _options(args, flags="awFRH", long={"all": "a", "wait": "w"})
        with hvstate.locked() as state:
            name, guest = self._domain_arg(state, names, "shutdown")
            domid = guest["domid"]
            if (self.tool == "xl" and guest.get("type") == "hvm" and "F" not in opts
                    and not guest.get("pv_drivers", True)):
                raise Refused("PV control interface not available: external graceful shutdown "
                              "not possible.\nUse \"-F\" to fallback to ACPI power event.\n"
                              "shutdown failed (rc=-8)")
            _power_off(guest)
        if self.tool == "xl":
            sys.stderr.write(f"Shutting down domain {domid}\n")
            if "w" in opts:
                sys.stderr.write(f"Waiting for 1 domains\nDomain {domid} has been destroyed.\n")
        elif "w" in opts:
            print(f"Domain {name} terminated\nAll domains terminated")

    def cmd_destroy(self, args: list[str]) -> None:
        _, names = _options(args, flags="f", long={})
        with hvstate.locked() as state:
            _, guest = self._domain_arg(state, names, "destroy")
            _power_off(guest)

    def cmd_reboot(self, args: list[str]) -> None:
        _, names = _options(args, flags="awFRH", long={})
        with hvstate.locked() as state:
            _, guest = self._domain_arg(state, names, "reboot")
            if self.tool == "xl":
                sys.stderr.write(f"Rebooting domain {guest['domid']}\n")
            guest["domid"] = hvstate.new_domid(state)
            guest["state"] = hvstate.RUNNING

    def cmd_trigger(self, args: list[str]) -> None:
        _, positional = _options(args, flags="", long={})
        if len(positional) < 2:
            raise Refused(f"'{self.tool} trigger' requires between 2 and 3 arguments.", 2)
        with hvstate.locked() as state:
            _, guest = self._domain_arg(state, positional[:1], "trigger")
            trigger = positional[1]
            if trigger not in _TRIGGERS:
                raise Refused(f'Invalid trigger "{trigger}"')
            if guest.get("type") != "hvm":
                if self.tool == "xm":
                    raise Refused("Error: (22, 'Invalid argument')")
                # xl reports a failed trigger but exits 0 (main_trigger ignores the result).
                sys.stderr.write(f"libxl: error: libxl_domain.c:1615:libxl_send_trigger: "
                                 f"Domain {guest['domid']}:Send trigger '{trigger}' failed: "
                                 "Invalid argument\n")
                return
            if trigger == "reset":
                guest["resets"] = guest.get("resets", 0) + 1
                guest["state"] = hvstate.RUNNING
            elif trigger == "power":
                _power_off(guest)

    def cmd_pause(self, args: list[str]) -> None:
        with hvstate.locked() as state:
            self._domain_arg(state, args, "pause")[1]["state"] = hvstate.PAUSED

    def cmd_unpause(self, args: list[str]) -> None:
        with hvstate.locked() as state:
            guest = self._domain_arg(state, args, "unpause")[1]
            if guest["state"] == hvstate.PAUSED:
                guest["state"] = hvstate.RUNNING

    def cmd_mem_set(self, args: list[str]) -> None:
        _, positional = _options(args, flags="", long={})
        if len(positional) != 2:
            raise Refused(f"'{self.tool} mem-set' requires 2 arguments.", 2)
        with hvstate.locked() as state:
            _, guest = self._domain_arg(state, positional[:1], "mem-set")
            memory_mb = _memory_mb(positional[1], default_unit="k" if self.tool == "xl" else "m")
            if memory_mb is None:
                raise Refused(f"invalid memory size: {positional[1]}")
            if memory_mb > guest.get("maxmem_mb", guest["memory_mb"]):
                if self.tool == "xl":
                    raise Refused(f"libxl: error: libxl_mem.c:337:libxl_set_memory_target: "
                                  f"Domain {guest['domid']}:memory_dynamic_max must be less "
                                  "than or equal to memory_static_max")
                raise Refused("Error: memory_dynamic_max must be less than or equal to "
                              "memory_static_max")
            guest["memory_mb"] = memory_mb

    def cmd_vcpu_set(self, args: list[str]) -> None:
        _, positional = _options(args, flags="", long={"ignore-host": "i"})
        if len(positional) != 2 or not positional[1].isdigit():
            raise Refused(f"'{self.tool} vcpu-set' requires 2 arguments.", 2)
        with hvstate.locked() as state:
            _, guest = self._domain_arg(state, positional[:1], "vcpu-set")
            count, ceiling = int(positional[1]), guest.get("max_vcpus", guest["vcpus"])
            if count > ceiling:
                if self.tool == "xl":
                    raise Refused(f"libxl: error: libxl_domain.c:1832:libxl_set_vcpuonline: "
                                  f"Domain {guest['domid']}:Requested {count} VCPUs, however "
                                  f"maxcpus is {ceiling}!: Function not implemented\n"
                                  f"libxl_set_vcpuonline failed domid={guest['domid']} "
                                  f"max_vcpus={count}, rc: -3")
                raise Refused("Error: Cannot set vcpus greater than max vcpus on running "
                              "domain")
            guest["vcpus"] = count

    def _domain_arg(self, state: dict, names: list[str], command: str) -> tuple[str, dict]:
        if not names:
            raise Refused(f"'{self.tool} {command}' requires at least 1 argument.", 2)
        name, guest = self.find(state, names[0], dom0=True)
        if guest is None:
            raise Refused("Not destroying domain 0; use -f to force." if command == "destroy"
                          else f"{self.tool} {command}: refusing to act on Domain-0")
        return name, guest

    # -- migrate --------------------------------------------------------------------------

    def cmd_migrate(self, args: list[str]) -> None:
        if self.tool == "xl":
            opts, positional = _options(args, flags="FepDl", long={"live": "l", "debug": "d"},
                                        valued="Cs")
        else:
            opts, positional = _options(args, flags="lcs", long={
                "live": "l", "change_home_server": "c", "ssl": "s"}, valued="prn")
        if len(positional) != 2:
            raise Refused(f"'{self.tool} migrate' requires 2 arguments.", 2)
        hvstate.migration_delay(self.host, positional[0],
                                positional[1].rpartition("@")[2])
        with hvstate.locked() as state:
            name, guest = self._domain_arg(state, positional[:1], "migrate")
            address = positional[1].rpartition("@")[2]
            dest = next((h for h, spec in state["hosts"].items()
                         if address in (h, spec.get("address"))), None)
            port = re.search(r"-p\s*(\d+)", opts.get("s", ""))
            self._check_destination(state, guest, address, dest,
                                    port.group(1) if port else "22", live="l" in opts)
            guest["host"] = dest
            guest["domid"] = hvstate.new_domid(state)
            hvstate.arrived(state, dest)
        if self.tool == "xl":
            sys.stderr.write(_XL_MIGRATION_OK)

    def _check_destination(self, state: dict, guest: dict, address: str, dest: str | None,
                           port: str, *, live: bool) -> None:
        spec = state["hosts"].get(dest or "", {})
        # The destination opens the guest's disks at the same paths: shared storage.
        missing = next(((d, v) for d, v in zip(guest.get("disks", []),
                                                guest.get("disk_devices", []), strict=False)
                        if dest and _read_host_file(dest, d, state, probe=True) is None), None)
        if self.tool == "xm":
            if dest is None:
                raise Refused("Error: can't connect: Name or service not known")
            if spec.get("down"):
                raise Refused("Error: can't connect: No route to host")
            if not spec.get("relocation", True) or spec.get("toolstack") != "xm":
                raise Refused("Error: can't connect: Connection refused")
            if guest["memory_mb"] > hvstate.free_memory(state, dest) or missing:
                raise Refused(f"Error: /usr/lib64/xen/bin/xc_save 27 {guest['domid']} 0 0 "
                              f"{1 if live else 0} failed")
            return
        transport_failed = ("libxl: error: libxl_utils.c:510:libxl_read_exactly: file/stream "
                            "truncated reading banner from migration receiver stream\n"
                            "libxl: info: libxl_exec.c:118:libxl_report_child_exitstatus: "
                            "migration transport process [4242] exited with error status 255")
        if dest is None:
            raise Refused(f"ssh: Could not resolve hostname {address}: Name or service not "
                          f"known\n{transport_failed}")
        if spec.get("down"):
            raise Refused(f"ssh: connect to host {address} port {port}: No route to host\n"
                          f"{transport_failed}")
        if not spec.get("relocation", True):
            raise Refused(f"ssh: connect to host {address} port {port}: Connection refused\n"
                          f"{transport_failed}")
        if spec.get("toolstack") != "xen":
            raise Refused(f"bash: xl: command not found\n{transport_failed}")
        if guest["memory_mb"] > hvstate.free_memory(state, dest):
            raise Refused(_XL_MIGRATION_START + _XL_TARGET_NO_MEMORY + _XL_MIGRATION_FAILED)
        if missing is not None:
            raise Refused(_XL_MIGRATION_START + _disk_missing_xl(*missing)
                          + "\nmigration target: Domain creation failed (code -3).\n"
                          + _XL_MIGRATION_FAILED)


_XL_MIGRATION_START = (
    "Saving to migration stream new xl format (info 0x3/0x0/1418)\n"
    "migration target: Ready to receive domain.\n"
    "Loading new save file <incoming migration stream> (new xl fmt info 0x3/0x0/1418)\n"
    " Savefile contains xl domain config in JSON format\n"
    "Parsing config from <saved>\n")
_XL_MIGRATION_OK = _XL_MIGRATION_START + (
    "migration target: Transfer complete, requesting permission to start domain.\n"
    "migration sender: Target has acknowledged transfer.\n"
    "migration sender: Giving target permission to start.\n"
    "migration target: Got permission, starting domain.\n"
    "migration target: Domain started successsfully.\n"
    "migration sender: Target reports successful startup.\n"
    "Migration successful.\n")
_XL_TARGET_NO_MEMORY = ("failed to free memory for the domain\n"
                        "migration target: Domain creation failed (code -3).\n")
_XL_MIGRATION_FAILED = (
    "libxl: error: libxl_utils.c:510:libxl_read_exactly: file/stream truncated reading ready "
    "message from migration receiver stream\n"
    "migration sender: libxl_domain_suspend failed (rc=-3)\n"
    "Migration failed, resuming at sender.")


def _disk_missing_xl(target: str, vdev: str) -> str:
    return ("libxl: error: libxl_device.c:386:libxl__device_disk_set_backend: Disk "
            f"vdev={vdev} failed to stat: {target}: No such file or directory\n"
            "libxl: error: libxl_create.c:1015:initiate_domain_create: Unable to set disk "
            "defaults for disk 0")


# -- config files ------------------------------------------------------------------------

_TOKENS = re.compile(r"""(?P<ws>[ \t\r]+)|(?P<comment>\#[^\n]*)|(?P<nl>\n)
    |(?P<str>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
    |(?P<num>0x[0-9a-fA-F]+|[0-9]+(?:\.[0-9]+)?)|(?P<id>[A-Za-z_][A-Za-z0-9_]*)
    |(?P<punct>[=\[\],;])""", re.VERBOSE)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "a": "\a", "b": "\b", "f": "\f", "v": "\v"}


class ConfigSyntaxError(Exception):
    def __init__(self, lineno: int, near: str) -> None:
        super().__init__(f"line {lineno} near {near!r}")
        self.lineno = lineno
        self.near = near


def parse_config(text: str) -> dict[str, object]:
    """xl.cfg(5)'s grammar, strictly: `name = value` statements ended by a newline or ';'
    (or the end), values a number, a quoted string, or a list of those."""
    tokens = []
    lineno, pos = 1, 0
    while pos < len(text):
        match = _TOKENS.match(text, pos)
        if match is None:
            raise ConfigSyntaxError(lineno, text[pos:pos + 10])
        kind = match.lastgroup
        if kind == "nl":
            tokens.append(("end", "\n", lineno))
            lineno += 1
        elif kind not in ("ws", "comment"):
            tokens.append((kind, match.group(), lineno))
        pos = match.end()
    tokens.append(("end", "", lineno))
    settings: dict[str, object] = {}
    i = 0

    def expect(pred: bool, at: int) -> None:
        if not pred:
            raise ConfigSyntaxError(tokens[at][2], tokens[at][1] or "<end>")

    def value(at: int) -> tuple[object, int]:
        kind, text_, _ = tokens[at]
        if kind == "str":
            return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)),
                          text_[1:-1]), at + 1
        if kind == "num":
            return (int(text_, 16) if text_.startswith("0x") else
                    float(text_) if "." in text_ else int(text_)), at + 1
        expect(text_ == "[", at)
        items, at = [], at + 1
        while True:
            while tokens[at][0] == "end" and tokens[at][1]:
                at += 1  # a list may span lines
            if tokens[at][1] == "]":
                return items, at + 1
            item, at = value(at)
            items.append(item)
            while tokens[at][0] == "end" and tokens[at][1]:
                at += 1
            expect(tokens[at][1] in (",", "]"), at)
            if tokens[at][1] == ",":
                at += 1

    while i < len(tokens):
        if tokens[i][0] == "end" or tokens[i][1] == ";":
            i += 1
            continue
        expect(tokens[i][0] == "id" and tokens[i + 1][1] == "=", i)
        settings[tokens[i][1]], i = value(i + 2)
        expect(tokens[i][0] == "end" or tokens[i][1] == ";", i)
    return settings


def _read_host_file(host: str, path: str, state: dict, *, probe: bool = False) -> str | None:
    try:
        mapped = hvstate.host_path(host, path, state)
    except ValueError:
        return None
    if not mapped.is_file():
        return None
    return "" if probe else mapped.read_bytes().decode("utf-8", "replace")


# -- output formats ----------------------------------------------------------------------

def _xl_json(name: str, guest: dict) -> dict:
    """The part of `xl list -l`'s libxl_domain_config a driver reads."""
    return {"domid": guest.get("domid"), "config": {
        "c_info": {"type": guest.get("type", "pv"), "name": name, "uuid": guest["uuid"]},
        "b_info": {"max_vcpus": guest.get("max_vcpus", guest["vcpus"]),
                   "max_memkb": guest.get("maxmem_mb", guest["memory_mb"]) * 1024,
                   "target_memkb": guest["memory_mb"] * 1024},
        "disks": [{"pdev_path": d, "vdev": v, "readwrite": 1}
                  for d, v in zip(guest.get("disks", []), guest.get("disk_devices", []),
                                  strict=False)],
        "nics": [{"mac": m, "bridge": b}
                 for m, b in zip(guest.get("macs", []), guest.get("bridges", []), strict=False)],
    }}


def _xm_sxp(name: str, guest: dict | None, host: dict) -> str:
    """A domain in xend's SXP, as `xm list --long` pretty-prints it (the fields read here)."""
    if guest is None:
        fields = [("domid", 0), ("uuid", "00000000-0000-0000-0000-000000000000"),
                  ("vcpus", host["cpus"]), ("name", name), ("memory", host["dom0_mb"]),
                  ("state", "r-----")]
        image = ""
    else:
        fields = [("domid", guest.get("domid")), ("uuid", guest["uuid"]),
                  ("vcpus", guest["vcpus"]), ("online_vcpus", guest["vcpus"]), ("name", name),
                  ("memory", guest["memory_mb"]), ("maxmem", guest.get("maxmem_mb")),
                  ("state", _FLAGS["xm"][guest["state"]])]
        image = ("    (image\n        (hvm\n            (kernel /usr/lib/xen/boot/hvmloader)\n"
                 "        )\n    )\n" if guest.get("type") == "hvm" else
                 "    (image\n        (linux\n            (kernel )\n        )\n    )\n")
    body = "".join(f"    ({key} {_sxp_atom(value)})\n" for key, value in fields)
    return f"(domain\n{body}{image})"


def _sxp_atom(value: object) -> str:
    text = str(value)
    if re.fullmatch(r"[A-Za-z0-9.\-_:/~@]+", text):
        return text
    return repr(text)  # xend's sxp.show quotes non-atoms with Python's repr


# -- small helpers -----------------------------------------------------------------------

def _options(args: list[str], *, flags: str, long: dict[str, str],
             valued: str = "") -> tuple[dict[str, str], list[str]]:
    """getopt-style: single-letter flags (bundled), flags taking a value, --long[=value]."""
    opts: dict[str, str] = {}
    positional: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg.startswith("--") and len(arg) > 2:
            key, _, value = arg[2:].partition("=")
            opts[long.get(key, key)] = value
        elif arg.startswith("-") and len(arg) > 1 and not arg[1:].isdigit():
            for j, letter in enumerate(arg[1:], start=1):
                if letter in valued:
                    value = arg[j + 1:]
                    if not value:
                        i += 1
                        value = args[i] if i < len(args) else ""
                    opts[letter] = value
                    break
                if letter not in flags:
                    raise Refused(f"option `{letter}' not supported.", 2)
                opts[letter] = ""
        else:
            positional.append(arg)
        i += 1
    return opts, positional


def _fields(spec: str) -> dict[str, str]:
    """'mac=..,bridge=..' -> dict."""
    return {k.strip(): v.strip() for k, _, v in (p.partition("=") for p in spec.split(","))
            if k.strip()}


def _power_off(guest: dict) -> None:
    guest["state"] = hvstate.SHUTOFF
    guest["domid"] = None


def _memory_mb(text: str, *, default_unit: str) -> int | None:
    match = re.fullmatch(r"(\d+)([bBkKmMgGtT]?)", text)
    if match is None:
        return None
    kib = int(match.group(1)) * _UNITS[(match.group(2) or default_unit).lower()]
    return int(kib // 1024)


def _split_version(version: str) -> tuple[int, int, str]:
    major, minor, extra = re.fullmatch(r"(\d+)\.(\d+)(.*)", version).groups()
    return int(major), int(minor), extra


def _xen_devno(vdev: str) -> int:
    letter_index = ord(vdev[-1]) - ord("a") if vdev and vdev[-1].isalpha() else 0
    if vdev.startswith("xvd"):
        return (202 << 8) | (letter_index << 4)
    if vdev.startswith("sd"):
        return (8 << 8) | (letter_index << 4)
    return (3 << 8) | (letter_index << 6)


def _random_mac() -> str:
    tail = uuidlib.uuid4().bytes[:3]
    return "00:16:3e:" + ":".join(f"{b:02x}" for b in tail)


COMMANDS = {"list": "cmd_list", "info": "cmd_info", "domid": "cmd_domid",
            "create": "cmd_create", "shutdown": "cmd_shutdown", "destroy": "cmd_destroy",
            "reboot": "cmd_reboot", "trigger": "cmd_trigger", "pause": "cmd_pause",
            "unpause": "cmd_unpause", "mem-set": "cmd_mem_set", "vcpu-set": "cmd_vcpu_set",
            "migrate": "cmd_migrate"}


def main(argv: list[str]) -> int:
    tool, args = argv[0], argv[1:]
    if (status := hvstate.enter(argv)) is not None:
        return status
    host = hvstate.current_host()
    if hvstate.read()["hosts"][host].get("toolstack") != TOOLSTACK[tool]:
        sys.stderr.write(f"sh: 1: {tool}: not found\n")
        return 127
    if not args or args[0] not in COMMANDS:
        sys.stderr.write("command not implemented\n" if tool == "xl" else
                         f"Error: Subcommand {args[0] if args else ''} not found!\n")
        return 2 if tool == "xl" else 1
    try:
        getattr(Toolstack(tool, host), COMMANDS[args[0]])(args[1:])
    except Refused as refusal:
        sys.stdout.flush()
        sys.stderr.write(str(refusal) + "\n")
        return refusal.code
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
