"""Fuzzing what admins import: stanza files (mkdef -z / chdef -z) and tabdump CSV
(tabrestore), as parsers and as whole commands.

Properties:
- stanza.parse gives stanzas (unique non-empty names, an objtype each, attribute names
  without blanks) or XcatError; format_objects output parses back to the same objects.
- csvformat.parse gives a header and records (every column present, lines increasing) or
  CSVError; dump output parses back to the same rows (NULL and "" kept apart, commas,
  quotes and newlines in values).
- `mkdef -z`, `chdef -z` and `tabrestore` on any such input exit 0 or 1 with an error
  line, and raise nothing (the commands run against a store that never commits, so each
  input starts from the same tables).
"""

from contextlib import contextmanager
from unittest import mock

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.harness import attempt, fuzz_settings, mostly, tried
from xcatpy.commands import run_command
from xcatpy.commands.base import ListOutput, Request
from xcatpy.db import csvformat, stanza
from xcatpy.db.schema import TABLES
from xcatpy.db.store import Store
from xcatpy.errors import XcatError

# -- stanza ----------------------------------------------------------------------------------

OBJTYPES = ["node", "group", "network", "osimage", "site", "policy", "route", "zone",
            "notification", "", "nosuch"]
ATTRS = ["groups", "ip", "mac", "mgt", "netboot", "os", "arch", "profile", "net", "mask",
         "gateway", "members", "wherevals", "dynamicrange", "comments", "bmc", "nosuch",
         "domain", "master", "vmhost", "usercomment"]
VALUES = mostly(
    st.sampled_from(["compute,all", "10.0.0.5", "52:54:00:aa:00:01", "ipmi", "xnba", "",
                     '"quoted"', '"', "|node(\\d+)|10.0.0.($1+0)|", "/\\z/-bmc/",
                     "|(" + "1" * 4400 + ")|", "/a{4294967296}/x/", "255.255.255.0",
                     "10.0.0.0", "mgt==ipmi", "a=b", "x:", "#", " spaced "]),
    st.text(max_size=12),
)
NAMES = mostly(st.sampled_from(["n1", "n2", "n3", "node[1-3]", "compute", "net1", "clustersite",
                                "img1", "default-node", "default-group", "a=b", "fd00::1:", ""]),
               st.text(max_size=8))


@st.composite
def stanza_texts(draw) -> str:
    lines = [draw(st.sampled_from(["# <xCAT data object stanza file>", "", "#x"]))]
    for _ in range(draw(st.integers(0, 4))):
        lines.append(draw(NAMES) + draw(mostly(st.just(":"), st.sampled_from([" :", "", "::"]))))
        if draw(st.integers(0, 6)):
            lines.append(draw(st.sampled_from(["    ", "", "\t"])) + "objtype="
                         + draw(st.sampled_from(OBJTYPES)))
        for _ in range(draw(st.integers(0, 4))):
            lines.append(draw(st.sampled_from(["    ", "", "\t", "  "]))
                         + draw(mostly(st.sampled_from(ATTRS), st.text(max_size=5), 90))
                         + draw(mostly(st.just("="), st.sampled_from([" = ", "", "=="]), 90))
                         + draw(VALUES))
        if draw(st.integers(0, 9)) == 0:
            lines.append(draw(st.text(max_size=10)))
    return draw(st.sampled_from(["\n", "\r\n", "\n\n"])).join(lines)


stanza_inputs = st.one_of(stanza_texts(), stanza_texts(), st.text(max_size=60))


@fuzz_settings()
@given(stanza_inputs)
def test_stanza_parse_gives_stanzas_or_an_error(text):
    got = attempt("import.stanza", lambda: stanza.parse(text), (XcatError,))
    if not got.ok:
        assert got.error.message
        return
    names = [s.name for s in got.value]
    assert len(names) == len(set(names)) and all(names)
    for s in got.value:
        assert s.objtype and "=" not in s.name and s.line >= 1
        assert all(a and not any(c.isspace() for c in a) for a in s.attrs)


def _clean(text: str) -> bool:
    return text == text.strip() and "\n" not in text


stanza_names = st.text(max_size=10).filter(
    lambda n: n and _clean(n) and "=" not in n and not n.startswith("#")
    and not stanza._DEFAULT.match(n))
stanza_attrs = st.text(max_size=8).filter(
    lambda a: a and "=" not in a and not any(c.isspace() for c in a) and not a.startswith("#")
    and a != "objtype")
stanza_values = st.text(max_size=12).filter(
    lambda v: _clean(v) and not (len(v) >= 2 and v[0] == v[-1] == '"'))
objects = st.dictionaries(stanza_names, st.tuples(
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=8),
    st.dictionaries(stanza_attrs, stanza_values, max_size=4)), max_size=4)


@fuzz_settings()
@given(objects)
def test_stanza_round_trip(objs):
    tried("import.stanza")
    written = [(name, otype, attrs) for name, (otype, attrs) in objs.items()]
    parsed = stanza.parse("\n".join(stanza.format_objects(written)))
    assert [(s.name, s.objtype, {a: v for a, v in s.attrs.items() if a != "objtype"})
            for s in parsed] == written


