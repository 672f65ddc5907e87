"""The tables the DHCP service answers from, as one in-memory snapshot (DhcpView).

Packets are answered on the reactor thread from this snapshot only; it is built on an
executor reader thread. `read_raw` is the cheap part (the rows as tuples, compared with the
previous read to tell whether anything changed); `build_view` is the rest: parsing
addresses, resolving names, and each node's boot attributes through NodeAttrs (groups and
regular expressions, as everywhere else).
"""

import socket
from dataclasses import dataclass, field

from xcatpy.boot.nodeindex import normalize_mac
from xcatpy.db.attrs import NodeAttrs, split_list
from xcatpy.db.schema import TABLES, is_enabled
from xcatpy.db.store import Store
from xcatpy.digits import decimal
from xcatpy.errors import XcatError
from xcatpy.net.dhcp.packet import parse_ipv4
from xcatpy.net.networks import XCATMASTER, network_from_row

DEFAULT_LEASE_TIME = 43200
MODES = ("server", "proxy")
NETWORK_COLUMNS = tuple(TABLES["networks"].colnames)
SITE_KEYS = ("dhcplease", "dhcpmode", "dhcpinterfaces", "dhcpinterface", "nameservers",
             "domain", "ntpservers")

# Each query's rows, in a stable order, are what change detection compares.
RAW_QUERIES = (
    ("dhcpreservation", "SELECT mac, node, ip, hostname, disable FROM dhcpreservation "
                        "ORDER BY rowid"),
    ("networks", "SELECT " + ",".join(f"[{c}]" for c in NETWORK_COLUMNS)
                 + " FROM networks ORDER BY rowid"),
    ("site", "SELECT key, value, disable FROM site WHERE key IN ("
             + ",".join("?" * len(SITE_KEYS)) + ") ORDER BY rowid"),
    ("noderes", "SELECT node, netboot, tftpserver, disable FROM noderes ORDER BY rowid"),
    ("nodelist", "SELECT node, groups, disable FROM nodelist ORDER BY rowid"),
)

# Every table the snapshot and the lease pool are read from: when none of their
# generations moved, a commit elsewhere (a node's install callback, say) costs no reload.
TABLES_READ = tuple(name for name, _ in RAW_QUERIES) + ("dhcplease",)


def generations_read(store: Store) -> tuple[int, ...]:
    generations = store.generations()
    return tuple(generations.get(name, 0) for name in TABLES_READ)


# An address list entry that means "our own address on the client's network".
MASTER = XCATMASTER


@dataclass(frozen=True)
class Reservation:
    mac: bytes           # 6 bytes
    node: str | None
    ip: int
    hostname: str | None


@dataclass(frozen=True)
class NodeBoot:
    netboot: str | None
    tftpserver: bytes | str | None      # 4 bytes, MASTER, or None


@dataclass(frozen=True)
class NetInfo:
    """A networks row, digested for the packet path (addresses as ints and bytes)."""

    name: str
    address: int
    prefixlen: int
    mask: int
    ranges: tuple[tuple[int, int], ...] = ()
    gateway: bytes | str | None = None
    nameservers: tuple = ()
    ntpservers: tuple = ()
    domain: str | None = None
    mtu: int | None = None
    tftpserver: bytes | str | None = None
    dhcpserver: bytes | None = None     # another server's address: not ours to serve
    in_table: bool = True     # False: made up from an interface address, no row

    def contains(self, ip: int) -> bool:
        return (ip & self.mask) == self.address

    @property
    def broadcast(self) -> int:
        return self.address | (~self.mask & 0xFFFFFFFF)

    def in_range(self, ip: int) -> bool:
        return any(first <= ip <= last for first, last in self.ranges)

    @classmethod
    def from_interface(cls, address: int, prefixlen: int) -> "NetInfo":
        mask = (0xFFFFFFFF << (32 - prefixlen)) & 0xFFFFFFFF if prefixlen else 0
        net = address & mask
        return cls(f"{socket.inet_ntoa(net.to_bytes(4, 'big'))}-{prefixlen}", net, prefixlen,
                   mask, in_table=False)


@dataclass(frozen=True)
class SiteSettings:
    lease_time: int = DEFAULT_LEASE_TIME
    mode: str = "server"
    dhcpinterfaces: str | None = None
    nameservers: tuple = ()
    ntpservers: tuple = ()
    domain: str | None = None


@dataclass
class DhcpView:
    reservations: dict[bytes, Reservation] = field(default_factory=dict)
    reserved_ips: dict[int, bytes] = field(default_factory=dict)
    networks: tuple[NetInfo, ...] = ()
    boot: dict[str, NodeBoot] = field(default_factory=dict)
    site: SiteSettings = field(default_factory=SiteSettings)
    raw: tuple | None = None
    warnings: list[str] = field(default_factory=list)

    def network_for(self, ip: int) -> NetInfo | None:
        for net in self.networks:
            if net.contains(ip):
                return net
        return None


def read_raw(store: Store) -> tuple:
    conn = store.conn
    return tuple(conn.execute(sql, SITE_KEYS if name == "site" else ()).fetchall()
                 for name, sql in RAW_QUERIES)


def read_leases(store: Store) -> list[tuple]:
    return store.conn.execute("SELECT mac, ip, hostname, expires FROM dhcplease "
                              "WHERE disable IS NULL OR disable NOT IN ('1', 'yes')").fetchall()


