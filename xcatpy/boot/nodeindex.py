"""Which node is asking: by the MAC in a config name, or by the address a request came from.

Built from the mac and hosts tables once per database version (see BootView), so a boot
storm of thousands of nodes costs one table scan, not one per request. hosts.ip may be a
group-level regular expression; it is evaluated per node through NodeAttrs.
"""

import ipaddress

from xcatpy.db.attrs import NodeAttrs


def normalize_mac(text: str) -> str | None:
    """'52-54-00-AB-cd-01' or '52:54:00:ab:cd:01' -> '52:54:00:ab:cd:01'."""
    hexdigits = text.strip().lower().replace("-", ":").split(":")
    if len(hexdigits) != 6 or not all(len(h) == 2 for h in hexdigits):
        return None
    try:
        bytes.fromhex("".join(hexdigits))
    except ValueError:
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
    def __init__(self, attrs: NodeAttrs) -> None:
        self.attrs = attrs
        self._by_mac: dict[str, str] | None = None
        self._by_ip: dict[str, str] | None = None

    def node_by_mac(self, mac: str) -> str | None:
        if self._by_mac is None:
            self._by_mac = {}
            for node, row in self.attrs.table("mac").items():
                if self.attrs.is_node(node):
                    for m in mac_entries(row.get("mac")):
                        self._by_mac.setdefault(m, node)
        norm = normalize_mac(mac)
        return self._by_mac.get(norm) if norm else None

    def ip_of(self, node: str) -> str | None:
        ip = self.attrs.lookup(node, "hosts", "ip")
        return plain_ip(ip.strip()) if ip else None

    def node_by_ip(self, address: str) -> str | None:
        if self._by_ip is None:
            self._by_ip = {}
            for node in self.attrs.node_names(include_hidden=True):
                ip = self.ip_of(node)
                if ip:
                    self._by_ip.setdefault(ip, node)
        return self._by_ip.get(plain_ip(address))
