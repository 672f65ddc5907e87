"""The values an answer-file template sees for one node, from the database.

Everything is computed from the tables a node already has (xCAT's places for them); a
value that is not set is not left out but stands in the context as a `missing` undefined
that names the attribute (`hypervisor.dom0mem`), so a template that needs it fails with
that name, and one that does not need it never notices. Expensive or secret values are
lazy: the root password is crypted only if a template prints it, and printing it marks
the rendering secret. share/doc/templates.md lists every variable.
"""

import ipaddress
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path

from jinja2 import Undefined

from xcatpy.boot import urls
from xcatpy.boot.directives import (
    MissingValueError,
    RenderState,
    all_rows,
    crypt_password,
    missing,
)
from xcatpy.boot.osimage import ImageInfo
from xcatpy.db.attrs import split_list
from xcatpy.db.schema import TABLES
from xcatpy.errors import XcatError

DEFAULT_MONITOR_PORT = 3002
YES = ("1", "yes", "y", "true", "on")


class Lazy:
    """A value computed when a template prints it (errors surface only if it is used)."""

    __slots__ = ("_fn", "_value")

    def __init__(self, fn: Callable[[], str]) -> None:
        self._fn = fn
        self._value = None

    def __str__(self) -> str:
        if self._value is None:
            self._value = str(self._fn())
        return self._value


class Secret(Lazy):
    """A lazy value whose printing makes the whole answer file secret."""

    __slots__ = ("_state",)

    def __init__(self, fn: Callable[[], str], state: RenderState) -> None:
        super().__init__(fn)
        self._state = state

    def __str__(self) -> str:
        self._state.secret = True
        return super().__str__()


class LazyList:
    """A list computed when a template iterates it."""

    __slots__ = ("_fn", "_items")

    def __init__(self, fn: Callable[[], list]) -> None:
        self._fn = fn
        self._items = None

    def __iter__(self):
        if self._items is None:
            self._items = list(self._fn())
        return iter(self._items)


class Record:
    """Named values; a None value is `missing` under the attribute it comes from."""

    __slots__ = ("_values", "_sources")

    def __init__(self, values: Mapping, sources: Mapping[str, str] | None = None) -> None:
        self._values = values
        self._sources = sources or {}

    def __getitem__(self, key: str):
        if key not in self._values:
            raise KeyError(key)
        value = self._values[key]
        return missing(self._sources.get(key, key)) if value is None else value

    def __contains__(self, key: str) -> bool:
        return self._values.get(key) is not None


class NodeTable:
    """`tab.nodehm.serialspeed`: a node-keyed table column for this node, with inheritance
    and regular expressions as everywhere else."""

    __slots__ = ("_attrs", "_node", "_table", "_state")

    def __init__(self, attrs, node: str, table: str, state: RenderState) -> None:
        self._attrs, self._node, self._table, self._state = attrs, node, table, state

    def __getitem__(self, column: str):
        if not TABLES[self._table].has_column(column):
            return missing(f"{self._table}.{column} (table {self._table} has no such column)")
        if "password" in column:
            self._state.secret = True
        value = self._attrs.lookup(self._node, self._table, column)
        return value if value else missing(f"{self._table}.{column}")


class Tables:
    __slots__ = ("_attrs", "_node", "_state")

    def __init__(self, attrs, node: str, state: RenderState) -> None:
        self._attrs, self._node, self._state = attrs, node, state

    def __getitem__(self, table: str):
        spec = TABLES.get(table)
        if spec is None or not (spec.node_keyed or table == "nodelist"):
            return missing(f"table {table} (tab.<table> reads node-keyed tables only)")
        return NodeTable(self._attrs, self._node, table, self._state)


class Site:
    __slots__ = ("_attrs",)

    def __init__(self, attrs) -> None:
        self._attrs = attrs

    def __getitem__(self, key: str):
        value = site_value(self._attrs, key)
        return value if value else missing(f"site.{key}")


class Env:
    __slots__ = ("_env",)

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env

    def __getitem__(self, name: str):
        value = self._env.get(name)
        return value if value is not None else missing(f"environment variable {name}")


def site_value(attrs, key: str) -> str | None:
    row = attrs.table("site").get(key)
    return (row or {}).get("value") or None


def _master_list(value: str | None, master: str) -> list[str]:
    return [master if v == "<xcatmaster>" else v for v in split_list(value)]


def _first_mac(value: str | None, node: str) -> str | None:
    """mac.mac holds `mac` or `mac!hostname|mac!hostname`; the node's own entry wins."""
    entries = [e for e in (value or "").split("|") if e.strip()]
    plain = [e for e in entries if "!" not in e]
    own = [e.split("!")[0] for e in entries if e.split("!", 1)[-1] == node]
    chosen = (own or plain or [None])[0]
    return chosen.strip().lower() if chosen else None


