"""A guest as xl and xm read it: a GuestSpec rendered into a Xen domain config file.

Both toolstacks read `key = value` lines whose values are numbers, quoted strings or lists
of those (xl.cfg(5); xm evaluates the same lines as Python). Strings are written in double
quotes with `\\` and `"` escaped, which both readers undo; a control character has no
spelling that both accept, so it is refused. Table values land inside strings only, so a
value can never become a new setting.

The differences between the dialects are small: where the file lives is the driver's
business; here only the disk and vif syntax, and how HVM and PV guests are declared.
"""

from __future__ import annotations

import re

from xcatpy.drivers.base import DriverError
from xcatpy.virt.model import Disk, GuestSpec, Nic

XL, XM = "xl", "xm"
MAX_NICS = 3  # Xen guests have at most three NICs (the Cassatt blueprints' limit)

# vm.bootorder words -> the HVM BIOS's boot letters
_BOOT_LETTERS = {"network": "n", "net": "n", "hd": "c", "disk": "c", "cd": "d", "cdrom": "d"}
# xm's Xen 3.x HVM guests need their firmware and device model named; a site whose
# distribution installs them elsewhere overrides these through vm.othersettings.
_XM_HVM_DEFAULTS = {"kernel": '"/usr/lib/xen/boot/hvmloader"',
                    "device_model": '"/usr/lib64/xen/bin/qemu-dm"'}
_XM_PYGRUB = "/usr/bin/pygrub"
# Settings vm.othersettings may replace (site taste); every other key the driver writes is
# the tables' and cannot be overridden behind their back.
_DEFAULTS = {"on_poweroff": '"destroy"', "on_reboot": '"restart"', "on_crash": '"restart"'}

