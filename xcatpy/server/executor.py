"""Runs command handlers off the reactor: many readers, exactly one writer.

Handlers are synchronous SQLite code. Read-only commands run in a small pool, each thread
with its own connection (WAL lets them read while a write is in progress). Every command
that writes runs on one dedicated thread, so concurrent clients' changes are applied one
after another and no update is lost, whatever SQLite's locking would have allowed.

A full disk fails the command that wrote, with one line naming the database (the store
rolls it back whole); the daemon, its other commands and its reads go on.
"""

import threading
from collections.abc import Callable
from pathlib import Path

from twisted.internet.threads import blockingCallFromThread, deferToThreadPool
from twisted.logger import Logger
from twisted.python.threadpool import ThreadPool

from xcatpy.commands import COMMANDS, run_command
from xcatpy.commands.base import Output, Request
from xcatpy.db.store import Store
from xcatpy.errors import XcatError

log = Logger()


class CommandExecutor:
    def __init__(self, reactor, state_dir: Path, readers: int = 4) -> None:
        self.reactor = reactor
        self.state_dir = state_dir
        self._writer = ThreadPool(1, 1, name="xcatd-writer")
        self._readers = ThreadPool(1, readers, name="xcatd-reader")
        self._local = threading.local()
        self._stores: list[Store] = []
        self._lock = threading.Lock()
        self._commit_listeners: list[Callable[[], None]] = []
        self._keeper: Store | None = None

    def on_commit(self, listener: Callable[[], None]) -> None:
        """Call `listener()` in the reactor thread after every write that may have changed
        the database (services that cache table data refresh then, not on a timer)."""
        self._commit_listeners.append(listener)

    def _committed(self, result):
        for listener in self._commit_listeners:
            try:
                listener()
            except Exception:  # a listener's bug must not fail the command that wrote
                from twisted.logger import Logger
                Logger().failure("commit listener failed")
        return result

    def start(self) -> None:
        # SQLite deletes the -wal and -shm files when the last connection closes, and a
        # new connection must create them again before it can even read: on a full disk
        # it could not. One connection held for the daemon's life keeps them, so reads go
        # on while the disk is full.
        try:
            self._keeper = Store.open(self.state_dir)
        except XcatError as exc:
            log.warn("{error}", error=exc.message)
        self._writer.start()
        self._readers.start()

    def stop(self) -> None:
        # ThreadPool.stop lets the command in hand finish (it commits or rolls back as a
        # whole), so a SIGTERM never leaves half a command in the database.
        self._writer.stop()
        self._readers.stop()
        with self._lock:
            for store in self._stores:
                store.close()
            self._stores.clear()
            if self._keeper is not None:
                self._keeper.close()
                self._keeper = None

    def store(self) -> Store:
        """This thread's connection, opened on first use."""
        store = getattr(self._local, "store", None)
        if store is None:
            store = Store.open(self.state_dir)
            self._local.store = store
            with self._lock:
                self._stores.append(store)
        return store

    def run(self, request: Request, out: Output,
            gate: Callable[[Store], bool] | None = None):
        """Deferred exit code. `gate(store)` runs first in the same thread (the policy
        check); if it returns False the handler never runs and the exit code is 1."""
        spec = COMMANDS.get(request.command)
        pool = self._writer if spec is not None and spec.writes else self._readers

        def work() -> int:
            try:
                store = self.store()
                if gate is not None and not gate(store):
                    return 1
                return run_command(request, out, store, write_now=self._write_from_reader)
            except XcatError as exc:    # the database cannot be opened or written
                out.error(f"Error: {exc.message}")
                return exc.exit_code

        d = deferToThreadPool(self.reactor, pool, work)
        if pool is self._writer:
            d.addBoth(self._committed)
        return d

    def _write_from_reader(self, fn: Callable[[Store], object]) -> object:
        # A read-only command (on a reader thread) commits a step through the writer
        # thread and waits for it, so its writes queue with everyone else's.
        return blockingCallFromThread(self.reactor, self.write, fn)

    def read(self, fn: Callable[[Store], object]):
        """Deferred result of `fn(store)` on a reader thread, in one read transaction
        (boot services: configs and answer files are rendered here, off the reactor)."""
        def work():
            store = self.store()
            store.begin(write=False)
            try:
                return fn(store)
            finally:
                store.rollback()

        return deferToThreadPool(self.reactor, self._readers, work)

    def write(self, fn: Callable[[Store], object]):
        """Deferred result of `fn(store)` on the writer thread; committed if it returns,
        rolled back if it raises (the install callback and monitor update state here)."""
        return deferToThreadPool(self.reactor, self._writer,
                                 lambda: self.store().write(fn)).addCallback(self._committed)
