"""What every DHCP export says, decided once: subnets, their options, boot files, hosts.

The ISC, Kea and dnsmasq writers only spell this model in their own syntax, so the three
files always agree on which subnet a host is on, which address the head node has there and
which boot program a client gets.

Boot programs follow share/doc/boot.md: a BIOS PXE ROM gets pxelinux.0, a UEFI x86-64 ROM
(client architecture 7 or 9) gets ipxe.efi, and iPXE itself (user class "iPXE") gets the
head node's per-node iPXE script over HTTP, which is what keeps iPXE from loading itself
again in a loop.
"""

from dataclasses import dataclass

import netaddr

from xcatpy.boot import urls
from xcatpy.boot.nodeindex import normalize_mac
from xcatpy.db.attrs import split_list
from xcatpy.digits import decimal
from xcatpy.errors import XcatError
from xcatpy.net.dhcp import bootselect
from xcatpy.net.networks import XCATMASTER, Network, network_for

# The embedded service's defaults, so a foreign server boots a node as xcatd would.
BIOS_BOOT_FILE = bootselect.LOADER_FILES["bios"][bootselect.DEFAULT_FAMILY["bios"]]
EFI64_BOOT_FILE = bootselect.LOADER_FILES["efi-x64"][bootselect.DEFAULT_FAMILY["efi-x64"]]
IPXE_USER_CLASS = "iPXE"
# DHCP option 93 (RFC 4578) values: 0 BIOS; 7 and 9 both mean x86-64 UEFI in the field.
ARCH_BIOS = (bootselect.ARCH_BIOS,)
ARCH_EFI64 = (bootselect.ARCH_EFI_BC, bootselect.ARCH_EFI_X64)
# xCAT's site.dhcplease default.
DEFAULT_LEASE = 43200


@dataclass(frozen=True)
class Subnet:
    network: Network
    tag: str                         # a name every backend accepts: xcatpy_10_0_0_0_24
    server: str | None               # next-server: where PXE ROMs fetch their boot program
    routers: tuple[str, ...]
    nameservers: tuple[str, ...]
    ntpservers: tuple[str, ...]
    domain: str | None
    mtu: int | None
    ranges: tuple[netaddr.IPRange, ...]
    lease: int
    ipxe_url: str | None             # the iPXE script for iPXE clients

    @property
    def cidr(self) -> netaddr.IPNetwork:
        return self.network.cidr

    @property
    def interface(self) -> str | None:
        """The head node's interface on this network; None for relayed (!remote!) ones."""
        name = self.network.mgtifname
        return None if not name or name.startswith("!remote!") else name


@dataclass(frozen=True)
class Host:
    """One reserved address: a node's name and address, and every MAC that asks for it."""

    node: str
    hostname: str
    ip: str
    macs: tuple[str, ...]
    subnet: Subnet


def _ipv4(text: str | None) -> str | None:
    try:
        ip = netaddr.IPAddress((text or "").strip(), flags=netaddr.INET_PTON)
    except (netaddr.AddrFormatError, ValueError, TypeError):
        return None
    return str(ip) if ip.version == 4 else None


def head_address(cidr: netaddr.IPNetwork, local: list[netaddr.IPAddress],
                 master: str | None) -> str | None:
    """The head node's own address on `cidr`: one of its interfaces there, else site.master
    if that is on `cidr`. This is what `<xcatmaster>` means for a network."""
    for address in local:
        if address.version == cidr.version and address in cidr:
            return str(address)
    ip = _ipv4(master)
    if ip and netaddr.IPAddress(ip) in cidr:
        return ip
    return None


def _resolve(values, head: str | None) -> tuple[str, ...]:
    """IPv4 addresses of a list that may name `<xcatmaster>`; host names are dropped, since
    Kea and dnsmasq want addresses and dhcpd would look names up at every start."""
    out = []
    for value in values:
        ip = head if value.strip() == XCATMASTER else _ipv4(value)
        if ip and ip not in out:
            out.append(ip)
    return tuple(out)


def _lease(site: dict[str, str]) -> int:
    text = (site.get("dhcplease") or "").strip()
    if not text:
        return DEFAULT_LEASE
    seconds = decimal(text)
    if not seconds:
        raise XcatError(f"site.dhcplease '{text}' is not a number of seconds")
    return seconds


