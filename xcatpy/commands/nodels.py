"""nodels: list nodes, and show or select on their attributes.

Output follows xCAT: one attribute prints `node: value`; several attributes, a whole
table, or -H print `node: label: value`, where label is what the user typed. Selections
(`attr==value`, `!=`, `=~`, `!~`) filter the nodes and are not printed themselves.
"""

from dataclasses import dataclass

from xcatpy.commands.base import Context
from xcatpy.commands.nodeargs import AttrRef, parse_selection, resolve_attr, select_nodes
from xcatpy.commands.options import CommandParser
from xcatpy.db.schema import TABLES
from xcatpy.db.selectors import Selector
from xcatpy.errors import XcatError

USAGE = """Usage:
  nodels [noderange] [-b|--blame] [-H|--with-fieldname] [table.attribute | shortname] [-S][...]
  nodels [-?|-h|--help]"""

_parser = CommandParser("nodels", USAGE)
_parser.add_argument("-b", "--blame", action="store_true")
_parser.add_argument("-H", "--with-fieldname", dest="with_fieldname", action="store_true")
_parser.add_argument("-S", dest="hidden", action="store_true")
_parser.add_argument("noderange", nargs="?")
_parser.add_argument("items", nargs="*")


@dataclass
class _Query:
    shown: list[AttrRef]
    selections: list[Selector]
    labelled: bool


def _parse_items(items: list[str], with_fieldname: bool) -> _Query:
    shown, selections = [], []
    terse = 0 if with_fieldname else 2
    for item in items:
        selection = parse_selection(item)
        if selection is not None:
            selections.append(selection[1])
            terse -= 1
        elif "." not in item and item in TABLES:
            shown.extend(_whole_table(item))
            terse = 0
        else:
            shown.append(resolve_attr(item))
            terse -= 1
    return _Query(shown, selections, labelled=terse <= 0)


def _whole_table(name: str) -> list[AttrRef]:
    tab = TABLES[name]
    if not tab.node_keyed:
        raise XcatError(f"Table '{name}' is not keyed by node; use tabdump {name}")
    return [AttrRef(name, col, f"{name}.{col}") for col in tab.colnames]


def run(ctx: Context) -> int:
    opts = _parser.parse(ctx.args)
    query = _parse_items(opts.items, opts.with_fieldname)
    if opts.noderange:
        nodes = ctx.noderange(opts.noderange, include_hidden=opts.hidden)
    else:
        nodes = ctx.all_nodes(include_hidden=opts.hidden)
    attrs = ctx.attrs
    nodes = select_nodes(attrs, nodes, query.selections)
    emit = ctx.out.data
    if not query.shown:
        for node in nodes:
            emit(node)
        return 0
    for node in nodes:
        for ref in query.shown:
            if ref.column == "node" and TABLES[ref.table].node_keyed:
                text = node
            else:
                val, source = attrs.lookup_with_source(node, ref.table, ref.column)
                text = val or ""
                if opts.blame and source is not None:
                    text += f" (inherited from group {source})"
            emit(f"{node}: {ref.label}: {text}" if query.labelled else f"{node}: {text}")
    return 0
