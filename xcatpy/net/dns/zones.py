"""The zones xcatd is authoritative for, and the answer to one question from a snapshot.

Forward zones are site.domain and every networks.domain; reverse zones come from every
networks row, cut on the enclosing octet (in-addr.arpa) or nibble (ip6.arpa) boundary,
so a /27 is served from its /24 zone and a /20 from its /16. Where zones nest
(cluster.com and ib.cluster.com, 10.in-addr.arpa and 1.0.10.in-addr.arpa) a name
belongs to the deepest one.

Nothing here knows about sockets or the table store's connections: `ZoneSnapshot.answer`
is a pure function of the snapshot, so every rcode decision is unit-tested directly.
"""

import hashlib
import ipaddress
from dataclasses import dataclass, field

import netaddr

from xcatpy.digits import decimal
from xcatpy.net.networks import Network, network_from_row

DEFAULT_TTL = 3600
# Also the SOA minimum: how long a resolver caches "no such name". Kept short, since the
# usual reason for a miss on a provisioning network is a node makedns has not seen yet.
NEGATIVE_TTL = 300
SOA_REFRESH, SOA_RETRY, SOA_EXPIRE = 10800, 3600, 604800   # xCAT's zone file values

# Query types that ask for a whole zone; we hand out no zones.
TRANSFER_TYPES = frozenset({"AXFR", "IXFR"})

NOERROR, FORMERR, SERVFAIL, NXDOMAIN, NOTIMP, REFUSED = 0, 1, 2, 3, 4, 5


def normalize(name: str) -> str:
    """Names compare case-insensitively and without the final dot."""
    return name.strip().rstrip(".").lower()


def reverse_name(ip: str) -> str:
    return netaddr.IPAddress(ip).reverse_dns.rstrip(".")


