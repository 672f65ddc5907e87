"""tabrestore through the dispatcher: round trips, replace and -a, all-or-nothing errors."""

import pytest

from xcatpy.commands.tabrestore import USAGE, table_for
from xcatpy.db.schema import TABLES

AWKWARD = [
    "a,b,c",
    'say "hi"',
    '""',
    "two\nlines",
    "  padded  ",
    "ünïcødé ✓ 日本",
    "",
    None,
    "#not a header",
    ",",
    '"',
    "trailing\n",
]


def awkward_rows(name: str) -> list[dict]:
    """Three rows for a table, every non-key column some awkward value or NULL."""
    tab = TABLES[name]
    rows = []
    for i in range(3):
        row = {}
        for j, col in enumerate(tab.colnames):
            if col in tab.keys:
                row[col] = f"key {i},{col} \"{j}\"\n✓"
            else:
                row[col] = AWKWARD[(i * 5 + j) % len(AWKWARD)]
        rows.append(row)
    return rows


@pytest.mark.parametrize("name", sorted(TABLES))
def test_dump_restore_round_trip_for_every_table(run, store, tmp_path, name):
    rows = awkward_rows(name)
    store.clear(name)
    store.insert_rows(name, rows)
    before = run("tabdump", name)
    assert run("tabdump", "-f", f"{name}.csv", name).rc == 0
    store.clear(name)
    r = run("tabrestore", f"{name}.csv")
    assert (r.rc, r.out, r.err) == (0, [], [])
    assert run("tabdump", name).out == before.out
    assert store.rows(name, include_disabled=True) == rows


def test_carriage_return_inside_a_value_survives_the_file(run, store):
    store.insert_rows("site", [{"key": "banner", "value": "crlf\r\nline, lone\rcr"}])
    assert run("tabdump", "-f", "site.csv", "site").rc == 0
    assert run("tabrestore", "site.csv").rc == 0
    assert store.get("site", {"key": "banner"})["value"] == "crlf\r\nline, lone\rcr"


def test_restore_replaces_the_whole_table(run, tmp_path):
    run("tabch", "node=old", "nodelist.groups=all")
    (tmp_path / "nodelist.csv").write_text('#node,groups\n"n1","compute"\n"n2",\n')
    assert run("tabrestore", "nodelist.csv").rc == 0
    out = run("tabdump", "nodelist").out
    assert [ln.split(",")[:2] for ln in out[1:]] == [['"n1"', '"compute"'], ['"n2"', '']]


def test_restore_keeps_disabled_rows_and_empty_strings(run, tmp_path):
    (tmp_path / "chain.csv").write_text('#node,currstate,chain,disable\n"n1","",,"1"\n')
    assert run("tabrestore", "chain.csv").rc == 0
    assert run("tabdump", "chain").out[1] == '"n1","",,,,,"1"'


def test_add_rows_keeps_existing_ones(run, tmp_path):
    run("tabch", "node=n1", "nodelist.groups=all")
    (tmp_path / "nodelist.csv").write_text('#node,groups\n"n2","compute"\n')
    assert run("tabrestore", "-a", "nodelist.csv").rc == 0
    assert [ln.split(",")[0] for ln in run("tabdump", "nodelist").out[1:]] == ['"n1"', '"n2"']


def test_add_rows_refuses_a_key_that_exists(run, tmp_path):
    run("tabch", "node=n1", "nodelist.groups=all")
    before = run("tabdump", "nodelist").out
    (tmp_path / "nodelist.csv").write_text('#node,groups\n"n2","x"\n"n1","y"\n')
    r = run("tabrestore", "-a", "nodelist.csv")
    assert r.rc == 1
    assert r.err == ["Error: nodelist.csv: line 3: node=n1 is already in table 'nodelist' "
                     "(-a only adds rows; without -a the table is replaced)"]
    assert run("tabdump", "nodelist").out == before


