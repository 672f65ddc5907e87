"""`virsh` of a simulated libvirt host (KVM, or Xen through libxl).

Runs one virsh command against the shared hvstate, printing what libvirt 8 prints: the same
tables, `Key:   value` blocks and `error: ` lines on stderr with exit status 1, so a driver
parses this the way it parses the real thing. A host's `libvirt_driver` ("qemu", the
default, or "xen") decides its URI, version and the domain type it accepts.

Simulated semantics worth knowing: shutdown is immediate; `--config` changes to a running
domain wait in the guest's "pending" record until it stops, as libvirt keeps the persistent
definition apart from the live one; file disks and their paths live under hvstate's files.
Migration to a host that is `down` fails as libvirt's connection to it would.
Usage: python -m tests.sim.virshsim virsh <args>
"""

from __future__ import annotations

import hashlib
import os
import sys
import xml.etree.ElementTree as ET
from urllib.parse import urlsplit

from tests.sim import hvstate

LIBVIRT_VERSION = "8.0.0"
HYPERVISOR_VERSION = {"qemu": "QEMU 6.2.0", "xen": "Xen 4.16.0"}
DOMAIN_TYPES = {"qemu": ("kvm", "qemu"), "xen": ("xen",)}
STATE_WORDS = {hvstate.RUNNING: "running", hvstate.PAUSED: "paused",
               hvstate.SHUTOFF: "shut off", hvstate.CRASHED: "crashed"}
ACTIVE = (hvstate.RUNNING, hvstate.PAUSED)


def _uuid(raw: bytes) -> str:
    # The uuid module would add a tenth to every simulated command's start-up time.
    h = raw[:16].hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[raw[8] % 4]}{h[17:20]}-{h[20:32]}"


class VirshError(Exception):
    """Printed as `error: <line>` for each line, exit status 1."""

    def __init__(self, *lines: str) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


def _driver(host: dict) -> str:
    return host.get("libvirt_driver", "qemu")


def _options(args: list[str], flags: tuple[str, ...] = ()) -> tuple[set[str], list[str]]:
    seen, positional = set(), []
    for arg in args:
        if arg.startswith("--") and arg != "--":
            if arg not in flags:
                raise VirshError(f"command does not support option {arg}")
            seen.add(arg)
        else:
            positional.append(arg)
    return seen, positional


def _one(positional: list[str], what: str = "domain") -> str:
    if not positional:
        raise VirshError(f"command requires <{what}> option")
    if len(positional) > 1:
        raise VirshError(f"unexpected data '{positional[1]}'")
    return positional[0]


def _domain(state: dict, host: str, ref: str) -> tuple[str, dict]:
    """(name, record) of the domain ref names on host; like virsh, ref may also be the
    domain's UUID or a running domain's id."""
    guest = state["guests"].get(ref)
    if guest is not None and guest["host"] == host:
        return ref, guest
    for name, g in hvstate.guests_on(state, host).items():
        if ref == g.get("uuid") or (g["state"] in ACTIVE and ref == str(g.get("domid"))):
            return name, g
    raise VirshError(f"failed to get domain '{ref}'")


def _sorted_domains(state: dict, host: str) -> list[tuple[str, dict]]:
    """virsh's order: running ones by id, then the others by name."""
    domains = hvstate.guests_on(state, host).items()
    active = sorted((d for d in domains if d[1]["state"] in ACTIVE), key=lambda d: d[1]["domid"])
    inactive = sorted(d for d in domains if d[1]["state"] not in ACTIVE)
    return active + inactive


# -- read-only commands ------------------------------------------------------------------


def cmd_list(state: dict, host: str, args: list[str]) -> str:
    seen, positional = _options(args, ("--all", "--inactive", "--name", "--uuid", "--table"))
    if positional:
        raise VirshError(f"unexpected data '{positional[0]}'")
    domains = _sorted_domains(state, host)
    if "--inactive" in seen:
        domains = [d for d in domains if d[1]["state"] not in ACTIVE]
    elif "--all" not in seen:
        domains = [d for d in domains if d[1]["state"] in ACTIVE]
    if "--name" in seen or "--uuid" in seen:
        if "--name" in seen and "--uuid" in seen:
            lines = [f"{g['uuid']:<36}  {n}" for n, g in domains]
        elif "--name" in seen:
            lines = [n for n, _ in domains]
        else:
            lines = [g["uuid"] for _, g in domains]
        return "".join(line + "\n" for line in lines) + "\n"
    rows = [("Id", "Name", "State")]
    rows += [(str(g["domid"]) if g["state"] in ACTIVE else "-", n, STATE_WORDS[g["state"]])
             for n, g in domains]
    return _table(rows)


