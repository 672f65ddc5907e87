"""The TFTP server in-process: real loopback sockets, time from a Clock, reads pumped by hand.

Nothing here sleeps for time to pass: the Clock is advanced, and the server's descriptors are
read when select() says they have data.
"""

import os
import select
import socket
from pathlib import Path

import pytest
from twisted.internet.task import Clock

from xcatpy.boot.tftp import packets
from xcatpy.boot.tftp.files import TftpRoot
from xcatpy.boot.tftp.protocol import MtuCache, TftpServer


class FakeReactor(Clock):
    def __init__(self) -> None:
        super().__init__()
        self.readers: set = set()

    def addReader(self, reader) -> None:
        self.readers.add(reader)

    def removeReader(self, reader) -> None:
        self.readers.discard(reader)

    def pump(self, wait: float = 2.0) -> int:
        """Serve whatever is readable; wait up to `wait` s for the first event."""
        served = 0
        timeout = wait
        while self.readers:
            ready, _, _ = select.select(list(self.readers), [], [], timeout)
            if not ready:
                return served
            for reader in ready:
                reader.doRead()
                served += 1
            timeout = 0
        return served


class Client:
    """A raw TFTP client socket on 127.0.0.1."""

    def __init__(self, port: int, host: str = "127.0.0.1") -> None:
        self.server = (host, port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(2)
        self.tid: tuple[str, int] | None = None

    def rrq(self, name, mode="octet", **options) -> None:
        self.sock.sendto(packets.request(name, mode, options), self.server)

    def wrq(self, name) -> None:
        self.sock.sendto(packets.request(name, "octet", {}, packets.WRQ), self.server)

    def receive(self):
        data, sender = self.sock.recvfrom(70000)
        self.tid = sender
        return packets.parse(data), sender

    def nothing_pending(self) -> bool:
        return not select.select([self.sock], [], [], 0)[0]

    def ack(self, block: int, to=None) -> None:
        self.sock.sendto(packets.ack(block), to or self.tid)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "tftpboot"
    root.mkdir()
    return root


@pytest.fixture
def reactor():
    return FakeReactor()


@pytest.fixture
def server(reactor, tree):
    srv = TftpServer(reactor, TftpRoot(tree, inline_read_max=1 << 30), max_sessions=8)
    srv.listen("127.0.0.1", 0)
    yield srv
    srv.stop()


@pytest.fixture
def client(server):
    c = Client(server.listeners[0].port)
    yield c
    c.close()


def fetch(reactor, client, name, window=1, **options):
    """Run a whole transfer, ACKing like an RFC 7440 client; return (content, oack)."""
    if window > 1:
        options["windowsize"] = window
    client.rrq(name, **options)
    reactor.pump()
    packet, _ = client.receive()
    oack = None
    if isinstance(packet, packets.OptionAck):
        oack = packet.options
        window = int(oack.get("windowsize", 1))
        blksize = int(oack.get("blksize", 512))
        client.ack(0)
        reactor.pump()
        packet, _ = client.receive()
    else:
        blksize, window = 512, 1
    content, expected = [], 1
    while True:
        assert isinstance(packet, packets.Data), packet
        assert packet.block == expected & 0xFFFF
        content.append(packet.payload)
        last = len(packet.payload) < blksize
        if last or expected % window == 0:
            client.ack(expected)
            if last:
                reactor.pump(wait=0.05)
                return b"".join(content), oack
            reactor.pump()
        expected += 1
        packet, _ = client.receive()


@pytest.mark.parametrize("size", [0, 1, 511, 512, 513, 1024, 5000])
def test_lockstep_sizes(reactor, server, client, tree, size):
    content = os.urandom(size)
    (tree / "f").write_bytes(content)
    got, oack = fetch(reactor, client, "f")
    assert got == content and oack is None
    assert server.session_count == 0 and server.completed == 1


@pytest.mark.parametrize("blksize, window", [(8, 1), (1468, 1), (8192, 4), (1468, 16),
                                             (512, 3)])
def test_options(reactor, server, client, tree, blksize, window):
    content = os.urandom(40000)
    (tree / "f").write_bytes(content)
    got, oack = fetch(reactor, client, "f", window=window, blksize=blksize, tsize=0)
    assert got == content
    expected = {"blksize": str(blksize).encode(), "tsize": b"40000"}
    if window > 1:
        expected["windowsize"] = str(window).encode()
    assert oack == expected


@pytest.mark.parametrize("blksize, asked, granted", [
    (1468, 16, 16), (8192, 16, 8), (8192, 4, 4), (65464, 16, 1), (512, 1000, 64)])
def test_windows_fit_in_a_receive_buffer(reactor, server, client, tree, blksize, asked,
                                         granted):
    content = os.urandom(200000)
    (tree / "f").write_bytes(content)
    got, oack = fetch(reactor, client, "f", window=asked, blksize=blksize)
    assert got == content and oack["windowsize"] == str(granted).encode()


def test_block_numbers_roll_over(reactor, server, client, tree):
    content = os.urandom(8 * 65536 + 100)      # 65549 blocks of 8 bytes
    (tree / "f").write_bytes(content)
    got, _ = fetch(reactor, client, "f", window=64, blksize=8)
    assert got == content


def test_netascii(reactor, server, client, tree):
    (tree / "f").write_bytes(b"line\nCR\r" * 100)
    got, oack = fetch(reactor, client, "f", mode="netascii", tsize=0)
    assert got == b"line\r\nCR\r\0" * 100 and oack == {"tsize": b"1000"}


@pytest.mark.parametrize("options", [
    {"blksize": "abc"}, {"blksize": "7"}, {"blksize": "65465"}, {"windowsize": "0"},
    {"windowsize": "x"}, {"timeout": "0"}, {"timeout": "256"}, {"tsize": "-1"},
    {"tsize": "1e9"}, {"rollover": "0"}, {"utimeout": "1000"}, {"multicast": ""},
])
def test_invalid_or_unknown_options_are_not_acknowledged(reactor, server, client, tree,
                                                         options):
    (tree / "f").write_bytes(b"x" * 600)
    got, oack = fetch(reactor, client, "f", **options)
    assert got == b"x" * 600 and oack is None
    assert server.session_count == 0


def test_only_accepted_options_in_the_oack(reactor, server, client, tree):
    (tree / "f").write_bytes(b"x" * 600)
    client.sock.sendto(b"\0\1f\0OCTET\0BlkSize\0001000\0bogus\0001\0TIMEOUT\0003\0"
                       b"blksize\0009999\0", server.listeners[0].socket.getsockname())
    reactor.pump()
    packet, _ = client.receive()
    assert packet == packets.OptionAck({"blksize": b"1000", "timeout": b"3"})


def test_blksize_is_capped_to_the_path_mtu(reactor, server, client, tree):
    server.blksize_cap = lambda sock, ifindex: 1468
    (tree / "f").write_bytes(b"x" * 10000)
    got, oack = fetch(reactor, client, "f", blksize=8192)
    assert oack == {"blksize": b"1468"} and got == b"x" * 10000
    got, oack = fetch(reactor, client, "f", blksize=1000)
    assert oack == {"blksize": b"1000"} and got == b"x" * 10000


def test_path_mtu_of_a_connected_socket_else_the_interface(server):
    lo_mtu = int(Path("/sys/class/net/lo/mtu").read_text())
    lo = socket.if_nametoindex("lo")
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        server.mtus.mtu = lambda ifindex: {lo: 1500}.get(ifindex, 9000)
        assert server.blksize_cap(sock, lo) == 1468       # not connected: interface MTU
        sock.connect(("127.0.0.1", 9))
        assert server.blksize_cap(sock, lo) == min(65464, lo_mtu - 32)
    finally:
        sock.close()


def test_mtu_of_loopback():
    cache = MtuCache()
    lo = socket.if_nametoindex("lo")
    assert cache.mtu(lo) == int(Path("/sys/class/net/lo/mtu").read_text())
    assert cache.blksize_cap(lo) == min(65464, cache.mtu(lo) - 32)
    assert cache.mtu(999999) == 1500


def test_missing_file_and_escape(reactor, server, client, tree):
    client.rrq("nope")
    reactor.pump()
    packet, _ = client.receive()
    assert packet == packets.Error(packets.ERR_NOT_FOUND, b"nope not found")
    client.rrq("../etc/passwd")
    reactor.pump()
    packet, _ = client.receive()
    assert isinstance(packet, packets.Error) and packet.code == packets.ERR_ACCESS
    assert server.session_count == 0


def test_non_utf8_name(reactor, server, client, tree):
    client.rrq(b"\xff\xfe\x00garbage"[:2])
    reactor.pump()
    packet, _ = client.receive()
    assert isinstance(packet, packets.Error) and packet.code == packets.ERR_NOT_FOUND
    (tree / os.fsdecode(b"caf\xe9")).write_bytes(b"ok")
    got, _ = fetch(reactor, client, b"caf\xe9")
    assert got == b"ok"


def test_wrq_is_refused(reactor, server, client, tree):
    client.wrq("upload")
    reactor.pump()
    packet, _ = client.receive()
    assert isinstance(packet, packets.Error) and packet.code == packets.ERR_ACCESS
    assert server.session_count == 0 and not (tree / "upload").exists()


def test_malformed_datagrams_are_ignored(reactor, server, client, tree):
    (tree / "f").write_bytes(b"fine")
    for junk in (b"", b"\0", b"\0\1", b"\0\1f\0bogusmode\0", b"\0\3\0\1data", b"\0\4\0\1",
                 b"\xff" * 600, b"\0\6blksize\0"):
        client.sock.sendto(junk, client.server)
    reactor.pump()
    assert client.nothing_pending()
    assert server.malformed == 8 and server.session_count == 0
    got, _ = fetch(reactor, client, "f")
    assert got == b"fine"


def test_garbage_to_a_transfer_socket_is_ignored(reactor, server, client, tree):
    (tree / "f").write_bytes(b"y" * 1000)
    client.rrq("f")
    reactor.pump()
    packet, tid = client.receive()
    for junk in (b"", b"\0", b"\0\4\0", b"\0\3\0\1xx", b"\x99" * 100):
        client.sock.sendto(junk, tid)
    reactor.pump()
    assert client.nothing_pending() and server.session_count == 1
    client.ack(1)
    reactor.pump()
    packet, _ = client.receive()
    assert packet.block == 2 and len(packet.payload) == 488


def test_duplicate_acks_are_not_answered(reactor, server, client, tree):
    (tree / "f").write_bytes(b"z" * 2000)
    client.rrq("f")
    reactor.pump()
    client.receive()
    client.ack(1)
    reactor.pump()
    assert client.receive()[0].block == 2
    session = server.sessions[client.sock.getsockname()]
    sent = session.blocks_sent
    for _ in range(5):
        client.ack(1)                          # duplicates of an already handled ACK
        client.ack(0)                          # and an ACK for a block before that
    reactor.pump()
    assert session.blocks_sent == sent and client.nothing_pending()


def test_retransmit_then_reap_a_vanished_client(reactor, server, client, tree):
    (tree / "f").write_bytes(b"q" * 5000)
    client.rrq("f", timeout=2)
    reactor.pump()
    packet, _ = client.receive()
    assert packet == packets.OptionAck({"timeout": b"2"})
    client.ack(0)
    reactor.pump()
    assert client.receive()[0].block == 1
    reactor.advance(1.75)
    assert client.nothing_pending()           # not before the negotiated timeout
    for _ in range(server.retries):
        reactor.advance(0.25)
        assert client.receive()[0].block == 1  # the same block again
        reactor.advance(1.75)
    assert server.session_count == 1
    reactor.advance(0.25)                      # the last retry has expired: reaped
    assert server.session_count == 0 and server.failed == 1
    assert client.nothing_pending()


def test_progress_postpones_the_retransmit(reactor, server, client, tree):
    (tree / "f").write_bytes(b"q" * 5000)
    client.rrq("f")
    reactor.pump()
    client.receive()
    session = server.sessions[client.sock.getsockname()]
    for block in range(1, 9):
        reactor.advance(0.625)                   # well inside the 1 s timeout each time
        client.ack(block)
        reactor.pump()
        assert client.receive()[0].block == block + 1
    assert session.blocks_sent == 9 and session.retries == 0


def test_oack_is_retransmitted_until_ack_zero(reactor, server, client, tree):
    (tree / "f").write_bytes(b"w" * 100)
    client.rrq("f", tsize=0)
    reactor.pump()
    first, tid = client.receive()
    reactor.advance(1.0)
    again, tid2 = client.receive()
    assert first == again == packets.OptionAck({"tsize": b"100"}) and tid == tid2
    client.ack(0)
    reactor.pump()
    assert client.receive()[0] == packets.Data(1, b"w" * 100)


def test_window_resends_from_the_block_after_the_ack(reactor, server, client, tree):
    content = os.urandom(512 * 20)
    (tree / "f").write_bytes(content)
    client.rrq("f", windowsize=8)
    reactor.pump()
    client.receive()
    client.ack(0)
    reactor.pump()
    blocks = [client.receive()[0].block for _ in range(8)]
    assert blocks == list(range(1, 9))
    client.ack(5)                             # "6 never came": resend 6..13
    reactor.pump()
    assert [client.receive()[0].block for _ in range(8)] == list(range(6, 14))
    client.ack(13)
    reactor.pump()
    assert [client.receive()[0].block for _ in range(8)] == list(range(14, 22))
    reactor.advance(1.0)                      # timeout: resend the whole window after 13
    window = [client.receive()[0] for _ in range(8)]
    assert [p.block for p in window] == list(range(14, 22))
    assert window[-1] == packets.Data(21, b"")  # 20 full blocks, then an empty one
    assert b"".join(p.payload for p in window) == content[13 * 512:]
    client.ack(21)
    reactor.pump(wait=0.05)
    assert server.session_count == 0 and server.completed == 1


class FlakySocket:
    """A session socket whose sendmsg() fails once, on a chosen call."""

    def __init__(self, real: socket.socket, fail_on: int, exc: OSError) -> None:
        self.real, self.fail_on, self.exc, self.calls = real, fail_on, exc, 0

    def sendmsg(self, buffers, ancillary=()):
        self.calls += 1
        if self.calls == self.fail_on:
            raise self.exc
        return self.real.sendmsg(buffers, ancillary)

    def __getattr__(self, name):
        return getattr(self.real, name)


def start_window(reactor, server, client, tree, window=10):
    content = os.urandom(512 * window)
    (tree / "f").write_bytes(content)
    client.rrq("f", windowsize=window)
    reactor.pump()
    assert client.receive()[0] == packets.OptionAck({"windowsize": str(window).encode()})
    return server.sessions[client.sock.getsockname()], content


def test_send_buffer_full_waits_for_writable(reactor, server, client, tree):
    server.gso = False                        # one send() per block
    session, content = start_window(reactor, server, client, tree)
    real_send, calls = session.send, []

    def flaky_send(datagram):
        calls.append(datagram[:4])
        if len(calls) == 4:
            raise BlockingIOError
        return real_send(datagram)

    session.send = flaky_send
    client.ack(0)
    reactor.pump()
    got = [client.receive()[0] for _ in range(10)]
    assert [p.block for p in got] == list(range(1, 11))   # 4 was not lost: sent when writable
    assert b"".join(p.payload for p in got) == content
    assert len(calls) == 11 and session.blocks_sent == 10


def test_a_window_leaves_in_one_segmented_send(reactor, server, client, tree):
    session, content = start_window(reactor, server, client, tree)
    session.sock = flaky = FlakySocket(session.sock, fail_on=0, exc=OSError())
    client.ack(0)
    reactor.pump()
    got = [client.receive()[0] for _ in range(10)]
    assert b"".join(p.payload for p in got) == content and flaky.calls == 1


def test_segmented_send_buffer_full_waits_for_writable(reactor, server, client, tree):
    session, content = start_window(reactor, server, client, tree)
    session.sock = flaky = FlakySocket(session.sock, fail_on=1, exc=BlockingIOError())
    client.ack(0)
    reactor.pump()
    got = [client.receive()[0] for _ in range(10)]
    assert [p.block for p in got] == list(range(1, 11)) and flaky.calls == 2
    assert b"".join(p.payload for p in got) == content


def test_segmentation_refused_falls_back_to_one_send_per_block(reactor, server, client, tree):
    import errno

    session, content = start_window(reactor, server, client, tree)
    session.sock = FlakySocket(session.sock, fail_on=1, exc=OSError(errno.EIO, "no GSO"))
    client.ack(0)
    reactor.pump()
    got = [client.receive()[0] for _ in range(10)]
    assert [p.block for p in got] == list(range(1, 11))
    assert session.gso is None and server.gso is False and session.blocks_sent == 10


def test_client_error_ends_the_session(reactor, server, client, tree):
    (tree / "f").write_bytes(b"e" * 1000)
    client.rrq("f", tsize=0)
    reactor.pump()
    _, tid = client.receive()
    client.sock.sendto(packets.error(packets.ERR_OPTIONS, "just probing tsize"), tid)
    reactor.pump(wait=0.05)
    assert server.session_count == 0


def test_new_request_from_the_same_port_replaces_the_session(reactor, server, client, tree):
    content = os.urandom(3000)
    (tree / "f").write_bytes(content)
    client.rrq("f", tsize=0, blksize=1000)     # a PXE ROM's size probe...
    reactor.pump()
    packet, old_tid = client.receive()
    assert packet.options["tsize"] == b"3000"
    client.rrq("f", blksize=1000)               # ...then the real request, same port
    reactor.pump()
    packet, new_tid = client.receive()
    assert new_tid != old_tid and server.session_count == 1
    client.ack(0)
    reactor.pump()
    got = []
    for block in (1, 2, 3, 4):
        packet, sender = client.receive()
        assert sender == new_tid and packet.block == block
        got.append(packet.payload)
        client.ack(block)
        reactor.pump(wait=0.2)
    assert b"".join(got) == content
    # the old session's socket is closed: an ACK to it meets an ICMP port unreachable
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.connect(old_tid)
    probe.send(packets.ack(0))
    with pytest.raises(ConnectionRefusedError):
        probe.settimeout(2)
        probe.recv(100)
    probe.close()


def test_same_request_again_before_any_ack_is_a_retransmission(reactor, server, client,
                                                                tree):
    (tree / "f").write_bytes(b"r" * 700)
    client.rrq("f", blksize=600)
    reactor.pump()
    first, tid = client.receive()
    client.rrq("f", blksize=600)                # the client's own request timer fired
    reactor.pump()
    again, tid2 = client.receive()
    assert first == again == packets.OptionAck({"blksize": b"600"})
    assert tid == tid2 and server.session_count == 1


def test_same_request_after_progress_starts_over(reactor, server, client, tree):
    (tree / "f").write_bytes(b"r" * 1500)
    client.rrq("f")
    reactor.pump()
    _, tid = client.receive()
    client.ack(1)
    reactor.pump()
    client.receive()
    client.rrq("f")                              # gave up and asked again
    reactor.pump()
    packet, tid2 = client.receive()
    assert packet == packets.Data(1, b"r" * 512) and tid2 != tid
    assert server.session_count == 1


def test_session_cap(reactor, server, tree):
    (tree / "f").write_bytes(b"c" * 5000)
    clients = [Client(server.listeners[0].port) for _ in range(server.max_sessions + 1)]
    try:
        for c in clients:
            c.rrq("f")
            reactor.pump()
        for c in clients[:-1]:
            assert c.receive()[0].block == 1
        assert clients[-1].receive()[0] == packets.Error(0, b"server busy")
        assert server.session_count == server.max_sessions
        # one finishes (an ERROR from the client ends it): the next request is served
        clients[0].sock.sendto(packets.error(0, "bye"), clients[0].tid)
        reactor.pump()
        clients[-1].rrq("f")
        reactor.pump()
        assert clients[-1].receive()[0].block == 1
    finally:
        for c in clients:
            c.close()


def test_a_hanging_generator_is_reaped(reactor, tree):
    import re

    from twisted.internet import defer

    root = TftpRoot(tree)
    pending = defer.Deferred()
    root.add_generator(re.compile("hang"), lambda m, c, local: pending)
    srv = TftpServer(reactor, root)
    srv.listen("127.0.0.1", 0)
    c = Client(srv.listeners[0].port)
    try:
        c.rrq("hang")
        reactor.pump()
        assert srv.session_count == 1
        for _ in range(srv.retries):
            reactor.advance(1.0)
        assert srv.session_count == 1
        reactor.advance(1.0)
        assert srv.session_count == 0
        pending.callback(b"too late")             # arrives after the reaping: dropped
        assert c.nothing_pending()
    finally:
        c.close()
        srv.stop()


def test_generator_failure_is_an_error_packet(reactor, tree):
    import re

    from twisted.internet import defer

    root = TftpRoot(tree)
    root.add_generator(re.compile("boom"), lambda m, c, local: defer.fail(ValueError("x")))
    (tree / "f").write_bytes(b"still here")
    srv = TftpServer(reactor, root)
    srv.listen("127.0.0.1", 0)
    c = Client(srv.listeners[0].port)
    try:
        c.rrq("boom")
        reactor.pump()
        assert c.receive()[0] == packets.Error(0, b"internal error")
        got, _ = fetch(reactor, c, "f")
        assert got == b"still here"
    finally:
        c.close()
        srv.stop()


def test_two_local_addresses_on_a_wildcard_listener(reactor, tree):
    (tree / "f").write_bytes(b"multi-homed")
    srv = TftpServer(reactor, TftpRoot(tree))
    srv.listen("0.0.0.0", 0)
    try:
        for address in ("127.0.0.1", "127.0.0.2"):
            c = Client(srv.listeners[0].port, host=address)
            try:
                c.rrq("f")
                reactor.pump()
                packet, sender = c.receive()
                assert sender[0] == address and packet.payload == b"multi-homed"
                c.ack(1)
                reactor.pump(wait=0.05)
            finally:
                c.close()
        assert srv.completed == 2
    finally:
        srv.stop()


def test_stop_closes_everything(reactor, tree):
    (tree / "f").write_bytes(b"s" * 5000)
    srv = TftpServer(reactor, TftpRoot(tree))
    srv.listen("127.0.0.1", 0)
    c = Client(srv.listeners[0].port)
    c.rrq("f")
    reactor.pump()
    assert srv.session_count == 1
    srv.stop()
    assert srv.session_count == 0 and reactor.readers == set()
    assert reactor.getDelayedCalls() == []
    c.close()
