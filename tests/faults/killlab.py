"""Killing a real xcatd with SIGKILL in the middle of a command, and reading what it left.

A command that writes holds SQLite's write lock from its first statement to its commit
(BEGIN IMMEDIATE, see xcatpy/db/store.py), so "mid-transaction" is observable from outside:
`writer_busy` tries to take the lock without waiting, from a connection of its own. A test
starts the CLI, waits until the daemon holds the lock, waits a chosen offset more, and kills
the daemon by its PID. Whether the kill landed before the commit is then read from the
database itself (all the rows or none), never from timing.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from tests.integration.clitools import command_path
from tests.integration.xcatd import Xcatd
from xcatpy.state import db_path


def wait_until(predicate: Callable[[], object], timeout: float, what: str,
               interval: float = 0.002) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def writer_busy(state: Path) -> bool:
    """Whether some connection holds the database's write lock right now."""
    conn = sqlite3.connect(db_path(state), isolation_level=None, timeout=0)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            return True
        raise
    finally:
        conn.close()


def start_cli(state: Path, *argv: str) -> subprocess.Popen:
    """A CLI talking to the daemon (not bypass), running in the background."""
    env = {k: v for k, v in os.environ.items() if k not in ("XCATBYPASS", "XCATPY_STATE")}
    env["XCATPY_STATE"] = str(state)
    return subprocess.Popen(command_path(argv[0]) + list(argv[1:]), env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def kill9(daemon: Xcatd) -> None:
    """SIGKILL to our own daemon's PID, and reap it."""
    assert daemon.proc is not None and daemon.proc.poll() is None, "xcatd is not running"
    os.kill(daemon.proc.pid, signal.SIGKILL)
    daemon.proc.wait(timeout=30)
    assert daemon.proc.returncode == -signal.SIGKILL


def finish(proc: subprocess.Popen, timeout: float = 60) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def assert_cli_saw_the_daemon_die(rc: int, err: str) -> None:
    """The client of a killed daemon: non-zero, with one clear line about the connection."""
    assert rc != 0, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), err
    assert "xcatd" in lines[0] or "connection" in lines[0], err


def kill_during_write(daemon: Xcatd, state: Path, argv: tuple[str, ...],
                      offset: float) -> tuple[int, str, str]:
    """Runs the CLI `argv` against the daemon, kills the daemon `offset` seconds after it took
    the write lock (or as soon as the CLI ended, if it ended first), and returns the CLI's
    (exit code, stdout, stderr)."""
    proc = start_cli(state, *argv)
    try:
        wait_until(lambda: writer_busy(state) or proc.poll() is not None, 60,
                   f"{argv[0]} to begin its transaction")
        time.sleep(offset)
        kill9(daemon)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    return finish(proc)


class Database:
    """Direct reads of an instance's database, as a second process would make them (SQLite
    recovers the write-ahead log of a killed writer when it opens the file)."""

    def __init__(self, state: Path) -> None:
        self.path = db_path(state)

    def _query(self, sql: str, params: tuple = ()) -> list[tuple]:
        conn = sqlite3.connect(self.path, isolation_level=None, timeout=30)
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()

    def integrity(self) -> list[str]:
        return [row[0] for row in self._query("PRAGMA integrity_check")]

    def count(self, table: str, where: str = "1", params: tuple = ()) -> int:
        return self._query(f"SELECT COUNT(*) FROM [{table}] WHERE {where}", params)[0][0]

    def rows(self, sql: str, params: tuple = ()) -> list[tuple]:
        return self._query(sql, params)
