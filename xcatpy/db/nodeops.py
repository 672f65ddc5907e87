"""Changes to nodes across tables: set/append/remove attribute values, remove, rename.

`nodeadd`, `nodech`, `noderm`, `mkdef`, `chdef` and `rmdef` all change nodes through
these functions, so the list operators and the "blank overrides the group" rule behave
the same in every command. Each function issues one statement per table, whatever the
number of nodes.
"""

from dataclasses import dataclass

from xcatpy.db import regexattr
from xcatpy.db.attrs import NodeAttrs, split_list
from xcatpy.db.schema import TABLES

# xCAT stores this when a user blanks an inherited attribute: a regex whose result is
# empty, so the node's own row stops inheritance and the attribute reads as unset.
BLANK_OVERRIDE = "|^.*$||"

SET, APPEND, REMOVE = "=", ",=", "^="


@dataclass(frozen=True)
class Change:
    table: str
    column: str
    op: str      # SET, APPEND (xCAT prepends, without duplicates) or REMOVE
    value: str


def node_tables() -> list[str]:
    """Tables keyed by node name: what a node's removal or rename must touch."""
    return [t.name for t in TABLES.values() if t.node_keyed]


def _inherits(table: str) -> bool:
    return table != "nodelist" and TABLES[table].node_keyed


def _stored_value(change: Change) -> str | None:
    if change.value == "":
        return BLANK_OVERRIDE if _inherits(change.table) else None
    regexattr.validate(change.value)
    return change.value


def apply_changes(attrs: NodeAttrs, nodes: list[str], changes: list[Change]) -> None:
    """Apply changes, in order, to every node; list operators read the current value.

    The current value of a list operator is what the node resolves to now (inherited
    from a group included), as xCAT's nodech reads it; the result lands in the node's
    own row.
    """
    by_table: dict[str, list[Change]] = {}
    for change in changes:
        by_table.setdefault(change.table, []).append(change)
    for table, tab_changes in by_table.items():
        if all(c.op == SET for c in tab_changes):
            row = {c.column: _stored_value(c) for c in tab_changes}
            rows = [{"node": n, **row} for n in nodes]
        else:
            rows = [_node_row(attrs, n, table, tab_changes) for n in nodes]
        attrs.store.upsert_rows(table, rows)
        attrs.invalidate(table)


def _node_row(attrs: NodeAttrs, node: str, table: str, changes: list[Change]) -> dict:
    row: dict[str, str | None] = {"node": node}
    for c in changes:
        if c.op == SET:
            row[c.column] = _stored_value(c)
            continue
        current = row[c.column] if c.column in row else attrs.lookup(node, table, c.column)
        items = split_list(current)
        if c.op == APPEND:
            if c.value not in items:
                items.insert(0, c.value)
        else:
            items = [i for i in items if i != c.value]
        row[c.column] = ",".join(items) or None
    return row


def remove_nodes(attrs: NodeAttrs, nodes: list[str]) -> None:
    for table in node_tables():
        attrs.store.delete_where_in(table, "node", nodes)
    attrs.invalidate()


def rename_node(attrs: NodeAttrs, old: str, new: str) -> None:
    """Move every row of `old` to `new`; the caller has checked that `new` is free."""
    for table in node_tables():
        attrs.store.conn.execute(f"UPDATE [{table}] SET node = ? WHERE node = ?", (new, old))
        attrs.store.touched(table)
    attrs.invalidate()
