"""Writing objects: set, extend or trim attributes, remove and rename, for every type.

Nodes change through nodeops (one statement per table, the "blank overrides the group"
rule); groups write their own rows, where a blank just clears; the other types are rows
keyed by the object's name. Callers check names and attribute validity first
(xcatpy.commands.defcommon); this module checks what depends on stored values.
"""

from collections.abc import Callable

from xcatpy.db import regexattr
from xcatpy.db.nodeops import SET, Change, apply_changes, remove_nodes, rename_node
from xcatpy.db.objdefs import TYPES, AttrSpec, ObjType, only_if_holds
from xcatpy.db.objects import DYNAMIC, STATIC, XCATDEFAULTS, ObjectView, list_value
from xcatpy.db.selectors import WHEREVALS_SEP
from xcatpy.errors import XcatError

# How a given value meets the stored one: chdef's default, -p and -m.
REPLACE, PLUS, MINUS = "replace", "plus", "minus"

Values = dict[str, str]


class ObjectWriter:
    def __init__(self, view: ObjectView, warn: Callable[[str], None]) -> None:
        self.view = view
        self.attrs = view.attrs
        self.store = view.store
        self.warn = warn
        self._misses: dict[tuple[str, str], list[str]] = {}

    # -- list arithmetic -------------------------------------------------------------------

    def combine(self, name: str, attr: str, current: str | None, given: str, mode: str,
                sep: str = ",") -> str:
        """The value to store: `given` itself, or the current list plus/minus its items."""
        if mode == REPLACE:
            return given
        items = list_value(current, sep)
        change = list_value(given, sep)
        if mode == PLUS:
            return sep.join(items + [c for c in dict.fromkeys(change) if c not in items])
        for item in change:
            if item not in items:
                self._misses.setdefault((attr, item), []).append(name)
        return sep.join(i for i in items if i not in change)

    def flush_warnings(self) -> None:
        for (attr, item), names in self._misses.items():
            self.warn(f"Warning: {item} is not in the attribute of '{attr}' for the "
                      f"'{','.join(names)}' definition.")
        self._misses.clear()

    def _strip_default_scripts(self, values_by_obj: dict[str, Values]) -> None:
        """xCAT keeps scripts the xcatdefaults row already runs out of nodes and groups."""
        defaults = self.view.xcatdefaults()
        dropped: dict[tuple[str, str], list[str]] = {}
        for name, values in values_by_obj.items():
            for attr in ("postscripts", "postbootscripts"):
                if attr not in values or attr not in defaults or name == XCATDEFAULTS:
                    continue
                common = list_value(defaults[attr])
                kept = [s for s in list_value(values[attr]) if s not in common]
                for script in set(list_value(values[attr])) - set(kept):
                    dropped.setdefault((attr, script), []).append(name)
                if kept or not values[attr]:
                    values[attr] = ",".join(kept)
                else:
                    # Only default scripts were given: nothing to store, and storing a
                    # blank would stop the object inheriting its groups' scripts.
                    del values[attr]
        for (attr, script), names in dropped.items():
            self.warn(f"Warning: {','.join(names)}: {attr} '{script}' is already included "
                      f"in the '{XCATDEFAULTS}'.")

    # -- nodes -----------------------------------------------------------------------------

    def write_nodes(self, values_by_node: dict[str, Values], mode: str = REPLACE) -> None:
        """Set each node's attributes; -p/-m start from the value the node resolves to."""
        spec_of = TYPES["node"].attrs
        final: dict[str, Values] = {}
        for node, values in values_by_node.items():
            out = {}
            for attr, given in values.items():
                spec = spec_of[attr]
                if spec.table is None:
                    continue
                if mode != REPLACE:
                    current = self.attrs.lookup(node, spec.table, spec.column)
                    if mode == MINUS and not current:
                        continue
                    given = self.combine(node, attr, current, given, mode)
                out[attr] = given
            final[node] = out
        self._check_only_if(TYPES["node"], final, self.view.node_value)
        self._strip_default_scripts(final)
        self._apply_node_rows(final)
        self.view.invalidate()

    def _apply_node_rows(self, final: dict[str, Values]) -> None:
        # Nodes that get the same values in a table share one apply_changes call, so a
        # chdef of ten thousand nodes is one statement per table.
        spec_of = TYPES["node"].attrs
        by_table: dict[str, dict[tuple, list[str]]] = {}
        for node, values in final.items():
            per_table: dict[str, list[tuple[str, str]]] = {}
            for attr, value in values.items():
                spec = spec_of[attr]
                per_table.setdefault(spec.table, []).append((spec.column, value))
            for table, cols in per_table.items():
                by_table.setdefault(table, {}).setdefault(tuple(cols), []).append(node)
        for table, groups in by_table.items():
            for cols, nodes in groups.items():
                apply_changes(self.attrs, nodes, [Change(table, c, SET, v) for c, v in cols])

    def remove_nodes(self, nodes: list[str]) -> None:
        remove_nodes(self.attrs, nodes)
        self.view.invalidate()

    def set_membership(self, group: str, add: list[str], remove: list[str]) -> None:
        """Put `group` into (at the end) or out of the listed nodes' nodelist.groups."""
        new: dict[str, Values] = {}
        for node in remove:
            groups = self.attrs.groups_of(node)
            if group in groups:
                new[node] = {"groups": ",".join(g for g in groups if g != group)}
        for node in add:
            groups = list_value(new[node]["groups"]) if node in new \
                else self.attrs.groups_of(node)
            if group not in groups:
                new[node] = {"groups": ",".join([*groups, group])}
        if new:
            self._apply_node_rows(new)
            self.view.invalidate()

    # -- groups ----------------------------------------------------------------------------

    def write_group(self, name: str, values: Values, mode: str = REPLACE,
                    members_kind: str | None = None) -> None:
        """A group's own rows: nodegroup, and its node attributes under its name.

        Membership lives in the members' nodelist.groups (set_membership); nodegroup's
        members column only says how it is kept, 'static' or 'dynamic', as in xCAT.
        """
        gtype = TYPES["group"]
        current = self.view.read(gtype, [name]).get(name, {})
        dynamic = (values.get("grouptype") or current.get("grouptype")) == DYNAMIC
        final = {}
        for attr, given in values.items():
            if attr in (gtype.key, "members"):
                continue
            how = REPLACE if attr == "grouptype" else mode
            sep = WHEREVALS_SEP if attr == "wherevals" and dynamic else ","
            final[attr] = self.combine(name, attr, current.get(attr), given, how, sep)
        merged = {**current, **final}
        self._check_only_if(gtype, {name: final}, lambda _n, a: merged.get(a))
        self._strip_default_scripts({name: final})
        rows: dict[str, dict] = {"nodegroup": {"groupname": name}}
        for attr, value in final.items():
            spec = gtype.attrs[attr]
            if spec.table != "nodegroup" and value:
                regexattr.validate(value)
            key = "groupname" if spec.table == "nodegroup" else "node"
            rows.setdefault(spec.table, {key: name})[spec.column] = value or None
        row = rows["nodegroup"]
        if name not in self.view.rows("nodegroup"):
            row.setdefault("grouptype", STATIC)
        if row.get("grouptype") not in (None, STATIC, DYNAMIC):
            raise XcatError(f"Invalid grouptype '{row['grouptype']}' for group '{name}': "
                            "use static or dynamic")
        if members_kind:
            row["members"] = members_kind
        for table, row in rows.items():
            self.store.upsert_rows(table, [row])
            self.attrs.invalidate(table)
        self.view.invalidate()

    def remove_groups(self, names: list[str], *, keep_members: bool = False) -> None:
        """Remove groups' rows; unless told to keep them, static members leave too."""
        for name in [] if keep_members else names:
            row = self.view.rows("nodegroup").get(name, {})
            if row.get("grouptype") != DYNAMIC:
                self.set_membership(name, [], self.view.static_groups().get(name, []))
        self.store.delete_where_in("nodegroup", "groupname", names)
        for table in {s.table for s in TYPES["group"].stored_attrs()} - {"nodegroup"}:
            self.store.delete_where_in(table, "node", names)
        self.attrs.invalidate()
        self.view.invalidate()

    # -- network, osimage, policy ----------------------------------------------------------

    def write_row_object(self, otype: ObjType, name: str, values: Values,
                         mode: str = REPLACE) -> None:
        current = self.view.read(otype, [name]).get(name)
        final = {}
        for attr, given in values.items():
            if attr == otype.key:
                continue
            final[attr] = self.combine(name, attr, (current or {}).get(attr), given, mode)
        merged = {**(current or {}), **final}
        self._check_only_if(otype, {name: final}, lambda _n, a: merged.get(a))
        if otype.name == "network":
            self._write_network(name, current, merged)
            return
        by_table: dict[str, dict] = {}
        for attr, value in final.items():
            spec = otype.attrs[attr]
            by_table.setdefault(spec.table, {})[spec.column] = value or None
        keyed = otype.attrs[otype.key]
        by_table.setdefault(keyed.table, {})
        for table, row in by_table.items():
            self.store.upsert_rows(table, [{**row, keyed.column: name}])
            self.attrs.invalidate(table)
        self.view.invalidate()

    def _write_network(self, name: str, current: Values | None, merged: Values) -> None:
        if not merged.get("net") or not merged.get("mask"):
            raise XcatError(f"Missing required attribute values for the '{name}' object. "
                            "The required attributes are: net mask")
        for other, row in self.view.rows("networks").items():
            if other != name and (row.get("net"), row.get("mask")) == (merged["net"],
                                                                      merged["mask"]):
                raise XcatError(f"A network definition called '{other}' already exists "
                                "that contains the same net and mask values. Cannot "
                                f"create a definition for '{name}'.")
        if current is not None:
            old = self.view.rows("networks")[name]
            self.store.delete_rows("networks", [{"net": old["net"], "mask": old["mask"]}])
        specs = TYPES["network"].attrs
        row = {specs[a].column: (v or None) for a, v in merged.items()}
        self.store.upsert_rows("networks", [{**row, "netname": name}])
        self.view.invalidate()

    def remove_row_objects(self, otype: ObjType, names: list[str]) -> None:
        if otype.name == "network":
            rows = self.view.rows("networks")
            self.store.delete_rows("networks", [{"net": rows[n]["net"],
                                                 "mask": rows[n]["mask"]} for n in names])
        else:
            keyed = otype.attrs[otype.key]
            for table in {s.table for s in otype.stored_attrs()} | {keyed.table}:
                self.store.delete_where_in(table, keyed.column, names)
                self.attrs.invalidate(table)
        self.view.invalidate()

    # -- site ------------------------------------------------------------------------------

    def write_site(self, values: Values, mode: str = REPLACE) -> None:
        current = self.view.read(TYPES["site"], ["clustersite"]).get("clustersite", {})
        gone, rows = [], []
        for key, given in values.items():
            value = given
            if mode == PLUS:
                value = f"{current[key]},{given}" if current.get(key) else given
            elif mode == MINUS:
                if not current.get(key):
                    continue
                value = self.combine("clustersite", key, current[key], given, MINUS)
            if value == "":
                gone.append({"key": key})
            else:
                rows.append({"key": key, "value": value})
        self.store.delete_rows("site", gone)
        self.store.upsert_rows("site", rows)
        self.attrs.invalidate("site")

    def remove_site(self) -> None:
        current = self.view.read(TYPES["site"], ["clustersite"]).get("clustersite", {})
        self.store.delete_rows("site", [{"key": k} for k in current])
        self.attrs.invalidate("site")

    # -- any type --------------------------------------------------------------------------

    def remove(self, otype: ObjType, names: list[str]) -> None:
        if otype.name == "node":
            self.remove_nodes(names)
        elif otype.name == "group":
            self.remove_groups(names)
        elif otype.name == "site":
            self.remove_site()
        else:
            self.remove_row_objects(otype, names)

    def rename(self, otype: ObjType, old: str, new: str) -> None:
        if otype.name in ("group", "site"):
            raise XcatError(f"Objects of type '{otype.name}' cannot be renamed with the "
                            "-n option.")
        if not self.view.exists(otype, old):
            raise XcatError(f"Could not find an object named '{old}' of type "
                            f"'{otype.name}'.")
        if self.view.exists(otype, new):
            raise XcatError(f"Cannot rename '{old}' to '{new}': an object of type "
                            f"'{otype.name}' named '{new}' already exists.")
        if otype.name == "node":
            rename_node(self.attrs, old, new)
        elif otype.name == "network":
            row = self.view.rows("networks")[old]
            self.store.upsert_rows("networks", [{"net": row["net"], "mask": row["mask"],
                                                 "netname": new}])
        else:
            keyed = otype.attrs[otype.key]
            for table in {s.table for s in otype.stored_attrs()} | {keyed.table}:
                rows = [r for r in self.store.rows(table, include_disabled=True)
                        if r[keyed.column] == old]
                self.store.delete_rows(table, [{keyed.column: old}] if rows else [])
                self.store.insert_rows(table, [{**r, keyed.column: new} for r in rows])
        self.attrs.invalidate()
        self.view.invalidate()

    # -- checks ----------------------------------------------------------------------------

    def _check_only_if(self, otype: ObjType, final: dict[str, Values],
                       current: Callable[[str, str], str | None]) -> None:
        """Refuse conditional attributes whose condition the object does not meet."""
        conditional = {a for values in final.values() for a in values
                       if otype.attrs[a].only_if}
        if not conditional:
            return
        for name, values in final.items():
            for attr in conditional & values.keys():
                spec: AttrSpec = otype.attrs[attr]
                cond = spec.only_if[0]
                have = values[cond] if cond in values else current(name, cond)
                if values[attr] and not only_if_holds(spec, {cond: have}):
                    wanted = "|".join(spec.only_if[1])
                    raise XcatError(f"Cannot set the attr='{attr}' attribute unless "
                                    f"'{cond}={wanted}' (for '{name}').")
