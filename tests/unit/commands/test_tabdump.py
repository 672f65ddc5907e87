"""tabdump through the dispatcher: listing, dumping, -d, -w, -f, -n and errors."""

import pytest

from xcatpy.commands.tabdump import USAGE
from xcatpy.db.schema import TABLES

NODELIST_HEADER = ("#node,groups,status,statustime,appstatus,appstatustime,primarysn,hidden,"
                   "updatestatus,updatestatustime,zonename,comments,disable")


@pytest.fixture
def vms(store):
    store.insert_rows("vm", [
        {"node": "vm1", "host": "hv1", "memory": "512", "cpus": "1"},
        {"node": "vm2", "host": "hv2", "memory": "1024", "cpus": "2", "comments": "db"},
        {"node": "vm10", "host": "HV1", "memory": "4096", "cpus": "4"},
        {"node": "vm3", "host": None, "memory": "", "cpus": "8", "disable": "1"},
    ])
    store.commit()


def nodes(result) -> list[str]:
    return [line.split(",")[0].strip('"') for line in result.out[1:]]


def test_no_arguments_lists_every_table_sorted(run):
    r = run("tabdump")
    assert r.rc == 0
    assert r.out == sorted(TABLES)
    # xCAT's 22 (with eventlog) and dhcpreservation, dhcplease, dnsrecord, migrationjournal
    assert len(r.out) == 26


def test_empty_table_shows_only_the_header(run):
    r = run("tabdump", "nodelist")
    assert (r.rc, r.out, r.err) == (0, [NODELIST_HEADER], [])


def test_dump_quotes_values_and_leaves_null_empty(run, vms):
    r = run("tabdump", "vm")
    assert r.rc == 0
    assert r.out[0].startswith("#node,mgr,host,migrationdest,storage,")
    assert r.out[0].endswith(",vidpassword,uuid,maxmem,autostart,comments,disable")
    ncols = r.out[0].count(",") + 1
    assert r.out[1] == '"vm1",,"hv1"' + ",," * 3 + ',"512","1"' + "," * (ncols - 11)
    assert '"db"' in r.out[2]
    # memory is the empty string for vm3: "" rather than nothing
    assert r.out[4].startswith('"vm3",,,,,,,,,"",')


def test_disabled_rows_are_dumped_in_insertion_order(run, vms):
    assert nodes(run("tabdump", "vm")) == ["vm1", "vm2", "vm10", "vm3"]
    assert run("tabdump", "vm").out[4].endswith(',"1"')


def test_order_is_stable_when_rows_change(run, vms):
    assert run("tabch", "node=vm1", "vm.memory=2048").rc == 0
    assert nodes(run("tabdump", "vm")) == ["vm1", "vm2", "vm10", "vm3"]


def test_value_with_newline_is_one_record(run, store):
    store.insert_rows("site", [{"key": "motd", "value": 'line 1\nsay "hi"'}])
    store.commit()
    assert '"motd","line 1\nsay ""hi""",,' in run("tabdump", "site").out


def test_unknown_table_is_an_error(run):
    r = run("tabdump", "nodes")
    assert r.rc == 1
    assert r.out == []
    assert r.err == ["Error: No such table: nodes (run tabdump with no arguments to list "
                     "the tables)"]


def test_only_one_table(run):
    r = run("tabdump", "site", "policy")
    assert r.rc == 1
    assert "only one table" in r.err[0]
    assert r.err[1:] == [USAGE]


# -- descriptions ------------------------------------------------------------------------

def test_describe_all_tables_in_xcat_layout(run):
    r = run("tabdump", "-d")
    assert r.rc == 0
    entries = r.out[::2]
    assert r.out[1::2] == [""] * 25
    assert [e.split(":")[0] for e in entries] == sorted(TABLES)
    assert entries[0] == ("bootparams:\tCurrent boot settings to be sent to systems attempting "
                          "network boot for deployment, stateless, or other reasons.  Mostly "
                          "automatically manipulated by xCAT.")
    assert "mac:\t\tThe MAC address of the node's install adapter." in " ".join(entries)
    assert any(e.startswith("hypervisor:\tHypervisor parameters") for e in entries)


def test_describe_one_table_lists_its_columns(run):
    r = run("tabdump", "-d", "vm")
    assert r.rc == 0
    entries = r.out[::2]
    assert [e.split(":")[0] for e in entries] == TABLES["vm"].colnames
    assert entries[0] == "node:\t\tThe node or static group name"
    assert entries[3].startswith("migrationdest:\tA noderange representing")
    assert "maxmem:\t\t(xcatpy extension) Megabytes" in "\n".join(entries)
    assert entries[-1] == "disable:\tSet to 'yes' or '1' to comment out this row."


def test_describe_unknown_table(run):
    r = run("tabdump", "-d", "bogus")
    assert r.rc == 1
    assert r.err[0].startswith("Error: table bogus does not exist.")


