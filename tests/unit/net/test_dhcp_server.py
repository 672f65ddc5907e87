"""The service around the responder: the protocol never dies on bad input, the snapshot
follows commits (ours excepted) and other processes' writes, lease changes are written in
batches, and an unconfigured service answers nothing.

The executor is a synchronous stand-in with CommandExecutor's interface (read/write/
on_commit); time is a Clock. The one socket test (on lo) needs root for SO_BINDTODEVICE.
"""

import os
import select
import socket

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twisted.internet.task import Clock
from twisted.logger import globalLogPublisher

from tests.unit.net.syncexecutor import SyncExecutor
from xcatpy.db.store import Store
from xcatpy.net.dhcp import packet as p
from xcatpy.net.dhcp import server as srv
from xcatpy.net.dhcp.ifaces import IfAddress
from xcatpy.net.dhcp.responder import Link, Responder
from xcatpy.net.dhcp.server import DhcpProtocol, DhcpServer, DhcpService

SERVER = "10.0.0.1"
LINK_ADDRS = [IfAddress(p.ip_bytes(SERVER), 24)]
KNOWN = "52:54:00:aa:00:01"


class FakeReactor(Clock):
    def __init__(self) -> None:
        super().__init__()
        self.readers = set()

    def addReader(self, reader) -> None:
        self.readers.add(reader)

    def removeReader(self, reader) -> None:
        self.readers.discard(reader)


class Transport:
    def __init__(self) -> None:
        self.sent = []

    def write(self, data, dest) -> None:
        self.sent.append((data, dest))


def discover(mac=KNOWN, kind=p.DISCOVER, options: dict | None = None) -> bytes:
    opts = {p.MESSAGE_TYPE: bytes((kind,)), **(options or {})}
    return p.encode(p.DhcpPacket(p.BOOTREQUEST, xid=7,
                                 chaddr=bytes.fromhex(mac.replace(":", "")) + bytes(10),
                                 options=opts))


def prepare(store: Store, *, dynamic: str | None = None, reserve: bool = True) -> None:
    store.begin()
    row = {"net": "10.0.0.0", "mask": "255.255.255.0", "netname": "prov"}
    if dynamic:
        row["dynamicrange"] = dynamic
    store.upsert_rows("networks", [row])
    if reserve:
        store.upsert_rows("dhcpreservation", [{"mac": KNOWN, "node": "n1",
                                               "ip": "10.0.0.21", "hostname": "n1"}])
    store.commit()


def make_server(store: Store, reactor=None, clock=None):
    executor = SyncExecutor(store)
    reactor = reactor or FakeReactor()
    responder = Responder(clock=lambda: reactor.seconds() + 1_700_000_000)
    server = DhcpServer(reactor, executor, responder, {"eth1": Link("eth1", LINK_ADDRS)},
                        clock=clock or reactor.seconds)
    server.load_now(store)
    responder.own_addresses = {p.ip_bytes(SERVER)}
    executor.on_commit(server.on_commit)
    proto = DhcpProtocol(server, server.links["eth1"])
    proto.transport = Transport()
    return server, proto, executor, reactor


def replies(proto) -> list[p.DhcpPacket]:
    return [p.decode(data) for data, _ in proto.transport.sent]


# -- malformed input --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def fuzz_target(tmp_path_factory):
    store = Store.open(tmp_path_factory.mktemp("fuzz") / "state")
    prepare(store, dynamic="10.0.0.100-10.0.0.200")
    server, proto, _, _ = make_server(store)
    yield server, proto
    store.close()


VALID = [discover(), discover(kind=p.REQUEST, options={p.REQUESTED_IP: p.ip_bytes("10.0.0.21")}),
         discover("52:54:00:ff:00:01", options={
             p.VENDOR_CLASS: b"PXEClient", p.CLIENT_ARCH: b"\0\7", p.USER_CLASS: b"iPXE"}),
         discover(kind=p.INFORM)]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=600))
def test_random_datagrams_never_raise(fuzz_target, data):
    server, proto = fuzz_target
    before = server.malformed
    proto.datagramReceived(data, ("10.0.0.50", 68))
    assert server.errors == 0
    if len(data) < p.OPTIONS_START:
        assert server.malformed == before + 1


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(base=st.sampled_from(VALID),
       flips=st.lists(st.tuples(st.integers(0, 299), st.integers(0, 255)), max_size=10),
       cut=st.integers(0, 300))
def test_mutated_requests_never_raise(fuzz_target, base, flips, cut):
    server, proto = fuzz_target
    data = bytearray(base)
    for pos, value in flips:
        data[pos] = value
    proto.datagramReceived(bytes(data[:cut or None]), ("10.0.0.50", 68))
    assert server.errors == 0
    for sent, _ in proto.transport.sent:
        assert p.decode(sent).op == p.BOOTREPLY
    proto.transport.sent.clear()


