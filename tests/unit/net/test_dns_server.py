"""The embedded DNS server without sockets: wire in, wire out, read with dnspython; and how
the service keeps its snapshot current (fake executor and reactor, no threads)."""

import dns.flags
import dns.message
import dns.opcode
import dns.rcode
import dns.rdatatype
import dns.update
import pytest
from twisted.internet import defer
from twisted.internet.address import IPv4Address
from twisted.internet.error import CannotListenError
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport

from tests.unit.net.syncexecutor import SyncExecutor
from xcatpy.net.dns.server import DnsFactory, DnsService
from xcatpy.net.dns.zones import ZoneData, ZoneSnapshot

RECORDS = tuple(
    [("n1.cluster.test", "A", 3600, "10.0.0.1"),
     ("v1.cluster.test", "AAAA", 3600, "fd00::5"),
     ("1.0.0.10.in-addr.arpa", "PTR", 3600, "n1.cluster.test")]
    + [("big.cluster.test", "A", 60, f"10.0.1.{i}") for i in range(60)])


@pytest.fixture
def factory():
    data = ZoneData(("cluster.test", "0.0.10.in-addr.arpa"), RECORDS, "mgmt.cluster.test")
    snap = ZoneSnapshot(data, 7)
    return DnsFactory(lambda: snap)


def ask(factory, name, rtype="A", udp=True, **kw):
    query = dns.message.make_query(name, rtype, **kw)
    reply = factory.datagram(query.to_wire(), udp)
    return dns.message.from_wire(reply)


def test_a_answer_is_authoritative_without_recursion(factory):
    r = ask(factory, "n1.cluster.test")
    assert r.rcode() == dns.rcode.NOERROR
    assert r.flags & dns.flags.QR and r.flags & dns.flags.AA and r.flags & dns.flags.RD
    assert not r.flags & dns.flags.RA
    assert [rr.to_text() for rr in r.answer] == ["n1.cluster.test. 3600 IN A 10.0.0.1"]


def test_aaaa_and_ptr(factory):
    assert ask(factory, "v1.cluster.test", "AAAA").answer[0][0].address == "fd00::5"
    ptr = ask(factory, "1.0.0.10.in-addr.arpa", "PTR")
    assert ptr.answer[0][0].target.to_text() == "n1.cluster.test."


def test_nxdomain_carries_the_soa(factory):
    r = ask(factory, "nobody.cluster.test")
    assert r.rcode() == dns.rcode.NXDOMAIN and r.flags & dns.flags.AA
    (soa,) = r.authority
    assert soa.rdtype == dns.rdatatype.SOA and soa[0].serial == 7 and soa.ttl == 300


def test_nodata_and_refused(factory):
    nodata = ask(factory, "n1.cluster.test", "AAAA")
    assert nodata.rcode() == dns.rcode.NOERROR and nodata.answer == []
    assert nodata.authority[0].rdtype == dns.rdatatype.SOA
    refused = ask(factory, "www.example.org")
    assert refused.rcode() == dns.rcode.REFUSED and not refused.flags & dns.flags.AA
    assert ask(factory, "cluster.test", "AXFR", udp=False).rcode() == dns.rcode.REFUSED
    assert factory.counters.refused == 2


def test_other_classes_opcodes_and_updates(factory):
    chaos = ask(factory, "version.bind", "TXT", rdclass="CH")
    assert chaos.rcode() == dns.rcode.REFUSED
    update = dns.update.UpdateMessage("cluster.test")
    update.add("x", 60, "A", "10.0.0.9")
    reply = dns.message.from_wire(factory.datagram(update.to_wire(), True))
    assert reply.rcode() == dns.rcode.REFUSED
    status = dns.message.make_query("n1.cluster.test", "A")
    status.set_opcode(dns.opcode.STATUS)
    assert dns.message.from_wire(factory.datagram(status.to_wire(), True)).rcode() == \
        dns.rcode.NOTIMP


def test_two_questions_is_formerr(factory):
    query = dns.message.make_query("n1.cluster.test", "A")
    wire = bytearray(query.to_wire())
    question = wire[12:]
    wire[5] = 2                                  # QDCOUNT = 2
    reply = factory.datagram(bytes(wire + question), True)
    assert dns.message.from_wire(reply, question_only=True).rcode() == dns.rcode.FORMERR


def test_edns_is_answered_and_unknown_versions_get_badvers(factory):
    r = ask(factory, "n1.cluster.test", use_edns=0, payload=4096)
    assert r.edns == 0 and r.payload == 1232 and r.answer
    bad = ask(factory, "n1.cluster.test", use_edns=1)
    assert bad.rcode() == dns.rcode.BADVERS and bad.answer == []


def test_large_udp_answers_are_truncated_whole_and_tcp_is_not(factory):
    small = ask(factory, "big.cluster.test")
    assert small.flags & dns.flags.TC and small.answer == []
    assert len(ask(factory, "big.cluster.test", use_edns=0, payload=4096).answer[0]) == 60
    assert len(ask(factory, "big.cluster.test", udp=False).answer[0]) == 60
    assert factory.counters.truncated == 1


