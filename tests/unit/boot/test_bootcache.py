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



class HeldReads:
    """An executor whose reads wait until the test releases them, to have requests in
    flight together."""

    def __init__(self, store) -> None:
        self.store = store
        self.pending: list[tuple] = []

    def read(self, fn):
        d = defer.Deferred()
        self.pending.append((fn, d))
        return d

    def release(self, fail: bool = False) -> None:
        for fn, d in self.pending:
            if fail:
                d.errback(RuntimeError("disk gone"))
            else:
                self.store.begin(write=False)
                try:
                    d.callback(fn(self.store))
                finally:
                    self.store.rollback()
        self.pending.clear()


def test_identical_requests_in_flight_share_one_lookup(run, store, tmp_path):
    assert run("nodeadd", "n1", "groups=compute", "mac.mac=52:54:00:00:00:01",
               "hosts.ip=10.0.0.1").rc == 0
    ex = HeldReads(store)
    resolver = BootResolver(ex, tmp_path, tmp_path)
    generators = dict(resolver.tftp_generators())
    by_mac = generators[next(p for p in generators if "01-" in p.pattern)]
    config = "pxelinux.cfg/01-52-54-00-00-00-01"
    match = next(p for p in generators if "01-" in p.pattern).match(config)
    answers = []
    for port in (2001, 2002, 2003):      # a ROM re-sending its request from new ports
        by_mac(match, ("10.0.0.1", port), "10.0.0.254").addCallback(answers.append)
    other = match.re.match(config.upper().replace("PXELINUX.CFG", "pxelinux.cfg"))
    by_mac(other, ("10.0.0.1", 2004), "10.0.0.254").addCallback(answers.append)
    by_mac(match, ("10.0.0.1", 2005), "10.0.0.9").addCallback(answers.append)
    assert len(ex.pending) == 2          # the same MAC in any case: one; another address: one
    ex.release()
    assert len(answers) == 5 and len(set(answers)) == 1   # n1 has no state: None for all
    assert resolver._inflight == {}

    errors = []
    for port in (3001, 3002):
        by_mac(match, ("10.0.0.1", port), "10.0.0.254").addErrback(errors.append)
    ex.release(fail=True)
    assert [e.getErrorMessage() for e in errors] == ["disk gone", "disk gone"]
    assert resolver._inflight == {}
