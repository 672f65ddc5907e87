"""The networks table as objects: which subnet an address is on, and what that subnet offers.

Every part that serves or exports addresses (embedded DHCP, the ISC/Kea/dnsmasq exports,
reverse DNS zones, makenetworks) reads the table through here, so a malformed row is
reported the same way everywhere: naming the row and the value.
"""

from dataclasses import dataclass

import netaddr

from xcatpy.db.attrs import split_list
from xcatpy.db.store import Store
from xcatpy.digits import decimal
from xcatpy.errors import XcatError

# networks.gateway (and tftpserver, nameservers) may name the head node's own address on
# that network instead of a fixed one.
XCATMASTER = "<xcatmaster>"


@dataclass(frozen=True)
class Network:
    name: str
    cidr: netaddr.IPNetwork
    mgtifname: str | None = None
    gateway: str | None = None
    dhcpserver: str | None = None
    tftpserver: str | None = None
    nameservers: tuple[str, ...] = ()
    ntpservers: tuple[str, ...] = ()
    domain: str | None = None
    mtu: int | None = None
    dynamic: tuple[netaddr.IPRange, ...] = ()

    @property
    def version(self) -> int:
        return self.cidr.version

    def __contains__(self, address) -> bool:
        try:
            return netaddr.IPAddress(str(address)) in self.cidr
        except (netaddr.AddrFormatError, ValueError, TypeError):
            return False

    def in_dynamic_range(self, address) -> bool:
        ip = netaddr.IPAddress(str(address))
        return any(ip in r for r in self.dynamic)


def parse_prefix(net: str, mask: str) -> netaddr.IPNetwork:
    """net + mask as xCAT writes them: '255.255.255.0', '/24', '24' or, for IPv6, '/64';
    xCAT's IPv6 rows may also carry the prefix in net ('fd00::/64') with mask blank or
    repeating it."""
    net, mask = net.strip(), (mask or "").strip().lstrip("/")
    net, slash, own = net.partition("/")
    if slash and mask and own != mask and netaddr.IPNetwork(f"{net}/{mask}").prefixlen != \
            int(own):
        raise ValueError(f"prefix /{own} in net disagrees with mask {mask}")
    cidr = netaddr.IPNetwork(f"{net}/{mask or own}")
    return cidr.cidr


def parse_ranges(text: str | None) -> tuple[netaddr.IPRange, ...]:
    """networks.dynamicrange: 'a-b', several joined by ',' or ';', or xCAT's old 'a,b'."""
    text = (text or "").strip()
    if not text:
        return ()
    parts = [p.strip() for p in text.replace(";", ",").split(",") if p.strip()]
    if len(parts) == 2 and "-" not in parts[0] and "-" not in parts[1]:
        parts = [f"{parts[0]}-{parts[1]}"]
    ranges = []
    for part in parts:
        start, dash, end = part.partition("-")
        if not dash:
            raise ValueError(f"'{part}' is not a range (start-end)")
        ranges.append(netaddr.IPRange(start.strip(), end.strip()))
    return tuple(ranges)


def network_from_row(row: dict) -> Network:
    label = row.get("netname") or f"{row.get('net')}/{row.get('mask')}"
    try:
        cidr = parse_prefix(row.get("net") or "", row.get("mask") or "")
    except (netaddr.AddrFormatError, ValueError, TypeError):
        raise XcatError(f"networks table: network '{label}' has an invalid net/mask "
                        f"'{row.get('net')}' '{row.get('mask')}'") from None
    try:
        dynamic = parse_ranges(row.get("dynamicrange"))
    except (netaddr.AddrFormatError, ValueError) as exc:
        raise XcatError(f"networks table: network '{label}' has an invalid dynamicrange "
                        f"'{row.get('dynamicrange')}': {exc}") from None
    for r in dynamic:
        if r.first < cidr.first or r.last > cidr.last:
            raise XcatError(f"networks table: network '{label}' dynamicrange {r} is not "
                            f"inside {cidr}")
    mtu = (row.get("mtu") or "").strip()
    if mtu and decimal(mtu) is None:
        raise XcatError(f"networks table: network '{label}' has an invalid mtu '{mtu}'")
    return Network(
        name=row.get("netname") or f"{cidr.network}-{cidr.prefixlen}",
        cidr=cidr,
        mgtifname=row.get("mgtifname") or None,
        gateway=row.get("gateway") or None,
        dhcpserver=row.get("dhcpserver") or None,
        tftpserver=row.get("tftpserver") or None,
        nameservers=tuple(split_list(row.get("nameservers"))),
        ntpservers=tuple(split_list(row.get("ntpservers"))),
        domain=row.get("domain") or None,
        mtu=decimal(mtu),
        dynamic=dynamic,
    )


def load_networks(store: Store) -> list[Network]:
    """Every enabled networks row, most specific prefix first (so a lookup finds the
    narrowest network an address is on)."""
    nets = [network_from_row(r) for r in store.rows("networks")]
    return sorted(nets, key=lambda n: (n.version, -n.cidr.prefixlen, n.cidr.first))


def network_for(address, networks: list[Network]) -> Network | None:
    """The narrowest network `address` is on, or None. `networks` as load_networks sorts them."""
    try:
        ip = netaddr.IPAddress(str(address).split("%")[0])
    except (netaddr.AddrFormatError, ValueError, TypeError):
        return None
    for net in networks:
        if net.version == ip.version and ip in net.cidr:
            return net
    return None