# -- CSV -------------------------------------------------------------------------------------

CSV_TABLES = ["nodelist", "site", "hosts", "networks", "passwd", "nodehm"]
CSV_VALUES = st.one_of(st.none(), st.text(max_size=10),
                       st.sampled_from(['a,b', 'say "hi"', "two\nlines", "", " ", "\r", '"',
                                        "|node(\\d+)|10.0.0.($1+0)|", "x" * 300]))


@st.composite
def csv_texts(draw) -> tuple[str, str]:
    """(table, text): a tabdump-like file, sometimes hand-edited badly."""
    table = draw(st.sampled_from(CSV_TABLES))
    columns = list(TABLES[table].colnames)
    header = draw(st.one_of(
        st.just(columns), st.permutations(columns),
        st.lists(st.sampled_from(columns + ["nosuch", "", '"node"', " node"]), max_size=6)))
    rows = [{c: draw(CSV_VALUES) for c in columns} for _ in range(draw(st.integers(0, 4)))]
    text = csvformat.dump(header, rows)
    how = draw(st.sampled_from([0] * 6 + [1, 2, 3, 4]))
    if how == 1:                            # cut anywhere
        text = text[:draw(st.integers(0, len(text)))]
    elif how in (2, 3):                     # a quote, comma or newline inserted anywhere
        i = draw(st.integers(0, len(text)))
        text = text[:i] + draw(st.sampled_from(['"', ",", "\n", '""', "\r\n", "#"])) + text[i:]
    elif how == 4:
        text = draw(st.sampled_from(["\ufeff", "", " ", "\n"])) + text
    return table, text


csv_inputs = st.one_of(csv_texts(), csv_texts(), st.tuples(st.sampled_from(CSV_TABLES),
                                                           st.text(max_size=60)))


@fuzz_settings()
@given(csv_inputs, st.booleans())
def test_csv_parse_gives_records_or_an_error(table_text, check_table):
    table, text = table_text
    tab = TABLES[table] if check_table else None
    got = attempt("import.csv", lambda: csvformat.parse(text, "f.csv", tab),
                  (csvformat.CSVError,))
    if not got.ok:
        assert got.error.message.startswith("f.csv: line ")
        return
    parsed = got.value
    lines = [r.line for r in parsed.records]
    assert lines == sorted(set(lines)) and all(n >= 2 for n in lines)
    for record in parsed.records:
        assert list(record.values) == parsed.columns


column_names = st.lists(st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1,
                                max_size=8), min_size=1, max_size=5, unique=True)


@fuzz_settings()
@given(column_names.flatmap(lambda cols: st.tuples(st.just(cols), st.lists(
    st.fixed_dictionaries({c: st.one_of(st.none(), st.text(max_size=12)) for c in cols}),
    max_size=4))))
def test_csv_round_trip(columns_rows):
    columns, rows = columns_rows
    tried("import.csv")
    # A one-column row that is NULL is an empty line, which readers skip (as xCAT's do).
    rows = [r for r in rows if len(columns) > 1 or r[columns[0]] is not None]
    parsed = csvformat.parse(csvformat.dump(columns, rows), "f.csv")
    assert parsed.columns == columns
    assert [r.values for r in parsed.records] == rows


# -- the commands ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def import_store(tmp_path_factory):
    store = Store.open(tmp_path_factory.mktemp("import") / "state")
    store.begin()
    store.upsert_rows("nodelist", [{"node": "n1", "groups": "compute"}])
    store.commit()
    yield store
    store.close()


@contextmanager
def never_committed(store: Store):
    with mock.patch.object(store, "commit", store.rollback):
        yield


def _run(store: Store, cwd, command: str, *args: str, stdin: str = ""):
    out = ListOutput()
    request = Request(command, list(args), cwd=str(cwd), read_stdin=lambda: stdin)
    with never_committed(store):
        rc = run_command(request, out, store)
    assert not store.conn.in_transaction
    return rc, out


@fuzz_settings(weight=0.4)
@given(stanza_inputs, st.sampled_from(["mkdef", "chdef"]))
def test_stanza_commands(import_store, tmp_path_factory, text, command):
    cwd = tmp_path_factory.getbasetemp()
    got = attempt("import.stanza_command",
                  lambda: _run(import_store, cwd, command, "-z", stdin=text))
    if got.ok:
        rc, out = got.value
        assert rc in (0, 1)
        assert rc == 0 or any(line.startswith("Error: ") for line in out.stderr)


@fuzz_settings(weight=0.4)
@given(csv_inputs, st.booleans())
def test_tabrestore(import_store, tmp_path_factory, table_text, add):
    table, text = table_text
    cwd = tmp_path_factory.getbasetemp() / "tabrestore"
    cwd.mkdir(exist_ok=True)
    (cwd / f"{table}.csv").write_text(text, newline="")
    args = ["-a"] if add else []
    got = attempt("import.tabrestore",
                  lambda: _run(import_store, cwd, "tabrestore", *args, f"{table}.csv"))
    if got.ok:
        rc, out = got.value
        assert rc in (0, 1)
        assert rc == 0 or any(line.startswith("Error: ") for line in out.stderr)
