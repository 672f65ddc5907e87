"""Which DNS records a node gets, and the checks before they are published.

A node with hosts.ip gets, in its domain (networks.domain of its network, else
site.domain): an A (IPv4) or AAAA (IPv6) record for its name and for each of its
hosts.hostnames aliases, and a PTR record from its address back to its name. xCAT makes
the aliases CNAMEs; here they are address records of their own, so every published name
answers in one step and the dnsrecord table holds only A, AAAA and PTR.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass

from xcatpy.digits import decimal
from xcatpy.net.dns.zones import normalize, reverse_name
from xcatpy.net.nodenet import NodeAddress, Problem

_LABEL = re.compile(r"^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$", re.IGNORECASE)


@dataclass(frozen=True)
class Record:
    name: str           # owner, fully qualified, no final dot
    type: str           # A, AAAA, PTR
    value: str          # address, or target name for PTR
    node: str
    ttl: int | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        return (normalize(self.name), self.type,
                normalize(self.value) if self.type == "PTR" else self.value)

    def row(self) -> dict:
        return {"name": self.name, "type": self.type, "value": self.value,
                "node": self.node, "ttl": None if self.ttl is None else str(self.ttl)}

    @classmethod
    def from_row(cls, row: dict) -> "Record":
        ttl = (row.get("ttl") or "").strip()
        return cls(row.get("name") or "", (row.get("type") or "").upper(),
                   row.get("value") or "", row.get("node") or "",
                   decimal(ttl))

    def __str__(self) -> str:
        return f"{self.name} {self.type} {self.value}"


def bad_name(name: str) -> str | None:
    """Why `name` cannot be a DNS host name, or None if it can."""
    if len(name) > 253:
        return "it is longer than 253 characters"
    for label in name.split("."):
        if not _LABEL.match(label):
            return f"label '{label}' is not 1-63 letters, digits, '-' or '_'"
    return None


def _in_domain(name: str, domain: str) -> str:
    """`name` qualified in `domain`, unless it already ends with it (as xCAT does)."""
    if name.lower().endswith("." + domain.lower()):
        return name
    return f"{name}.{domain}"


def node_records(address: NodeAddress) -> tuple[list[Record], list[Problem]]:
    node = address.node
    if not address.domain:
        where = (f"networks.domain of network {address.network.name}"
                 if address.network else "networks.domain")
        return [], [Problem(node, f"no DNS domain for {address.ip}: set site.domain or "
                                  f"{where}")]
    domain = address.domain.strip(".")
    fqdn = _in_domain(node, domain)
    rtype = "AAAA" if address.version == 6 else "A"
    names = [fqdn]
    for alias in address.aliases:
        qualified = _in_domain(alias.rstrip("."), domain)
        if normalize(qualified) not in {normalize(n) for n in names}:
            names.append(qualified)
    problems = [Problem(node, f"'{name}' is not a valid DNS name: {why}")
                for name in names if (why := bad_name(name))]
    if problems:
        return [], problems
    records = [Record(name, rtype, address.ip, node) for name in names]
    records.append(Record(reverse_name(address.ip), "PTR", fqdn, node))
    return records, []


def build_records(addresses: Iterable[NodeAddress]) -> tuple[list[Record], list[Problem]]:
    records, problems = [], []
    for address in addresses:
        found, wrong = node_records(address)
        records.extend(found)
        problems.extend(wrong)
    return records, problems


def conflicts(new: list[Record], kept: list[Record]) -> list[Problem]:
    """A name may belong to one node only: checked within `new` and against the records
    that stay published (`kept`), case-insensitively."""
    owner: dict[tuple[str, str], tuple[str, bool]] = {}
    for rec in kept:
        owner.setdefault((normalize(rec.name), _family(rec.type)), (rec.node, True))
    problems, reported = [], set()
    for rec in new:
        key = (normalize(rec.name), _family(rec.type))
        other, published = owner.setdefault(key, (rec.node, False))
        if other == rec.node or (rec.node, key) in reported:
            continue
        reported.add((rec.node, key))
        what = "reverse name" if rec.type == "PTR" else "DNS name"
        if published:
            problems.append(Problem(rec.node, f"{what} {rec.name} is already published for "
                                              f"node {other} (refresh or remove it: "
                                              f"makedns {other} / makedns -d {other})"))
        else:
            problems.append(Problem(rec.node, f"{what} {rec.name} is also a name of "
                                              f"node {other}"))
    return problems


def _family(rtype: str) -> str:
    # A and AAAA at one name are one claim on that name; a PTR owner is another namespace.
    return "ptr" if rtype == "PTR" else "addr"
