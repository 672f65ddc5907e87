"""The object view: the tables seen as xCAT objects (node, group, network, osimage, site,
policy), as lsdef shows them and mkdef/chdef/rmdef change them.

One ObjectView serves one command. Node values come through NodeAttrs, which reads each
table once, so listing ten thousand nodes is a handful of queries. Writes live in
xcatpy.db.objwrite.
"""

from collections.abc import Iterable

from xcatpy.db.attrs import NodeAttrs, split_list
from xcatpy.db.natural import natural_sorted
from xcatpy.db.objdefs import SITE_OBJECT, TYPES, AttrSpec, ObjType, only_if_holds
from xcatpy.db.selectors import Selector, parse_selectors, split_wherevals
from xcatpy.errors import XcatError

XCATDEFAULTS = "xcatdefaults"
STATIC, DYNAMIC = "static", "dynamic"


def _by_table(specs: Iterable[AttrSpec]) -> dict[str, list[AttrSpec]]:
    out: dict[str, list[AttrSpec]] = {}
    for spec in specs:
        out.setdefault(spec.table, []).append(spec)
    return out


_NODE_TABLES = _by_table(TYPES["node"].stored_attrs())
_GROUP_NODE_TABLES = _by_table(a for a in TYPES["group"].stored_attrs()
                               if a.table != "nodegroup")


