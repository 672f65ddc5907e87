"""`xe` of a simulated XenServer pool: every hvstate host whose toolstack is "xenserver".

xe on any member acts on the whole pool, as it does when it talks to the pool master: VMs
are hvstate guests on pool hosts (a halted VM keeps the host it last ran on, but is
resident nowhere); VDIs, VBDs, VIFs, networks and the one shared default SR live in
state["xenserver"]. Output follows xe: records of `field ( RO): value` lines with two blank
lines between records, `--minimal` as comma-separated values, and failures on stderr with
exit status 1 as xapi words them (the error's description, then one `param: value` line per
parameter; "Error: ..." for the CLI's own failures).

A host record may say "disabled": true (host-disable sets it); "relocation": false makes
migration to that host fail as a broken migration network would, and "down": true as a dead
host would (VM_MIGRATE_FAILED, "No route to host"); host-evacuate plans around both. SRs
say whether they are shared (only shared SRs reach every pool member).
Usage: python -m tests.sim.xesim xe <args>
"""

from __future__ import annotations

import hashlib
import os
import re
import sys

from tests.sim import hvstate

MIB = 1024 * 1024
NOT_IN_DB = "<not in database>"
PRODUCT_VERSION = "8.2.1"
TEMPLATES = {"Other install media": {"memory_mb": 256, "vcpus": 1}}
DEFAULT_NETWORKS = (("xenbr0", "Pool-wide network associated with eth0"),
                    ("xenbr1", "Pool-wide network associated with eth1"))
POWER = {hvstate.RUNNING: "running", hvstate.PAUSED: "paused", hvstate.SHUTOFF: "halted",
         hvstate.CRASHED: "halted"}
STD_PARAMS = {"params", "--minimal", "--multiple", "--force", "vm", "host", "on", "live",
              "force", "param-name", "param-key"}

# xapi's error descriptions (datamodel_errors.ml) and parameter names.
ERRORS = {
    "UUID_INVALID": ("The uuid you supplied was invalid.", ("type", "uuid")),
    "VM_BAD_POWER_STATE": (
        "You attempted an operation on a VM that was not in an appropriate power state at "
        "the time; for example, you attempted to start a VM that was already running.  The "
        "parameters returned are the VM's handle, and the expected and actual VM state at "
        "the time of the call.", ("vm", "expected", "actual")),
    "HOST_NOT_ENOUGH_FREE_MEMORY": (
        "Not enough host memory is available to perform this operation",
        ("needed", "available")),
    "HOST_DISABLED": ("The specified host is disabled.", ("host",)),
    "NO_HOSTS_AVAILABLE": (
        "There were no hosts available to complete the specified operation.", ()),
    "MEMORY_CONSTRAINT_VIOLATION": (
        "The dynamic memory range does not satisfy the following constraint.",
        ("constraint",)),
    "INVALID_VALUE": ("The value given is invalid", ("field", "value")),
    "MAC_INVALID": ("The MAC address specified is not valid.", ("MAC",)),
    "DEVICE_ALREADY_EXISTS": ("The device name is already in use.", ("device",)),
    "VDI_IN_USE": ("This operation cannot be performed because this VDI is in use by some "
                   "other operation", ("vdi", "operation")),
    "VM_MIGRATE_FAILED": ("An error occurred during the migration process.",
                          ("vm", "source", "destination", "msg")),
}


class XeError(Exception):
    pass


def api_error(code: str, *params: str) -> XeError:
    doc, names = ERRORS[code]
    return XeError("\n".join([doc, *(f"{n}: {v}" for n, v in zip(names, params, strict=True))]))


def cli_failure(text: str) -> XeError:
    return XeError(f"Error: {text}")


# -- the pool ----------------------------------------------------------------------------


def _uuid_text(raw: bytes) -> str:
    # The uuid module would add a tenth to every simulated command's start-up time.
    h = raw[:16].hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[raw[8] % 4]}{h[17:20]}-{h[20:32]}"


def new_uuid() -> str:
    return _uuid_text(os.urandom(16))


def _stable_uuid(*parts: str) -> str:
    return _uuid_text(hashlib.sha1(("xesim:" + ":".join(parts)).encode()).digest())


def pool_hosts(state: dict) -> list[str]:
    return sorted(n for n, h in state["hosts"].items() if h["toolstack"] == "xenserver")


def pool_data(state: dict) -> dict:
    """state["xenserver"], created on first use with a shared default SR and two networks."""
    data = state.setdefault("xenserver", {})
    if "default_sr" not in data:
        sr = _stable_uuid("sr", "default")
        data.update(default_sr=sr, srs={sr: {"name_label": "Shared NFS storage",
                                             "type": "nfs", "shared": True}},
                    networks={_stable_uuid("network", b): {"bridge": b, "name_label": label}
                              for b, label in DEFAULT_NETWORKS},
                    vdis={}, vbds={}, vifs={})
    return data


