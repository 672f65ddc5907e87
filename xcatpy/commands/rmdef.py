"""rmdef: remove xCAT object definitions.

Removing a node removes its rows from every node-keyed table; removing a static group
takes it out of its members' groups. `-a -f` clears every definition of every type.
"""

from xcatpy.commands import defcommon
from xcatpy.commands.base import Context
from xcatpy.db.objdefs import TYPES
from xcatpy.db.objects import ObjectView
from xcatpy.db.objwrite import ObjectWriter
from xcatpy.errors import UsageError

USAGE = defcommon.usage("rmdef", "Remove xCAT data object definitions.", [
    "rmdef [-V | --verbose] [-t object-types] [-a | --all] [-f | --force]",
    "[-o object-names] [noderange]",
])

_parser = defcommon.parser("rmdef", USAGE)
_parser.add_argument("-a", "--all", action="store_true")
_parser.add_argument("-f", "--force", action="store_true")
# Flags of the other def commands: rmdef refuses them rather than guess, because a
# misread flag (rmdef -t node -d) would otherwise remove every node.
_REFUSED = ("d", "i", "l", "m", "p", "w", "x", "z", "s")
for _flag in _REFUSED:
    _parser.add_argument(f"-{_flag}", dest=f"refused_{_flag}", nargs="?", const=True)

# Groups go before nodes so membership updates see the nodes; the site goes last.
_ALL_ORDER = ["group", "node", "network", "osimage", "policy", "site"]


def run(ctx: Context) -> int:
    opts = defcommon.parse(_parser, ctx.args)
    if any(getattr(opts, f"refused_{f}") for f in _REFUSED):
        raise UsageError("Invalid flag specified, see rmdef manpage for details.")
    operands = defcommon.split_operands(opts.operands)
    if operands.attrs:
        raise UsageError("rmdef does not take attr=val pairs.")
    text = opts.objects or operands.names
    view = ObjectView(ctx.attrs)
    writer = ObjectWriter(view, ctx.out.error)
    if opts.all:
        count = _remove_all(view, writer, opts, text)
    else:
        otype = defcommon.single_type(opts.types, "rmdef")
        if not text and not otype.free_form:
            raise UsageError("No object names were provided.")
        names = defcommon.existing_names(ctx, view, otype, text or "")
        writer.remove(otype, names)
        count = len(names)
    if count:
        ctx.out.data(f"{count} object definitions have been removed.")
    else:
        ctx.out.data("No objects have been removed from the xCAT database.")
    return 0


def _remove_all(view: ObjectView, writer: ObjectWriter, opts, text: str | None) -> int:
    if not opts.force:
        raise UsageError("You must use the '-f' option when using the '-a' option.")
    if opts.types:
        raise UsageError("The flags '-a' and '-t' cannot be used together.")
    if text:
        raise UsageError("Cannot use '-a' with '-o', a noderange or file input.")
    count = 0
    for name in _ALL_ORDER:
        otype = TYPES[name]
        names = view.names(otype)
        if not names:
            continue
        if name == "group":
            writer.remove_groups(names, keep_members=True)
        else:
            writer.remove(otype, names)
        count += len(names)
    return count