def test_malformed_packets_are_counted_and_logged_rate_limited(store):
    prepare(store)
    server, proto, _, reactor = make_server(store)
    events = []
    globalLogPublisher.addObserver(events.append)
    try:
        for _ in range(50):
            proto.datagramReceived(b"\x01" * 100, ("10.0.0.50", 68))
    finally:
        globalLogPublisher.removeObserver(events.append)
    lines = [e for e in events if "malformed" in e.get("log_format", "")]
    assert server.malformed == 50
    assert 1 <= len(lines) <= 5
    assert "truncated" in lines[0]["why"]


def test_an_exception_in_the_responder_is_contained(store, monkeypatch):
    prepare(store)
    server, proto, _, _ = make_server(store)
    monkeypatch.setattr(server.responder, "answer", lambda *a, **k: 1 / 0)
    proto.datagramReceived(discover(), ("0.0.0.0", 68))
    assert server.errors == 1 and not proto.transport.sent


def test_send_errors_are_counted(store):
    prepare(store)
    server, proto, _, _ = make_server(store)

    class Broken:
        def write(self, data, dest):
            raise OSError(101, "Network is unreachable")

    proto.transport = Broken()
    proto.datagramReceived(discover(), ("0.0.0.0", 68))
    assert server.send_errors == 1


# -- snapshot refresh -------------------------------------------------------------------------

def test_a_reservation_committed_through_the_executor_is_answered_at_once(store):
    prepare(store, reserve=False)
    server, proto, executor, _ = make_server(store)
    proto.datagramReceived(discover(), ("0.0.0.0", 68))
    assert not proto.transport.sent
    executor.write(lambda s: s.upsert_rows("dhcpreservation", [
        {"mac": KNOWN, "node": "n1", "ip": "10.0.0.21", "hostname": "n1"}]))
    proto.datagramReceived(discover(), ("0.0.0.0", 68))
    assert [p.ip_str(r.yiaddr) for r in replies(proto)] == ["10.0.0.21"]


def test_a_commit_that_changes_nothing_we_read_keeps_the_snapshot(store):
    prepare(store)
    server, _, executor, _ = make_server(store)
    view = server.responder.view
    executor.write(lambda s: s.upsert_rows("nodelist", []))
    assert server.responder.view is view


def test_another_process_write_is_seen_after_the_poll_interval(store, state_dir):
    prepare(store, reserve=False)
    server, proto, executor, reactor = make_server(store)
    reactor.advance(srv.POLL_INTERVAL)
    proto.datagramReceived(discover(), ("0.0.0.0", 68))      # first poll: a baseline
    other = Store.open(state_dir)                             # a bypass-mode CLI
    other.begin()
    other.upsert_rows("dhcpreservation", [{"mac": KNOWN, "node": "n1", "ip": "10.0.0.21"}])
    other.commit()
    other.close()
    proto.datagramReceived(discover(), ("0.0.0.0", 68))      # within the interval: old view
    assert not proto.transport.sent
    reactor.advance(srv.POLL_INTERVAL)
    # This packet triggers the poll; the stand-in executor reloads before it is answered
    # (the real one answers it from the old snapshot and the next from the new).
    proto.datagramReceived(discover(), ("0.0.0.0", 68))
    assert [p.ip_str(r.yiaddr) for r in replies(proto)] == ["10.0.0.21"]


# -- lease writes -----------------------------------------------------------------------------

def test_dynamic_leases_are_written_in_one_batch_without_reloading(store):
    prepare(store, dynamic="10.0.0.100-10.0.0.200", reserve=False)
    server, proto, executor, reactor = make_server(store)
    reads = executor.reads
    for k in range(5):
        mac = f"52:54:00:ff:00:{k:02x}"
        proto.datagramReceived(discover(mac), ("0.0.0.0", 68))
        offer = replies(proto)[-1]
        proto.datagramReceived(discover(mac, kind=p.REQUEST, options={
            p.REQUESTED_IP: offer.yiaddr, p.SERVER_ID: p.ip_bytes(SERVER)}), ("0.0.0.0", 68))
    assert executor.writes == 0 and store.rows("dhcplease") == []
    reactor.advance(srv.FLUSH_DELAY)
    assert executor.writes == 1
    rows = store.rows("dhcplease")
    assert sorted(r["mac"] for r in rows) == [f"52:54:00:ff:00:{k:02x}" for k in range(5)]
    assert all(r["ip"].startswith("10.0.0.1") for r in rows)
    assert executor.reads == reads        # our own commit did not rebuild the snapshot
    assert not server.responder.pool.pending and not server.responder.pool.in_flight