def host_uuid(state: dict, name: str) -> str:
    return state["hosts"][name].get("uuid") or _stable_uuid("host", name)


def _ref(uuid: str, label: str) -> str:
    """How xe prints an object reference inside an error."""
    return f"{uuid} ({label})"


def pool_vms(state: dict) -> dict[str, dict]:
    members = set(pool_hosts(state))
    return {n: g for n, g in state["guests"].items() if g["host"] in members}


def _xe(guest: dict) -> dict:
    return guest.setdefault("xe", {"static_min_mb": guest["memory_mb"],
                                   "dynamic_min_mb": guest["memory_mb"],
                                   "vcpus_max": guest["vcpus"], "hvm_boot_policy": "BIOS order",
                                   "hvm_boot_order": "cd", "pv_bootloader": "",
                                   "other_config": {}})


def _running(guest: dict) -> bool:
    return guest["state"] in (hvstate.RUNNING, hvstate.PAUSED)


def _bytes(field: str, text: str) -> int:
    match = re.fullmatch(r"(\d+)\s*(KiB|MiB|GiB|TiB)?", text.strip())
    if not match:
        raise cli_failure(f"Failed to parse parameter '{field}': expecting an integer "
                          "(possibly with suffix)")
    scale = {None: 1, "KiB": 1024, "MiB": MIB, "GiB": 1024 * MIB, "TiB": MIB * MIB}
    return int(match.group(1)) * scale[match.group(2)]


# -- records -----------------------------------------------------------------------------


def _map(values: dict[str, str]) -> str:
    return "; ".join(f"{k}: {v}" for k, v in values.items())


def vm_fields(state: dict, name: str, g: dict) -> list[tuple[str, str, str]]:
    x = _xe(g)
    running = _running(g)
    return [
        ("uuid", " RO", g["uuid"]), ("name-label", " RW", name),
        ("name-description", " RW", ""), ("is-a-template", " RW", "false"),
        ("is-control-domain", " RO", "false"), ("power-state", " RO", POWER[g["state"]]),
        ("memory-actual", " RO", str(g["memory_mb"] * MIB if running else 0)),
        ("memory-static-max", " RW", str(g["maxmem_mb"] * MIB)),
        ("memory-dynamic-max", " RW", str(g["memory_mb"] * MIB)),
        ("memory-dynamic-min", " RW", str(x["dynamic_min_mb"] * MIB)),
        ("memory-static-min", " RW", str(x["static_min_mb"] * MIB)),
        ("VCPUs-max", " RW", str(x["vcpus_max"])), ("VCPUs-at-startup", " RW", str(g["vcpus"])),
        ("resident-on", " RO", host_uuid(state, g["host"]) if running else NOT_IN_DB),
        ("affinity", " RW", host_uuid(state, g["host"])),
        ("dom-id", " RO", str(g["domid"]) if running else "-1"),
        ("HVM-boot-policy", " RW", x["hvm_boot_policy"]),
        ("HVM-boot-params", "MRW", _map({"order": x["hvm_boot_order"]})),
        ("PV-bootloader", " RW", x["pv_bootloader"]),
        ("other-config", "MRW", _map(x["other_config"])),
    ]


def dom0_fields(state: dict, host: str) -> list[tuple[str, str, str]]:
    h = state["hosts"][host]
    mem = str(h["dom0_mb"] * MIB)
    return [
        ("uuid", " RO", _stable_uuid("dom0", host)),
        ("name-label", " RW", f"Control domain on host: {host}"),
        ("name-description", " RW", "The domain which manages physical devices and manages "
         "other domains"),
        ("is-a-template", " RW", "false"), ("is-control-domain", " RO", "true"),
        ("power-state", " RO", "running"), ("memory-actual", " RO", mem),
        ("memory-static-max", " RW", mem), ("memory-dynamic-max", " RW", mem),
        ("memory-dynamic-min", " RW", mem), ("memory-static-min", " RW", mem),
        ("VCPUs-max", " RW", "1"), ("VCPUs-at-startup", " RW", "1"),
        ("resident-on", " RO", host_uuid(state, host)), ("affinity", " RW", NOT_IN_DB),
        ("dom-id", " RO", "0"),
    ]


