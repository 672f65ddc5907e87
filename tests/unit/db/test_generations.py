"""Table generations: every commit bumps the tables it wrote, so caches in any process
know what to reload (xcatpy/db/store.py)."""

import sqlite3

from xcatpy.boot.chainstate import set_status
from xcatpy.db.store import Store


def bumped(store, action):
    before = store.generations()
    action()
    after = store.generations()
    return {k for k in set(before) | set(after) if before.get(k, 0) != after.get(k, 0)}


def test_a_command_bumps_exactly_the_tables_it_wrote(run, store):
    assert run("nodeadd", "n1", "groups=compute").rc == 0
    assert bumped(store, lambda: run("nodech", "n1", "mac.mac=52:54:00:00:00:01")) == {"mac"}
    assert bumped(store, lambda: run("nodech", "n1", "groups=compute,all",
                                     "hosts.ip=10.0.0.1")) == {"nodelist", "hosts"}
    assert bumped(store, lambda: run("noderm", "n1")) >= {"nodelist", "mac", "hosts"}


def test_status_reports_bump_their_own_key_not_nodelist(run, store):
    assert run("nodeadd", "n1", "groups=compute").rc == 0
    assert bumped(store, lambda: store.write(lambda s: set_status(s, "n1", "installing"))) \
        == {"nodelist:status"}


def test_a_status_upsert_that_creates_a_node_is_a_nodelist_change(store):
    assert bumped(store, lambda: store.write(lambda s: set_status(s, "ghost", "booting"))) \
        == {"nodelist"}


def test_a_rolled_back_transaction_bumps_nothing(run, store):
    def fail(s):
        s.upsert_rows("mac", [{"node": "n1", "mac": "52:54:00:00:00:01"}])
        raise RuntimeError("abandoned")

    before = store.generations()
    try:
        store.write(fail)
    except RuntimeError:
        pass
    assert store.generations() == before
    assert bumped(store, lambda: store.write(
        lambda s: s.upsert_rows("hosts", [{"node": "n1", "ip": "10.0.0.1"}]))) == {"hosts"}


def test_renaming_a_node_with_raw_sql_still_counts(run, store):
    assert run("nodeadd", "n1", "groups=compute", "mac.mac=52:54:00:00:00:01").rc == 0
    assert {"nodelist", "mac"} <= bumped(store, lambda: run("chdef", "-t", "node", "-o", "n1",
                                                            "-n", "n2"))


def test_another_connection_sees_the_bump(run, store, state_dir):
    other = Store.open(state_dir)
    try:
        seen = other.generations()
        assert run("nodeadd", "n1", "groups=compute").rc == 0
        assert other.generations().get("nodelist", 0) > seen.get("nodelist", 0)
    finally:
        other.close()


def test_an_older_database_gains_the_generations_table(state_dir):
    store = Store.open(state_dir)
    store.conn.execute("DROP TABLE _generations")
    store.conn.execute("PRAGMA user_version=1")
    store.close()
    reopened = Store.open(state_dir)
    try:
        assert reopened.generations().get("nodelist", 0) >= 1
    finally:
        reopened.close()
    assert sqlite3.connect(state_dir / "xcatdb.sqlite").execute(
        "SELECT COUNT(*) FROM _generations").fetchone()[0] > 0
