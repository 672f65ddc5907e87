"""tabch: set columns of one row, by its key, in one or more tables; or delete rows (-d).

    tabch node=n1 nodelist.groups=all nodetype.os=rhels9
    tabch key=tftpdir site.value=/tftpboot
    tabch node=n1 postscripts.postbootscripts+=otherpkgs
    tabch -d node=n1 nodetype

The key is `keycolname=keyvalue[,keycolname=keyvalue...]`: commas separate key columns,
so a key value cannot hold a comma (as in xCAT). Setting needs exactly the table's key
columns and creates the row if it is missing; `-d` deletes the rows whose columns match.
Every argument is checked before anything is written.
"""

from xcatpy import __version__
from xcatpy.commands.base import Context
from xcatpy.commands.options import CommandParser
from xcatpy.db.schema import Table, table
from xcatpy.errors import UsageError, XcatError

USAGE = """Usage: tabch [-h|--help]
       tabch [-v|--version]
       tabch keycolname=keyvalue[,keycolname=keyvalue,...] tablename.colname=newvalue \
[tablename.colname=newvalue ...]
       tabch keycolname=keyvalue[,keycolname=keyvalue,...] tablename.colname+=newvalue \
[tablename.colname+=newvalue ...]
       tabch -d keycolname=keyvalue[,keycolname=keyvalue,...] tablename [tablename ...]"""

_parser = CommandParser("tabch", USAGE)
_parser.add_argument("-v", "--version", action="store_true")
_parser.add_argument("-d", dest="delete", action="store_true")
_parser.add_argument("keyspec", nargs="?")
_parser.add_argument("items", nargs="*")


def run(ctx: Context) -> int:
    opts = _parser.parse(ctx.args)
    if opts.version:
        ctx.out.data(f"Version {__version__} (xcatpy)")
        return 0
    if not opts.keyspec:
        raise UsageError("tabch: a key (keycolname=keyvalue) is required")
    if not opts.items:
        raise UsageError("tabch: Missing table name." if opts.delete else
                         "tabch: nothing to change: give tablename.colname=newvalue")
    keys = parse_keys(opts.keyspec)
    if opts.delete:
        _delete(ctx, keys, opts.items)
    else:
        _set(ctx, keys, opts.items)
    return 0


def parse_keys(spec: str) -> dict[str, str]:
    """`node=n1` or `key=a,username=b` -> {column: value}; the first `=` splits."""
    keys: dict[str, str] = {}
    for pair in spec.split(","):
        name, eq, value = pair.partition("=")
        if "." in name and eq:
            raise XcatError(f"'{spec}' is not a key: the first argument selects the row, "
                            "as keycolname=keyvalue (for example node=n1)")
        if not eq or not name:
            raise XcatError(f"Malformed key '{pair}' in '{spec}': expected "
                            "keycolname=keyvalue[,keycolname=keyvalue,...]")
        if name in keys:
            raise XcatError(f"Key column '{name}' is given twice in '{spec}'")
        keys[name] = value
    return keys


def _parse_change(item: str) -> tuple[Table, str, str, bool]:
    """`table.col=value` or `table.col+=value` -> (table, column, value, append)."""
    lhs, eq, value = item.partition("=")
    append = lhs.endswith("+")
    tabname, dot, col = lhs.removesuffix("+").partition(".")
    if not eq or not dot or not tabname or not col:
        raise XcatError(f"Malformed argument '{item}': expected tablename.colname=newvalue "
                        "or tablename.colname+=newvalue")
    tab = table(tabname)
    tab.column(col)
    return tab, col, value, append


def _check_set_keys(tab: Table, keys: dict[str, str]) -> None:
    for name in keys:
        if not tab.has_column(name):
            raise XcatError(f"Unknown key '{name}' for table '{tab.name}' (its key: "
                            f"{','.join(tab.keys)})")
        if name not in tab.keys:
            raise XcatError(f"'{name}' is not a key column of table '{tab.name}' (its key: "
                            f"{','.join(tab.keys)})")
    missing = [k for k in tab.keys if k not in keys]
    if missing:
        raise XcatError(f"Table '{tab.name}' is keyed by {','.join(tab.keys)}: give "
                        f"{','.join(missing)} too")
    for name, value in keys.items():
        if not value:
            raise XcatError(f"Key '{name}' has an empty value")


def _set(ctx: Context, keys: dict[str, str], items: list[str]) -> None:
    changes: dict[str, list[tuple[str, str, bool]]] = {}
    for item in items:
        tab, col, value, append = _parse_change(item)
        _check_set_keys(tab, keys)
        if col in tab.keys:
            raise XcatError(f"'{item}': tabch cannot change key column '{col}' of table "
                            f"'{tab.name}' (the key selects the row)")
        changes.setdefault(tab.name, []).append((col, value, append))
    for name, ops in changes.items():
        current = ctx.store.get(name, keys, include_disabled=True) or {}
        values: dict[str, str | None] = {}
        for col, value, append in ops:
            if append:
                values[col] = _appended(values.get(col, current.get(col)), value)
            else:
                values[col] = value or None     # `col=` unsets, as nodech's blank value
        ctx.store.upsert_rows(name, [{**keys, **values}])


def _appended(current: str | None, value: str) -> str | None:
    """`+=`: add value to the comma-separated list unless it is already there."""
    items = current.split(",") if current else []
    if value and value not in items:
        items.append(value)
    return ",".join(items) or None


def _delete(ctx: Context, keys: dict[str, str], names: list[str]) -> None:
    tabs = []
    for name in names:
        if "." in name or "=" in name:
            raise XcatError(f"'{name}': only table names follow the key with -d")
        tab = table(name)
        for col in keys:
            if not tab.has_column(col):
                raise XcatError(f"Unknown key '{col}' for table '{tab.name}'")
        tabs.append(tab)
    for tab in tabs:
        doomed = [{k: r[k] for k in tab.keys}
                  for r in ctx.store.rows(tab.name, include_disabled=True)
                  if all((r[c] or "") == v for c, v in keys.items())]
        ctx.store.delete_rows(tab.name, doomed)