def host_fields(state: dict, name: str) -> list[tuple[str, str, str]]:
    h = state["hosts"][name]
    free = max(0, hvstate.free_memory(state, name)) * MIB
    cpu_info = {"cpu_count": str(h["cpus"]), "vendor": "GenuineIntel",
                "flags": " ".join(h["cpu_flags"])}
    return [
        ("uuid", " RO", host_uuid(state, name)), ("name-label", " RW", name),
        ("name-description", " RW", "Default install"), ("hostname", " RO", name),
        ("address", " RO", h.get("address", name)),
        ("enabled", " RO", "false" if h.get("disabled") else "true"),
        ("memory-total", " RO", str(h["memory_mb"] * MIB)), ("memory-free", " RO", str(free)),
        ("memory-overhead", " RO", str(h["dom0_mb"] * MIB)),
        ("cpu_info", "MRO", _map(cpu_info)),
        ("software-version", "MRO", _map({"product_version": PRODUCT_VERSION,
                                          "xapi": "1.20"})),
    ]


def _vdi_fields(uuid: str, v: dict) -> list[tuple[str, str, str]]:
    return [("uuid", " RO", uuid), ("name-label", " RW", v["name_label"]),
            ("name-description", " RW", ""), ("sr-uuid", " RO", v["sr"]),
            ("virtual-size", " RO", str(v["virtual_size"])), ("type", " RO", "User")]


def _vbd_fields(state: dict, uuid: str, b: dict) -> list[tuple[str, str, str]]:
    vm = _vm_by_uuid(state, b["vm"])
    return [("uuid", " RO", uuid), ("vm-uuid", " RO", b["vm"]),
            ("vm-name-label", " RO", vm[0] if vm else NOT_IN_DB), ("vdi-uuid", " RO", b["vdi"]),
            ("empty", " RO", "false"), ("device", " RO", b["device"]),
            ("userdevice", " RW", b["device"]), ("bootable", " RW", b["bootable"]),
            ("mode", " RW", b["mode"]), ("type", " RW", b["type"])]


def _vif_fields(uuid: str, f: dict) -> list[tuple[str, str, str]]:
    return [("uuid", " RO", uuid), ("device", " RO", f["device"]), ("vm-uuid", " RO", f["vm"]),
            ("network-uuid", " RO", f["network"]), ("MAC", " RO", f["mac"])]


def _network_fields(uuid: str, n: dict) -> list[tuple[str, str, str]]:
    return [("uuid", " RO", uuid), ("name-label", " RW", n["name_label"]),
            ("name-description", " RW", ""), ("bridge", " RO", n["bridge"])]


def _pool_fields(state: dict) -> list[tuple[str, str, str]]:
    master = pool_hosts(state)[0]
    return [("uuid", " RO", _stable_uuid("pool")), ("name-label", " RW", ""),
            ("name-description", " RW", ""), ("master", " RO", host_uuid(state, master)),
            ("default-SR", " RW", pool_data(state)["default_sr"])]


def _sr_fields(uuid: str, sr: dict) -> list[tuple[str, str, str]]:
    return [("uuid", " RO", uuid), ("name-label", " RW", sr["name_label"]),
            ("name-description", " RW", ""),
            ("host", " RO", "<shared>" if sr["shared"] else sr.get("host", NOT_IN_DB)),
            ("type", " RO", sr["type"]), ("content-type", " RO", ""),
            ("shared", " RW", "true" if sr["shared"] else "false")]


def _matches(fields: list[tuple[str, str, str]], filters: dict[str, str], cls: str) -> bool:
    values = {name: value for name, _, value in fields}
    for key, wanted in filters.items():
        if key not in values:
            raise cli_failure(f"Parameter '{key}' is not a field of the {cls} class. Failed to "
                              f"select {cls} for operation.")
        if values[key] != wanted:
            return False
    return True


def render(records: list[list[tuple[str, str, str]]], params: dict[str, str],
           default: tuple[str, ...], minimal: bool) -> str:
    wanted = params.get("params")
    if wanted == "all":
        chosen = records
    else:
        names = wanted.split(",") if wanted else list(default)
        chosen = [[f for n in names for f in rec if f[0] == n] for rec in records]
    if minimal:
        return ",".join(",".join(v for _, _, v in rec) for rec in chosen) + "\n"
    out = []
    for rec in chosen:
        labels = [f"{name} ({access})" for name, access, _ in rec]
        width = max(map(len, labels)) + 4
        lines = [f"{labels[0]:<{width}}: {rec[0][2]}"]
        lines += [f"{label:>{width}}: {value}" for label, (_, _, value) in zip(
            labels[1:], rec[1:], strict=True)]
        out.append("\n".join(lines) + "\n\n\n")
    return "".join(out)


def _filters(params: dict[str, str], *extra: str) -> dict[str, str]:
    return {k: v for k, v in params.items() if k not in STD_PARAMS and k not in extra}


def _list(records: list[list[tuple[str, str, str]]], params: dict[str, str], cls: str,
          default: tuple[str, ...]) -> str:
    filters = _filters(params)
    chosen = [r for r in records if _matches(r, filters, cls)]
    return render(chosen, params, default, "--minimal" in params)


