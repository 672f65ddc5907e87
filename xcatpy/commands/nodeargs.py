"""The `table.column<op>value` arguments of nodech, nodeadd and nodels.

xCAT reads each argument as a selection (`==`, `!=`, `=~`, `!~`) or an assignment
(`=`, `,=` prepend to a list, `^=` remove from a list, `=@` an assignment whose value
may itself start with `=`). Short names stand for common columns.
"""

import re
from dataclasses import dataclass

from xcatpy.db.attrs import NodeAttrs
from xcatpy.db.nodeops import APPEND, REMOVE, SET, Change
from xcatpy.db.schema import TABLES, split_attr
from xcatpy.db.selectors import Selector, parse_selector
from xcatpy.errors import XcatError

SHORTNAMES = {
    "groups": ("nodelist", "groups"),
    "tags": ("nodelist", "groups"),
    "mgt": ("nodehm", "mgt"),
}

# Selection operators are recognised only before the first plain '=' (xCAT's /^[^=]*==/),
# so `nodehm.mgt=a==b` assigns "a==b".
_SELECTION = re.compile(r"^([^=]*?)(==|!=|=~|!~)(.*)$", re.S)


@dataclass(frozen=True)
class AttrRef:
    table: str
    column: str
    label: str   # what the user typed, shown back by nodels

    @property
    def spec(self) -> str:
        return f"{self.table}.{self.column}"


def resolve_attr(name: str) -> AttrRef:
    """A short name or `table.column`, checked against the schema."""
    if name in SHORTNAMES:
        table, column = SHORTNAMES[name]
        return AttrRef(table, column, name)
    if "." not in name:
        raise XcatError(f"{name} not a valid table.column description")
    tab, column = split_attr(name)
    return AttrRef(tab.name, column, name)


def parse_selection(arg: str) -> tuple[AttrRef, Selector] | None:
    m = _SELECTION.match(arg)
    if m is None or "=" in m.group(1):
        return None
    name, op, value = m.groups()
    ref = resolve_attr(name)
    if op in ("=~", "!~"):
        # xCAT accepts the regex wrapped in slashes as well as bare.
        value = value.removeprefix("/").removesuffix("/")
    selector = parse_selector(f"{ref.spec}{op}{value}")
    if selector is None:  # the operator pattern matched, so this cannot happen
        raise XcatError(f"Malformed selection '{arg}'")
    return ref, selector


def parse_assignment(arg: str) -> Change:
    name, eq, value = arg.partition("=")
    if not eq or not name:
        raise XcatError(f"Malformed argument '{arg}': expected table.column=value")
    op = SET
    if name.endswith(","):
        op, name = APPEND, name[:-1]
    elif name.endswith("^"):
        op, name = REMOVE, name[:-1]
    ref = resolve_attr(name)
    if ref.column in TABLES[ref.table].keys:
        raise XcatError(f"{ref.spec} is the key of table {ref.table} and cannot be assigned")
    return Change(ref.table, ref.column, op, value.removeprefix("@"))


def parse_node_args(args: list[str]) -> tuple[list[Selector], list[Change]]:
    """Split nodech/nodeadd arguments into selections and assignments, in order."""
    selectors, changes = [], []
    for arg in args:
        selection = parse_selection(arg)
        if selection is not None:
            selectors.append(selection[1])
        else:
            changes.append(parse_assignment(arg))
    return selectors, changes


def select_nodes(attrs: NodeAttrs, nodes: list[str], selectors: list[Selector]) -> list[str]:
    """The nodes whose (resolved) attributes satisfy every selection."""
    if not selectors:
        return nodes
    value = attrs.value
    return [n for n in nodes if all(s.matches(value(n, s.attr)) for s in selectors)]