def reverse_zone(cidr: netaddr.IPNetwork) -> str:
    """The in-addr.arpa / ip6.arpa zone holding every address of `cidr`."""
    if cidr.version == 4:
        octets = str(cidr.network).split(".")[: cidr.prefixlen // 8]
        return ".".join([*reversed(octets), "in-addr.arpa"])
    nibbles = f"{int(cidr.network):032x}"[: cidr.prefixlen // 4]
    return ".".join([*reversed(nibbles), "ip6.arpa"])


def zone_apexes(site_domain: str | None, networks: list[Network]) -> list[str]:
    """Every zone we answer for, forward ones first, without duplicates."""
    names = [site_domain, *(n.domain for n in networks)]
    forward = [normalize(d) for d in names if d and normalize(d)]
    reverse = [reverse_zone(n.cidr) for n in networks]
    return list(dict.fromkeys(z.lstrip(".") for z in [*forward, *reverse]))


def zone_for(name: str, apexes) -> str | None:
    """The deepest zone in `apexes` (a set of normalized names) that contains `name`."""
    labels = normalize(name).split(".")
    for i in range(len(labels)):
        candidate = ".".join(labels[i:])
        if candidate in apexes:
            return candidate
    return None


@dataclass(frozen=True)
class Soa:
    mname: str
    rname: str
    serial: int
    refresh: int = SOA_REFRESH
    retry: int = SOA_RETRY
    expire: int = SOA_EXPIRE
    minimum: int = NEGATIVE_TTL


@dataclass(frozen=True)
class RR:
    name: str               # as it goes on the wire (query case for answers at the qname)
    type: str               # A, AAAA, PTR, NS, SOA
    ttl: int
    data: "str | Soa"       # address, target name, or the SOA fields


@dataclass
class Answer:
    rcode: int
    authoritative: bool = False
    answers: list[RR] = field(default_factory=list)
    authority: list[RR] = field(default_factory=list)
    additional: list[RR] = field(default_factory=list)


@dataclass(frozen=True)
class ZoneData:
    """What the zones hold, before a serial is given to them."""

    apexes: tuple[str, ...]
    records: tuple[tuple[str, str, int, str], ...]   # (name, type, ttl, value), normalized
    ns_name: str

    def digest(self) -> str:
        text = repr((sorted(self.apexes), sorted(self.records), self.ns_name))
        return hashlib.sha256(text.encode()).hexdigest()


class ZoneSnapshot:
    """An immutable view of every zone, answering questions without I/O."""

    def __init__(self, data: ZoneData, serial: int) -> None:
        self.data = data
        self.serial = serial
        self.apexes = frozenset(data.apexes)
        self.ns_name = data.ns_name
        self._by_name: dict[str, dict[str, list[tuple[int, str]]]] = {}
        for name, rtype, ttl, value in data.records:
            self._by_name.setdefault(name, {}).setdefault(rtype, []).append((ttl, value))
        # Names with no records but with records below them exist (RFC 8020: a miss there
        # is NODATA, not NXDOMAIN, or resolvers would prune the whole subtree).
        self._existing = set(self._by_name) | self.apexes
        for name in self._by_name:
            labels = name.split(".")
            for i in range(1, len(labels)):
                self._existing.add(".".join(labels[i:]))

    @property
    def record_count(self) -> int:
        return len(self.data.records)

    def soa(self, apex: str) -> RR:
        fields = Soa(self.ns_name, f"root.{self.ns_name}", self.serial)
        return RR(apex, "SOA", NEGATIVE_TTL, fields)

    def _rrset(self, owner: str, name: str, rtype: str) -> list[RR]:
        return [RR(owner, rtype, ttl, value)
                for ttl, value in self._by_name.get(name, {}).get(rtype, ())]

    def _at(self, owner: str, name: str, zone: str, rtype: str) -> list[RR]:
        if name == zone and rtype == "SOA":
            return [RR(owner, "SOA", NEGATIVE_TTL, self.soa(zone).data)]
        if name == zone and rtype == "NS":
            return [RR(owner, "NS", DEFAULT_TTL, self.ns_name)]
        return self._rrset(owner, name, rtype)

    def _glue(self) -> list[RR]:
        return [*self._rrset(self.ns_name, self.ns_name, "A"),
                *self._rrset(self.ns_name, self.ns_name, "AAAA")]

    def answer(self, qname: str, qtype: str) -> Answer:
        """The reply to one IN-class question; `qname` as asked (its case is echoed)."""
        name = normalize(qname)
        owner = qname.rstrip(".") or "."
        zone = zone_for(name, self.apexes)
        if zone is None or qtype in TRANSFER_TYPES:
            return Answer(REFUSED)
        negative = [self.soa(zone)]
        if name not in self._existing:
            return Answer(NXDOMAIN, True, authority=negative)
        if qtype in ("ANY", "ALL_RECORDS"):
            types = ["SOA", "NS"] if name == zone else []
            types += sorted(self._by_name.get(name, {}))
            found = [rr for t in types for rr in self._at(owner, name, zone, t)]
        else:
            found = self._at(owner, name, zone, qtype)
        if not found:
            return Answer(NOERROR, True, authority=negative)
        additional = self._glue() if any(rr.type == "NS" for rr in found) else []
        return Answer(NOERROR, True, answers=found, additional=additional)


# -- building a snapshot from the tables -----------------------------------------------------


def _site(store, key: str) -> str | None:
    row = store.get("site", {"key": key})
    value = (row or {}).get("value")
    return value.strip() if value and value.strip() else None


def usable_networks(rows: list[dict], problems: list[str] | None = None) -> list[Network]:
    """networks rows as objects; a malformed row is left out (and named in `problems`)
    rather than taking every zone down with it."""
    nets = []
    for row in rows:
        try:
            nets.append(network_from_row(row))
        except Exception as exc:  # XcatError naming the row, or a netaddr surprise
            if problems is not None:
                problems.append(str(exc))
    return nets


def _is_ip(text: str) -> bool:
    try:
        netaddr.IPAddress(text, flags=netaddr.INET_PTON)
        return True
    except (netaddr.AddrFormatError, ValueError, TypeError):
        return False


def _valid_value(rtype: str, value: str) -> bool:
    if rtype == "PTR":
        return bool(value) and value.isascii()
    try:
        return ipaddress.ip_address(value).version == (4 if rtype == "A" else 6)
    except ValueError:
        return False


def _qualify(name: str, domain: str | None) -> str:
    name = normalize(name)
    return name if "." in name or not domain else f"{name}.{domain}"


def name_server(master: str | None, domain: str | None, host_name: str,
                records: list[tuple[str, str, int, str]]) -> tuple[str, str | None]:
    """The NS/SOA MNAME for every zone, and the address to give it when no record does.

    site.master is usually this head node's address: then the name is the one a
    published PTR gives that address, else this machine's host name in site.domain.
    """
    if master and not _is_ip(master):
        return _qualify(master, domain), None
    if master:
        rev = reverse_name(master)
        for name, rtype, _, value in records:
            if rtype == "PTR" and name == rev:
                return value, master
    return _qualify(host_name or "localhost", domain), master


def zone_data(store, host_name: str, problems: list[str] | None = None) -> ZoneData:
    """The zones and records as the tables say now (call inside a read transaction)."""
    domain = _site(store, "domain")
    domain = normalize(domain) if domain else None
    apexes = zone_apexes(domain, usable_networks(store.rows("networks"), problems))
    records = []
    for row in store.rows("dnsrecord"):
        rtype = (row.get("type") or "").strip().upper()
        name, value = normalize(row.get("name") or ""), (row.get("value") or "").strip()
        if rtype not in ("A", "AAAA", "PTR") or not name or not name.isascii() or \
                not _valid_value(rtype, value):
            continue        # a hand-edited row that cannot go on the wire
        ttl = (row.get("ttl") or "").strip()
        seconds = decimal(ttl)
        ttl_s = seconds if seconds is not None and seconds < 2**31 else DEFAULT_TTL
        records.append((name, rtype, ttl_s, normalize(value) if rtype == "PTR" else value))
    ns_name, ns_ip = name_server(_site(store, "master"), domain, host_name, records)
    # The name server's own name must resolve where we are its zone (xCAT's zone files
    # carry the same A record for the head node).
    if ns_ip and zone_for(ns_name, set(apexes)) and not any(
            n == ns_name and t in ("A", "AAAA") for n, t, _, _ in records):
        records.append((ns_name, "AAAA" if ":" in ns_ip else "A", DEFAULT_TTL, ns_ip))
    return ZoneData(tuple(apexes), tuple(sorted(set(records))), ns_name)
