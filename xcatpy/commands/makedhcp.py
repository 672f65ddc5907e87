"""makedhcp: publish nodes' static DHCP leases to the embedded service or a foreign server.

What is published lives in the dhcpreservation table (see xcatpy.net.reservations); the
embedded DHCP service answers it on its next packet, with no restart. With site.dhcpbackend
set to isc, kea or dnsmasq the same table is also written out in that server's format, whole
and atomically, and the server is never restarted by us (dnsmasq reads its hosts directory
by itself; ISC and Kea need one reload by the admin, which the command says).
"""

from pathlib import Path

from xcatpy.commands.base import Context
from xcatpy.commands.options import CommandParser
from xcatpy.errors import UsageError, XcatError
from xcatpy.net import reservations
from xcatpy.net.networks import load_networks
from xcatpy.net.nodenet import AddressBook

USAGE = """Usage:
  makedhcp -n [-l | --localonly]
  makedhcp -a [-l | --localonly] [-d]
  makedhcp noderange [-l | --localonly] [-d]
  makedhcp -q noderange
  makedhcp [-h|--help]"""

BACKENDS = ("embedded", "isc", "kea", "dnsmasq")

_parser = CommandParser("makedhcp", USAGE)
_parser.add_argument("noderange", nargs="?")
_parser.add_argument("-n", dest="new", action="store_true")
_parser.add_argument("-a", dest="all", action="store_true")
_parser.add_argument("-d", dest="delete", action="store_true")
_parser.add_argument("-q", dest="query", action="store_true")
# One head node serves every network here, so "only this node's networks" is all of them.
_parser.add_argument("-l", "--localonly", action="store_true")


def _site(ctx: Context) -> dict[str, str]:
    return {k: r.get("value") or "" for k, r in ctx.attrs.table("site").items()}


def backend_of(site: dict[str, str]) -> str:
    backend = (site.get("dhcpbackend") or "embedded").strip().lower()
    if backend not in BACKENDS:
        raise XcatError(f"site.dhcpbackend '{backend}' is not one of {', '.join(BACKENDS)}")
    return backend


def export_dir(site: dict[str, str], state_dir: Path) -> Path:
    return Path(site.get("dhcpexportdir") or state_dir / "dhcp")


def _nodes_with_macs(ctx: Context) -> list[str]:
    return [n for n in ctx.all_nodes(include_hidden=True)
            if ctx.attrs.lookup(n, "mac", "mac")]


def _query(ctx: Context, nodes: list[str]) -> int:
    published = reservations.by_node(ctx.store)
    for node in nodes:
        rows = published.get(node)
        if not rows:
            ctx.node_error(node, "no DHCP entry (run makedhcp for it)")
            continue
        for row in rows:
            ctx.out.data(f"{node}: ip-address = {row['ip']}, hardware-address = {row['mac']}")
    return 0


def _check_interfaces(ctx: Context, site: dict[str, str]) -> None:
    if not (site.get("dhcpinterfaces") or "").strip():
        ctx.out.error("Warning: site.dhcpinterfaces is not set: the embedded DHCP service "
                      "answers on no interface until it is (or xcatd --dhcp-interfaces)")


def _export(ctx: Context, backend: str, site: dict[str, str], changed: set[str] | None) -> None:
    from xcatpy.net.exports import export_dhcp, reload_hint

    written = export_dhcp(backend, reservations.published(ctx.store), load_networks(ctx.store),
                          site, export_dir(site, ctx.store.state_dir), changed_nodes=changed)
    hint = reload_hint(backend, written)
    if hint:
        ctx.out.data(f"makedhcp: {hint}")


def run(ctx: Context) -> int:
    opts = _parser.parse(ctx.args)
    modes = sum(bool(x) for x in (opts.new, opts.all, opts.query))
    if modes > 1 or (modes == 0 and not opts.noderange):
        raise UsageError("makedhcp: give one of -n, -a, -q noderange, or a noderange")
    if (opts.new or opts.all) and opts.noderange:
        raise UsageError("makedhcp: -n and -a take no noderange")
    if opts.query and not opts.noderange:
        raise UsageError("makedhcp: -q needs a noderange")
    if opts.new and opts.delete:
        raise UsageError("makedhcp: -n and -d cannot be combined")

    site = _site(ctx)
    backend = backend_of(site)
    if opts.query:
        return _query(ctx, ctx.noderange(opts.noderange))
    networks = load_networks(ctx.store)  # a malformed networks row stops every mode
    if opts.new:
        if not any(n.version == 4 for n in networks):
            raise XcatError("makedhcp: the networks table has no IPv4 network to serve "
                            "(run makenetworks or add one with mkdef -t network)")
        if backend == "embedded":
            _check_interfaces(ctx, site)
            for net in networks:
                if net.version == 4:
                    ctx.out.data(f"makedhcp: serving network {net.name} ({net.cidr})")
        else:
            _export(ctx, backend, site, None)
        return 0

    nodes = _nodes_with_macs(ctx) if opts.all else ctx.noderange(opts.noderange)
    if opts.delete:
        reservations.withdraw(ctx.store, None if opts.all else nodes)
    else:
        book = AddressBook(ctx.attrs, networks)
        records, problems = book.collect(nodes, need_ip=True, need_mac=True,
                                         need_network=True)
        for problem in problems:
            ctx.node_error(problem.node, problem.message)
        if problems:
            return 1
        for record in records:
            if record.version != 4:
                ctx.node_error(record.node, f"IP address {record.ip} is not IPv4; DHCPv4 "
                                            "cannot give it")
        if ctx.failed:
            return 1
        reservations.publish(ctx.store, records, replace_all=opts.all)
        if backend == "embedded":
            _check_interfaces(ctx, site)
    if backend != "embedded":
        _export(ctx, backend, site, None if opts.all else set(nodes))
    return 0
