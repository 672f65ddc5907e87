"""nodech: change node attributes in the tables, or delete nodes' rows with -d."""

from xcatpy.commands.base import Context
from xcatpy.commands.nodeargs import parse_node_args, select_nodes
from xcatpy.commands.options import CommandParser
from xcatpy.db.nodeops import apply_changes
from xcatpy.db.schema import table
from xcatpy.errors import UsageError, XcatError

USAGE = """Usage: nodech <noderange> table.column=value [...]
       nodech {-d | --delete} <noderange> <table> [...]
       nodech [-? | -h | --help]
  table.column=value      set; table.column=@value sets a value that starts with '='
  table.column,=value     prepend value to a comma-separated list (no duplicates)
  table.column^=value     remove value from a comma-separated list
  table.column==value     only change nodes whose attribute is value (also !=, =~, !~)
  a blank value (table.column=) unsets the attribute even if a group sets it"""

_parser = CommandParser("nodech", USAGE)
_parser.add_argument("-d", "--delete", action="store_true")
_parser.add_argument("noderange", nargs="?")
_parser.add_argument("items", nargs="*")


def run(ctx: Context) -> int:
    opts = _parser.parse(ctx.args)
    if not opts.noderange or not opts.items:
        raise UsageError("nodech: a noderange and at least one "
                         + ("table" if opts.delete else "table.column=value") + " are required")
    if opts.delete:
        return _delete(ctx, opts.noderange, opts.items)
    selectors, changes = parse_node_args(opts.items)
    if not changes:
        raise UsageError("nodech: nothing to change (only selections were given)")
    nodes = select_nodes(ctx.attrs, ctx.noderange(opts.noderange), selectors)
    apply_changes(ctx.attrs, nodes, changes)
    return 0


def _delete(ctx: Context, noderange: str, tables: list[str]) -> int:
    for name in tables:
        if "." in name or "=" in name:
            raise XcatError(f"'{name}': only table names are valid with -d (. and = are not)")
        if not table(name).node_keyed:
            raise XcatError(f"Table '{name}' is not keyed by node")
    nodes = ctx.noderange(noderange)
    for name in tables:
        ctx.store.delete_where_in(name, "node", nodes)
    ctx.attrs.invalidate()
    return 0



