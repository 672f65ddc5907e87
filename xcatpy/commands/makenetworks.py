"""makenetworks: define the networks the head node is attached to, as xCAT does.

For every subnet one of the head node's interfaces has an address on (IPv4, and global
IPv6), a networks row like xCAT's makenetworks writes: netname `10_0_0_0-255_255_255_0`
(`fd00::/64` for IPv6), net, mask, mgtifname and mtu; for IPv4 also the gateway (the
default route's, when it is on that subnet, else `<xcatmaster>`) and tftpserver
`<xcatmaster>`. IPv6 gets a gateway only from a default route with a global address on the
subnet, since IPv6 routers announce themselves. A network that is already defined (same
net and mask, however written) is left alone; `-d` prints the definitions instead.
"""

import socket
from dataclasses import dataclass

import netaddr

from xcatpy.commands.base import Context
from xcatpy.commands.options import CommandParser
from xcatpy.db.stanza import format_objects
from xcatpy.net import interfaces
from xcatpy.net.networks import XCATMASTER, parse_prefix

USAGE = """Usage:
  makenetworks [-d|--display]
  makenetworks [-?|-h|--help]"""

_parser = CommandParser("makenetworks", USAGE)
_parser.add_argument("-d", "--display", action="store_true")
_parser.add_argument("-V", "--verbose", action="store_true")

# Replaced by tests to feed any machine's interfaces.
read_host_networking = interfaces.read_host_networking

EQUIVALENT_NOTE = "# Note: An equivalent xCAT network definition already exists."


@dataclass
class Proposal:
    attrs: dict[str, str]
    cidr: netaddr.IPNetwork
    equivalent: str | None = None          # the netname of an existing row for this net
    name_taken: bool = False               # another net is defined under this netname

    @property
    def netname(self) -> str:
        return self.attrs["netname"]


def _row_for(addr: interfaces.InterfaceAddress,
             host: interfaces.HostNetworking) -> dict[str, str]:
    cidr = addr.network
    gateway = host.gateway_on(addr.ifname, cidr)
    if cidr.version == 4:
        mask = str(cidr.netmask)
        row = {"netname": f"{str(cidr.network).replace('.', '_')}-{mask.replace('.', '_')}",
               "net": str(cidr.network), "mask": mask, "mgtifname": addr.ifname,
               "gateway": str(gateway) if gateway else XCATMASTER,
               "tftpserver": XCATMASTER}
    else:
        row = {"netname": str(cidr), "net": str(cidr.network), "mask": f"/{cidr.prefixlen}",
               "mgtifname": addr.ifname}
        if gateway:
            row["gateway"] = str(gateway)
    if addr.mtu:
        row["mtu"] = str(addr.mtu)
    return row


def _existing(rows: list[dict]) -> tuple[dict[netaddr.IPNetwork, str], set[str]]:
    by_cidr, names = {}, set()
    for row in rows:
        names.add(row.get("netname") or "")
        try:
            cidr = parse_prefix(row.get("net") or "", row.get("mask") or "")
        except (netaddr.AddrFormatError, ValueError, TypeError):
            continue  # a malformed row names no network this one could be
        by_cidr.setdefault(cidr, row.get("netname") or f"{row.get('net')}/{row.get('mask')}")
    return by_cidr, names


def plan(host: interfaces.HostNetworking, existing_rows: list[dict]) -> list[Proposal]:
    """A proposal per subnet of the head node, first interface first; host addresses
    (/32, /128) define no subnet and are skipped."""
    by_cidr, names = _existing(existing_rows)
    proposals: dict[netaddr.IPNetwork, Proposal] = {}
    for addr in host.addresses:
        cidr = addr.network
        if cidr.prefixlen == (32 if cidr.version == 4 else 128) or cidr in proposals:
            continue
        row = _row_for(addr, host)
        equivalent = by_cidr.get(cidr)
        proposals[cidr] = Proposal(row, cidr, equivalent,
                                   equivalent is None and row["netname"] in names)
    return sorted(proposals.values(), key=lambda p: (p.cidr.version, p.cidr.first,
                                                     p.cidr.prefixlen))


def _display(ctx: Context, proposals: list[Proposal]) -> None:
    host = socket.gethostname()
    lines = format_objects([])
    for p in proposals:
        attrs = {k: v for k, v in p.attrs.items() if k != "netname"}
        lines += ["", f"#From {host}."] + format_objects([(p.netname, "network", attrs)])[2:]
        if p.equivalent:
            lines.append(EQUIVALENT_NOTE)
    for line in lines:
        ctx.out.data(line)


def run(ctx: Context) -> int:
    opts = _parser.parse(ctx.args)
    proposals = plan(read_host_networking(),
                     ctx.store.rows("networks", include_disabled=True))
    if opts.display:
        _display(ctx, proposals)
        return 0
    new = []
    for p in proposals:
        if p.equivalent:
            continue
        if p.name_taken:
            ctx.out.error(f"Warning: The network entry '{p.netname}' already exists in xCAT "
                          f"networks table. Cannot create a definition for '{p.netname}'")
            continue
        new.append(p.attrs)
    columns = ("netname", "net", "mask", "mgtifname", "gateway", "tftpserver", "mtu")
    ctx.store.upsert_rows("networks", [{c: row.get(c) for c in columns} for row in new])
    return 0