_NAME_FORBIDDEN = re.compile(r"[\s/\x00-\x1f\x7f]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MAC = re.compile(r"[0-9a-f]{2}(:[0-9a-f]{2}){5}")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_DEVICE = re.compile(r"[a-z]+[0-9]*[a-z0-9]*")
_NIC_MODEL = re.compile(r"[A-Za-z0-9_-]+")
# A Linux interface name (at most 15 bytes, no '/', no blank) that also cannot end a
# vif field early (',' or '=').
_BRIDGE = re.compile(r"[^\s/,=:\x00-\x1f\x7f]{1,15}")
# One value of the config grammar: number, string, or a flat list of those.
_STRING = r"\"(?:[^\"\\\n]|\\.)*\"|'(?:[^'\\\n]|\\.)*'"
_NUMBER = r"0x[0-9A-Fa-f]+|[0-9]+(?:\.[0-9]+)?"
_ATOM = rf"(?:{_STRING}|{_NUMBER})"
_VALUE = re.compile(rf"\s*(?:{_ATOM}|\[\s*(?:{_ATOM}\s*(?:,\s*{_ATOM}\s*)*,?\s*)?\])\s*")


class XenConfigError(DriverError):
    """A guest setting that cannot be written into an xl/xm config file."""


def check_guest_name(name: str) -> str:
    """The name is a file name in /etc/xen and an xl/xm argument: no '/', no blank, no
    leading '-' (an option), not all digits (xl would read it as a domain id)."""
    if (not name or _NAME_FORBIDDEN.search(name) or name.startswith("-") or name.isdigit()
            or name in (".", "..") or name == "Domain-0"):
        raise XenConfigError(f"'{name}' cannot be a Xen guest name")
    return name


def check_path(path: str, what: str) -> str:
    """An absolute path without '..' or control characters, so no argument built from it
    can be read as an option and no file outside it is named."""
    if (not path.startswith("/") or _CONTROL.search(path)
            or ".." in path.split("/")):
        raise XenConfigError(f"{what}: '{path}' is not an absolute path")
    return path


def quote(text: str, what: str) -> str:
    """A string in the syntax both xl and xm read back to exactly `text`."""
    if _CONTROL.search(text):
        raise XenConfigError(f"{what}: control characters cannot be written into a Xen config")
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render(spec: GuestSpec, dialect: str) -> str:
    """The config file for spec, in the dialect of xl or xm."""
    if dialect not in (XL, XM):
        raise ValueError(f"unknown Xen config dialect '{dialect}'")
    name = check_guest_name(spec.name)
    if len(spec.nics) > MAX_NICS:
        raise XenConfigError(f"{name}: {len(spec.nics)} NICs requested; Xen guests have at "
                             f"most {MAX_NICS}")
    if spec.memory_mb <= 0 or spec.vcpus <= 0:
        raise XenConfigError(f"{name}: memory and vcpus must be positive")
    settings: dict[str, str] = {"name": quote(name, name)}
    if spec.uuid:
        if not _UUID.fullmatch(spec.uuid.lower()):
            raise XenConfigError(f"{name}: '{spec.uuid}' is not a UUID")
        settings["uuid"] = quote(spec.uuid.lower(), name)
    settings["memory"] = str(int(spec.memory_mb))
    settings["maxmem"] = str(max(int(spec.maxmem_mb), int(spec.memory_mb)))
    settings["vcpus"] = str(int(spec.vcpus))
    settings.update(_boot_settings(spec, dialect))
    defaults = dict(_DEFAULTS)
    if dialect == XM and not spec.paravirt:
        defaults.update(_XM_HVM_DEFAULTS)
    if not spec.paravirt:
        defaults["serial"] = '"pty"'  # the text console xCAT's rcons attaches to
    settings["disk"] = _list([_disk_spec(name, d, dialect) for d in spec.disks], name)
    settings["vif"] = _list([_vif_spec(name, n, dialect, spec.paravirt) for n in spec.nics],
                            name)
    extra = _checked_extra(name, spec.extra, reserved=set(settings))
    lines = [f"# {name}: written by xcatpy from its vm table row; the next start rewrites it"]
    lines += [f"{key} = {value}" for key, value in settings.items()]
    lines += [f"{key} = {value}" for key, value in {**defaults, **extra}.items()]
    return "\n".join(lines) + "\n"


def _boot_settings(spec: GuestSpec, dialect: str) -> dict[str, str]:
    if spec.paravirt:
        # A PV guest boots the kernel inside its own disk; network boot is an HVM feature.
        if dialect == XL:
            return {"type": '"pv"', "bootloader": '"pygrub"'}
        return {"bootloader": quote(_XM_PYGRUB, spec.name)}
    letters = []
    for device in spec.boot_order:
        letter = _BOOT_LETTERS.get(device.strip().lower())
        if letter is None:
            raise XenConfigError(f"{spec.name}: unknown boot device '{device}' (network, hd "
                                 "or cd)")
        if letter not in letters:
            letters.append(letter)
    declared = {"type": '"hvm"'} if dialect == XL else {"builder": '"hvm"'}
    return {**declared, "boot": quote("".join(letters) or "c", spec.name)}


def _disk_spec(name: str, disk: Disk, dialect: str) -> str:
    path = check_path(disk.path, f"{name}: disk")
    if not _DEVICE.fullmatch(disk.device):
        raise XenConfigError(f"{name}: '{disk.device}' is not a guest disk device name")
    if disk.kind not in ("file", "phy"):
        raise XenConfigError(f"{name}: disk kind '{disk.kind}' (file or phy)")
    if disk.kind == "file" and disk.fmt not in ("raw", "qcow2"):
        raise XenConfigError(f"{name}: disk format '{disk.fmt}' (raw or qcow2)")
    if dialect == XL:
        # target= comes last: xl takes the rest of the string as the path, commas and all.
        fmt = "raw" if disk.kind == "phy" else disk.fmt
        backend = "backendtype=phy, " if disk.kind == "phy" else ""
        return f"format={fmt}, vdev={disk.device}, access=rw, {backend}target={path}"
    if "," in path:
        raise XenConfigError(f"{name}: xm cannot name a disk whose path holds ',': {path}")
    if disk.kind == "phy":
        prefix = "phy:"
    else:
        prefix = "file:" if disk.fmt == "raw" else "tap:qcow2:"
    return f"{prefix}{path},{disk.device},w"


def _vif_spec(name: str, nic: Nic, dialect: str, paravirt: bool) -> str:
    mac = nic.mac.lower()
    if not _MAC.fullmatch(mac):
        raise XenConfigError(f"{name}: '{nic.mac}' is not a MAC address")
    if not _BRIDGE.fullmatch(nic.bridge or ""):
        raise XenConfigError(f"{name}: '{nic.bridge}' cannot be a bridge name")
    fields = []
    if dialect == XM and not paravirt:
        fields.append("type=ioemu")  # Xen 3.x HVM guests see only emulated NICs
    fields += [f"mac={mac}", f"bridge={nic.bridge}"]
    if nic.model:
        if not _NIC_MODEL.fullmatch(nic.model):
            raise XenConfigError(f"{name}: '{nic.model}' is not a NIC model")
        fields.append(f"model={nic.model}")
    return ",".join(fields)


def _list(items: list[str], what: str) -> str:
    return "[ " + ", ".join(quote(item, what) for item in items) + " ]" if items else "[ ]"


def _checked_extra(name: str, extra: dict[str, str], reserved: set[str]) -> dict[str, str]:
    """vm.othersettings, verbatim: each value must be one well-formed config value."""
    checked = {}
    for key, value in extra.items():
        if not _KEY.fullmatch(key):
            raise XenConfigError(f"{name}: '{key}' is not a config setting name")
        if key in reserved:
            raise XenConfigError(f"{name}: '{key}' comes from the vm table and cannot be "
                                 "set again in othersettings")
        value = str(value)
        if "\n" in value or "\r" in value or not _VALUE.fullmatch(value):
            raise XenConfigError(f"{name}: {key}={value!r} is not a single number, quoted "
                                 "string or list")
        checked[key] = value.strip()
    return checked


# -- reading configs back (for guests that are defined but not running) ---------------------

_TOKEN = re.compile(rf"[ \t\r]*(?:(?P<string>{_STRING})|(?P<number>{_NUMBER})\b"
                    rf"|(?P<key>{_KEY.pattern})|(?P<punct>[=\[\],;])|(?P<comment>#[^\n]*)"
                    r"|(?P<newline>\n))", re.ASCII)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "a": "\a", "b": "\b", "f": "\f", "v": "\v"}