# -- selection ---------------------------------------------------------------------------


def _vm_by_uuid(state: dict, uuid: str) -> tuple[str, dict] | None:
    return next(((n, g) for n, g in pool_vms(state).items() if g["uuid"] == uuid), None)


def select_vm(state: dict, params: dict[str, str], *extra: str) -> tuple[str, dict]:
    """The one VM the selectors name (vm= matches uuid or name-label), as do_vm_op does."""
    filters = _filters(params, *extra)
    vm = params.get("vm")
    found = []
    for name, g in pool_vms(state).items():
        fields = vm_fields(state, name, g)
        if vm is not None and vm not in (name, g["uuid"]):
            continue
        if _matches(fields, filters, "VM"):
            found.append((name, g))
    if not found:
        raise cli_failure("No matching VMs found")
    if len(found) > 1:
        raise cli_failure("Multiple matches VMs found. --multiple required to complete the "
                          "operation")
    return found[0]


def find_host(state: dict, wanted: str) -> str | None:
    for name in pool_hosts(state):
        if wanted in (name, host_uuid(state, name), state["hosts"][name].get("address")):
            return name
    return None


def host_by_name_or_id(state: dict, wanted: str) -> str:
    """on=/host= of VM operations (get_host_by_name_or_id)."""
    name = find_host(state, wanted)
    if name is None:
        raise cli_failure(f"Host {wanted} not found")
    return name


def select_host(state: dict, params: dict[str, str]) -> str:
    """The host of host-* operations (do_host_op): host= or uuid=."""
    wanted = params.get("host") or params.get("uuid")
    name = find_host(state, wanted) if wanted else None
    if name is None:
        raise cli_failure("No matching hosts found")
    return name


def _require(params: dict[str, str], *names: str) -> None:
    for name in names:
        if name not in params:
            raise XeError(f"Required parameter not found: {name}")


def _bad_power(g: dict, name: str, expected: str) -> XeError:
    return api_error("VM_BAD_POWER_STATE", _ref(g["uuid"], name), expected, POWER[g["state"]])


def _vm_uuid_param(state: dict, params: dict[str, str], key: str) -> tuple[str, dict]:
    _require(params, key)
    found = _vm_by_uuid(state, params[key])
    if found is None:
        raise api_error("UUID_INVALID", "VM", params[key])
    return found


def _halted(g: dict, name: str) -> None:
    if _running(g):
        raise _bad_power(g, name, "halted")


# -- VM commands -------------------------------------------------------------------------


def cmd_vm_list(state: dict, host: str, params: dict[str, str]) -> str:
    records = [dom0_fields(state, h) for h in pool_hosts(state)]
    records += [vm_fields(state, n, g) for n, g in sorted(pool_vms(state).items())]
    return _list(records, params, "VM", ("uuid", "name-label", "power-state"))


def _param_get(fields: list[tuple[str, str, str]], params: dict[str, str]) -> str:
    _require(params, "param-name")
    values = {name: value for name, _, value in fields}
    name = params["param-name"]
    if name not in values:
        raise cli_failure(f"Unknown field '{name}'")
    value = values[name]
    if "param-key" in params:
        entries = dict(e.split(": ", 1) for e in value.split("; ") if e)
        if params["param-key"] not in entries:
            raise cli_failure(f"Key {params['param-key']} not found in map")
        value = entries[params["param-key"]]
    return value + "\n"


def cmd_vm_param_get(state: dict, host: str, params: dict[str, str]) -> str:
    name, g = _vm_uuid_param(state, params, "uuid")
    return _param_get(vm_fields(state, name, g), params)


def _vcpu_error(value: str) -> XeError:
    return api_error("INVALID_VALUE", "VCPU values must satisfy: 0 < VCPUs_at_startup ≤ "
                     "VCPUs_max", value)


def cmd_vm_param_set(state: dict, host: str, params: dict[str, str]) -> str:
    name, g = _vm_uuid_param(state, params, "uuid")
    x = _xe(g)
    for key, value in params.items():
        if key == "uuid":
            continue
        if key in ("VCPUs-max", "VCPUs-at-startup"):
            _halted(g, name)
            count = int(value) if value.isdigit() else 0
            maximum, at_startup = ((count, g["vcpus"]) if key == "VCPUs-max"
                                   else (x["vcpus_max"], count))
            if not 0 < at_startup <= maximum:
                raise _vcpu_error(value)
            x["vcpus_max"], g["vcpus"] = maximum, at_startup
        elif key == "HVM-boot-policy":
            x["hvm_boot_policy"] = value
        elif key == "HVM-boot-params:order":
            x["hvm_boot_order"] = value
        elif key == "PV-bootloader":
            x["pv_bootloader"] = value
        elif key.startswith("other-config:"):
            x["other_config"][key.partition(":")[2]] = value
            if key == "other-config:auto_poweron":
                g["autostart"] = value == "true"
        else:
            raise cli_failure(f"Unknown field '{key}'")
    return ""


