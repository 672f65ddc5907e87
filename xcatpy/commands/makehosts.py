"""makehosts: write the nodes' names and addresses into the hosts file.

The file is site.hostsfile (an xcatpy extension; absolute path) or /etc/hosts. Each node
gets `ip short long aliases` from hosts.ip, its domain (networks.domain, else site.domain)
and hosts.hostnames, and a line per hosts.otherinterfaces entry. Every node is checked
before the file is touched: a malformed or duplicate address fails the command and the
file stays as it was. Before writing, the old file is copied to `<file>.xcatbak`, as
xCAT's makehosts does on every run. The write is atomic and keeps the file's mode.

The command is registered as writing: it changes no table, but the database's write lock
is what keeps two makehosts from editing the file at once (xCAT takes a lock file).
"""

from pathlib import Path

from xcatpy.commands.base import Context
from xcatpy.commands.options import CommandParser
from xcatpy.errors import UsageError, XcatError
from xcatpy.net.exports.files import atomic_write, read_text, write_if_changed
from xcatpy.net.hostsfile import HostLine, HostsFile, build_names, normal_ip
from xcatpy.net.networks import load_networks, network_for
from xcatpy.net.nodenet import AddressBook, NodeAddress

USAGE = """Usage:
  makehosts [-n] [-l|--longnamefirst] [-o|--othernamesfirst] [-a|--adddomaintohostnames]
            [noderange]
  makehosts -d noderange
  makehosts [-?|-h|--help]"""

DEFAULT_HOSTS_FILE = "/etc/hosts"
BACKUP_SUFFIX = ".xcatbak"

_parser = CommandParser("makehosts", USAGE)
_parser.add_argument("-n", dest="new", action="store_true")
_parser.add_argument("-d", dest="delete", action="store_true")
_parser.add_argument("-l", "--longnamefirst", dest="longname", action="store_true")
_parser.add_argument("-o", "--othernamesfirst", dest="othernames", action="store_true")
_parser.add_argument("-a", "--adddomaintohostnames", dest="adddomain", action="store_true")
_parser.add_argument("noderange", nargs="?")


def _site(ctx: Context, key: str) -> str | None:
    return (ctx.attrs.table("site").get(key) or {}).get("value") or None


def hosts_path(ctx: Context) -> Path:
    value = _site(ctx, "hostsfile")
    if not value:
        return Path(DEFAULT_HOSTS_FILE)
    path = Path(value.strip())
    if not path.is_absolute():
        raise XcatError(f"site.hostsfile '{value}' is not an absolute path")
    return path


def other_interfaces(node: str, value: str | None) -> tuple[list[tuple[str, str]], list[str]]:
    """hosts.otherinterfaces (`-eth1:10.0.1.1,bmc-n1:10.0.2.1`, `!` for `:` also taken) ->
    ((host name, address) pairs, problems). A name starting with `-` is the node's name
    with that suffix."""
    pairs, problems = [], []
    for item in (value or "").split(","):
        item = item.strip()
        if not item:
            continue
        name, _, ip = item.partition("!") if "!" in item else item.partition(":")
        name, ip = name.strip(), ip.strip()
        if name.startswith("-"):
            name = node + name
        if not name or not ip:
            problems.append(f"malformed entry '{item}' in hosts.otherinterfaces "
                            "(expected <name>:<ip> or -<suffix>:<ip>)")
            continue
        normal = normal_ip(ip)
        if normal is None:
            problems.append(f"malformed IP address '{ip}' in hosts.otherinterfaces")
            continue
        pairs.append((name, normal))
    return pairs, problems


class _Planner:
    """The lines to set (or delete) for the nodes, and what is wrong with them."""

    def __init__(self, ctx: Context, opts, networks) -> None:
        self.ctx = ctx
        self.opts = opts
        self.networks = networks
        fqdn_first = (_site(ctx, "FQDNfirst") or "").strip().lower() in ("1", "yes", "enable")
        self.longname_first = opts.longname or fqdn_first
        self.lines: list[HostLine] = []
        self.deletions: list[tuple[str, str | None]] = []   # (name, address) with -d
        self.problems: list[tuple[str, str]] = []
        self.warnings: list[str] = []
        self._ip_owner: dict[str, str] = {}

    def _names(self, name: str, domain: str | None, aliases=()) -> tuple[str, ...]:
        return build_names(name, domain, aliases, longname_first=self.longname_first,
                           othernames_first=self.opts.othernames,
                           add_domain=self.opts.adddomain)

    def _add(self, node: str, name: str, ip: str | None, domain: str | None,
             aliases=()) -> None:
        if self.opts.delete:
            self.deletions.append((name, ip))
            return
        owner = self._ip_owner.setdefault(ip, name)
        if owner != name:
            self.problems.append((node, f"IP address {ip} of {name} is also the address of "
                                        f"{owner}"))
            return
        try:
            self.lines.append(HostLine(name, ip, self._names(name, domain, aliases)))
        except ValueError as exc:
            self.problems.append((node, str(exc)))

    def node(self, record: NodeAddress) -> None:
        node = record.node
        if record.ip is not None or self.opts.delete:
            self._add(node, node, record.ip, record.domain, record.aliases)
        else:
            self.warnings.append(f"Warning: Ignoring node '{node}', it can not be resolved.")
        pairs, problems = other_interfaces(
            node, self.ctx.attrs.lookup(node, "hosts", "otherinterfaces"))
        self.problems += [(node, p) for p in problems]
        for name, ip in pairs:
            net = network_for(ip, self.networks)
            self._add(node, name, ip, (net.domain if net else None) or record.domain)


def run(ctx: Context) -> int:
    opts = _parser.parse(ctx.args)
    if opts.delete and not opts.noderange:
        raise UsageError("makehosts: -d needs a noderange")
    nodes = ctx.noderange(opts.noderange) if opts.noderange else ctx.all_nodes()
    target = hosts_path(ctx)
    networks = load_networks(ctx.store)
    records, problems = AddressBook(ctx.attrs, networks).collect(nodes, need_ip=False,
                                                                 check_macs=False)
    planner = _Planner(ctx, opts, networks)
    for record in records:
        planner.node(record)
    for p in problems:
        ctx.node_error(p.node, p.message)
    for node, message in planner.problems:
        ctx.node_error(node, message)
    if ctx.failed:
        return 1
    for warning in planner.warnings:
        ctx.out.error(warning)

    old = read_text(target)
    hosts = HostsFile(old or "")
    if opts.new:
        hosts.start_over()
    for line in planner.lines:
        hosts.set(line)
    for name, ip in planner.deletions:
        hosts.delete(name, ip)
    if old is not None:
        atomic_write(target.with_name(target.name + BACKUP_SUFFIX), old,
                     mode=target.stat().st_mode & 0o7777)
    write_if_changed(target, hosts.text())
    return 0
