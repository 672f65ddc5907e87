"""The boot services' shared cache (resolver.BootCache): after a write, a new view reloads
only the tables whose generation moved, and keeps the node index unless mac, hosts or
nodelist changed."""

from twisted.internet import defer

from xcatpy.boot.chainstate import parse_state
from xcatpy.boot.resolver import BootResolver
from xcatpy.db.store import Store


class TwoConnections:
    """The executor's shape with a reader and a writer connection, as in xcatd: the
    reader's data_version moves only when the other connection commits."""

    def __init__(self, state_dir) -> None:
        self.reader = Store.open(state_dir)
        self.writer = Store.open(state_dir)

    def read(self, fn):
        self.reader.begin(write=False)
        try:
            return defer.succeed(fn(self.reader))
        finally:
            self.reader.rollback()

    def write(self, fn):
        return defer.succeed(self.writer.write(fn))

    def close(self) -> None:
        self.reader.close()
        self.writer.close()


def result(deferred):
    out = []
    deferred.addCallback(out.append)
    return out[0]


def test_a_finished_install_reloads_chain_and_keeps_the_index(run, store, state_dir,
                                                              tmp_path):
    for args in (("nodeadd", "n[1-3]", "groups=compute"),
                 ("chdef", "-t", "group", "-o", "compute", "ip=|n(\\d+)|10.0.0.($1)|"),
                 ("nodech", "n1", "mac.mac=52:54:00:00:00:01"),
                 ("nodech", "n[1-3]", "chain.currstate=install rhels8-x86_64-install-compute")):
        assert run(*args).rc == 0, args
    ex = TwoConnections(state_dir)
    try:
        resolver = BootResolver(ex, tmp_path, tmp_path)
        first = result(ex.read(resolver.view))
        assert first.index.node_by_ip("10.0.0.2") == "n2"
        mac_rows = first.attrs.table("mac")
        assert first.attrs.table("chain")["n1"]["currstate"].startswith("install")

        assert result(resolver.finished("10.0.0.1")) == ("n1", parse_state("boot"))
        second = result(ex.read(resolver.view))
        assert second is not first
        assert second.attrs.table("chain")["n1"]["currstate"] == "boot"
        assert second.index is first.index            # mac, hosts, nodelist unchanged
        assert second.attrs.table("mac") is mac_rows  # not reloaded either
        # The callback also set nodelist.status; the boot view keeps no status at all, so
        # its nodelist rows are still good.
        assert second.attrs.table("nodelist") is first.attrs.table("nodelist")
        assert "status" not in second.attrs.table("nodelist")["n1"]

        ex.writer.write(lambda s: s.upsert_rows("mac", [{"node": "n2",
                                                         "mac": "52:54:00:00:00:02"}]))
        third = result(ex.read(resolver.view))
        assert third.index is not second.index
        assert third.index.node_by_mac("52:54:00:00:00:02") == "n2"
        assert result(ex.read(resolver.view)) is third   # nothing changed: same view
    finally:
        ex.close()

