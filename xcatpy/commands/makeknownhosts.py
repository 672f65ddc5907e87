"""makeknownhosts: record the SSH host keys of managed hosts, the step that trusts them.

xCAT's makeknownhosts wrote root's ~/.ssh/known_hosts from a host key xCAT had itself
distributed to the nodes. Hypervisors here are installed by other means, so xcatpy asks each
node for the key it offers; running this command is the admin's decision to trust that key.
Entries go to `<state>/ssh/known_hosts` under the node's name and its address (hosts.ip),
as `[name]:port` when site.sshport is not 22, replacing what was recorded for those names.
Every SSH connection the daemon makes is checked against this file.

All nodes are asked at once; the file is written once, for the nodes that answered.
"""

from xcatpy.commands.base import Context
from xcatpy.commands.options import CommandParser
from xcatpy.drivers.base import DriverError
from xcatpy.drivers.remote import Target
from xcatpy.drivers.ssh import shell_for
from xcatpy.drivers.ssh.knownhosts import HostKey
from xcatpy.drivers.ssh.shell import host_names
from xcatpy.drivers.targets import ssh_target
from xcatpy.errors import UsageError, XcatError

USAGE = """Usage:
  makeknownhosts noderange [-r|--remove] [-V|--verbose]
  makeknownhosts [-?|-h|--help]"""

_parser = CommandParser("makeknownhosts", USAGE)
_parser.add_argument("-r", "--remove", dest="remove", action="store_true")
_parser.add_argument("-V", "--verbose", dest="verbose", action="store_true")
_parser.add_argument("noderange", nargs="?")


def _detail(node: str, error: Exception) -> str:
    """The error's text without the `node: ` it starts with (node_error puts it back)."""
    text = str(error)
    return text[len(node) + 2:] if text.startswith(f"{node}: ") else text


def _targets(ctx: Context, nodes: list[str]) -> list[Target]:
    targets = []
    for node in nodes:
        try:
            targets.append(ssh_target(ctx.attrs, node))
        except DriverError as exc:
            ctx.node_error(node, _detail(node, exc))
    return targets


def _remove(ctx: Context, targets: list[Target], verbose: bool) -> None:
    known = shell_for(ctx.store.state_dir).known_hosts
    for target in targets:
        names = list(dict.fromkeys([target.node, target.address]))
        try:
            count = known.remove(names)
        except OSError as exc:
            raise XcatError(f"cannot update {known.path}: {exc}") from None
        if verbose:
            ctx.out.data(f"{target.node}: {count} known_hosts name(s) removed for "
                         f"{', '.join(names)} in {known.path}")
        ctx.out.data(f"{target.node}: removed")


def _add(ctx: Context, targets: list[Target], verbose: bool) -> None:
    shell = shell_for(ctx.store.state_dir)
    try:
        # Made now if missing: the admin's next step is to install its .pub on the hosts.
        key = shell.client_key()
    except OSError as exc:
        raise XcatError(f"cannot create the SSH client key: {exc}") from None
    if verbose:
        ctx.out.data(f"makeknownhosts: xcatd logs in with {key.path}; {key.path}.pub belongs "
                     "in root's authorized_keys on the hosts")
        for t in targets:
            ctx.out.data(f"{t.node}: asking {t.address}:{t.port} for its host key")
    try:
        answers = shell.fetch_host_keys(targets)
    except DriverError as exc:
        raise XcatError(str(exc)) from None
    entries = [(host_names(t), key) for t, key in zip(targets, answers, strict=True)
               if isinstance(key, HostKey)]
    if entries:
        try:
            shell.known_hosts.replace(entries)
        except OSError as exc:
            raise XcatError(f"cannot update {shell.known_hosts.path}: {exc}") from None
    for target, answer in zip(targets, answers, strict=True):
        if not isinstance(answer, HostKey):
            ctx.node_error(target.node, _detail(target.node, answer))
            continue
        if verbose:
            ctx.out.data(f"{target.node}: recorded as {','.join(host_names(target))} in "
                         f"{shell.known_hosts.path}")
        ctx.out.data(f"{target.node}: added {answer.keytype} {answer.fingerprint}")


def run(ctx: Context) -> int:
    opts = _parser.parse(ctx.args)
    if not opts.noderange:
        raise UsageError("makeknownhosts: a noderange is required")
    targets = _targets(ctx, ctx.noderange(opts.noderange))
    if opts.remove:
        _remove(ctx, targets, opts.verbose)
    elif targets:
        _add(ctx, targets, opts.verbose)
    return 1 if ctx.failed else 0