def test_malformed_packets_are_dropped_or_formerr_never_raised(factory):
    assert factory.datagram(b"", True) is None
    assert factory.datagram(b"\x12\x34\x01", True) is None
    loop = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\xc0\x0c\x00\x01\x00\x01"
    reply = factory.datagram(loop, True)
    assert reply[:2] == b"\x12\x34" and reply[3] & 0xF == dns.rcode.FORMERR
    assert len(reply) <= len(loop)
    response = bytearray(dns.message.make_query("n1.cluster.test", "A").to_wire())
    response[2] |= 0x80                          # QR: a response, never answered
    assert factory.datagram(bytes(response), True) is None
    assert factory.counters.malformed == 3


def _query(name_wire: bytes, qid: int = 0x4242, tail: bytes = b"") -> bytes:
    return (qid.to_bytes(2, "big") + b"\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
            + name_wire + b"\x00\x01\x00\x01" + tail)


def _wire(*labels: bytes) -> bytes:
    return b"".join(bytes([len(label)]) + label for label in labels) + b"\x00"


@pytest.mark.parametrize("labels", [
    (b"n1.cluster", b"test"),             # Twisted would write it back as three labels
    (b".",) + (b"a" * 63,) * 5,           # ... and this one not at all (was a crash)
    (b"n1", b"cluster.", b"test"),
    (b"x" * 64, b"cluster", b"test"),     # a label length no reply may carry
    (b"a" * 63,) * 4,                     # 257 bytes: longer than any name
])
def test_a_question_name_twisted_cannot_write_back_is_formerr(factory, labels):
    query = _query(_wire(*labels))
    for udp in (True, False):
        reply = factory.datagram(query, udp)
        assert reply[:2] == b"\x42\x42" and len(reply) == 12
        assert dns.message.from_wire(reply).rcode() == dns.rcode.FORMERR
    assert factory.counters.malformed == 2 and factory.counters.failed == 0
    assert factory.counters.queries == 0


def test_formerr_for_such_a_name_over_tcp_keeps_the_connection(factory):
    clock = Clock()
    factory.reactor = clock
    proto = factory.buildProtocol(IPv4Address("TCP", "127.0.0.1", 5353))
    transport = StringTransport()
    proto.makeConnection(transport)
    for query in (_query(_wire(b".", *(b"a" * 63,) * 5)),
                  dns.message.make_query("n1.cluster.test", "A").to_wire()):
        proto.dataReceived(len(query).to_bytes(2, "big") + query)
    out = transport.value()
    first = int.from_bytes(out[:2], "big")
    assert dns.message.from_wire(out[2:2 + first]).rcode() == dns.rcode.FORMERR
    second = dns.message.from_wire(out[4 + first:])
    assert second.rcode() == dns.rcode.NOERROR and second.answer
    assert not transport.disconnecting and factory.counters.failed == 0
    proto.connectionLost(None)


def test_a_compressed_question_name_is_still_answered(factory):
    # The question's name is a pointer to labels after the question (offset 18).
    query = _query(b"\xc0\x12", tail=_wire(b"n1", b"cluster", b"test"))
    reply = dns.message.from_wire(factory.datagram(query, True))
    assert reply.rcode() == dns.rcode.NOERROR
    assert [rr.to_text() for rr in reply.answer] == ["n1.cluster.test. 3600 IN A 10.0.0.1"]
    loop = _query(b"\xc0\x12", tail=b"\x01a\xc0\x12")
    assert factory.datagram(loop, True)[3] & 0xF == dns.rcode.FORMERR


def test_servfail_until_the_first_snapshot_and_on_internal_errors():
    empty = DnsFactory(lambda: None)
    assert ask(empty, "n1.cluster.test").rcode() == dns.rcode.SERVFAIL

    def broken():
        raise RuntimeError("boom")

    failing = DnsFactory(broken)
    assert ask(failing, "n1.cluster.test").rcode() == dns.rcode.SERVFAIL
    assert failing.counters.failed == 1


# -- the service ------------------------------------------------------------------------------


class FakePort:
    def __init__(self, kind, port):
        self.kind, self.port, self.stopped = kind, port, False

    def getHost(self):
        return IPv4Address(self.kind, "127.0.0.1", self.port)

    def stopListening(self):
        self.stopped = True


class FakeReactor(Clock):
    def __init__(self, busy_tcp=()):
        super().__init__()
        self.busy_tcp = set(busy_tcp)
        self.next_port = 40000
        self.ports = []

    def listenUDP(self, port, proto, interface=""):
        if port == 0:
            self.next_port += 1
            port = self.next_port
        self.ports.append(FakePort("UDP", port))
        return self.ports[-1]

    def listenTCP(self, port, factory, interface=""):
        if port in self.busy_tcp:
            raise CannotListenError(interface, port, OSError("in use"))
        self.ports.append(FakePort("TCP", port))
        return self.ports[-1]


