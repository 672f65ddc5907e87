"""Node attribute resolution: a node's own row, then its groups in order, regex values.

One NodeAttrs serves one command. It reads each table once, on first use, and answers
every node from memory, so `nodels all groups` on ten thousand nodes is one query.
Commands that write call `invalidate` for the tables they changed before reading again.
"""

from xcatpy.db import objdefs
from xcatpy.db.natural import natural_sorted
from xcatpy.db.regexattr import evaluate
from xcatpy.db.schema import TABLES, split_attr
from xcatpy.db.store import Store
from xcatpy.errors import XcatError


def split_list(value: str | None) -> list[str]:
    """A comma-separated table value as a list, blanks dropped."""
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def keyed_rows(store: Store, name: str) -> dict[str, dict]:
    """Enabled rows of a single-key table, by key."""
    key = TABLES[name].keys[0]
    return {r[key]: r for r in store.rows(name)}


class NodeAttrs:
    """`loader(name)`, when given, supplies each table's rows instead of a query: the boot
    services share rows between threads and database versions that way (BootCache)."""

    def __init__(self, store: Store, loader=None) -> None:
        self.store = store
        self._loader = loader
        self._tables: dict[str, dict[str, dict]] = {}
        self._groups: dict[str, list[str]] | None = None

    def invalidate(self, table: str | None = None) -> None:
        if table is None:
            self._tables.clear()
        else:
            self._tables.pop(table, None)
        if table in (None, "nodelist"):
            self._groups = None

    def table(self, name: str) -> dict[str, dict]:
        """Enabled rows of a single-key table, by key."""
        rows = self._tables.get(name)
        if rows is None:
            rows = (self._loader(name) if self._loader is not None
                    else keyed_rows(self.store, name))
            self._tables[name] = rows
        return rows

    # -- nodes and groups ---------------------------------------------------------------

    def _group_map(self) -> dict[str, list[str]]:
        if self._groups is None:
            rows = self.table("nodelist")
            self._groups = {n: split_list(r.get("groups")) for n, r in rows.items()}
        return self._groups

    def node_names(self, include_hidden: bool = False) -> list[str]:
        rows = self.table("nodelist")
        names = rows if include_hidden else [n for n, r in rows.items() if not _hidden(r)]
        return natural_sorted(names)

    def hidden_nodes(self) -> set[str]:
        return {n for n, r in self.table("nodelist").items() if _hidden(r)}

    def is_node(self, name: str) -> bool:
        return name in self.table("nodelist")

    def groups_of(self, node: str) -> list[str]:
        return self._group_map().get(node, [])

    def static_groups(self) -> dict[str, list[str]]:
        """Every group named in nodelist.groups, with its members in natural order."""
        members: dict[str, list[str]] = {}
        for node, groups in self._group_map().items():
            for g in groups:
                members.setdefault(g, []).append(node)
        return {g: natural_sorted(ns) for g, ns in members.items()}

    # -- attribute lookup -----------------------------------------------------------------

    def lookup(self, node: str, table: str, column: str) -> str | None:
        return self.lookup_with_source(node, table, column)[0]

    def lookup_with_source(self, node: str, table: str,
                           column: str) -> tuple[str | None, str | None]:
        """The value and where it came from: None for the node's own row, else the group."""
        rows = self.table(table)
        if table == "nodelist" or not TABLES[table].node_keyed:
            row = rows.get(node)
            return (row.get(column) or None if row else None), None
        row = rows.get(node)
        if row is not None and row.get(column):
            return evaluate(row[column], node), None
        for group in self.groups_of(node):
            row = rows.get(group)
            if row is not None and row.get(column):
                return evaluate(row[column], node), group
        return None, None

    def site(self, key: str) -> str | None:
        """A site table value; None when the key is absent or empty."""
        row = self.table("site").get(key)
        return (row or {}).get("value") or None

    def value(self, node: str, attr: str) -> str | None:
        """An attribute by `table.column` or by its object name (`mgt`, `vmhost`, `groups`)."""
        if "." in attr:
            tab, col = split_attr(attr)
            return self.lookup(node, tab.name, col)
        spec = objdefs.node_attr(attr)
        if spec is None:
            raise XcatError(f"Unknown node attribute '{attr}'")
        if spec.table is None:
            return node
        return self.lookup(node, spec.table, spec.column)


def _hidden(row: dict) -> bool:
    return (row.get("hidden") or "").strip().lower() in ("1", "yes")


def site_number(attrs, key: str, default, kind=float):
    """A positive site setting (a timeout, a count) as `kind`, or `default`. A value xCAT
    would also have ignored (empty, zero, negative, junk, infinite) falls back to the
    default rather than failing every command on a typo in the site table."""
    text = attrs.site(key)
    try:
        number = kind(text) if text is not None else default
    except ValueError:
        return default
    return number if 0 < number < float("inf") else default