def _table(rows: list[tuple[str, ...]]) -> str:
    """vshTable: each cell is a space, the value padded to its column, two spaces."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["".join(f" {cell:<{w}}  " for cell, w in zip(row, widths, strict=True))
             for row in rows]
    lines.insert(1, "-" * sum(w + 3 for w in widths))
    return "\n".join(lines) + "\n\n"


def cmd_dominfo(state: dict, host: str, args: list[str]) -> str:
    name, g = _domain(state, host, _one(_options(args)[1]))
    active = g["state"] in ACTIVE
    os_type = "xen" if g.get("os_type") == "xen" else "hvm"
    lines = [("Id", str(g["domid"]) if active else "-"), ("Name", name), ("UUID", g["uuid"]),
             ("OS Type", os_type), ("State", STATE_WORDS[g["state"]]),
             ("CPU(s)", str(g["vcpus"]))]
    if active:
        lines.append(("CPU time", "12.3s"))
    lines += [("Max memory", f"{g['maxmem_mb'] * 1024} KiB"),
              ("Used memory", f"{g['memory_mb'] * 1024} KiB"),
              ("Persistent", "yes" if g.get("defined", True) else "no"),
              ("Autostart", "enable" if g.get("autostart") else "disable"),
              ("Managed save", "no"), ("Security model", "none"), ("Security DOI", "0")]
    return "".join(f"{k + ':':<16}{v}\n" for k, v in lines) + "\n"


def cmd_domstate(state: dict, host: str, args: list[str]) -> str:
    _, g = _domain(state, host, _one(_options(args)[1]))
    return STATE_WORDS[g["state"]] + "\n\n"


def cmd_domuuid(state: dict, host: str, args: list[str]) -> str:
    return _domain(state, host, _one(_options(args)[1]))[1]["uuid"] + "\n\n"


def cmd_nodeinfo(state: dict, host: str, args: list[str]) -> str:
    h = state["hosts"][host]
    lines = [("CPU model", "x86_64"), ("CPU(s)", str(h["cpus"])),
             ("CPU frequency", "2400 MHz"), ("CPU socket(s)", "1"),
             ("Core(s) per socket", str(max(1, h["cpus"] // 2))), ("Thread(s) per core", "2"),
             ("NUMA cell(s)", "1"), ("Memory size", f"{h['memory_mb'] * 1024} KiB")]
    return "".join(f"{k + ':':<21}{v}\n" for k, v in lines) + "\n"


def cmd_freecell(state: dict, host: str, args: list[str]) -> str:
    seen, _ = _options(args, ("--all",))
    free = max(0, hvstate.free_memory(state, host)) * 1024
    if "--all" in seen:
        return f"{0:5d}: {free:10d} KiB\n{'-' * 20}\n{'Total':>5}: {free:10d} KiB\n"
    return f"Total: {free} KiB\n"


def cmd_version(state: dict, host: str, args: list[str]) -> str:
    driver = _driver(state["hosts"][host])
    api = "QEMU" if driver == "qemu" else "Xen"
    return (f"Compiled against library: libvirt {LIBVIRT_VERSION}\n"
            f"Using library: libvirt {LIBVIRT_VERSION}\n"
            f"Using API: {api} {LIBVIRT_VERSION}\n"
            f"Running hypervisor: {HYPERVISOR_VERSION[driver]}\n\n")


def cmd_uri(state: dict, host: str, args: list[str]) -> str:
    return f"{_driver(state['hosts'][host])}:///system\n\n"


def cmd_capabilities(state: dict, host: str, args: list[str]) -> str:
    driver = _driver(state["hosts"][host])
    domains = "".join(f"      <domain type='{t}'/>\n" for t in DOMAIN_TYPES[driver])
    os_types = ("hvm", "xen") if driver == "xen" else ("hvm",)
    guests = "".join(f"  <guest>\n    <os_type>{os}</os_type>\n    <arch name='x86_64'>\n"
                     f"{domains}    </arch>\n  </guest>\n" for os in os_types)
    return (f"<capabilities>\n  <host>\n    <cpu>\n      <arch>x86_64</arch>\n    </cpu>\n"
            f"  </host>\n{guests}</capabilities>\n\n")


# -- definitions -------------------------------------------------------------------------


def parse_domain(xml_text: str) -> dict:
    """The parts of a domain definition the simulator keeps."""
    root = ET.fromstring(xml_text)
    if root.tag != "domain":
        raise ValueError("expected root element 'domain'")

    def kib(tag: str) -> int | None:
        element = root.find(tag)
        if element is None:
            return None
        scale = {"KiB": 1, "MiB": 1024, "GiB": 1024 * 1024}[element.get("unit", "KiB")]
        return int(element.text) * scale

    name = (root.findtext("name") or "").strip()
    if not name:
        raise ValueError("missing domain name information")
    maxmem = kib("memory")
    if maxmem is None:
        raise ValueError("missing memory element")
    current = kib("currentMemory") or maxmem
    disks, macs, bridges = [], [], []
    for disk in root.iterfind("devices/disk"):
        source = disk.find("source")
        if disk.get("device", "disk") != "disk" or source is None:
            continue
        disks.append({"path": source.get("file") or source.get("dev"),
                      "kind": "phy" if disk.get("type") == "block" else "file",
                      "device": disk.find("target").get("dev")})
    for nic in root.iterfind("devices/interface"):
        mac, source = nic.find("mac"), nic.find("source")
        macs.append(mac.get("address") if mac is not None else None)
        bridges.append(source.get("bridge") if source is not None else None)
    return {
        "name": name, "type": root.get("type"), "uuid": (root.findtext("uuid") or "").strip(),
        "maxmem_mb": maxmem // 1024, "memory_mb": current // 1024,
        "vcpus": int(root.findtext("vcpu") or 1), "os_type": root.findtext("os/type"),
        "boot": [b.get("dev") for b in root.iterfind("os/boot")],
        "disks": disks, "macs": macs, "bridges": bridges,
    }


def cmd_define(state: dict, host: str, args: list[str]) -> str:
    path = _one(_options(args)[1], "file")
    try:
        data = hvstate.host_path(host, path, state).read_text()
    except (OSError, ValueError):
        raise VirshError(f"Failed to open file '{path}': No such file or directory") from None
    try:
        spec = parse_domain(data)
    except (ET.ParseError, ValueError, KeyError, AttributeError) as exc:
        raise VirshError(f"Failed to define domain from {path}", f"XML error: {exc}") from None
    driver = _driver(state["hosts"][host])
    if spec["type"] not in DOMAIN_TYPES[driver]:
        raise VirshError(f"Failed to define domain from {path}",
                         f"invalid argument: could not find capabilities for "
                         f"arch=x86_64 domaintype={spec['type']}")
    name = spec["name"]
    if not spec["uuid"]:
        spec["uuid"] = _uuid(os.urandom(16))
    for other, g in hvstate.guests_on(state, host).items():
        if other != name and g.get("uuid") == spec["uuid"]:
            raise VirshError(f"Failed to define domain from {path}",
                             f"operation failed: domain '{other}' already exists with uuid "
                             f"{spec['uuid']}")
    existing = state["guests"].get(name)
    if existing is not None and existing["host"] != host:
        raise VirshError(f"Failed to define domain from {path}",
                         f"operation failed: domain '{name}' is defined on "
                         f"{existing['host']} (simulated guest names are global)")
    record = {"maxmem_mb": spec["maxmem_mb"], "memory_mb": spec["memory_mb"],
              "vcpus": spec["vcpus"], "maxvcpus": spec["vcpus"], "uuid": spec["uuid"],
              "macs": spec["macs"], "bridges": spec["bridges"], "disks": spec["disks"],
              "boot": spec["boot"], "os_type": spec["os_type"], "domain_type": spec["type"],
              "xml_path": path}
    if existing is None:
        state["guests"][name] = {"host": host, "state": hvstate.SHUTOFF, "domid": None,
                                 "autostart": False, "defined": True, **record}
    elif existing["state"] in ACTIVE:
        existing.setdefault("pending", {}).update(record)
        existing["defined"] = True
    else:
        existing.update(record, defined=True)
    return f"Domain '{name}' defined from {path}\n\n"


def cmd_undefine(state: dict, host: str, args: list[str]) -> str:
    name, g = _domain(state, host, _one(_options(args, ("--managed-save", "--nvram"))[1]))
    if g["state"] in ACTIVE:
        g["defined"] = False  # it runs on as a transient domain
        g.pop("pending", None)
    else:
        del state["guests"][name]
    return f"Domain '{name}' has been undefined\n\n"


def cmd_autostart(state: dict, host: str, args: list[str]) -> str:
    seen, positional = _options(args, ("--disable",))
    name, g = _domain(state, host, _one(positional))
    g["autostart"] = "--disable" not in seen
    return f"Domain '{name}' {'unmarked' if '--disable' in seen else 'marked'} as autostarted\n\n"


# -- life cycle --------------------------------------------------------------------------


def _missing_disk(state: dict, host: str, g: dict) -> str | None:
    for disk in g.get("disks", ()):
        try:
            target = hvstate.host_path(host, disk["path"], state)
        except ValueError:
            return disk["path"]
        if not target.exists():
            return disk["path"]
    return None


def _no_memory(driver: str, name: str) -> str:
    if driver == "xen":
        return f"internal error: libxenlight failed to create new domain '{name}'"
    return ("internal error: process exited while connecting to monitor: qemu-system-x86_64: "
            "cannot set up guest memory 'pc.ram': Cannot allocate memory")


def cmd_start(state: dict, host: str, args: list[str]) -> str:
    name, g = _domain(state, host, _one(_options(args, ("--paused",))[1]))
    failed = f"Failed to start domain '{name}'"
    if g["state"] in ACTIVE:
        raise VirshError(failed, "Requested operation is not valid: domain is already active")
    missing = _missing_disk(state, host, g)
    if missing:
        raise VirshError(failed, f"Cannot access storage file '{missing}': No such file or "
                         "directory")
    if g["memory_mb"] > hvstate.free_memory(state, host):
        raise VirshError(failed, _no_memory(_driver(state["hosts"][host]), name))
    g["state"] = hvstate.PAUSED if "--paused" in args else hvstate.RUNNING
    g["domid"] = hvstate.new_domid(state)
    return f"Domain '{name}' started\n\n"


def _stopped(state: dict, name: str, g: dict) -> None:
    g["state"], g["domid"] = hvstate.SHUTOFF, None
    g.update(g.pop("pending", {}))
    if not g.get("defined", True):
        del state["guests"][name]  # a transient domain ends with its process


def _running(g: dict, failed: str) -> None:
    if g["state"] not in ACTIVE:
        raise VirshError(failed, "Requested operation is not valid: domain is not running")


def cmd_shutdown(state: dict, host: str, args: list[str]) -> str:
    name, g = _domain(state, host, _one(_options(args)[1]))
    _running(g, f"Failed to shutdown domain '{name}'")
    _stopped(state, name, g)
    return f"Domain '{name}' is being shutdown\n\n"


def cmd_destroy(state: dict, host: str, args: list[str]) -> str:
    name, g = _domain(state, host, _one(_options(args, ("--graceful",))[1]))
    _running(g, f"Failed to destroy domain '{name}'")
    _stopped(state, name, g)
    return f"Domain '{name}' destroyed\n\n"


def cmd_reset(state: dict, host: str, args: list[str]) -> str:
    name, g = _domain(state, host, _one(_options(args)[1]))
    _running(g, f"Failed to reset domain '{name}'")
    return f"Domain '{name}' was reset\n\n"


def cmd_suspend(state: dict, host: str, args: list[str]) -> str:
    name, g = _domain(state, host, _one(_options(args)[1]))
    _running(g, f"Failed to suspend domain '{name}'")
    g["state"] = hvstate.PAUSED
    return f"Domain '{name}' suspended\n\n"


def cmd_resume(state: dict, host: str, args: list[str]) -> str:
    name, g = _domain(state, host, _one(_options(args)[1]))
    if g["state"] != hvstate.PAUSED:
        raise VirshError(f"Failed to resume domain '{name}'",
                         "Requested operation is not valid: domain is not paused")
    g["state"] = hvstate.RUNNING
    return f"Domain '{name}' resumed\n\n"


def _destination(state: dict, uri: str) -> str:
    parts = urlsplit(uri)
    wanted = parts.hostname or ""
    for name, h in state["hosts"].items():
        if wanted in (name, h.get("address")):
            return name
    raise VirshError("failed to connect to the hypervisor",
                     f"Cannot recv data: ssh: Could not resolve hostname {wanted}: Name or "
                     "service not known: Connection reset by peer")


def cmd_migrate(state: dict, host: str, args: list[str]) -> str:
    seen, positional = _options(args, ("--live", "--persistent", "--undefinesource",
                                       "--offline", "--verbose", "--p2p", "--tunnelled"))
    if len(positional) != 2:
        raise VirshError("command requires <domain> and <desturi> options")
    name, g = _domain(state, host, positional[0])
    dest = _destination(state, positional[1])
    dh = state["hosts"][dest]
    if dh.get("down"):
        raise VirshError(f"unable to connect to server at '{dest}:49152': No route to host")
    driver = _driver(state["hosts"][host])
    scheme = urlsplit(positional[1]).scheme.split("+")[0]
    if dh["toolstack"] not in ("libvirt", "kvm") or scheme != _driver(dh) or scheme != driver:
        raise VirshError("failed to connect to the hypervisor",
                         "Failed to connect socket to '/var/run/libvirt/libvirt-sock': No "
                         "such file or directory")
    if "--offline" not in seen and g["state"] not in ACTIVE:
        raise VirshError("Requested operation is not valid: domain is not running")
    if dest == host:
        raise VirshError(f"internal error: Attempt to migrate guest to the same host "
                         f"{_uuid(hashlib.sha1(host.encode()).digest())}")
    if not dh.get("relocation", True):
        raise VirshError(f"unable to connect to server at '{dest}:49152': Connection refused")
    missing = _missing_disk(state, dest, g)
    if missing:
        raise VirshError(f"Cannot access storage file '{missing}': No such file or directory")
    if g["state"] in ACTIVE and g["memory_mb"] > hvstate.free_memory(state, dest):
        raise VirshError(_no_memory(driver, name))
    g["host"] = dest
    if g["state"] in ACTIVE:
        g["domid"] = hvstate.new_domid(state)
    hvstate.arrived(state, dest)
    g["defined"] = "--persistent" in seen or (g.get("defined", True)
                                              and "--undefinesource" not in seen)
    return ""


# -- resources ---------------------------------------------------------------------------


def _scope(g: dict, seen: set[str]) -> tuple[bool, bool]:
    """(change the live domain, change the persistent definition), as --live/--config/
    --current select them."""
    active = g["state"] in ACTIVE
    live, config = "--live" in seen, "--config" in seen
    if not live and not config:
        live, config = active, not active
    if live and not active:
        raise VirshError("Requested operation is not valid: domain is not running")
    return live, config


def _configured(g: dict, key: str):
    return g.get("pending", {}).get(key, g[key]) if g["state"] in ACTIVE else g[key]


def _set_config(g: dict, key: str, value) -> None:
    if g["state"] in ACTIVE:
        g.setdefault("pending", {})[key] = value
    else:
        g[key] = value


def _size_kib(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise VirshError(f"Numeric value '{text}' for <size> option is malformed or out of "
                         "range") from None
    if value <= 0:
        raise VirshError("Invalid value of 0 for memory size")
    return value


def cmd_setmem(state: dict, host: str, args: list[str]) -> str:
    seen, positional = _options(args, ("--config", "--live", "--current"))
    if len(positional) != 2:
        raise VirshError("command requires <domain> and <size> options")
    _, g = _domain(state, host, positional[0])
    mb = _size_kib(positional[1]) // 1024
    live, config = _scope(g, seen)
    if config and mb > _configured(g, "maxmem_mb"):
        raise VirshError("invalid argument: cannot set memory higher than max memory")
    if live and mb > g["maxmem_mb"]:
        raise VirshError("invalid argument: cannot set memory higher than max memory")
    if config:
        _set_config(g, "memory_mb", mb)
    if live:
        g["memory_mb"] = mb
    return "\n"


def cmd_setmaxmem(state: dict, host: str, args: list[str]) -> str:
    seen, positional = _options(args, ("--config", "--live", "--current"))
    if len(positional) != 2:
        raise VirshError("command requires <domain> and <size> options")
    _, g = _domain(state, host, positional[0])
    mb = _size_kib(positional[1]) // 1024
    live, config = _scope(g, seen)
    if live:
        raise VirshError("Requested operation is not valid: cannot resize the maximum memory "
                         "on an active domain")
    _set_config(g, "maxmem_mb", mb)
    if _configured(g, "memory_mb") > mb:
        _set_config(g, "memory_mb", mb)
    return "\n"


def cmd_setvcpus(state: dict, host: str, args: list[str]) -> str:
    seen, positional = _options(args, ("--config", "--live", "--current", "--maximum"))
    if len(positional) != 2:
        raise VirshError("command requires <domain> and <count> options")
    _, g = _domain(state, host, positional[0])
    try:
        count = int(positional[1])
    except ValueError:
        raise VirshError(f"Numeric value '{positional[1]}' for <count> option is malformed "
                         "or out of range") from None
    if count <= 0:
        raise VirshError("Invalid number of virtual CPUs")
    live, config = _scope(g, seen)
    if "--maximum" in seen:
        if live or "--config" not in seen:
            raise VirshError("invalid argument: --maximum must be used with --config only")
        _set_config(g, "maxvcpus", count)
        if _configured(g, "vcpus") > count:
            _set_config(g, "vcpus", count)
        return "\n"
    if config:
        maximum = _configured(g, "maxvcpus") if "maxvcpus" in g else _configured(g, "vcpus")
        if count > maximum:
            raise VirshError("invalid argument: requested vcpus is greater than max allowable "
                             f"vcpus for the persistent domain: {count} > {maximum}")
        _set_config(g, "vcpus", count)
    if live:
        if count > g.get("maxvcpus", g["vcpus"]):
            raise VirshError("invalid argument: requested vcpus is greater than max allowable "
                             f"vcpus for the live domain: {count} > {g['maxvcpus']}")
        g["vcpus"] = count
    return "\n"


COMMANDS = {
    "list": cmd_list, "dominfo": cmd_dominfo, "domstate": cmd_domstate,
    "domuuid": cmd_domuuid, "nodeinfo": cmd_nodeinfo, "freecell": cmd_freecell,
    "version": cmd_version, "uri": cmd_uri, "capabilities": cmd_capabilities,
    "define": cmd_define, "undefine": cmd_undefine, "autostart": cmd_autostart,
    "start": cmd_start, "shutdown": cmd_shutdown, "destroy": cmd_destroy, "reset": cmd_reset,
    "suspend": cmd_suspend, "resume": cmd_resume, "migrate": cmd_migrate,
    "setmem": cmd_setmem, "setmaxmem": cmd_setmaxmem, "setvcpus": cmd_setvcpus,
}
READ_ONLY = {"list", "dominfo", "domstate", "domuuid", "nodeinfo", "freecell", "version",
             "uri", "capabilities"}


def run(args: list[str]) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of `virsh args` on the current simulated host."""
    host = hvstate.current_host()
    if not args:
        return 1, "", "error: no command given (the interactive shell is not simulated)\n"
    command, rest = args[0], args[1:]
    if command not in COMMANDS:
        return 1, "", f"error: unknown command: '{command}'\n"
    try:
        if command in READ_ONLY:
            state = hvstate.read()
            _connect(state, host)
            return 0, COMMANDS[command](state, host, rest), ""
        with hvstate.locked() as state:
            _connect(state, host)
            return 0, COMMANDS[command](state, host, rest), ""
    except VirshError as exc:
        return 1, "", "".join(f"error: {line}\n" for line in exc.lines)


def _connect(state: dict, host: str) -> None:
    """Only a libvirt host has a libvirtd to talk to."""
    if state["hosts"][host]["toolstack"] not in ("libvirt", "kvm"):
        raise VirshError("failed to connect to the hypervisor",
                         "Failed to connect socket to '/var/run/libvirt/libvirt-sock': No such "
                         "file or directory")


def main(argv: list[str]) -> int:
    if (status := hvstate.enter(argv)) is not None:
        return status
    status, out, err = run(argv[1:])
    sys.stdout.write(out)
    sys.stderr.write(err)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