def test_port_zero_binds_tcp_on_the_udp_port_and_retries_when_taken(store):
    reactor = FakeReactor(busy_tcp={40001})
    svc = DnsService(reactor, SyncExecutor(store), ["127.0.0.1", "127.0.0.2"], 0)
    svc.startService()
    assert svc.port == 40002
    live = [(p.kind, p.port) for p in reactor.ports if not p.stopped]
    assert live == [("UDP", 40002), ("TCP", 40002), ("UDP", 40002), ("TCP", 40002)]
    assert [p.stopped for p in reactor.ports if p.port == 40001] == [True]
    svc.stopService()
    assert all(p.stopped for p in reactor.ports)


def test_fixed_port_taken_fails_and_releases_what_it_bound(store):
    reactor = FakeReactor(busy_tcp={5353})
    svc = DnsService(reactor, SyncExecutor(store), ["127.0.0.1"], 5353)
    with pytest.raises(CannotListenError):
        svc.startService()
    assert all(p.stopped for p in reactor.ports)


def makedns(run, *args):
    r = run("makedns", *args)
    assert r.rc == 0, r.err


@pytest.fixture
def cluster(run):
    assert run("tabch", "key=domain", "site.value=cluster.test").rc == 0
    assert run("tabch", "net=10.0.0.0,mask=255.255.255.0", "networks.netname=prov").rc == 0
    assert run("nodeadd", "n1", "groups=all", "hosts.ip=10.0.0.1").rc == 0
    makedns(run)


def answer(svc, name):
    found = svc.snapshot.answer(name, "A")
    return [rr.data for rr in found.answers]


def test_commit_listener_reloads_and_serial_moves_with_content(cluster, store, run):
    executor = SyncExecutor(store)
    svc = DnsService(FakeReactor(), executor, ["127.0.0.1"], 0, host_name="mgmt")
    svc.startService()
    assert answer(svc, "n1.cluster.test") == ["10.0.0.1"]
    first = svc.snapshot.serial
    for listener in executor.listeners:       # a commit that changed nothing DNS shows
        listener()
    assert svc.snapshot.serial == first
    assert run("nodech", "n1", "hosts.ip=10.0.0.5").rc == 0
    makedns(run, "n1")
    for listener in executor.listeners:
        listener()
    assert answer(svc, "n1.cluster.test") == ["10.0.0.5"]
    assert svc.snapshot.serial > first
    assert (store.state_dir / "dns-serial").read_text().split()[0] == str(svc.snapshot.serial)
    svc.stopService()


def test_writes_by_another_process_are_noticed_on_queries_at_most_once_a_second(
        cluster, store, run):
    reactor = FakeReactor()
    executor = SyncExecutor(store)
    svc = DnsService(reactor, executor, ["127.0.0.1"], 0, check_interval=1.0)
    svc.startService()
    query = dns.message.make_query("n1.cluster.test", "A").to_wire()
    reactor.advance(5)
    svc.factory.datagram(query, True)           # first check: nothing changed
    reads = executor.reads
    assert run("nodech", "n1", "hosts.ip=10.0.0.6").rc == 0
    makedns(run, "n1")                          # as a bypass-mode CLI: no commit listener
    reactor.advance(0.5)
    svc.factory.datagram(query, True)
    assert executor.reads == reads              # within the interval: no check at all
    assert answer(svc, "n1.cluster.test") == ["10.0.0.1"]
    reactor.advance(0.6)
    svc.factory.datagram(query, True)           # check sees data_version move: reload
    assert answer(svc, "n1.cluster.test") == ["10.0.0.6"]
    assert executor.reads == reads + 2
    reactor.advance(1.1)
    svc.factory.datagram(query, True)           # checked again, unchanged: no reload
    assert executor.reads == reads + 3
    svc.stopService()


def test_reload_requests_while_loading_collapse_into_one(cluster, store):
    pending = []

    class SlowExecutor(SyncExecutor):
        def read(self, fn):
            self.reads += 1
            d = defer.Deferred()
            pending.append((fn, d))
            return d

    executor = SlowExecutor(store)
    svc = DnsService(FakeReactor(), executor, ["127.0.0.1"], 0)
    svc.startService()
    for _ in range(3):
        svc.reload()
    assert executor.reads == 1
    fn, d = pending.pop()
    d.callback(executor_read(store, fn))
    assert executor.reads == 2 and svc.snapshot is not None
    fn, d = pending.pop()
    d.errback(RuntimeError("database gone"))     # keeps answering from the old snapshot
    assert svc.snapshot is not None and not svc._loading
    svc.stopService()


def executor_read(store, fn):
    store.begin(write=False)
    try:
        return fn(store)
    finally:
        store.rollback()