def test_a_failed_lease_write_is_retried(store):
    prepare(store, dynamic="10.0.0.100-10.0.0.200", reserve=False)
    server, proto, executor, reactor = make_server(store)
    executor.fail_writes = 1
    mac = "52:54:00:ff:00:01"
    proto.datagramReceived(discover(mac), ("0.0.0.0", 68))
    proto.datagramReceived(discover(mac, kind=p.REQUEST, options={
        p.REQUESTED_IP: replies(proto)[-1].yiaddr}), ("0.0.0.0", 68))
    reactor.advance(srv.FLUSH_DELAY)
    assert executor.writes == 1 and store.rows("dhcplease") == []
    reactor.advance(srv.FLUSH_DELAY)
    assert executor.writes == 2 and [r["mac"] for r in store.rows("dhcplease")] == [mac]


def test_stop_writes_what_is_pending(store):
    prepare(store, dynamic="10.0.0.100-10.0.0.200", reserve=False)
    server, proto, executor, reactor = make_server(store)
    mac = "52:54:00:ff:00:01"
    proto.datagramReceived(discover(mac, kind=p.REQUEST, options={
        p.REQUESTED_IP: p.ip_bytes("10.0.0.150")}), ("0.0.0.0", 68))
    server.stop()
    assert [r["ip"] for r in store.rows("dhcplease")] == ["10.0.0.150"]
    assert not reactor.getDelayedCalls()


def test_leases_persisted_earlier_are_loaded_at_start(store):
    prepare(store, dynamic="10.0.0.100-10.0.0.101", reserve=False)
    store.begin()
    store.upsert_rows("dhcplease", [{"mac": "52:54:00:ff:00:01", "ip": "10.0.0.100",
                                     "expires": str(2_000_000_000)}])
    store.commit()
    server, proto, _, _ = make_server(store)
    proto.datagramReceived(discover("52:54:00:ff:00:02"), ("0.0.0.0", 68))
    assert p.ip_str(replies(proto)[-1].yiaddr) == "10.0.0.101"


# -- the service ------------------------------------------------------------------------------

def test_no_interface_configured_serves_nothing_and_says_so(store):
    events = []
    globalLogPublisher.addObserver(events.append)
    try:
        svc = DhcpService(FakeReactor(), SyncExecutor(store), interfaces=None, port=0)
        svc.startService()
    finally:
        globalLogPublisher.removeObserver(events.append)
    assert svc.interfaces == []
    said = [e for e in events if "not answering DHCP" in e.get("log_format", "")]
    assert len(said) == 1 and said[0]["source"] == "site.dhcpinterfaces"
    svc.stopService()


def test_a_missing_interface_is_logged_and_skipped(store):
    svc = DhcpService(FakeReactor(), SyncExecutor(store), interfaces=["nosuch0"], port=0)
    svc.startService()
    assert svc.interfaces == []
    svc.stopService()


@pytest.mark.skipif(os.geteuid() != 0, reason="SO_BINDTODEVICE needs root (CAP_NET_RAW)")
def test_service_on_loopback_answers_by_unicast(store, run):
    assert run("tabch", "key=dhcpinterfaces", "site.value=lo").rc == 0
    store.begin()
    store.upsert_rows("dhcpreservation", [{"mac": KNOWN, "node": "n1", "ip": "127.0.0.5"}])
    store.commit()
    client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    client.bind(("0.0.0.0", 0))
    client.settimeout(2)
    reactor = FakeReactor()
    svc = DhcpService(reactor, SyncExecutor(store), interfaces=None, port=0,
                      client_port=client.getsockname()[1])
    svc.startService()
    try:
        assert svc.interfaces == ["lo"] and svc.port > 0
        client.sendto(_renew("127.0.0.5"), ("127.0.0.1", svc.port))
        listener = next(iter(reactor.readers))
        ready, _, _ = select.select([listener], [], [], 2)
        assert ready
        listener.doRead()
        data, sender = client.recvfrom(2048)
        ack = p.decode(data)
        assert ack.message_type == p.ACK and p.ip_str(ack.yiaddr) == "127.0.0.5"
    finally:
        svc.stopService()
        client.close()
    assert not reactor.readers


def _renew(ciaddr: str) -> bytes:
    return p.encode(p.DhcpPacket(p.BOOTREQUEST, xid=9, ciaddr=p.ip_bytes(ciaddr),
                                 chaddr=bytes.fromhex(KNOWN.replace(":", "")) + bytes(10),
                                 options={p.MESSAGE_TYPE: bytes((p.REQUEST,))}))
