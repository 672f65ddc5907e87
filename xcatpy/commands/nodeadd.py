"""nodeadd: add nodes to the database with their groups and any other attributes."""

from xcatpy.commands.base import Context
from xcatpy.commands.nodeargs import parse_node_args
from xcatpy.commands.options import CommandParser
from xcatpy.db.attrs import split_list
from xcatpy.db.nodeops import SET, apply_changes
from xcatpy.errors import UsageError, XcatError

USAGE = """Usage: nodeadd <noderange> groups=<groupnames> [table.column=value] [...]
       nodeadd [-? | -h | --help]"""

_parser = CommandParser("nodeadd", USAGE)
_parser.add_argument("noderange", nargs="?")
_parser.add_argument("items", nargs="*")


def run(ctx: Context) -> int:
    opts = _parser.parse(ctx.args)
    if not opts.noderange:
        raise UsageError("nodeadd: a noderange is required")
    selectors, changes = parse_node_args(opts.items)
    if selectors:
        raise XcatError(f"nodeadd takes assignments only, not selections like '{selectors[0]}'")
    groups = [c for c in changes if (c.table, c.column) == ("nodelist", "groups")]
    if not groups or not any(c.op == SET and c.value for c in groups):
        raise XcatError(f"Missing required groups=<groupnames> for nodes '{opts.noderange}'")
    nodes = ctx.noderange(opts.noderange, must_exist=False)
    _refuse_dynamic_groups(ctx, groups)
    capitals = [n for n in nodes if n != n.lower()]
    if capitals:
        ctx.out.error(f"Warning: The node name '{','.join(capitals)}' contains capital "
                      "letters which may not be resolved correctly by the dns server.")
    apply_changes(ctx.attrs, nodes, changes)
    return 0


def _refuse_dynamic_groups(ctx: Context, group_changes) -> None:
    # Membership of a dynamic group comes from its wherevals; a static entry in
    # nodelist.groups would silently contradict it.
    groups = ctx.attrs.table("nodegroup")
    for change in group_changes:
        for name in split_list(change.value):
            row = groups.get(name)
            if row and (row.get("grouptype") or "").lower() == "dynamic":
                raise XcatError(f"nodegroup {name} is a dynamic node group; a node cannot "
                                "be added to it statically")
