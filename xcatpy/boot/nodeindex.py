"""Which node is asking: by the MAC in a config name, or by the address a request came from.

Built from the mac, hosts and nodelist tables once per generation of those tables (see
BootCache), so a boot storm of thousands of nodes costs one table scan, not one per
request. hosts.ip may be a group-level regular expression; it is evaluated per node
through NodeAttrs.
"""

import ipaddress
import re

from xcatpy.db.attrs import NodeAttrs

_HEX_PAIR = re.compile(r"[0-9a-f]{2}")


def normalize_mac(text: str) -> str | None:
    """'52-54-00-AB-cd-01' or '52:54:00:ab:cd:01' -> '52:54:00:ab:cd:01'."""
    hexdigits = text.strip().lower().replace("-", ":").split(":")
    # A pattern, not bytes.fromhex: that skips whitespace, and took "ab:  :cd" for a MAC.
    if len(hexdigits) != 6 or not all(_HEX_PAIR.fullmatch(h) for h in hexdigits):
        return None
    return ":".join(hexdigits)


def mac_entries(value: str | None) -> list[str]:
    """xCAT's mac.mac: 'mac1|mac2!othername' -> the MACs of this node's own interfaces
    (an entry with '!name' belongs to another host name on the same machine)."""
    macs = []
    for entry in (value or "").split("|"):
        mac, bang, _ = entry.partition("!")
        mac = normalize_mac(mac)
        if mac and not bang:
            macs.append(mac)
    return macs


def plain_ip(address: str) -> str:
    """An IPv4-mapped IPv6 peer ('::ffff:10.0.0.5') as the IPv4 address it is."""
    try:
        ip = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return address
    mapped = getattr(ip, "ipv4_mapped", None)
    return str(mapped or ip)


def hex_ip(address: str) -> str | None:
    try:
        ip = ipaddress.IPv4Address(address)
    except ValueError:
        return None
    return f"{int(ip):08X}"


class NodeIndex:
    """MAC -> node, address -> node and node -> address, built whole on creation, so one
    index can serve every reader thread for as long as the tables it came from last."""

    def __init__(self, attrs: NodeAttrs) -> None:
        self._by_mac: dict[str, str] = {}
        for node, row in attrs.table("mac").items():
            if attrs.is_node(node):
                for m in mac_entries(row.get("mac")):
                    self._by_mac.setdefault(m, node)
        self._ip_of: dict[str, str] = {}
        self._by_ip: dict[str, str] = {}
        for node in attrs.node_names(include_hidden=True):
            ip = attrs.lookup(node, "hosts", "ip")
            if ip:
                ip = plain_ip(ip.strip())
                self._ip_of[node] = ip
                self._by_ip.setdefault(ip, node)

    def node_by_mac(self, mac: str) -> str | None:
        norm = normalize_mac(mac)
        return self._by_mac.get(norm) if norm else None

    def ip_of(self, node: str) -> str | None:
        return self._ip_of.get(node)

    def node_by_ip(self, address: str) -> str | None:
        return self._by_ip.get(plain_ip(address))
