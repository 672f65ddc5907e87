"""The table store: xCAT's tables in one SQLite file, through sqlite-utils.

Every value is text or NULL, as in xCAT. Writes go through upserts keyed by each table's
keys, so a command that touches ten thousand rows runs a handful of statements. A command
runs inside one transaction (begin/commit/rollback below): all of it lands or none.

Every commit also bumps a generation number for each table it wrote, in the database
itself (`_generations`), so a cache in any process can tell which tables changed since it
read them: the boot services keep the tables of a ten-thousand-node site in memory and
reload only what a write touched.
"""

import errno
import hashlib
import os
import sqlite3
import stat
from collections.abc import Iterable
from pathlib import Path

from xcatpy.db import defaults
from xcatpy.db.schema import TABLES, Table, is_enabled
from xcatpy.errors import XcatError
from xcatpy.state import db_path

GENERATIONS = "_generations"
# nodelist columns that installers and monitors rewrite all the time and no cached view
# reads: an update of only these bumps "nodelist:status", not "nodelist", so a storm of
# status reports does not make every boot cache rebuild its node index.
STATUS_COLUMNS = {"nodelist": frozenset({"status", "statustime", "appstatus", "appstatustime",
                                         "updatestatus", "updatestatustime"})}


def _schema_version() -> int:
    """A fingerprint of the schema: a database stamped with it needs no migration check."""
    text = repr(sorted((t.name, t.keys, tuple(t.colnames)) for t in TABLES.values()))
    text += GENERATIONS
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big") >> 1


SCHEMA_VERSION = _schema_version()
BUSY_TIMEOUT_S = 30


def _owner_only(path: Path) -> None:
    """The database holds passwords (passwd, ipmi, ...): readable by its owner only. A new
    file is made 0600 before SQLite opens it (SQLite gives its -wal and -shm files the
    database's mode); an older one that others could read is narrowed."""
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_CLOEXEC, 0o600))
        return
    except FileExistsError:
        pass
    except OSError:
        return      # SQLite's own open says what is wrong, with the path
    for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        try:
            st = os.stat(name)
            if st.st_mode & 0o077 and st.st_uid == os.geteuid():
                os.chmod(name, stat.S_IMODE(st.st_mode) & ~0o077)
        except OSError:
            pass


def _where_keys(keys: Iterable[str]) -> str:
    return " AND ".join(f"[{k}] IS ?" for k in keys)


class DatabaseFull(XcatError):
    """A write found no room on the database's filesystem; nothing of it was kept."""


SQLITE_FULL, SQLITE_IOERR = 13, 10


def _no_space_left(path: Path) -> bool:
    try:
        st = os.statvfs(path.parent)
    except OSError:
        return False
    return st.f_bavail == 0 or st.f_favail == 0


def write_error(path: Path, exc: BaseException) -> XcatError | None:
    """The one-line error a user reads for a write the filesystem refused (SQLITE_FULL,
    or an I/O error on a full disk: SQLite reports a -shm file it cannot extend that way);
    None for anything else."""
    if isinstance(exc, sqlite3.Error):
        code = (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF
        full = code == SQLITE_FULL or (code == SQLITE_IOERR and _no_space_left(path))
    else:
        full = isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)
    if not full:
        return None
    return DatabaseFull(f"Cannot write to database {path}: No space left on device (disk full); "
                        f"nothing was changed. Free space in {path.parent} and run the "
                        "command again")


class _Connection(sqlite3.Connection):
    """sqlite3's connection, with a full disk turned into DatabaseFull wherever a write is
    made through it (the store, sqlite-utils, a command's own SQL).

    SQLite may roll a whole transaction back by itself after SQLITE_FULL. A command that
    reports the error for one node and goes on would then write its remaining statements
    outside any transaction, each committed on its own: half a command. So once that has
    happened, every statement fails the same way until the store rolls back.
    """

    db_path: Path = Path()
    expect_transaction = False
    lost_transaction: XcatError | None = None

    def execute(self, sql, *args):
        self._check_transaction()
        try:
            return super().execute(sql, *args)
        except (sqlite3.DatabaseError, OSError) as exc:
            raise self._translated(exc) from None

    def executemany(self, sql, *args):
        self._check_transaction()
        try:
            return super().executemany(sql, *args)
        except (sqlite3.DatabaseError, OSError) as exc:
            raise self._translated(exc) from None

    def _check_transaction(self) -> None:
        if self.lost_transaction is not None and not self.in_transaction:
            raise self.lost_transaction

    def _translated(self, exc: BaseException) -> BaseException:
        error = write_error(self.db_path, exc)
        if error is None:
            return exc
        if self.expect_transaction:
            self.lost_transaction = error
        return error