def _network_of(attrs, ip: str, master: str) -> tuple[str | None, str | None]:
    """(mask, gateway) of the networks row whose net contains ip."""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return None, None
    for row in all_rows(attrs, "networks"):
        try:
            net = ipaddress.ip_network(f"{row.get('net')}/{row.get('mask')}", strict=False)
        except ValueError:
            continue
        if addr in net:
            gateway = row.get("gateway") or None
            return row.get("mask"), master if gateway == "<xcatmaster>" else gateway
    return None, None


def _os_major(osvers: str) -> int:
    m = re.search(r"\d+", osvers)
    return int(m.group()) if m else 0


class _Urls:
    """Install-tree paths as the URLs the node fetches them from."""

    def __init__(self, master: str, port: int, installdir: Path) -> None:
        self.master, self.port, self.installdir = master, port, installdir

    def of(self, path: str, attr: str):
        path = path.strip()
        if path.startswith(("http://", "https://", "ftp://")):
            return path.rstrip("/")
        try:
            rel = Path(path).relative_to(self.installdir)
        except ValueError:
            return missing(f"{attr} inside site.installdir {self.installdir} "
                           f"(it is {path}, which the HTTP service does not serve)")
        return urls.install_url(self.master, self.port, *rel.parts)


_pkglist_cache: dict[Path, tuple[int, list[str]]] = {}


def _read_pkglist(path: Path) -> list[str]:
    try:
        mtime = path.stat().st_mtime_ns
        hit = _pkglist_cache.get(path)
        if hit and hit[0] == mtime:
            return hit[1]
        lines = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines()]
    except OSError as exc:
        raise XcatError(f"linuximage.pkglist {path}: {exc.strerror or exc}") from None
    packages = [ln for ln in lines if ln and not ln.startswith("#")]
    _pkglist_cache[path] = (mtime, packages)
    return packages


def _root_password(attrs, node: str):
    rows = [r for r in all_rows(attrs, "passwd")
            if r.get("key") == "system" and r.get("username") == "root"]
    if not rows or not rows[0].get("password"):
        raise MissingValueError("passwd.password for key=system,username=root")
    return crypt_password(rows[0]["password"], rows[0].get("cryptmethod"))


def _vm_storage(value: str | None, master: str) -> Record:
    """Where a hypervisor keeps guest disks, from its own vm.storage (inherited from its
    groups): `dir:///vms` or `/vms` is a local directory, `nfs://server/path` an NFS mount
    of server:/path at the same path. Unset: the howto's local /vms."""
    first = split_list(value)[0] if split_list(value) else "dir:///vms"
    kind, server, path = "other", None, None
    if first.startswith("dir://"):
        kind, path = "dir", first[len("dir://"):] or "/vms"
    elif first.startswith("/"):
        kind, path = "dir", first
    elif first.startswith("nfs://"):
        rest = first[len("nfs://"):]
        host, _, export = rest.partition("/")
        server = master if host in ("", "<xcatmaster>") else host
        kind, path = "nfs", "/" + export.rstrip("/") if export else "/vms"
    if path:
        path = path.rstrip("/") or "/"
    fstab = f"{server}:{path} {path} nfs defaults 0 0" if kind == "nfs" else None
    return Record({"kind": kind, "path": path, "server": server, "fstab": fstab,
                   "spec": first},
                  {"path": "vm.storage (a dir:// or nfs:// location)",
                   "server": "vm.storage (an nfs:// location)",
                   "fstab": "vm.storage (an nfs:// location)"})


