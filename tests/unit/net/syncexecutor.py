"""CommandExecutor's interface run inline on the test's store, for the DHCP and DNS
services' unit tests: reads and writes complete at once, commit listeners fire on write."""

from twisted.internet import defer

from xcatpy.db.store import Store


class SyncExecutor:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.state_dir = store.state_dir
        self.listeners = []
        self.reads = 0
        self.writes = 0
        self.fail_writes = 0    # the next N writes fail, as a full disk would

    def on_commit(self, listener) -> None:
        self.listeners.append(listener)

    def read(self, fn):
        self.reads += 1
        self.store.begin(write=False)
        try:
            return defer.succeed(fn(self.store))
        except Exception:
            return defer.fail()
        finally:
            self.store.rollback()

    def write(self, fn):
        self.writes += 1
        self.store.begin(write=True)
        try:
            if self.fail_writes:
                self.fail_writes -= 1
                raise RuntimeError("disk full")
            result = fn(self.store)
        except Exception:
            self.store.rollback()
            return defer.fail()
        self.store.commit()
        for listener in self.listeners:
            listener()
        return defer.succeed(result)
