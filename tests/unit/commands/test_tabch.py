"""tabch through the dispatcher: create, update, append, delete, and nothing on errors."""

import pytest

from xcatpy.commands.tabch import USAGE


def row(store, table, **key):
    return store.get(table, key, include_disabled=True)


def test_creates_rows_in_several_tables(run, store):
    r = run("tabch", "node=n1", "nodelist.groups=all,compute", "nodetype.os=rhels9",
            "nodetype.arch=x86_64")
    assert (r.rc, r.out, r.err) == (0, [], [])
    assert row(store, "nodelist", node="n1")["groups"] == "all,compute"
    assert (row(store, "nodetype", node="n1")["os"], row(store, "nodetype", node="n1")["arch"]
            ) == ("rhels9", "x86_64")


def test_updates_only_the_given_columns(run, store):
    run("tabch", "node=n1", "nodetype.os=rhels9", "nodetype.arch=x86_64")
    assert run("tabch", "node=n1", "nodetype.os=sles15").rc == 0
    got = row(store, "nodetype", node="n1")
    assert (got["os"], got["arch"]) == ("sles15", "x86_64")
    assert len(store.rows("nodetype")) == 1


def test_site_key_and_value_with_equals_sign(run, store):
    assert run("tabch", "key=tftpdir", "site.value=/srv/tftp").rc == 0
    assert run("tabch", "key=kopts", "site.value=console=ttyS0,115200").rc == 0
    assert row(store, "site", key="tftpdir")["value"] == "/srv/tftp"
    assert row(store, "site", key="kopts")["value"] == "console=ttyS0,115200"


def test_composite_keys(run, store):
    assert run("tabch", "key=ipmi,username=ADMIN", "passwd.password=secret").rc == 0
    assert run("tabch", "net=10.0.0.0,mask=255.0.0.0", "networks.netname=mgmt",
               "networks.gateway=<xcatmaster>").rc == 0
    assert row(store, "passwd", key="ipmi", username="ADMIN")["password"] == "secret"
    assert row(store, "networks", net="10.0.0.0", mask="255.0.0.0")["gateway"] == \
        "<xcatmaster>"


def test_empty_value_unsets(run, store):
    run("tabch", "node=n1", "nodetype.os=rhels9", "nodetype.arch=x86_64")
    assert run("tabch", "node=n1", "nodetype.os=").rc == 0
    got = row(store, "nodetype", node="n1")
    assert (got["os"], got["arch"]) == (None, "x86_64")


def test_append_adds_once_to_a_comma_list(run, store):
    assert run("tabch", "node=n1", "postscripts.postbootscripts+=otherpkgs").rc == 0
    assert row(store, "postscripts", node="n1")["postbootscripts"] == "otherpkgs"
    run("tabch", "node=n1", "postscripts.postbootscripts+=setupntp",
        "postscripts.postbootscripts+=otherpkgs")
    assert row(store, "postscripts", node="n1")["postbootscripts"] == "otherpkgs,setupntp"


def test_append_to_a_default_row(run, store):
    assert run("tabch", "node=xcatdefaults", "postscripts.postscripts+=confignics").rc == 0
    assert row(store, "postscripts", node="xcatdefaults")["postscripts"] == \
        "syslog,remoteshell,syncfiles,confignics"


def test_updates_a_disabled_row_without_enabling_it(run, store):
    store.insert_rows("nodetype", [{"node": "n1", "os": "a", "disable": "1"}])
    assert run("tabch", "node=n1", "nodetype.os=b").rc == 0
    got = row(store, "nodetype", node="n1")
    assert (got["os"], got["disable"]) == ("b", "1")


# -- delete ------------------------------------------------------------------------------

def test_delete_rows_by_key(run, store):
    run("tabch", "node=n1", "nodetype.os=a", "nodelist.groups=all")
    run("tabch", "node=n2", "nodetype.os=b")
    assert run("tabch", "-d", "node=n1", "nodetype", "nodelist").rc == 0
    assert [r["node"] for r in store.rows("nodetype")] == ["n2"]
    assert store.rows("nodelist") == []