def build_context(attrs, node: str, image: ImageInfo, *, master: str, http_port: int,
                  installdir: Path, env: Mapping[str, str] | None,
                  state: RenderState) -> dict:
    """The template context of one node (see share/doc/templates.md for the list)."""
    look = lambda table, column: attrs.lookup(node, table, column)  # noqa: E731
    site = lambda key: site_value(attrs, key)  # noqa: E731
    at = _Urls(master, http_port, installdir)

    domain = site("domain")
    shortname = node.split(".")[0]
    fqdn = node if "." in node else (f"{node}.{domain}" if domain else missing("site.domain"))

    pkgdirs = split_list(image.pkgdir) or [str(image.tree(installdir))]
    install_url = at.of(pkgdirs[0], "linuximage.pkgdir")
    extra_repos = [at.of(p, "linuximage.pkgdir") for p in pkgdirs[1:]]
    linux = attrs.table("linuximage").get(image.name) or {}
    drivers = [at.of(re.sub(r"^(dud|rpm):", "", s), "linuximage.driverupdatesrc")
               for s in split_list(linux.get("driverupdatesrc"))]
    pkglist_files = split_list(linux.get("pkglist"))

    mode = "static" if "static" in (site("managedaddressmode") or "dhcp").lower() else "dhcp"
    mac = _first_mac(look("mac", "mac"), node)
    nic = look("noderes", "installnic") or look("noderes", "primarynic")
    if nic in (None, "mac"):
        install_nic = mac or (missing("mac.mac") if nic == "mac" else "link")
    else:
        install_nic = nic
    ip = look("hosts", "ip")
    mask = gateway = None
    if ip:
        mask, gateway = _network_of(attrs, ip, master)
    nameservers = _master_list(look("noderes", "nameservers") or site("nameservers"), master)
    ntpservers = _master_list(site("ntpservers"), master) or [master]

    serial_port = look("nodehm", "serialport")
    serial_speed = look("nodehm", "serialspeed")
    serial_console = None
    if serial_port:
        flow = (look("nodehm", "serialflow") or "").lower()
        serial_console = (f"ttyS{serial_port},{serial_speed}n8"
                          + ("r" if flow in ("hard", "cts", "ctsrts") else "")
                          if serial_speed else missing("nodehm.serialspeed"))

    hostname = fqdn if isinstance(fqdn, str) else node
    os_major = _os_major(image.osvers)
    dom0mem = (look("hypervisor", "dom0mem") or "").strip()
    ctx = {
        "node": node, "shortname": shortname, "hostname": hostname, "fqdn": fqdn,
        "domain": domain or missing("site.domain"),
        "master": master, "http_port": http_port,
        "http_base": urls.http_base(master, http_port),
        "answer_url": urls.answer_url(master, http_port, node),
        "callback_url": urls.callback_url(master, http_port),
        "post_script_url": urls.answer_url(master, http_port, node) + "?part=post",
        "install_url": install_url, "extra_repos": extra_repos, "driver_sources": drivers,
        "monitor_host": master,
        "monitor_port": int(site("xcatiport") or DEFAULT_MONITOR_PORT),
        "osimage": Record({
            "name": image.name, "osvers": image.osvers, "osarch": image.osarch,
            "profile": image.profile, "provmethod": image.provmethod,
            "platform": image.layout.platform if image.layout else None,
            "os_major": os_major,
        }, {"platform": "osimage.osvers (of a known distribution)"}),
        "timezone": site("timezone") or missing("site.timezone"),
        "keymap": site("keymap") or "us",
        "lang": site("lang") or "en_US.UTF-8",
        "nameservers": nameservers, "ntpservers": ntpservers,
        "address_mode": mode, "mac": mac or missing("mac.mac"), "install_nic": install_nic,
        "ip": ip or missing("hosts.ip"),
        "netmask": mask or missing(f"networks.mask (a networks row containing {ip})"
                                   if ip else "hosts.ip"),
        "gateway": gateway or missing(f"networks.gateway (a networks row containing {ip})"
                                      if ip else "hosts.ip"),
        "rootpw": Secret(lambda: _root_password(attrs, node), state),
        "install_disk": site("installdisk"),
        "serial_port": serial_port, "serial_speed": serial_speed,
        "serial_console": serial_console,
        "dom0_mem": (dom0mem + "M" if dom0mem.isdigit() else dom0mem)
        or missing("hypervisor.dom0mem"),
        "relocation": (look("hypervisor", "relocation") or "").lower() in YES,
        "relocation_hosts": " ".join(split_list(
            (look("hypervisor", "relocationhosts") or "").replace(" ", ","))),
        "vm_storage": _vm_storage(look("vm", "storage"), master),
        # EL5's anaconda predates %end and bare `zerombr`.
        "ks_end": "" if 0 < os_major <= 5 else "%end",
        "ks_zerombr": "zerombr yes" if 0 < os_major <= 5 else "zerombr",
        "srtype": site("xenserver_srtype") or "lvm",
        "pkglist_files": pkglist_files,
        "packages": LazyList(lambda: [p for f in pkglist_files for p in _read_pkglist(Path(f))])
        if pkglist_files else missing("linuximage.pkglist"),
    }
    tables = Tables(attrs, node, state)
    ctx["tab"] = tables
    ctx["hypervisor"] = tables["hypervisor"]
    ctx["site"] = Site(attrs)
    ctx["env"] = Env(env or {})
    ctx["kickstart_network"] = Lazy(lambda: kickstart_network(ctx))
    return ctx


def kickstart_network(ctx: Mapping) -> str:
    """The anaconda `network` line xCAT's #KICKSTARTNET# writes, for dhcp or static."""
    words = ["network", "--onboot=yes", f"--device={ctx['install_nic']}"]
    if ctx["address_mode"] == "static":
        words += ["--bootproto=static", f"--ip={ctx['ip']}", f"--netmask={ctx['netmask']}"]
        if not isinstance(ctx["gateway"], Undefined):
            words.append(f"--gateway={ctx['gateway']}")
        if ctx["nameservers"]:
            words.append(f"--nameserver={','.join(ctx['nameservers'])}")
    else:
        words.append("--bootproto=dhcp")
    words.append(f"--hostname={ctx['hostname']}")
    return " ".join(str(w) for w in words)


def directive_env(node: str, *, master: str, http_port: int, installdir: Path,
                  env: Mapping[str, str] | None) -> dict[str, str]:
    """What #ENV:x# reads: xcatd's environment (or `env`), with xCAT's own variables."""
    merged = dict(os.environ) if env is None else {}
    merged.update({"XCATMASTER": master, "MASTER_IP": master, "INSTALLDIR": str(installdir),
                   "HTTPPORT": str(http_port), "NODE": node})
    merged.update(env or {})
    return merged
