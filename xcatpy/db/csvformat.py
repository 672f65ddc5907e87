"""tabdump's CSV: the format admins move whole tables with (tabdump, tabrestore).

    #node,groups,status,comments,disable
    "n1","compute,all",,"a ""quoted"" word",

The header is `#` and the column names. Every non-NULL value is double-quoted with `"`
doubled inside; NULL is written as nothing, so `""` (the empty string) and an empty field
(NULL) stay different. A quoted value may hold commas, quotes and newlines; it simply
continues on the next line, as xCAT's tabrestore reads it.

Reading is a little more forgiving than writing, like xCAT's: unquoted values are taken as
they are, missing trailing fields are NULL, blank lines and whitespace at the end of a
record are ignored, and quotes around header names are dropped. Anything else that does
not parse is a CSVError naming the file and line.
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from xcatpy.db.schema import Table
from xcatpy.errors import XcatError

_WHITESPACE = " \t\r\f\v"


class CSVError(XcatError):
    """Malformed CSV; the message names the file and the line."""


# -- writing -----------------------------------------------------------------------------

def quote(value: object) -> str:
    """One field: NULL is nothing, anything else is quoted with `"` doubled."""
    if value is None:
        return ""
    return '"' + str(value).replace('"', '""') + '"'


def header_line(columns: Iterable[str]) -> str:
    return "#" + ",".join(columns)


def record(row: dict, columns: Iterable[str]) -> str:
    """One row as one record (several lines if a value holds newlines)."""
    return ",".join(quote(row.get(c)) for c in columns)


def dump_records(columns: list[str], rows: Iterable[dict]) -> Iterator[str]:
    """The header and then each row, one string per record, without line ends."""
    yield header_line(columns)
    for row in rows:
        yield record(row, columns)


def dump(columns: list[str], rows: Iterable[dict]) -> str:
    """The whole file: every record ends with a newline."""
    return "".join(rec + "\n" for rec in dump_records(columns, rows))


# -- reading -----------------------------------------------------------------------------

@dataclass
class Record:
    line: int                       # where the record starts (1 = the header line)
    values: dict[str, str | None]   # every header column; missing trailing fields are None


@dataclass
class Parsed:
    columns: list[str]
    records: list[Record]


def parse(text: str, source: str, table: Table | None = None) -> Parsed:
    """Read a whole file. With `table`, header columns must be columns of that table."""
    reader = _Reader(text.removeprefix("\ufeff"), source)
    columns = reader.header(table)
    records = []
    for line, fields in reader.records():
        if len(fields) > len(columns):
            raise reader.error(line, f"too many fields ({len(fields)}): the header names "
                                     f"{len(columns)} columns")
        fields += [None] * (len(columns) - len(fields))
        records.append(Record(line, dict(zip(columns, fields, strict=True))))
    return Parsed(columns, records)


class _Reader:
    """A cursor over the text that knows which line it is on."""

    def __init__(self, text: str, source: str) -> None:
        self.text = text
        self.source = source
        self.pos = 0
        self.line = 1

    def error(self, line: int, what: str) -> CSVError:
        return CSVError(f"{self.source}: line {line}: {what}")

    def _line_end(self) -> int:
        end = self.text.find("\n", self.pos)
        return len(self.text) if end < 0 else end

    def _next_line(self) -> None:
        self.pos = self._line_end() + 1
        self.line += 1

    def header(self, table: Table | None) -> list[str]:
        raw = self.text[self.pos:self._line_end()]
        if not raw.startswith("#"):
            what = "is empty" if not self.text.strip() else "does not start with '#'"
            raise self.error(1, f"the header line {what}: expected #column,column,... "
                                "as tabdump writes it")
        # xCAT strips quotes that spreadsheet programs put around header names.
        names = [n.strip() for n in raw[1:].replace('"', "").rstrip().split(",")]
        seen: set[str] = set()
        for name in names:
            if table is not None and not table.has_column(name):
                raise self.error(1, f"unknown column '{name}' in the header: table "
                                    f"'{table.name}' has no such column")
            if name in seen:
                raise self.error(1, f"column '{name}' appears twice in the header")
            seen.add(name)
        self._next_line()
        return names

    def records(self) -> Iterator[tuple[int, list[str | None]]]:
        while self.pos < len(self.text):
            if not self.text[self.pos:self._line_end()].strip(_WHITESPACE):
                self._next_line()
                continue
            start = self.line
            yield start, self._fields(start)

    def _fields(self, start: int) -> list[str | None]:
        fields: list[str | None] = []
        while True:
            if self.pos < len(self.text) and self.text[self.pos] == '"':
                fields.append(self._quoted())
            else:
                fields.append(self._unquoted())
            sep = self.text[self.pos] if self.pos < len(self.text) else "\n"
            self.pos += 1
            if sep == "\n":
                self.line += 1
                return fields

    def _unquoted(self) -> str | None:
        end = self._line_end()
        comma = self.text.find(",", self.pos, end)
        stop = end if comma < 0 else comma
        value = self.text[self.pos:stop]
        if '"' in value:
            raise self.error(self.line, f"a '\"' inside an unquoted value ({value!r}): "
                                        "quote the whole value and double the '\"'")
        if comma < 0:
            value = value.rstrip(_WHITESPACE)   # end of the record, as xCAT trims lines
        self.pos = stop
        return value or None

    def _quoted(self) -> str:
        opened = self.line
        pieces = []
        i = self.pos + 1
        while True:
            close = self.text.find('"', i)
            if close < 0:
                raise self.error(opened, "a quoted value is never closed (unmatched '\"')")
            pieces.append(self.text[i:close])
            if self.text.startswith('"', close + 1):
                pieces.append('"')
                i = close + 2
                continue
            break
        self.line += self.text.count("\n", self.pos, close)
        self.pos = close + 1
        end = self._line_end()
        rest = self.text[self.pos:end]
        if rest.startswith(","):
            return "".join(pieces)
        if rest.strip(_WHITESPACE):
            raise self.error(self.line, f"unexpected text after a closing quote: {rest!r} "
                                        "(a '\"' inside a value must be doubled)")
        self.pos = end
        return "".join(pieces)