def test_delete_matches_any_columns_and_nothing_is_fine(run, store):
    for n, g in [("n1", "a"), ("n2", "b"), ("n3", "a")]:
        run("tabch", f"node={n}", f"nodelist.groups={g}")
    assert run("tabch", "-d", "groups=a", "nodelist").rc == 0
    assert [r["node"] for r in store.rows("nodelist")] == ["n2"]
    assert run("tabch", "-d", "node=ghost", "nodelist").rc == 0
    assert len(store.rows("nodelist")) == 1


def test_delete_composite_key_row(run, store):
    run("tabch", "key=ipmi,username=A", "passwd.password=1")
    run("tabch", "key=ipmi,username=B", "passwd.password=2")
    assert run("tabch", "-d", "key=ipmi,username=A", "passwd").rc == 0
    assert [r["username"] for r in store.rows("passwd")] == ["B"]


# -- errors: one line, nothing changed ---------------------------------------------------

@pytest.mark.parametrize(("args", "message"), [
    (["node=n1", "nodes.groups=x"], "Unknown table 'nodes'"),
    (["node=n1", "nodelist.colour=x"], "Unknown column 'colour' in table 'nodelist'"),
    (["node=n1", "nodelist=x"], "Malformed argument 'nodelist=x'"),
    (["node=n1", "nodelist.groups"], "Malformed argument 'nodelist.groups'"),
    (["node=n1", "site.value=x"], "Unknown key 'node' for table 'site' (its key: key)"),
    (["groups=all", "nodelist.status=x"], "'groups' is not a key column of table 'nodelist'"),
    (["key=ipmi", "passwd.password=x"], "Table 'passwd' is keyed by key,username: give "
                                        "username too"),
    (["node=n1,n2", "nodelist.groups=x"], "Malformed key 'n2' in 'node=n1,n2'"),
    (["node=", "nodelist.groups=x"], "Key 'node' has an empty value"),
    (["node=n1,node=n2", "nodelist.groups=x"], "Key column 'node' is given twice"),
    (["nodelist.groups=all", "nodetype.os=x"], "'nodelist.groups=all' is not a key"),
    (["node=n1", "nodelist.node=n2"], "tabch cannot change key column 'node'"),
    (["node=n1", "nodelist.groups=ok", "nodetype.bogus=x"], "Unknown column 'bogus'"),
    (["-d", "node=n1", "nodelist.groups"], "only table names follow the key with -d"),
    (["-d", "node=n1", "nodelist", "nosuch"], "Unknown table 'nosuch'"),
    (["-d", "key=x", "nodelist"], "Unknown key 'key' for table 'nodelist'"),
])
def test_errors_change_nothing(run, store, args, message):
    run("tabch", "node=n1", "nodelist.groups=keep")
    before = {t: store.rows(t, include_disabled=True) for t in ("nodelist", "nodetype", "site")}
    r = run("tabch", *args)
    assert r.rc == 1
    assert len(r.err) == 1
    assert r.err[0].startswith("Error: ")
    assert message in r.err[0]
    assert {t: store.rows(t, include_disabled=True) for t in before} == before


@pytest.mark.parametrize(("args", "message"), [
    ([], "a key (keycolname=keyvalue) is required"),
    (["node=n1"], "nothing to change"),
    (["-d", "node=n1"], "Missing table name."),
])
def test_usage_errors(run, args, message):
    r = run("tabch", *args)
    assert r.rc == 1
    assert message in r.err[0]
    assert r.err[-1] == USAGE


@pytest.mark.parametrize("flag", ["-h", "-?", "--help"])
def test_help(run, flag):
    r = run("tabch", flag)
    assert (r.rc, r.out) == (0, [USAGE])
    assert "tabch -d keycolname=keyvalue" in USAGE


def test_version(run):
    r = run("tabch", "-v")
    assert r.rc == 0 and r.out[0].startswith("Version ")