def build_view(store: Store, raw: tuple) -> DhcpView:
    view = DhcpView(raw=raw)
    resolver = _Resolver(view.warnings)
    reservations, networks, site_rows, _, _ = raw
    view.site = _site(site_rows, resolver, view.warnings)
    view.networks = tuple(_networks(networks, resolver, view.warnings))
    for mac, node, ip, hostname, disable in reservations:
        if not is_enabled({"disable": disable}):
            continue
        norm = normalize_mac(mac or "")
        if norm is None:
            view.warnings.append(f"dhcpreservation: '{mac}' (node {node}) is not a MAC "
                                 f"address; skipped")
            continue
        try:
            addr = parse_ipv4(ip)
        except ValueError:
            view.warnings.append(f"dhcpreservation: {norm} (node {node}) has an invalid "
                                 f"ip '{ip}'; skipped")
            continue
        raw_mac = bytes.fromhex(norm.replace(":", ""))
        other = view.reserved_ips.get(addr)
        if other is not None and other != raw_mac:
            view.warnings.append(f"dhcpreservation: {ip} is reserved for both "
                                 f"{other.hex(':')} and {norm}; {norm} skipped")
            continue
        view.reservations[raw_mac] = Reservation(raw_mac, node or None, addr, hostname or None)
        view.reserved_ips[addr] = raw_mac
    nodes = {r.node for r in view.reservations.values() if r.node}
    if nodes:
        attrs = NodeAttrs(store)
        for node in nodes:
            try:
                netboot = attrs.lookup(node, "noderes", "netboot")
                tftp = attrs.lookup(node, "noderes", "tftpserver")
            except XcatError as exc:
                view.warnings.append(f"noderes: {node}: {exc.message}")
                continue
            view.boot[node] = NodeBoot(netboot, resolver.one(tftp, f"noderes.tftpserver of "
                                                                   f"{node}"))
    return view


def _site(rows, resolver: "_Resolver", warnings: list[str]) -> SiteSettings:
    site = {k: (v or "").strip() for k, v, d in rows if is_enabled({"disable": d})}
    lease = site.get("dhcplease") or ""
    lease_time = DEFAULT_LEASE_TIME
    if lease:
        seconds = decimal(lease)
        if seconds:
            lease_time = min(seconds, 0xFFFFFFFE)
        else:
            warnings.append(f"site.dhcplease '{lease}' is not a number of seconds; using "
                            f"{DEFAULT_LEASE_TIME}")
    mode = (site.get("dhcpmode") or "server").lower()
    if mode not in MODES:
        warnings.append(f"site.dhcpmode '{site['dhcpmode']}' is not server or proxy; "
                        f"using server")
        mode = "server"
    return SiteSettings(
        lease_time=lease_time, mode=mode,
        # xCAT still reads the singular key of old databases.
        dhcpinterfaces=site.get("dhcpinterfaces") or site.get("dhcpinterface") or None,
        nameservers=resolver.many(site.get("nameservers"), "site.nameservers"),
        ntpservers=resolver.many(site.get("ntpservers"), "site.ntpservers"),
        domain=site.get("domain") or None)


def _networks(rows, resolver: "_Resolver", warnings: list[str]) -> list[NetInfo]:
    found = []
    for values in rows:
        row = dict(zip(NETWORK_COLUMNS, values, strict=True))
        if not is_enabled(row):
            continue
        try:
            net = network_from_row(row)
        except XcatError as exc:
            warnings.append(exc.message + "; not served")
            continue
        if net.version != 4:
            continue
        label = f"networks {net.name}"
        found.append(NetInfo(
            name=net.name, address=net.cidr.first, prefixlen=net.cidr.prefixlen,
            mask=int(net.cidr.netmask), ranges=tuple((r.first, r.last) for r in net.dynamic),
            gateway=resolver.one(net.gateway, f"{label} gateway"),
            nameservers=resolver.many(",".join(net.nameservers), f"{label} nameservers"),
            ntpservers=resolver.many(",".join(net.ntpservers), f"{label} ntpservers"),
            domain=net.domain, mtu=net.mtu,
            tftpserver=resolver.one(net.tftpserver, f"{label} tftpserver"),
            dhcpserver=_address(resolver.one(net.dhcpserver, f"{label} dhcpserver"))))
    return sorted(found, key=lambda n: (-n.prefixlen, n.address))


def _address(value):
    return value if isinstance(value, bytes) else None    # <xcatmaster> means us: no filter


class _Resolver:
    """Table values that name servers: an IPv4 address, <xcatmaster>, or a host name,
    looked up once per build (this runs on a reader thread, never on the reactor)."""

    def __init__(self, warnings: list[str]) -> None:
        self.warnings = warnings
        self.cache: dict[str, bytes | None] = {}

    def one(self, value: str | None, what: str) -> bytes | str | None:
        value = (value or "").strip()
        if not value:
            return None
        if value.lower() == MASTER:
            return MASTER
        try:
            return parse_ipv4(value).to_bytes(4, "big")
        except ValueError:
            return self._lookup(value, what)

    def _lookup(self, name: str, what: str) -> bytes | None:
        if name not in self.cache:
            try:
                self.cache[name] = socket.inet_aton(socket.gethostbyname(name))
            except OSError:
                self.cache[name] = None
                self.warnings.append(f"{what}: cannot resolve '{name}'; "
                                     f"left out")
        return self.cache[name]

    def many(self, value: str | None, what: str) -> tuple:
        found = (self.one(v, what) for v in split_list(value))
        return tuple(v for v in found if v is not None)
