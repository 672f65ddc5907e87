"""makedns: publish the nodes' A/AAAA and PTR records.

The records land in the dnsrecord table, which xcatd's embedded DNS answers from. With
site.dnshandler=ddns or -e they are also sent to an external server as dynamic updates
(see xcatpy/net/dns/ddns.py), in the same command: if the server refuses, the table is
left as it was. Every node is checked first; any problem fails the command with nothing
written or sent.
"""

from dataclasses import replace

from xcatpy.commands.base import Context
from xcatpy.commands.options import CommandParser
from xcatpy.errors import UsageError, XcatError
from xcatpy.net.dns import ddns
from xcatpy.net.dns.records import Record, build_records, conflicts
from xcatpy.net.dns.zones import normalize, usable_networks, zone_apexes
from xcatpy.net.networks import load_networks
from xcatpy.net.nodenet import AddressBook

USAGE = """Usage:
  makedns [-h|--help]
  makedns [-V|--verbose] [-e|--external] [-n|--new] [-a|--all | noderange]
  makedns [-V|--verbose] [-e|--external] [-d|--delete] noderange"""

HANDLERS = ("embedded", "ddns")

_parser = CommandParser("makedns", USAGE)
_parser.add_argument("-n", "--new", action="store_true")
_parser.add_argument("-d", "--delete", action="store_true")
_parser.add_argument("-e", "--external", action="store_true")
_parser.add_argument("-a", "--all", action="store_true")
_parser.add_argument("-V", "--verbose", action="store_true")
_parser.add_argument("noderange", nargs="?")


def _site(ctx: Context, key: str) -> str | None:
    value = ctx.attrs.table("site").get(key, {}).get("value")
    return value.strip() if value and value.strip() else None


def _external(ctx: Context, forced: bool) -> bool:
    handler = (_site(ctx, "dnshandler") or "embedded").lower()
    if handler not in HANDLERS:
        raise XcatError(f"site.dnshandler '{handler}' is not supported: use embedded "
                        "(xcatd answers) or ddns (dynamic updates to an external server)")
    return forced or handler == "ddns"


def run(ctx: Context) -> int:
    opts = _parser.parse(ctx.args)
    if opts.all and opts.noderange:
        raise UsageError("makedns: give a noderange or -a, not both")
    if opts.delete and opts.new:
        raise UsageError("makedns: -d and -n cannot be combined")
    if opts.delete and not (opts.noderange or opts.all):
        raise UsageError("makedns: makedns -d without noderange or -a is not supported")
    explicit = bool(opts.noderange)
    nodes = ctx.noderange(opts.noderange) if explicit else ctx.all_nodes()
    external = _external(ctx, opts.external)

    book = AddressBook(ctx.attrs, load_networks(ctx.store))
    existing = [Record.from_row(r) for r in ctx.store.rows("dnsrecord", include_disabled=True)]
    wanted = set(nodes)
    if opts.delete:
        old = [r for r in existing if r.node in wanted]
        # Also what the nodes' addresses imply now: an external server may hold records
        # published before this table knew them (by xCAT, or by hand).
        addresses, _ = book.collect(nodes, need_ip=False, check_macs=False)
        implied, _ = build_records(a for a in addresses if a.ip)
        return _apply(ctx, opts, nodes, old, [], old + implied, external)

    addresses, problems = book.collect(nodes, need_ip=explicit, need_network=True,
                                         check_macs=False)
    for address in addresses:
        if address.ip is None:
            ctx.out.data(f"Ignoring {address.node}: no IP address in hosts.ip.")
    new, wrong = build_records(a for a in addresses if a.ip)
    problems += wrong
    replaced = existing if opts.new else [r for r in existing if r.node in wanted]
    # A TTL an admin set on a published row (tabch/tabedit) outlives republishing it.
    ttls = {r.key: r.ttl for r in replaced if r.ttl is not None}
    new = [replace(r, ttl=ttls.get(r.key)) for r in new]
    replaced_keys = {r.key for r in replaced}
    kept = [r for r in existing if r.key not in replaced_keys]
    problems += conflicts(new, kept)
    if problems:
        for problem in problems:
            ctx.node_error(problem.node, problem.message)
        return 1
    published = [a.node for a in addresses if a.ip]
    return _apply(ctx, opts, published, replaced, new, replaced + new, external)


def _apply(ctx: Context, opts, handled: list[str], removed: list[Record],
           added: list[Record], cleared: list[Record], external: bool) -> int:
    """Replace `removed` rows with `added` ones; with a DNS server, clear the RRsets of
    every name in `cleared` there and add `added`."""
    for node in handled:
        ctx.out.data(f"Handling {node}.")
        if opts.verbose:
            for rec in (r for r in added if r.node == node):
                ctx.out.data(f"{node}: {rec}")
    ctx.out.data("Updating DNS records, this may take several minutes for a large cluster.")
    ctx.store.delete_rows("dnsrecord", [{"name": r.name, "type": r.type, "value": r.value}
                                        for r in removed])
    ctx.store.upsert_rows("dnsrecord", [r.row() for r in added])
    if external:
        _push(ctx, cleared, added, opts.verbose)
    ctx.out.data("Completed updating DNS records.")
    ctx.out.data("DNS setup is completed")
    return 0


def _push(ctx: Context, cleared: list[Record], added: list[Record], verbose: bool) -> None:
    configured = _site(ctx, "dnsupdateserver")
    where = "site.dnsupdateserver" if configured else "site.master"
    target = configured or _site(ctx, "master")
    if not target:
        raise XcatError("no DNS server to update: set site.dnsupdateserver (host or host:port)"
                        " or site.master")
    server = ddns.parse_server(target, where)
    key = ddns.key_from_passwd(ctx.store.rows("passwd"))
    domain = _site(ctx, "domain")
    apexes = zone_apexes(normalize(domain) if domain else None,
                         usable_networks(ctx.store.rows("networks")))
    at_server = ddns.zones_at_server([r.name for r in [*cleared, *added]], server)
    zones, unplaced = ddns.plan(cleared, added, ddns.zone_finder(apexes, at_server))
    for rec in dict.fromkeys(unplaced):
        ctx.out.data(f"Warning: not removing {rec} from {server}: it is in no zone of "
                     "site.domain or the networks table")
    sent = ddns.push(zones, server, key)
    if verbose:
        ctx.out.data(f"Sent {sent} update message(s) for {len(zones)} zone(s) to {server}.")
