"""revacuate: move every running guest off hypervisors, or restart a dead one's elsewhere.

See xcatpy/virt/evacuation.py (live) and xcatpy/virt/recovery.py (-f) for how, and
xcatpy/virt/journal.py for what survives xcatd dying mid-way (--status, --resume).
"""

from xcatpy.commands.base import Context
from xcatpy.commands.options import CommandParser
from xcatpy.digits import decimal
from xcatpy.errors import UsageError
from xcatpy.virt import journal, migration, reconcile
from xcatpy.virt.evacuation import APPLICATION, Evacuation
from xcatpy.virt.fleet import Fleet
from xcatpy.virt.recovery import Recovery

USAGE = """Usage:
  revacuate noderange [-n|--dry-run] [--per-source count] [--per-dest count]
  revacuate noderange -f [-n|--dry-run] [--per-dest count]
  revacuate --resume [-n|--dry-run] [--per-source count] [--per-dest count]
  revacuate -s|--status [noderange]
  revacuate --reconcile noderange
  revacuate [-?|-h|--help]
Options:
  -n, --dry-run     print the plan only; change nothing
  -f, --force       the hypervisors are dead: once their BMCs report them off, start
                    the guests they were running on other hypervisors, from shared storage
  --per-source N    at most N migrations leaving one hypervisor at a time (default 2)
  --per-dest N      at most N guests arriving at one hypervisor at a time (default 2)
  -s, --status      show interrupted evacuations and migrations (xcatd stopped mid-way)
  --resume          finish every interrupted evacuation: record where its guests run,
                    then move what is still on its hypervisors
  --reconcile       set vm.host of every guest the hypervisors run to where it runs"""

_parser = CommandParser("revacuate", USAGE)
_parser.add_argument("noderange", nargs="?")
_parser.add_argument("-n", "--dry-run", action="store_true", dest="dry_run")
_parser.add_argument("-f", "--force", action="store_true")
_parser.add_argument("--per-source", dest="per_source")
_parser.add_argument("--per-dest", dest="per_dest")
_parser.add_argument("-s", "--status", action="store_true")
_parser.add_argument("--resume", action="store_true")
_parser.add_argument("--reconcile", action="store_true")


def _count(text: str | None, option: str, default: int) -> int:
    if text is None:
        return default
    count = decimal(text.strip())
    if not count:
        raise UsageError(f"revacuate: {option} is not a positive number: '{text}'")
    return count


def run(ctx: Context) -> int:
    opts = _parser.parse(ctx.args)
    modes = [name for name, on in (("-f", opts.force), ("-s", opts.status),
                                   ("--resume", opts.resume), ("--reconcile", opts.reconcile))
             if on]
    if len(modes) > 1:
        raise UsageError(f"revacuate: {' and '.join(modes)} cannot be used together")
    if opts.status:
        return _status(ctx, opts.noderange)
    if opts.resume:
        if opts.noderange:
            raise UsageError("revacuate: --resume takes no noderange (it resumes every "
                             "interrupted evacuation; 'revacuate noderange' resumes those "
                             "of some hypervisors)")
        return _resume(ctx, opts)
    if not opts.noderange:
        raise UsageError("revacuate: a noderange of hypervisors is required")
    if opts.reconcile:
        return _reconcile(ctx, ctx.noderange(opts.noderange))
    per_source = _count(opts.per_source, "--per-source", migration.DEFAULT_PER_SOURCE)
    per_dest = _count(opts.per_dest, "--per-dest", migration.DEFAULT_PER_DEST)
    if opts.force and opts.per_source is not None:
        raise UsageError("revacuate: --per-source has no meaning with -f (nothing leaves a "
                         "dead host)")
    hosts = ctx.noderange(opts.noderange)
    if opts.force:
        Recovery(ctx, hosts, dry_run=opts.dry_run, per_dest=per_dest).run()
    else:
        Evacuation(ctx, hosts, dry_run=opts.dry_run, per_source=per_source,
                   per_dest=per_dest).run()
    return 0


def _status(ctx: Context, noderange: str | None) -> int:
    rows = journal.entries(ctx.store, interrupted_only=False)
    if noderange:
        nodes = set(ctx.noderange(noderange))
        rows = [e for e in rows if e.guest in nodes or reconcile.touching([e], nodes)]
    elif rows:
        _permitted(ctx, rows)
    if not rows:
        ctx.out.data("No evacuation or migration is interrupted or running")
        return 0
    for line in journal.summary_lines([e for e in rows if e.interrupted]):
        ctx.out.data(line)
    for e in rows:
        if not e.interrupted:
            ctx.out.data(f"{e.guest}: {e.state} {e.source} -> {e.dest} by {e.describe()}, "
                         "still running")
    return 0


def _permitted(ctx: Context, rows: list[journal.Entry]) -> None:
    """The policy judges every host and guest of the rows, as if the user had named them."""
    ctx.noderange(",".join(sorted({n for e in rows
                                   for n in (e.guest, e.source, e.dest, *e.host_list) if n})),
                  must_exist=False)


def _resume(ctx: Context, opts) -> int:
    found = journal.entries(ctx.store)
    if not found:
        ctx.out.data("No interrupted evacuation or migration to resume")
        return 0
    _permitted(ctx, found)
    live = sorted({h for e in found if e.application == APPLICATION for h in e.host_list})
    dead = sorted({h for e in found if e.application == f"{APPLICATION} -f"
                   for h in e.host_list})
    if live:
        Evacuation(ctx, live, dry_run=opts.dry_run,
                   per_source=_count(opts.per_source, "--per-source",
                                     migration.DEFAULT_PER_SOURCE),
                   per_dest=_count(opts.per_dest, "--per-dest",
                                   migration.DEFAULT_PER_DEST)).run()
    if dead:
        Recovery(ctx, dead, dry_run=opts.dry_run,
                 per_dest=_count(opts.per_dest, "--per-dest", migration.DEFAULT_PER_DEST)).run()
    # Interrupted rmigrates (and rows whose hosts an evacuation could not reach).
    left = [e for e in journal.entries(ctx.store) if e.guest in {f.guest for f in found}]
    if left and not opts.dry_run:
        fleet = Fleet(ctx)
        fleet.describe(reconcile.hosts_to_ask(left))
        fleet.observe(reconcile.hosts_to_ask(left))
        reconcile.settle(ctx, fleet, left, APPLICATION)
        for e in left:
            if e.application == "rmigrate" and ctx.attrs.lookup(e.guest, "vm", "host") != e.dest:
                ctx.out.data(f"{e.guest}: '{e.command}' was interrupted; run it again to "
                             f"move it to {e.dest}")
    return 0


def _reconcile(ctx: Context, hosts: list[str]) -> int:
    fleet = Fleet(ctx)
    found = reconcile.touching(journal.entries(ctx.store), hosts)
    fleet.describe([*hosts, *reconcile.hosts_to_ask(found)])
    fleet.observe([*hosts, *(reconcile.hosts_to_ask(found) - set(hosts))])
    reconcile.settle(ctx, fleet, found, APPLICATION)
    reconcile.reconcile_hosts(ctx, fleet, hosts, APPLICATION)
    return 0
