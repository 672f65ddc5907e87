"""A full database (SQLITE_FULL, here from PRAGMA max_page_count) through the Store: one
clear error, the whole transaction rolled back, the connection usable afterwards."""

import pytest

from xcatpy.db.store import DatabaseFull


def many_nodes(count: int, prefix: str = "n") -> list[dict]:
    return [{"node": f"{prefix}{i:05d}", "groups": "compute,all"} for i in range(count)]


def cap_at_current_size(store) -> None:
    pages = store.conn.execute("PRAGMA page_count").fetchone()[0]
    store.conn.execute(f"PRAGMA max_page_count={pages + 2}")


def test_full_database_fails_the_write_whole_and_the_connection_goes_on(store):
    store.write(lambda s: s.upsert_rows("nodelist", many_nodes(3)))
    cap_at_current_size(store)
    with pytest.raises(DatabaseFull) as caught:
        store.write(lambda s: (s.upsert_rows("nodelist", many_nodes(1, "first")),
                               s.upsert_rows("nodelist", many_nodes(5000, "big"))))
    assert str(caught.value).startswith(f"Cannot write to database {store.path}: No space "
                                        "left on device (disk full); nothing was changed.")
    assert not store.conn.in_transaction
    assert [r["node"] for r in store.rows("nodelist")] == ["n00000", "n00001", "n00002"]
    # The same connection takes the next, smaller write.
    store.write(lambda s: s.upsert_rows("nodelist", many_nodes(1, "after")))
    assert store.get("nodelist", {"node": "after00000"}) is not None
    assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_after_sqlite_undid_the_transaction_nothing_more_is_written_outside_it(store):
    cap_at_current_size(store)
    store.begin()
    with pytest.raises(DatabaseFull):
        store.upsert_rows("nodelist", many_nodes(5000))
    # SQLite 3's statement journal could not hold this one: it undid the whole transaction.
    assert not store.conn.in_transaction
    # A handler that reported the error and went on must not write in autocommit mode.
    with pytest.raises(DatabaseFull):
        store.upsert_rows("nodelist", many_nodes(1, "later"))
    with pytest.raises(DatabaseFull):
        store.commit()
    assert store.rows("nodelist") == []
