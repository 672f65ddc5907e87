"""The table schema: xCAT's tables, keys and columns, with the descriptions `tabdump -d` shows.

Table definitions live in xcatpy.db.tables, one module per area; this module holds the
types and the registry every other part asks.
"""

from dataclasses import dataclass, field

from xcatpy.errors import XcatError

# Every xCAT table carries these two; `disable` comments a row out of every lookup.
COMMON_COLUMNS = (
    ("comments", "Any user-written notes."),
    ("disable", "Set to 'yes' or '1' to comment out this row."),
)

# Values of `disable` that leave a row live (xCAT's Table.pm treats anything else as off).
ENABLED_VALUES = frozenset({"", "0", "no"})


@dataclass(frozen=True)
class Column:
    name: str
    description: str
    # Columns xcatpy adds to xCAT's schema; their descriptions say so for `tabdump -d`.
    extension: bool = False


@dataclass(frozen=True)
class Table:
    name: str
    description: str
    keys: tuple[str, ...]
    columns: tuple[Column, ...]
    _by_name: dict = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {c.name: c for c in self.columns})

    @property
    def colnames(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def node_keyed(self) -> bool:
        """Rows keyed by a node (or group) name: the tables attribute inheritance reads."""
        return self.keys == ("node",)

    def has_column(self, name: str) -> bool:
        return name in self._by_name

    def column(self, name: str) -> Column:
        try:
            return self._by_name[name]
        except KeyError:
            raise XcatError(f"Unknown column '{name}' in table '{self.name}'") from None


def define(name: str, description: str, keys: tuple[str, ...] | str,
           columns: list[tuple[str, str]], extensions: list[tuple[str, str]] = ()) -> Table:
    """Build a Table; `comments` and `disable` are appended, extensions are marked."""
    if isinstance(keys, str):
        keys = (keys,)
    cols = [Column(n, d) for n, d in columns]
    cols += [Column(n, f"(xcatpy extension) {d}", extension=True) for n, d in extensions]
    cols += [Column(n, d) for n, d in COMMON_COLUMNS]
    return Table(name, description, tuple(keys), tuple(cols))


def _load() -> dict[str, Table]:
    from xcatpy.db.tables import ALL_TABLES

    return {t.name: t for t in ALL_TABLES}


TABLES: dict[str, Table] = _load()


def table(name: str) -> Table:
    try:
        return TABLES[name]
    except KeyError:
        raise XcatError(f"Unknown table '{name}'") from None


def split_attr(spec: str) -> tuple[Table, str]:
    """Parse `table.column`, naming the table or column that does not exist."""
    tabname, dot, colname = spec.partition(".")
    if not dot or not tabname or not colname:
        raise XcatError(f"Malformed attribute '{spec}': expected table.column")
    tab = table(tabname)
    tab.column(colname)
    return tab, colname


def is_enabled(row: dict) -> bool:
    return (row.get("disable") or "").strip().lower() in ENABLED_VALUES