def cmd_vm_install(state: dict, host: str, params: dict[str, str]) -> str:
    _require(params, "template", "new-name-label")
    template = next((t for t in TEMPLATES if params["template"] in (t, _stable_uuid("tpl", t))),
                    None)
    if template is None:
        raise cli_failure("Template not found")
    name = params["new-name-label"]
    if name in state["guests"]:
        raise cli_failure(f"simulated VM names are unique, and '{name}' exists already")
    if "sr-uuid" in params and params["sr-uuid"] not in pool_data(state)["srs"]:
        raise api_error("UUID_INVALID", "SR", params["sr-uuid"])
    mem, vcpus = TEMPLATES[template]["memory_mb"], TEMPLATES[template]["vcpus"]
    uuid = new_uuid()
    state["guests"][name] = {"host": host, "state": hvstate.SHUTOFF, "memory_mb": mem,
                             "maxmem_mb": mem, "vcpus": vcpus, "uuid": uuid, "domid": None,
                             "macs": [], "bridges": [], "disks": [], "autostart": False,
                             "defined": True}
    _xe(state["guests"][name])
    return uuid + "\n"


def _boot_refusal(state: dict, name: str, g: dict, host: str) -> XeError | None:
    if state["hosts"][host].get("disabled"):
        return api_error("HOST_DISABLED", _ref(host_uuid(state, host), host))
    free = hvstate.free_memory(state, host) * MIB
    needed = g["memory_mb"] * MIB
    if needed > free:
        return api_error("HOST_NOT_ENOUGH_FREE_MEMORY", str(needed), str(max(0, free)))
    return None


def cmd_vm_start(state: dict, host: str, params: dict[str, str]) -> str:
    name, g = select_vm(state, params, "paused")
    _halted(g, name)
    if "on" in params:
        chosen = host_by_name_or_id(state, params["on"])
        refusal = _boot_refusal(state, name, g, chosen)
        if refusal:
            raise refusal
    else:
        order = [g["host"]] + [h for h in pool_hosts(state) if h != g["host"]]
        chosen = next((h for h in order if not _boot_refusal(state, name, g, h)), None)
        if chosen is None:
            raise api_error("NO_HOSTS_AVAILABLE")
    g.update(host=chosen, domid=hvstate.new_domid(state),
             state=hvstate.PAUSED if params.get("paused") == "true" else hvstate.RUNNING)
    return ""


def cmd_vm_shutdown(state: dict, host: str, params: dict[str, str]) -> str:
    name, g = select_vm(state, params)
    if not _running(g):
        raise _bad_power(g, name, "running")
    g.update(state=hvstate.SHUTOFF, domid=None)
    return ""


def cmd_vm_reboot(state: dict, host: str, params: dict[str, str]) -> str:
    name, g = select_vm(state, params)
    if g["state"] != hvstate.RUNNING:
        raise _bad_power(g, name, "running")
    return ""


def cmd_vm_unpause(state: dict, host: str, params: dict[str, str]) -> str:
    name, g = select_vm(state, params)
    if g["state"] != hvstate.PAUSED:
        raise _bad_power(g, name, "paused")
    g["state"] = hvstate.RUNNING
    return ""


def cmd_vm_migrate(state: dict, host: str, params: dict[str, str]) -> str:
    name, g = select_vm(state, params)
    _require(params, "host")
    dest = host_by_name_or_id(state, params["host"])
    if not _running(g):
        raise _bad_power(g, name, "running")
    if dest == g["host"]:
        return ""
    reason = ("No route to host" if state["hosts"][dest].get("down") else
              "Connection refused" if not state["hosts"][dest].get("relocation", True) else None)
    if reason:
        raise api_error("VM_MIGRATE_FAILED", _ref(g["uuid"], name), host_uuid(state, g["host"]),
                        host_uuid(state, dest), reason)
    refusal = _boot_refusal(state, name, g, dest)
    if refusal:
        raise refusal
    g.update(host=dest, domid=hvstate.new_domid(state))
    hvstate.arrived(state, dest)
    return ""


def _forget_devices(state: dict, vm_uuid: str) -> None:
    data = pool_data(state)
    for table in ("vbds", "vifs"):
        data[table] = {u: d for u, d in data[table].items() if d["vm"] != vm_uuid}


def cmd_vm_destroy(state: dict, host: str, params: dict[str, str]) -> str:
    name, g = _vm_uuid_param(state, params, "uuid")
    _halted(g, name)
    _forget_devices(state, g["uuid"])
    del state["guests"][name]
    return ""


