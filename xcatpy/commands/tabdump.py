"""tabdump: list the tables, describe them, or dump one as CSV (xCAT's tabdump).

A dump shows every row, disabled ones included, in the order the rows were stored, so
tabdump followed by tabrestore gives back the same table.
"""

import re
from collections.abc import Callable

from xcatpy import __version__
from xcatpy.commands.base import Context
from xcatpy.commands.options import CommandParser
from xcatpy.db import csvformat
from xcatpy.db.schema import TABLES, Table
from xcatpy.db.selectors import Selector
from xcatpy.errors import UsageError, XcatError

USAGE = """Usage: tabdump [-d] [table]
       tabdump      [table]
       tabdump [-f <filename>]  [table]
       tabdump [-n <# of records>]  [auditlog | eventlog]
       tabdump [-w attr==val [-w attr=~val] ...] [table]
       tabdump [-w attr==val [-w attr=~val] ...] [-f <filename>] [table]
       tabdump [-?|-h|--help]
       tabdump {-v|--version}
       tabdump"""

_parser = CommandParser("tabdump", USAGE)
_parser.add_argument("-v", "--version", action="store_true")
_parser.add_argument("-d", action="store_true", dest="describe")
_parser.add_argument("-f", dest="filename")
_parser.add_argument("-n", "--lines", dest="lines", type=int)
_parser.add_argument("-w", dest="where", action="append", default=[])
_parser.add_argument("table", nargs="*")

# Tables whose rows are records in time order (recid), so -n can show the last few.
_LOG_TABLES = ("auditlog", "eventlog")
# Longest first, so `>=` is not read as `>` followed by `=value`.
_WHERE_OP = re.compile(r"==|!=|=~|!~|>=|<=|>|<")


def run(ctx: Context) -> int:
    opts = _parser.parse(ctx.args)
    if opts.version:
        ctx.out.data(f"Version {__version__} (xcatpy)")
        return 0
    _check_combinations(opts)
    if len(opts.table) > 1:
        raise UsageError("tabdump: only one table can be dumped at a time")
    if not opts.table:
        if opts.filename or opts.where:
            raise XcatError("table name missing from the command input.")
        _list_tables(ctx, opts.describe)
        return 0
    name = opts.table[0]
    if opts.lines is not None and name not in _LOG_TABLES:
        raise XcatError(f"{name} table is not supported in tabdump -n. You may only use this "
                        "option on the auditlog or the eventlog.")
    tab = TABLES.get(name)
    if tab is None:
        what = f"table {name} does not exist." if opts.describe else f"No such table: {name}"
        raise XcatError(f"{what} (run tabdump with no arguments to list the tables)")
    if opts.describe:
        _describe(ctx, [(c.name, c.description) for c in tab.columns])
        return 0
    keep = where_filter(tab, opts.where)
    rows = [r for r in ctx.store.rows(name, include_disabled=True) if keep(r)]
    if opts.lines is not None:
        # The newest records, in the order they happened: recid counts up.
        rows = sorted(rows, key=lambda r: int(r.get("recid") or 0))[-opts.lines:] \
            if opts.lines > 0 else []
    if opts.filename:
        ctx.request.write_file(opts.filename, csvformat.dump(tab.colnames, rows))
    else:
        for rec in csvformat.dump_records(tab.colnames, rows):
            ctx.out.data(rec)
    return 0


def _check_combinations(opts) -> None:
    for flag, given in (("-d", opts.describe), ("-w", opts.where), ("-f", opts.filename)):
        if opts.lines is not None and given:
            raise XcatError(f"You cannot use the -n and {flag} flag together.")


def _list_tables(ctx: Context, describe: bool) -> None:
    names = sorted(TABLES)
    if describe:
        _describe(ctx, [(n, TABLES[n].description) for n in names])
    else:
        for name in names:
            ctx.out.data(name)


def _describe(ctx: Context, entries: list[tuple[str, str]]) -> None:
    """xCAT's layout: `name:` then one tab (two for names shorter than 7), a blank line
    between entries."""
    for i, (name, text) in enumerate(entries):
        if i:
            ctx.out.data("")
        ctx.out.data(f"{name}:{chr(9) * (2 if len(name) < 7 else 1)}{text}")


# -- -w selection ------------------------------------------------------------------------

def where_filter(tab: Table, texts: list[str]) -> Callable[[dict], bool]:
    """A row test for tabdump's -w strings: all of them must hold.

    == != > < >= <= compare as Selector does (numbers as numbers). =~ and !~ are SQL LIKE,
    as xCAT's tabdump documents them (`groups=~comput%`): % is any text, _ any one
    character, ASCII letters match either case (SQLite's LIKE).
    """
    tests = [_where_test(tab, text) for text in texts]
    return lambda row: all(test(row) for test in tests)


def _where_test(tab: Table, text: str) -> Callable[[dict], bool]:
    m = _WHERE_OP.search(text)
    if m is None or m.start() == 0:
        raise XcatError(f"Invalid -w selection '{text}': expected <attr><op><value> with op "
                        "one of == != =~ !~ > < >= <=")
    attr, op, value = text[:m.start()], m.group(), text[m.end():]
    tab.column(attr)    # names the column and the table when it does not exist
    if op in ("=~", "!~"):
        like = _like_regex(value)
        want = op == "=~"
        return lambda row: (like.fullmatch(row.get(attr) or "") is not None) == want
    sel = Selector(attr, op, value)
    return lambda row: sel.matches(row.get(attr))


def _like_regex(pattern: str) -> re.Pattern:
    parts = []
    for ch in pattern:
        parts.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
    return re.compile("".join(parts), re.IGNORECASE | re.ASCII | re.DOTALL)