def read_settings(text: str) -> dict[str, object]:
    """The `key = value` settings of a config file: strings, ints and lists of them.

    Lenient: a statement it cannot read (xm configs may hold Python code) is skipped to the
    end of its line, so one odd line costs only its own setting."""
    settings: dict[str, object] = {}
    statements: list[list[tuple[str, str]]] = [[]]
    depth = 0
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:  # not of this grammar: drop the statement, resume after the line
            end = text.find("\n", pos)
            pos = len(text) if end < 0 else end
            statements[-1] = [("bad", "")]
            depth = 0
            continue
        pos = match.end()
        kind = match.lastgroup
        token = match.group(kind)
        if kind == "comment" or (kind == "newline" and depth):
            continue
        if kind == "newline" or token == ";":
            statements.append([])
            continue
        depth += {"[": 1, "]": -1}.get(token, 0)
        statements[-1].append((kind, token))
    for statement in statements:
        parsed = _statement(statement)
        if parsed is not None:
            settings[parsed[0]] = parsed[1]
    return settings


def _statement(tokens: list[tuple[str, str]]) -> tuple[str, object] | None:
    if len(tokens) < 3 or tokens[0][0] != "key" or tokens[1] != ("punct", "="):
        return None
    value = tokens[2:]
    if len(value) == 1:
        atom = _atom(value[0])
        return None if atom is None else (tokens[0][1], atom)
    if value[0] != ("punct", "[") or value[-1] != ("punct", "]"):
        return None
    items = [_atom(t) for t in value[1:-1] if t != ("punct", ",")]
    if any(item is None for item in items):
        return None
    return tokens[0][1], items


def _atom(token: tuple[str, str]) -> object | None:
    kind, text = token
    if kind == "number":
        return int(text, 16) if text.startswith("0x") else (
            float(text) if "." in text else int(text))
    if kind == "string":
        return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), text[1:-1])
    return None


def replace_settings(text: str, settings: dict[str, int]) -> str:
    """text with each `key = ...` line of settings replaced (or appended when absent).
    Numbers only: what set_memory and set_vcpus change."""
    lines = text.splitlines()
    for key, value in settings.items():
        line = f"{key} = {int(value)}"
        pattern = re.compile(rf"\s*{re.escape(key)}\s*=")
        for i, old in enumerate(lines):
            if pattern.match(old):
                lines[i] = line
                break
        else:
            lines.append(line)
    return "\n".join(lines) + "\n"