def _constraint(smin: int, dmin: int, dmax: int, smax: int) -> None:
    if not smin <= dmin <= dmax <= smax:
        raise api_error("MEMORY_CONSTRAINT_VIOLATION", "Memory limits must satisfy: static_min "
                        "≤ dynamic_min ≤ dynamic_max ≤ static_max")


def cmd_vm_memory_limits_set(state: dict, host: str, params: dict[str, str]) -> str:
    keys = ("static-min", "static-max", "dynamic-min", "dynamic-max")
    _require(params, *keys)
    name, g = select_vm(state, params, *keys)
    smin, smax, dmin, dmax = (_bytes(k, params[k]) // MIB for k in keys)
    _halted(g, name)
    _constraint(smin, dmin, dmax, smax)
    x = _xe(g)
    x.update(static_min_mb=smin, dynamic_min_mb=dmin)
    g.update(maxmem_mb=smax, memory_mb=dmax)
    return ""


def cmd_vm_memory_dynamic_range_set(state: dict, host: str, params: dict[str, str]) -> str:
    _require(params, "min", "max")
    name, g = select_vm(state, params, "min", "max")
    dmin, dmax = _bytes("min", params["min"]) // MIB, _bytes("max", params["max"]) // MIB
    x = _xe(g)
    _constraint(x["static_min_mb"], dmin, dmax, g["maxmem_mb"])
    if _running(g) and dmax - g["memory_mb"] > hvstate.free_memory(state, g["host"]):
        raise api_error("HOST_NOT_ENOUGH_FREE_MEMORY", str(dmax * MIB),
                        str((hvstate.free_memory(state, g["host"]) + g["memory_mb"]) * MIB))
    x["dynamic_min_mb"] = dmin
    g["memory_mb"] = dmax
    return ""


# -- storage and networks ----------------------------------------------------------------


def cmd_vdi_list(state: dict, host: str, params: dict[str, str]) -> str:
    records = [_vdi_fields(u, v) for u, v in pool_data(state)["vdis"].items()]
    return _list(records, params, "VDI", ("uuid", "name-label", "name-description",
                                          "virtual-size", "sr-uuid"))


def cmd_vdi_create(state: dict, host: str, params: dict[str, str]) -> str:
    _require(params, "sr-uuid", "name-label", "virtual-size")
    data = pool_data(state)
    if params["sr-uuid"] not in data["srs"]:
        raise api_error("UUID_INVALID", "SR", params["sr-uuid"])
    uuid = new_uuid()
    data["vdis"][uuid] = {"name_label": params["name-label"], "sr": params["sr-uuid"],
                          "virtual_size": _bytes("virtual-size", params["virtual-size"])}
    return uuid + "\n"


def cmd_vdi_destroy(state: dict, host: str, params: dict[str, str]) -> str:
    _require(params, "uuid")
    data, uuid = pool_data(state), params["uuid"]
    if uuid not in data["vdis"]:
        raise api_error("UUID_INVALID", "VDI", uuid)
    users = [b["vm"] for b in data["vbds"].values() if b["vdi"] == uuid]
    if any(_running(_vm_by_uuid(state, vm)[1]) for vm in users if _vm_by_uuid(state, vm)):
        raise api_error("VDI_IN_USE", uuid, "destroy")
    data["vbds"] = {u: b for u, b in data["vbds"].items() if b["vdi"] != uuid}
    del data["vdis"][uuid]
    return ""


def cmd_vbd_list(state: dict, host: str, params: dict[str, str]) -> str:
    records = [_vbd_fields(state, u, b) for u, b in pool_data(state)["vbds"].items()]
    return _list(records, params, "VBD", ("uuid", "vm-uuid", "vm-name-label", "vdi-uuid",
                                          "empty", "device"))


def cmd_vbd_create(state: dict, host: str, params: dict[str, str]) -> str:
    name, g = _vm_uuid_param(state, params, "vm-uuid")
    _require(params, "vdi-uuid", "device")
    data = pool_data(state)
    if params["vdi-uuid"] not in data["vdis"]:
        raise api_error("UUID_INVALID", "VDI", params["vdi-uuid"])
    device = params["device"]
    if not device.isdigit():
        raise api_error("INVALID_VALUE", "device", device)
    if any(b["vm"] == g["uuid"] and b["device"] == device for b in data["vbds"].values()):
        raise api_error("DEVICE_ALREADY_EXISTS", device)
    uuid = new_uuid()
    data["vbds"][uuid] = {"vm": g["uuid"], "vdi": params["vdi-uuid"], "device": device,
                          "bootable": params.get("bootable", "false"),
                          "mode": params.get("mode", "RW"), "type": params.get("type", "Disk")}
    g["disks"] = [data["vdis"][b["vdi"]]["name_label"] for b in data["vbds"].values()
                  if b["vm"] == g["uuid"]]
    return uuid + "\n"


def cmd_vbd_destroy(state: dict, host: str, params: dict[str, str]) -> str:
    _require(params, "uuid")
    data = pool_data(state)
    vbd = data["vbds"].get(params["uuid"])
    if vbd is None:
        raise api_error("UUID_INVALID", "VBD", params["uuid"])
    name, g = _vm_by_uuid(state, vbd["vm"])
    _halted(g, name)
    del data["vbds"][params["uuid"]]
    return ""


MAC = re.compile(r"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$")
MAX_VIFS = 7


def _refresh_nics(state: dict, g: dict) -> None:
    data = pool_data(state)
    vifs = sorted((f for f in data["vifs"].values() if f["vm"] == g["uuid"]),
                  key=lambda f: int(f["device"]))
    g["macs"] = [f["mac"] for f in vifs]
    g["bridges"] = [data["networks"][f["network"]]["bridge"] for f in vifs]


def cmd_vif_create(state: dict, host: str, params: dict[str, str]) -> str:
    name, g = _vm_uuid_param(state, params, "vm-uuid")
    _require(params, "network-uuid", "device")
    data = pool_data(state)
    if params["network-uuid"] not in data["networks"]:
        raise api_error("UUID_INVALID", "network", params["network-uuid"])
    device = params["device"]
    if not device.isdigit() or int(device) >= MAX_VIFS:
        raise api_error("INVALID_VALUE", "device", device)
    mac = params.get("mac") or "ee:ff:" + ":".join(f"{b:02x}" for b in os.urandom(4))
    if not MAC.match(mac):
        raise api_error("MAC_INVALID", mac)
    if any(f["vm"] == g["uuid"] and f["device"] == device for f in data["vifs"].values()):
        raise api_error("DEVICE_ALREADY_EXISTS", device)
    uuid = new_uuid()
    data["vifs"][uuid] = {"vm": g["uuid"], "network": params["network-uuid"], "mac": mac.lower(),
                          "device": device}
    _refresh_nics(state, g)
    return uuid + "\n"


def cmd_vif_list(state: dict, host: str, params: dict[str, str]) -> str:
    records = [_vif_fields(u, f) for u, f in pool_data(state)["vifs"].items()]
    return _list(records, params, "VIF", ("uuid", "device", "vm-uuid", "network-uuid"))


def cmd_vif_destroy(state: dict, host: str, params: dict[str, str]) -> str:
    _require(params, "uuid")
    data = pool_data(state)
    vif = data["vifs"].pop(params["uuid"], None)
    if vif is None:
        raise api_error("UUID_INVALID", "VIF", params["uuid"])
    _refresh_nics(state, _vm_by_uuid(state, vif["vm"])[1])
    return ""


def cmd_network_list(state: dict, host: str, params: dict[str, str]) -> str:
    records = [_network_fields(u, n) for u, n in pool_data(state)["networks"].items()]
    return _list(records, params, "network", ("uuid", "name-label", "name-description",
                                              "bridge"))


def cmd_sr_list(state: dict, host: str, params: dict[str, str]) -> str:
    records = [_sr_fields(u, sr) for u, sr in pool_data(state)["srs"].items()]
    return _list(records, params, "SR", ("uuid", "name-label", "name-description", "host",
                                         "type", "content-type"))


def cmd_pool_list(state: dict, host: str, params: dict[str, str]) -> str:
    return _list([_pool_fields(state)], params, "pool", ("uuid", "name-label",
                                                         "name-description", "master",
                                                         "default-SR"))


# -- hosts -------------------------------------------------------------------------------


def cmd_host_list(state: dict, host: str, params: dict[str, str]) -> str:
    records = [host_fields(state, h) for h in pool_hosts(state)]
    return _list(records, params, "host", ("uuid", "name-label", "name-description"))


def cmd_host_param_get(state: dict, host: str, params: dict[str, str]) -> str:
    _require(params, "uuid")
    name = find_host(state, params["uuid"])
    if name is None or params["uuid"] != host_uuid(state, name):
        raise api_error("UUID_INVALID", "host", params["uuid"])
    return _param_get(host_fields(state, name), params)


def cmd_host_disable(state: dict, host: str, params: dict[str, str]) -> str:
    state["hosts"][select_host(state, params)]["disabled"] = True
    return ""


def cmd_host_enable(state: dict, host: str, params: dict[str, str]) -> str:
    state["hosts"][select_host(state, params)]["disabled"] = False
    return ""


def cmd_host_evacuate(state: dict, host: str, params: dict[str, str]) -> str:
    """Plans every running VM before moving any, as xapi's evacuation plan does. Its moves
    are not counted by hvstate.arrived: the whole plan lands at once, so no destination can
    go down half-way through it (evacuations that migrate one VM at a time use vm-migrate)."""
    source = select_host(state, params)
    targets = [h for h in pool_hosts(state) if h != source
               and not state["hosts"][h].get("disabled") and not state["hosts"][h].get("down")
               and state["hosts"][h].get("relocation", True)]
    moving = sorted(((n, g) for n, g in pool_vms(state).items()
                     if g["host"] == source and _running(g)),
                    key=lambda item: -item[1]["memory_mb"])
    if moving and not targets:
        raise api_error("NO_HOSTS_AVAILABLE")
    free = {h: hvstate.free_memory(state, h) for h in targets}
    plan = []
    for _, g in moving:
        best = max(targets, key=lambda h: free[h])
        if g["memory_mb"] > free[best]:
            raise api_error("HOST_NOT_ENOUGH_FREE_MEMORY", str(g["memory_mb"] * MIB),
                            str(max(0, free[best]) * MIB))
        free[best] -= g["memory_mb"]
        plan.append((g, best))
    for g, dest in plan:
        g.update(host=dest, domid=hvstate.new_domid(state))
    return ""


COMMANDS = {
    "vm-list": cmd_vm_list, "vm-param-get": cmd_vm_param_get,
    "vm-param-set": cmd_vm_param_set, "vm-install": cmd_vm_install,
    "vm-start": cmd_vm_start, "vm-shutdown": cmd_vm_shutdown, "vm-reboot": cmd_vm_reboot,
    "vm-unpause": cmd_vm_unpause, "vm-migrate": cmd_vm_migrate,
    "vm-destroy": cmd_vm_destroy,
    "vm-memory-limits-set": cmd_vm_memory_limits_set,
    "vm-memory-dynamic-range-set": cmd_vm_memory_dynamic_range_set,
    "vdi-list": cmd_vdi_list, "vdi-create": cmd_vdi_create, "vdi-destroy": cmd_vdi_destroy,
    "vbd-list": cmd_vbd_list, "vbd-create": cmd_vbd_create, "vbd-destroy": cmd_vbd_destroy,
    "vif-list": cmd_vif_list, "vif-create": cmd_vif_create, "vif-destroy": cmd_vif_destroy,
    "network-list": cmd_network_list, "sr-list": cmd_sr_list, "pool-list": cmd_pool_list,
    "host-list": cmd_host_list, "host-param-get": cmd_host_param_get,
    "host-disable": cmd_host_disable, "host-enable": cmd_host_enable,
    "host-evacuate": cmd_host_evacuate,
}


def parse_args(args: list[str]) -> dict[str, str]:
    """xe's `key=value` and `--flag` arguments, in the order given."""
    params: dict[str, str] = {}
    for arg in args:
        if arg.startswith("--"):
            params[arg] = ""
            continue
        key, sep, value = arg.partition("=")
        if not sep or not key:
            raise XeError(f"Syntax error: {arg}")
        params[key] = value
    return params


def run(args: list[str]) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of `xe args` on the current simulated host."""
    host = hvstate.current_host()
    if not args or args[0] not in COMMANDS:
        command = args[0] if args else ""
        return 1, "", f"Unknown command: {command}\nFor usage run: 'xe help'\n"
    try:
        params = parse_args(args[1:])
        with hvstate.locked() as state:
            if state["hosts"][host]["toolstack"] != "xenserver":
                return 127, "", "sh: xe: not found\n"
            return 0, COMMANDS[args[0]](state, host, params), ""
    except XeError as exc:
        return 1, "", f"{exc}\n"


def add_network(state_path, bridge: str, name_label: str) -> str:
    """For tests: a pool network on `bridge`; returns its uuid."""
    with hvstate.locked(state_path) as state:
        uuid = _stable_uuid("network", bridge)
        pool_data(state)["networks"][uuid] = {"bridge": bridge, "name_label": name_label}
        return uuid


def add_sr(state_path, name_label: str, *, shared: bool, host: str | None = None) -> str:
    """For tests: an SR besides the default one (a host's local SR when not shared); returns
    its uuid."""
    with hvstate.locked(state_path) as state:
        uuid = _stable_uuid("sr", name_label)
        pool_data(state)["srs"][uuid] = {"name_label": name_label, "shared": shared,
                                         "type": "nfs" if shared else "lvm",
                                         **({"host": host} if host else {})}
        return uuid


def main(argv: list[str]) -> int:
    if (status := hvstate.enter(argv)) is not None:
        return status
    status, out, err = run(argv[1:])
    sys.stdout.write(out)
    sys.stderr.write(err)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