def tag_for(cidr: netaddr.IPNetwork) -> str:
    return f"xcatpy_{str(cidr.network).replace('.', '_')}_{cidr.prefixlen}"


def build_subnet(net: Network, site: dict[str, str], local: list[netaddr.IPAddress]) -> Subnet:
    head = head_address(net.cidr, local, site.get("master"))
    tftp = net.tftpserver or net.dhcpserver
    if tftp:
        server = head if tftp.strip() == XCATMASTER else _ipv4(tftp)
    else:
        server = head or _ipv4(site.get("master"))
    port = (site.get("httpport") or "80").strip()
    ipxe_url = None
    if server:
        ipxe_url = urls.http_base(server, decimal(port) or 80) + urls.IPXE_PATH
    return Subnet(
        network=net,
        tag=tag_for(net.cidr),
        server=server,
        routers=_resolve([net.gateway] if net.gateway else [], head),
        nameservers=_resolve(net.nameservers or split_list(site.get("nameservers")), head),
        ntpservers=_resolve(net.ntpservers or split_list(site.get("ntpservers")), head),
        domain=net.domain or site.get("domain") or None,
        mtu=net.mtu,
        ranges=tuple(r for r in net.dynamic if r.version == 4),
        lease=_lease(site),
        ipxe_url=ipxe_url,
    )


def build_subnets(networks: list[Network], site: dict[str, str],
                  local: list[netaddr.IPAddress]) -> list[Subnet]:
    """Every IPv4 network, in address order (DHCPv4 servers serve no IPv6 network)."""
    v4 = sorted((n for n in networks if n.version == 4),
                key=lambda n: (n.cidr.first, n.cidr.prefixlen))
    seen: dict[netaddr.IPNetwork, Network] = {}
    for net in v4:
        first = seen.setdefault(net.cidr, net)
        if first is not net:
            raise XcatError(f"networks table: networks '{first.name}' and '{net.name}' are "
                            f"both {net.cidr}; remove one of them")
    return [build_subnet(n, site, local) for n in v4]


def _row_label(row: dict) -> str:
    return f"MAC {row.get('mac')} (node {row.get('node') or '?'})"


def build_hosts(reservations: list[dict], subnets: list[Subnet]) -> list[Host]:
    """The reservations grouped per node, address and name, each on its narrowest subnet;
    a row that cannot be placed is an error naming it, and nothing is exported."""
    networks = sorted((s.network for s in subnets),
                      key=lambda n: (-n.cidr.prefixlen, n.cidr.first))
    by_cidr = {s.cidr: s for s in subnets}
    groups: dict[tuple[str, str, str], list[str]] = {}
    owner_of_ip: dict[str, str] = {}
    for row in reservations:
        mac = normalize_mac(row.get("mac") or "")
        node = (row.get("node") or "").strip()
        if mac is None:
            raise XcatError(f"dhcpreservation: '{row.get('mac')}' is not a MAC address")
        if not node:
            raise XcatError(f"dhcpreservation: {_row_label(row)} names no node")
        ip = _ipv4(row.get("ip"))
        if ip is None:
            raise XcatError(f"dhcpreservation: {_row_label(row)} has no valid IPv4 address "
                            f"('{row.get('ip') or ''}')")
        other = owner_of_ip.setdefault(ip, node)
        if other != node:
            raise XcatError(f"dhcpreservation: {ip} is reserved for both {other} and {node}")
        hostname = (row.get("hostname") or "").strip() or node
        groups.setdefault((node, ip, hostname), []).append(mac)
    hosts = []
    for (node, ip, hostname), macs in sorted(
            groups.items(), key=lambda g: (g[0][0], netaddr.IPAddress(g[0][1]), g[0][2])):
        net = network_for(ip, networks)
        if net is None:
            raise XcatError(f"dhcpreservation: {ip} of node {node} is on no network in the "
                            "networks table; define the network (makenetworks, or mkdef -t "
                            "network) and run makedhcp again")
        hosts.append(Host(node, hostname, ip, tuple(sorted(macs)), by_cidr[net.cidr]))
    return hosts