# -- -w ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("where", "expected"), [
    (["host==hv1"], ["vm1"]),
    (["host!=hv1"], ["vm2", "vm10", "vm3"]),
    (["memory>1000"], ["vm2", "vm10"]),          # numbers compare as numbers
    (["memory>=1024"], ["vm2", "vm10"]),
    (["memory<1024"], ["vm1", "vm3"]),
    (["memory<=1024"], ["vm1", "vm2", "vm3"]),
    (["host=~hv%"], ["vm1", "vm2", "vm10"]),     # SQL LIKE, ASCII case-insensitive
    (["host=~hv_"], ["vm1", "vm2", "vm10"]),
    (["host=~hv"], []),                          # LIKE matches the whole value
    (["node=~vm1%"], ["vm1", "vm10"]),
    (["host!~%1"], ["vm2", "vm3"]),
    (["cpus>1", "host=~hv%"], ["vm2", "vm10"]),  # several -w: all must hold
    (["comments==db"], ["vm2"]),
])
def test_where_operators(run, vms, where, expected):
    args = [a for w in where for a in ("-w", w)]
    r = run("tabdump", *args, "vm")
    assert r.rc == 0
    assert r.out[0].startswith("#node,mgr,host")
    assert nodes(r) == expected


def test_where_like_treats_regex_characters_literally(run, store):
    store.insert_rows("nodelist", [{"node": "a.b"}, {"node": "axb"}])
    store.commit()
    assert nodes(run("tabdump", "-w", "node=~a.b", "nodelist")) == ["a.b"]


def test_where_unknown_column_names_it(run, vms):
    r = run("tabdump", "-w", "colour==red", "vm")
    assert r.rc == 1
    assert r.err == ["Error: Unknown column 'colour' in table 'vm'"]


@pytest.mark.parametrize("where", ["host", "==hv1", "host=hv1"])
def test_where_malformed(run, vms, where):
    r = run("tabdump", "-w", where, "vm")
    assert r.rc == 1
    assert r.err[0].startswith(f"Error: Invalid -w selection '{where}'")


def test_where_needs_a_table(run):
    r = run("tabdump", "-w", "node==x")
    assert (r.rc, r.err) == (1, ["Error: table name missing from the command input."])


# -- -f ----------------------------------------------------------------------------------

def test_file_gets_the_dump_instead_of_stdout(run, vms, tmp_path):
    r = run("tabdump", "-f", "vm.csv", "vm")
    assert (r.rc, r.out, r.err) == (0, [], [])
    assert (tmp_path / "vm.csv").read_text() == "\n".join(run("tabdump", "vm").out) + "\n"


def test_file_with_where_and_absolute_path(run, vms, tmp_path):
    target = tmp_path / "sub" / "few.csv"
    target.parent.mkdir()
    assert run("tabdump", "-w", "cpus>=4", "-f", str(target), "vm").rc == 0
    lines = target.read_text().splitlines()
    assert [ln.split(",")[0] for ln in lines[1:]] == ['"vm10"', '"vm3"']


def test_file_needs_a_table(run):
    r = run("tabdump", "-f", "x.csv")
    assert (r.rc, r.err) == (1, ["Error: table name missing from the command input."])


def test_unwritable_file_is_an_error(run, tmp_path):
    r = run("tabdump", "-f", str(tmp_path / "missing" / "x.csv"), "site")
    assert r.rc == 1
    assert r.err[0].startswith("Error: Cannot write file")


# -- -n, help, version -------------------------------------------------------------------

def test_records_option_only_for_logs(run):
    r = run("tabdump", "-n", "10", "site")
    assert r.rc == 1
    assert "site table is not supported in tabdump -n" in r.err[0]
    r = run("tabdump", "-n", "10", "-d", "site")
    assert r.err == ["Error: You cannot use the -n and -d flag together."]


def test_records_option_shows_the_newest_events_in_order(run, store):
    from xcatpy.db import events

    store.write(lambda s: events.record(s, [
        events.Event(f"xen{i}", "rmigrate", "migrate", f"migrated from h1 to h2 ({i})")
        for i in range(1, 13)]))
    r = run("tabdump", "-n", "3", "eventlog")
    assert r.rc == 0
    assert r.out[0].startswith("#recid,eventtime,eventtype,")
    assert [line.split(",")[0] for line in r.out[1:]] == ['"10"', '"11"', '"12"']
    assert all('"rmigrate"' in line for line in r.out[1:])
    assert run("tabdump", "-n", "0", "eventlog").out == [r.out[0]]


@pytest.mark.parametrize("flag", ["-h", "-?", "--help"])
def test_help(run, flag):
    r = run("tabdump", flag)
    assert (r.rc, r.out) == (0, [USAGE])
    assert r.out[0].startswith("Usage: tabdump [-d] [table]")


def test_version(run):
    r = run("tabdump", "-v")
    assert r.rc == 0
    assert r.out[0].startswith("Version ")


def test_unknown_option_prints_usage(run):
    r = run("tabdump", "-x")
    assert r.rc == 1
    assert r.err[-1] == USAGE