class ObjectView:
    def __init__(self, attrs: NodeAttrs) -> None:
        self.attrs = attrs
        self.store = attrs.store
        self._static: dict[str, list[str]] | None = None
        self._names: dict[str, list[str]] = {}
        self._networks: dict[str, dict] | None = None

    def invalidate(self) -> None:
        """Forget cached object lists after a write (NodeAttrs is told by the writer)."""
        self._static = None
        self._names.clear()
        self._networks = None

    # -- which objects exist ---------------------------------------------------------------

    def names(self, otype: ObjType, include_hidden: bool = True) -> list[str]:
        """Every object of a type, in natural order."""
        if otype.name == "node":
            return self.attrs.node_names(include_hidden=include_hidden)
        if otype.name not in self._names:
            self._names[otype.name] = natural_sorted(self._list(otype))
        return self._names[otype.name]

    def _list(self, otype: ObjType) -> Iterable[str]:
        if otype.name == "site":
            return [SITE_OBJECT] if self._site_values(otype, SITE_OBJECT) else []
        if otype.name == "group":
            return set(self.rows("nodegroup")) | set(self.static_groups())
        return self.rows(otype.key_table).keys()

    def exists(self, otype: ObjType, name: str) -> bool:
        if otype.name == "node":
            return self.attrs.is_node(name)
        if otype.name == "site":
            # The one site object exists while the site table holds any key (after
            # `rmdef -a -f` it does not, so a saved stanza file can be read back).
            return bool(self._site_values(otype, name))
        if otype.name == "group":
            return name in self.rows("nodegroup") or name in self.static_groups()
        return name in self.rows(otype.key_table)

    def static_groups(self) -> dict[str, list[str]]:
        if self._static is None:
            self._static = self.attrs.static_groups()
        return self._static

    def rows(self, table: str) -> dict[str, dict]:
        """Enabled rows of an object table by object name (networks: by netname)."""
        if table != "networks":
            return self.attrs.table(table)
        if self._networks is None:
            self._networks = {r["netname"]: r for r in self.store.rows("networks")
                              if r.get("netname")}
        return self._networks

    # -- reading ---------------------------------------------------------------------------

    def read(self, otype: ObjType, names: Iterable[str],
             wanted: set[str] | None = None) -> dict[str, dict[str, str]]:
        """The set attributes of each named object (names that do not exist are skipped).

        Node values are resolved as every command sees them: inherited from groups,
        regular expressions evaluated. `wanted` limits the attributes looked up.
        """
        if otype.name == "node":
            nodes = [n for n in names if self.attrs.is_node(n)]
            return {n: self.node_values(n, wanted) for n in nodes}
        reader = {"group": self._group_values, "site": self._site_values,
                  "network": self._row_values, "osimage": self._osimage_values,
                  "policy": self._row_values}[otype.name]
        return {n: reader(otype, n) for n in names if self.exists(otype, n)}

    def node_values(self, node: str, wanted: set[str] | None = None) -> dict[str, str]:
        out: dict[str, str] = {}
        groups = self.attrs.groups_of(node)
        for table, specs in _NODE_TABLES.items():
            rows = self.attrs.table(table)
            owners = [rows[k] for k in (node, *groups) if k in rows]
            if table == "nodelist":
                owners = owners[:1] if node in rows else []
            if not owners:
                continue
            for spec in specs:
                if wanted is not None and spec.name not in wanted:
                    continue
                # Skip the lookup (and regex evaluation) unless some row sets the column.
                if any(r.get(spec.column) for r in owners):
                    value = self.attrs.lookup(node, table, spec.column)
                    if value:
                        out[spec.name] = value
        return self._apply_only_if(TYPES["node"], out, wanted,
                                   lambda a: self.node_value(node, a))

    def node_value(self, node: str, attr: str) -> str | None:
        """One attribute of a node by object name or `table.column`; 'node' is the name.

        The same lookup noderange selectors use, so a dynamic group lists the members
        that expanding it gives.
        """
        return node if attr == "node" else self.attrs.value(node, attr)

    @staticmethod
    def _apply_only_if(otype: ObjType, values: dict[str, str], wanted, lookup) -> dict:
        for name in [n for n in values if otype.attrs[n].only_if]:
            cond = otype.attrs[name].only_if[0]
            have = values.get(cond) if (wanted is None or cond in wanted) else lookup(cond)
            if not only_if_holds(otype.attrs[name], {cond: have}):
                del values[name]
        return values

    def _group_values(self, otype: ObjType, name: str) -> dict[str, str]:
        row = self.rows("nodegroup").get(name, {})
        out = {"grouptype": row.get("grouptype") or STATIC}
        for attr, col in (("membergroups", "membergroups"), ("wherevals", "wherevals"),
                          ("usercomment", "comments")):
            if row.get(col):
                out[attr] = row[col]
        for table, specs in _GROUP_NODE_TABLES.items():
            own = self.attrs.table(table).get(name)
            if own is not None:
                out.update({s.name: own[s.column] for s in specs if own.get(s.column)})
        out["members"] = ",".join(self.group_members(name, out))
        return self._apply_only_if(otype, out, None, out.get)

    def group_members(self, name: str, values: dict[str, str] | None = None) -> list[str]:
        """A static group's nodes (from nodelist.groups) or a dynamic group's matches."""
        if values is None:
            values = self._group_values(TYPES["group"], name)
        if values.get("grouptype") == DYNAMIC:
            return self.dynamic_members(values.get("wherevals") or "")
        return self.static_groups().get(name, [])

    def dynamic_members(self, wherevals: str) -> list[str]:
        selectors = where_selectors(wherevals)
        if not selectors:
            return []
        return [n for n in self.attrs.node_names(include_hidden=True)
                if self.matches(n, selectors)]

    def matches(self, node: str, selectors: list[Selector]) -> bool:
        return all(s.matches(self.node_value(node, s.attr)) for s in selectors)

    def _site_values(self, otype: ObjType, name: str) -> dict[str, str]:
        return {r["key"]: r["value"] for r in self.store.rows("site")
                if r.get("key") and r.get("value") is not None}

    def _row_values(self, otype: ObjType, name: str) -> dict[str, str]:
        row = self.rows(otype.key_table)[name]
        return {s.name: row[s.column] for s in otype.stored_attrs() if row.get(s.column)}

    def _osimage_values(self, otype: ObjType, name: str) -> dict[str, str]:
        rows = {"osimage": self.rows("osimage").get(name, {}),
                "linuximage": self.attrs.table("linuximage").get(name, {})}
        out = {s.name: rows[s.table][s.column] for s in otype.stored_attrs()
               if rows[s.table].get(s.column)}
        return self._apply_only_if(otype, out, None, out.get)

    # -- what lsdef adds -------------------------------------------------------------------

    def xcatdefaults(self) -> dict[str, str]:
        """The postscripts every node runs (the 'xcatdefaults' row), by attribute."""
        row = self.attrs.table("postscripts").get(XCATDEFAULTS, {})
        return {c: row[c] for c in ("postscripts", "postbootscripts") if row.get(c)}


def with_xcatdefaults(values: dict[str, str], defaults: dict[str, str]) -> dict[str, str]:
    """A node's values with the xcatdefaults scripts first, as lsdef shows them."""
    for attr, scripts in defaults.items():
        values[attr] = f"{scripts},{values[attr]}" if values.get(attr) else scripts
    return values


def where_selectors(wherevals: str) -> list[Selector]:
    """A dynamic group's `attr==val::attr=~val` string as selectors (a lone `=` is `==`)."""
    return parse_selectors(split_wherevals(wherevals), lone_eq=True)


def check_node_selectors(selectors: list[Selector]) -> None:
    """Selectors over nodes must name node attributes (or table.column)."""
    for sel in selectors:
        if sel.attr == "node" or "." in sel.attr:
            continue
        if sel.attr not in TYPES["node"].attrs:
            raise XcatError(f"Incorrect attribute '{sel.attr}' in the selection string "
                            "specified with -w flag.")


def list_value(value: str | None, sep: str = ",") -> list[str]:
    if sep == ",":
        return split_list(value)
    return [v for v in (value or "").split(sep) if v]
