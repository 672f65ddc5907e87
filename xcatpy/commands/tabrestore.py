"""tabrestore: replace a table with the rows of a tabdump CSV file (or add them with -a).

The table is named by the file: `/backup/site.csv` restores `site`. The whole file is
read and checked before anything is written, and the command runs in one transaction,
so a bad file leaves the table exactly as it was.
"""

import os

from xcatpy import __version__
from xcatpy.commands.base import Context
from xcatpy.commands.options import CommandParser
from xcatpy.db import csvformat
from xcatpy.db.schema import TABLES, Table
from xcatpy.errors import UsageError, XcatError

USAGE = """Usage: tabrestore [-a] <tablename>.csv
       tabrestore [-?|-h|--help]
       tabrestore [-v|--version]
  -a   add the rows of the file to the table instead of replacing its contents"""

_parser = CommandParser("tabrestore", USAGE)
_parser.add_argument("-v", "--version", action="store_true")
_parser.add_argument("-a", dest="addrows", action="store_true")
_parser.add_argument("files", nargs="*")


def table_for(filename: str) -> str:
    """`/tmp/site.csv` -> `site`: the file's name up to its first dot, as xCAT's client."""
    return os.path.basename(filename.rstrip("/")).split(".", 1)[0]


def run(ctx: Context) -> int:
    opts = _parser.parse(ctx.args)
    if opts.version:
        ctx.out.data(f"Version {__version__} (xcatpy)")
        return 0
    if len(opts.files) != 1:
        raise UsageError("tabrestore: exactly one <tablename>.csv file is required")
    filename = opts.files[0]
    name = table_for(filename)
    tab = TABLES.get(name)
    if tab is None:
        raise XcatError(f"{filename}: no table named '{name}' (the file name must be "
                        "<tablename>.csv; run tabdump to list the tables)")
    parsed = csvformat.parse(ctx.request.read_file(filename), filename, tab)
    rows = _checked_rows(tab, parsed, filename)
    if opts.addrows:
        _check_not_present(ctx, tab, rows, filename)
    else:
        ctx.store.clear(name)
    ctx.store.insert_rows(name, [values for _, values in rows])
    return 0


def _key_text(tab: Table, values: dict) -> str:
    return ",".join(f"{k}={values[k]}" for k in tab.keys)


def _checked_rows(tab: Table, parsed: csvformat.Parsed,
                  filename: str) -> list[tuple[int, dict]]:
    missing = [k for k in tab.keys if k not in parsed.columns]
    if missing:
        raise XcatError(f"{filename}: line 1: the header has no key column "
                        f"{', '.join(missing)} of table '{tab.name}'")
    seen: dict[tuple, int] = {}
    rows = []
    for rec in parsed.records:
        for k in tab.keys:
            if rec.values[k] is None:
                raise XcatError(f"{filename}: line {rec.line}: key column '{k}' is empty")
        key = tuple(rec.values[k] for k in tab.keys)
        if key in seen:
            raise XcatError(f"{filename}: line {rec.line}: duplicate key "
                            f"{_key_text(tab, rec.values)} (also on line {seen[key]})")
        seen[key] = rec.line
        rows.append((rec.line, rec.values))
    return rows


def _check_not_present(ctx: Context, tab: Table, rows: list[tuple[int, dict]],
                       filename: str) -> None:
    existing = {tuple(r[k] for k in tab.keys)
                for r in ctx.store.rows(tab.name, include_disabled=True)}
    for line, values in rows:
        if tuple(values[k] for k in tab.keys) in existing:
            raise XcatError(f"{filename}: line {line}: {_key_text(tab, values)} is already "
                            f"in table '{tab.name}' (-a only adds rows; without -a the "
                            "table is replaced)")