class Store:
    def __init__(self, path: Path, state_dir: Path | None = None) -> None:
        self.path = Path(path)
        self.state_dir = Path(state_dir) if state_dir else self.path.parent
        _owner_only(self.path)
        try:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                                   timeout=BUSY_TIMEOUT_S, factory=_Connection)
        except sqlite3.Error as exc:
            raise XcatError(f"Cannot open database {self.path}: {exc}") from None
        conn.db_path = self.path
        self.conn = conn
        self._db = None
        self._touched: set[str] = set()     # generation keys this transaction wrote
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            # WAL with synchronous=NORMAL cannot corrupt on power loss; it can only lose
            # the last commits, which is the trade every busy SQLite service makes.
            conn.execute("PRAGMA synchronous=NORMAL")
            self._ensure_schema()
        except BaseException:
            conn.close()
            raise

    @classmethod
    def open(cls, state_dir: Path) -> "Store":
        try:
            state_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise XcatError(f"Cannot create state directory {state_dir}: {exc}") from None
        return cls(db_path(state_dir), state_dir)

    def close(self) -> None:
        self.conn.close()

    @property
    def db(self):
        """The sqlite-utils view of the connection, for schema work.

        Imported on first use: it costs ~70 ms, and a CLI call on an up-to-date database
        never needs it.
        """
        if self._db is None:
            import sqlite_utils

            self._db = sqlite_utils.Database(self.conn)
        return self._db

    # -- schema ---------------------------------------------------------------------------

    def _ensure_schema(self) -> None:
        if self.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION:
            return
        self.begin(write=True)
        try:
            existing = set(self.db.table_names())
            for tab in TABLES.values():
                if tab.name not in existing:
                    self.db[tab.name].create({c: str for c in tab.colnames}, pk=tab.keys)
                    self._seed(tab)
                else:
                    have = set(self.db[tab.name].columns_dict)
                    for col in tab.colnames:
                        if col not in have:
                            self.db[tab.name].add_column(col, str)
            self.conn.execute(f"CREATE TABLE IF NOT EXISTS {GENERATIONS} "
                              "(tab TEXT PRIMARY KEY, gen INTEGER NOT NULL)")
            self._touched.update(TABLES)      # a migration may have changed anything
            self.conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except BaseException:
            self.rollback()
            raise
        self.commit()

    def _seed(self, tab: Table) -> None:
        seeds = {
            "site": lambda: defaults.site_rows(self.state_dir),
            "policy": defaults.policy_rows,
            "postscripts": defaults.postscripts_rows,
        }
        if tab.name in seeds:
            self.insert_rows(tab.name, seeds[tab.name]())

    # -- transactions ---------------------------------------------------------------------

    def begin(self, write: bool = True) -> None:
        # IMMEDIATE takes the write lock up front, so two writers queue on busy_timeout
        # instead of one failing when it upgrades a read snapshot.
        self.conn.lost_transaction = None
        self.conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        self.conn.expect_transaction = True

    def commit(self) -> None:
        """Commit; if that fails (a full disk), roll back, so the connection is usable for
        the next command, and raise."""
        try:
            if self.conn.in_transaction:
                if self._touched:
                    self.conn.executemany(
                        f"INSERT INTO {GENERATIONS} (tab, gen) VALUES (?, 1) "
                        "ON CONFLICT(tab) DO UPDATE SET gen = gen + 1",
                        [(t,) for t in sorted(self._touched)])
                self.conn.execute("COMMIT")
            elif self.conn.lost_transaction is not None:
                raise self.conn.lost_transaction    # SQLite already undid it all
        except BaseException:
            self.rollback()
            raise
        self._transaction_over()

    def rollback(self) -> None:
        try:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
        finally:
            self._transaction_over()

    def _transaction_over(self) -> None:
        self._touched.clear()
        self.conn.expect_transaction = False
        self.conn.lost_transaction = None

    def touched(self, table: str) -> None:
        """Count a write made with raw SQL on `table` toward its generation."""
        self._touched.add(table)

    def generations(self) -> dict[str, int]:
        """Generation key -> how many committed transactions have written it."""
        return dict(self.conn.execute(f"SELECT tab, gen FROM {GENERATIONS}"))

    def write(self, fn):
        """fn(self) in one write transaction: committed if it returns, rolled back if it
        raises. Returns what fn returned."""
        self.begin(write=True)
        try:
            result = fn(self)
        except BaseException:
            self.rollback()
            raise
        self.commit()
        return result

    # -- reads ----------------------------------------------------------------------------

    def rows(self, table: str, *, include_disabled: bool = False) -> list[dict]:
        """Every row of a table, in insertion order; disabled rows only when asked."""
        cur = self.conn.execute(f"SELECT * FROM [{table}] ORDER BY rowid")
        names = [d[0] for d in cur.description]
        rows = [dict(zip(names, r, strict=True)) for r in cur]
        return rows if include_disabled else [r for r in rows if is_enabled(r)]

    def get(self, table: str, key: dict, *, include_disabled: bool = False) -> dict | None:
        cur = self.conn.execute(f"SELECT * FROM [{table}] WHERE {_where_keys(key)}",
                                list(key.values()))
        names = [d[0] for d in cur.description]
        for r in cur:
            row = dict(zip(names, r, strict=True))
            if include_disabled or is_enabled(row):
                return row
        return None

    def column_values(self, table: str, column: str) -> list[str]:
        cur = self.conn.execute(f"SELECT [{column}], disable FROM [{table}] ORDER BY rowid")
        return [v for v, d in cur if is_enabled({"disable": d})]

    # -- writes ---------------------------------------------------------------------------

    def upsert_rows(self, table: str, rows: list[dict]) -> None:
        """Set the given columns of each row, creating rows that do not exist.

        Columns a row does not mention keep their values, which is what `nodech` and
        `chdef` mean. Rows are grouped by the columns they set, one executemany each.
        """
        tab = TABLES[table]
        by_shape: dict[tuple[str, ...], list[dict]] = {}
        for row in rows:
            by_shape.setdefault(tuple(row), []).append(row)
        for cols, group in by_shape.items():
            updates = [c for c in cols if c not in tab.keys]
            self._touched.add(self._generation_key(tab, updates, group))
            conflict = ", ".join(f"[{k}]" for k in tab.keys)
            action = ("DO UPDATE SET " + ", ".join(f"[{c}]=excluded.[{c}]" for c in updates)
                      if updates else "DO NOTHING")
            sql = (f"INSERT INTO [{table}] ({', '.join(f'[{c}]' for c in cols)}) "
                   f"VALUES ({', '.join('?' for _ in cols)}) ON CONFLICT({conflict}) {action}")
            self.conn.executemany(sql, [tuple(r[c] for c in cols) for r in group])

    def _generation_key(self, tab: Table, updates: list[str], rows: list[dict]) -> str:
        status = STATUS_COLUMNS.get(tab.name)
        if not status or not updates or not set(updates) <= status:
            return tab.name
        # Status columns only; still a new node if any of these rows is new.
        sql = f"SELECT 1 FROM [{tab.name}] WHERE {_where_keys(tab.keys)}"
        for row in rows:
            if self.conn.execute(sql, [row[k] for k in tab.keys]).fetchone() is None:
                return tab.name
        return f"{tab.name}:status"

    def insert_rows(self, table: str, rows: list[dict]) -> None:
        """Insert whole rows (tabrestore, defaults): a duplicate key is an error."""
        self._touched.add(table)
        cols = TABLES[table].colnames
        sql = (f"INSERT INTO [{table}] ({', '.join(f'[{c}]' for c in cols)}) "
               f"VALUES ({', '.join('?' for _ in cols)})")
        try:
            self.conn.executemany(sql, [tuple(r.get(c) for c in cols) for r in rows])
        except sqlite3.IntegrityError:
            keys = ",".join(TABLES[table].keys)
            raise XcatError(f"Duplicate key ({keys}) in rows for table '{table}'") from None

    def delete_rows(self, table: str, keys: list[dict]) -> int:
        """Delete rows by full key (disabled ones too: deleting is not a lookup)."""
        if not keys:
            return 0
        self._touched.add(table)
        names = list(keys[0])
        sql = f"DELETE FROM [{table}] WHERE {_where_keys(names)}"
        before = self.conn.total_changes
        self.conn.executemany(sql, [tuple(k[n] for n in names) for k in keys])
        return self.conn.total_changes - before

    def delete_where_in(self, table: str, column: str, values: Iterable[str]) -> int:
        self._touched.add(table)
        before = self.conn.total_changes
        self.conn.executemany(f"DELETE FROM [{table}] WHERE [{column}] = ?",
                              [(v,) for v in values])
        return self.conn.total_changes - before

    def clear(self, table: str) -> None:
        self._touched.add(table)
        self.conn.execute(f"DELETE FROM [{table}]")
