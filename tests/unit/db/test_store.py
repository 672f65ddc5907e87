"""The store: schema creation, defaults, WAL, upserts, transactions, disabled rows."""

import sqlite3

from xcatpy.db.schema import TABLES
from xcatpy.db.store import Store
from xcatpy.state import db_path


def test_every_table_is_created_with_its_columns(store):
    for name, tab in TABLES.items():
        cols = [r[1] for r in store.conn.execute(f"PRAGMA table_info([{name}])")]
        assert cols == tab.colnames, name
        assert cols[-2:] == ["comments", "disable"]


def test_wal_mode(store):
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_default_site_rows(store, state_dir):
    site = {r["key"]: r["value"] for r in store.rows("site")}
    assert site["xcatdport"] == "3001" and site["xcatiport"] == "3002"
    assert site["installdir"] == str(state_dir / "install")
    assert site["tftpdir"] == str(state_dir / "tftpboot")
    for key in ("master", "domain", "dhcplease"):
        assert site[key]
    assert store.get("policy", {"priority": "1"})["name"] == "root"


def test_reopen_keeps_data_and_does_not_reseed(state_dir):
    s = Store.open(state_dir)
    s.begin()
    s.upsert_rows("site", [{"key": "xcatdport", "value": "4001"}])
    s.delete_rows("policy", [{"priority": "2"}])
    s.commit()
    s.close()
    s = Store.open(state_dir)
    assert s.get("site", {"key": "xcatdport"})["value"] == "4001"
    assert s.get("policy", {"priority": "2"}) is None
    s.close()


def test_upsert_merges_columns(store):
    store.begin()
    store.upsert_rows("nodehm", [{"node": "n1", "mgt": "ipmi"}])
    store.upsert_rows("nodehm", [{"node": "n1", "power": "ipmi"}])
    store.commit()
    row = store.get("nodehm", {"node": "n1"})
    assert (row["mgt"], row["power"]) == ("ipmi", "ipmi")


def test_disabled_rows_are_ignored_by_lookups(store):
    store.begin()
    store.upsert_rows("nodehm", [{"node": "n1", "mgt": "ipmi", "disable": "1"},
                                 {"node": "n2", "mgt": "ipmi", "disable": "yes"},
                                 {"node": "n3", "mgt": "ipmi", "disable": "0"},
                                 {"node": "n4", "mgt": "ipmi", "disable": "no"}])
    store.commit()
    assert [r["node"] for r in store.rows("nodehm")] == ["n3", "n4"]
    assert store.get("nodehm", {"node": "n1"}) is None
    assert store.get("nodehm", {"node": "n1"}, include_disabled=True)["mgt"] == "ipmi"


def test_rollback_leaves_nothing(store):
    store.begin()
    store.upsert_rows("nodelist", [{"node": "n1", "groups": "all"}])
    store.rollback()
    assert store.rows("nodelist") == []


def test_a_second_connection_sees_only_committed_rows(store, state_dir):
    store.begin()
    store.upsert_rows("nodelist", [{"node": "n1", "groups": "all"}])
    other = sqlite3.connect(db_path(state_dir))
    assert other.execute("SELECT count(*) FROM nodelist").fetchone()[0] == 0
    store.commit()
    assert other.execute("SELECT count(*) FROM nodelist").fetchone()[0] == 1
    other.close()