def test_crlf_file_from_a_spreadsheet(run, tmp_path):
    (tmp_path / "hosts.csv").write_bytes(b'\xef\xbb\xbf#"node","ip"\r\n"n1","10.0.0.1"\r\n')
    assert run("tabrestore", "hosts.csv").rc == 0
    assert run("tabdump", "hosts").out[1] == '"n1","10.0.0.1",,,,'


@pytest.mark.parametrize(("path", "table"), [
    ("site.csv", "site"),
    ("/backup/2024/site.csv", "site"),
    ("dir/nodelist.2024-01-01.csv", "nodelist"),
    ("policy", "policy"),
])
def test_table_comes_from_the_file_name(path, table):
    assert table_for(path) == table


def test_restore_from_a_path(run, tmp_path):
    sub = tmp_path / "backup"
    sub.mkdir()
    (sub / "mac.csv").write_text('#node,mac\n"n1","aa:bb:cc:dd:ee:ff"\n')
    assert run("tabrestore", str(sub / "mac.csv")).rc == 0
    assert run("tabdump", "mac").out[1].startswith('"n1",,"aa:bb:cc:dd:ee:ff"')


# -- errors leave the table as it was ----------------------------------------------------

GOOD_FIRST = '#node,groups\n"n1","compute"\n'


@pytest.mark.parametrize(("text", "message"), [
    ("", "nodelist.csv: line 1: the header line is empty"),
    ('node,groups\n"n1",\n', "nodelist.csv: line 1: the header line does not start with '#'"),
    ('#node,colour\n"n1","red"\n',
     "nodelist.csv: line 1: unknown column 'colour' in the header: table 'nodelist' has no "
     "such column"),
    ('#groups\n"compute"\n', "nodelist.csv: line 1: the header has no key column node of "
                             "table 'nodelist'"),
    (GOOD_FIRST + '"n2","x\n', "nodelist.csv: line 3: a quoted value is never closed"),
    (GOOD_FIRST + '"n2","x","y"\n', "nodelist.csv: line 3: too many fields (3)"),
    (GOOD_FIRST + '"n2",a"b\n', "nodelist.csv: line 3: a '\"' inside an unquoted value"),
    (GOOD_FIRST + ',"x"\n', "nodelist.csv: line 3: key column 'node' is empty"),
    (GOOD_FIRST + '"n1","again"\n',
     "nodelist.csv: line 3: duplicate key node=n1 (also on line 2)"),
])
def test_malformed_file_changes_nothing(run, tmp_path, text, message):
    run("tabch", "node=keep", "nodelist.groups=all")
    before = run("tabdump", "nodelist").out
    (tmp_path / "nodelist.csv").write_text(text)
    r = run("tabrestore", "nodelist.csv")
    assert r.rc == 1
    assert len(r.err) == 1
    assert r.err[0].startswith(f"Error: {message}")
    assert run("tabdump", "nodelist").out == before


def test_unknown_table_name(run, tmp_path):
    (tmp_path / "nodes.csv").write_text("#node\n")
    r = run("tabrestore", "nodes.csv")
    assert r.rc == 1
    assert r.err == ["Error: nodes.csv: no table named 'nodes' (the file name must be "
                     "<tablename>.csv; run tabdump to list the tables)"]


def test_missing_file(run):
    r = run("tabrestore", "site.csv")
    assert r.rc == 1
    assert r.err[0].startswith("Error: Cannot read file site.csv")
    assert len(run("tabdump", "site").out) > 30      # the defaults are still there


@pytest.mark.parametrize("args", [[], ["site.csv", "policy.csv"]])
def test_exactly_one_file(run, args):
    r = run("tabrestore", *args)
    assert r.rc == 1
    assert r.err[-1] == USAGE


@pytest.mark.parametrize("flag", ["-h", "-?", "--help"])
def test_help(run, flag):
    r = run("tabrestore", flag)
    assert (r.rc, r.out) == (0, [USAGE])
    assert USAGE.startswith("Usage: tabrestore [-a] <tablename>.csv")
