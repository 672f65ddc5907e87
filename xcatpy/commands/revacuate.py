"""revacuate: move every running guest off hypervisors, or restart a dead one's elsewhere.

See xcatpy/virt/evacuation.py (live) and xcatpy/virt/recovery.py (-f) for how.
"""

from xcatpy.commands.base import Context
from xcatpy.commands.options import CommandParser
from xcatpy.digits import decimal
from xcatpy.errors import UsageError
from xcatpy.virt import migration
from xcatpy.virt.evacuation import Evacuation
from xcatpy.virt.recovery import Recovery

USAGE = """Usage:
  revacuate noderange [-n|--dry-run] [--per-source count] [--per-dest count]
  revacuate noderange -f [-n|--dry-run] [--per-dest count]
  revacuate [-?|-h|--help]
Options:
  -n, --dry-run     print the plan only; change nothing
  -f, --force       the hypervisors are dead: once their BMCs report them off, start
                    the guests they were running on other hypervisors, from shared storage
  --per-source N    at most N migrations leaving one hypervisor at a time (default 2)
  --per-dest N      at most N guests arriving at one hypervisor at a time (default 2)"""

_parser = CommandParser("revacuate", USAGE)
_parser.add_argument("noderange", nargs="?")
_parser.add_argument("-n", "--dry-run", action="store_true", dest="dry_run")
_parser.add_argument("-f", "--force", action="store_true")
_parser.add_argument("--per-source", dest="per_source")
_parser.add_argument("--per-dest", dest="per_dest")


def _count(text: str | None, option: str, default: int) -> int:
    if text is None:
        return default
    count = decimal(text.strip())
    if not count:
        raise UsageError(f"revacuate: {option} is not a positive number: '{text}'")
    return count


def run(ctx: Context) -> int:
    opts = _parser.parse(ctx.args)
    if not opts.noderange:
        raise UsageError("revacuate: a noderange of hypervisors is required")
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
