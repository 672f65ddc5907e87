"""The addresses nodes are published with: hosts.ip, mac.mac, names and domain, checked.

makedhcp, makedns and makehosts publish the same facts; they get them from `collect`,
which checks every node before anything is published: a malformed MAC or IP, a MAC or IP
that another node already has, an address on no defined network. Duplicates are checked
against every node in the database, not only the ones in the command's noderange, since
two nodes answering to one address break both whichever one was published first.
"""

from dataclasses import dataclass, field, replace

import netaddr

from xcatpy.boot.nodeindex import normalize_mac, plain_ip
from xcatpy.db.attrs import NodeAttrs
from xcatpy.net.networks import Network, network_for


@dataclass(frozen=True)
class NodeAddress:
    node: str
    ip: str | None                      # hosts.ip, normalised; None if unset
    macs: tuple[str, ...] = ()          # the node's own NICs, normalised
    # 'mac!name' entries in mac.mac: a NIC of this machine that answers to another name.
    named_macs: tuple[tuple[str, str], ...] = ()
    aliases: tuple[str, ...] = ()       # hosts.hostnames
    domain: str | None = None           # networks.domain of its network, else site.domain
    network: Network | None = field(default=None, compare=False)

    @property
    def fqdn(self) -> str:
        return f"{self.node}.{self.domain}" if self.domain else self.node

    @property
    def version(self) -> int | None:
        return netaddr.IPAddress(self.ip).version if self.ip else None


@dataclass(frozen=True)
class Problem:
    node: str
    message: str

    def __str__(self) -> str:
        return f"{self.node}: Error: {self.message}"


def _split_macs(value: str) -> tuple[list[str], list[tuple[str, str]], list[str]]:
    """mac.mac -> (own MACs, (MAC, name) pairs, malformed entries)."""
    own, named, bad = [], [], []
    for entry in value.split("|"):
        entry = entry.strip()
        if not entry:
            continue
        mac, bang, name = entry.partition("!")
        norm = normalize_mac(mac)
        if norm is None:
            bad.append(mac.strip())
        elif bang:
            named.append((norm, name.strip()))
        else:
            own.append(norm)
    return own, named, bad


def _normal_ip(text: str) -> str | None:
    try:
        return str(netaddr.IPAddress(plain_ip(text.strip()), flags=netaddr.INET_PTON))
    except (netaddr.AddrFormatError, ValueError):
        return None


def _aliases(value: str | None) -> tuple[str, ...]:
    return tuple(a for a in (value or "").replace(",", " ").split() if a)


class AddressBook:
    """Every node's addresses, read once per command; `collect` checks a noderange's."""

    def __init__(self, attrs: NodeAttrs, networks: list[Network]) -> None:
        self.attrs = attrs
        self.networks = networks
        self.site_domain = (attrs.table("site").get("domain") or {}).get("value") or None
        self._owners_of_mac: dict[str, list[str]] | None = None
        self._owners_of_ip: dict[str, list[str]] | None = None

    def _raw(self, node: str) -> tuple[str | None, str]:
        return (self.attrs.lookup(node, "hosts", "ip"),
                self.attrs.lookup(node, "mac", "mac") or "")

    def _index(self) -> None:
        if self._owners_of_mac is not None:
            return
        self._owners_of_mac, self._owners_of_ip = {}, {}
        for node in self.attrs.node_names(include_hidden=True):
            ip_text, mac_text = self._raw(node)
            own, named, _ = _split_macs(mac_text)
            for mac in dict.fromkeys([*own, *(m for m, _ in named)]):
                self._owners_of_mac.setdefault(mac, []).append(node)
            ip = _normal_ip(ip_text) if ip_text else None
            if ip:
                self._owners_of_ip.setdefault(ip, []).append(node)

    def address(self, node: str) -> tuple[NodeAddress, list[Problem]]:
        """One node's addresses and what is wrong with them (nothing checked against
        other nodes or networks here; see `collect`)."""
        problems = []
        ip_text, mac_text = self._raw(node)
        ip = None
        if ip_text and ip_text.strip():
            ip = _normal_ip(ip_text)
            if ip is None:
                problems.append(Problem(node, f"malformed IP address '{ip_text.strip()}' "
                                              "in hosts.ip"))
        own, named, bad = _split_macs(mac_text)
        for value in bad:
            problems.append(Problem(node, f"malformed MAC address '{value}' in mac.mac"))
        net = network_for(ip, self.networks) if ip else None
        domain = (net.domain if net and net.domain else None) or self.site_domain
        record = NodeAddress(node, ip, tuple(dict.fromkeys(own)), tuple(named),
                             _aliases(self.attrs.lookup(node, "hosts", "hostnames")),
                             domain, net)
        return record, problems

    def collect(self, nodes: list[str], *, need_ip: bool = True, need_mac: bool = False,
                need_network: bool = False,
                check_macs: bool = True) -> tuple[list[NodeAddress], list[Problem]]:
        """The nodes' addresses, and every problem found. Callers publish nothing if the
        problem list is not empty. Publishers of names only (hosts files, DNS) pass
        check_macs=False: a bad MAC is makedhcp's business, not theirs."""
        self._index()
        records, problems = [], []
        for node in nodes:
            record, found = self.address(node)
            if not check_macs:
                found = [p for p in found if "mac.mac" not in p.message]
                record = replace(record, macs=(), named_macs=())
            if need_ip and record.ip is None and not found:
                found.append(Problem(node, "no IP address in hosts.ip"))
            if need_mac and not record.macs and not record.named_macs and not found:
                found.append(Problem(node, "no MAC address in mac.mac"))
            for mac in dict.fromkeys([*record.macs, *(m for m, _ in record.named_macs)]):
                others = [n for n in self._owners_of_mac.get(mac, []) if n != node]
                if others:
                    found.append(Problem(node, f"MAC address {mac} is also in mac.mac of "
                                               f"{', '.join(others)}"))
            if record.ip:
                others = [n for n in self._owners_of_ip.get(record.ip, []) if n != node]
                if others:
                    found.append(Problem(node, f"IP address {record.ip} is also hosts.ip of "
                                               f"{', '.join(others)}"))
                if need_network and record.network is None:
                    found.append(Problem(node, f"IP address {record.ip} is not on any network "
                                               "in the networks table"))
            problems.extend(found)
            if not found:
                records.append(record)
        return records, problems
