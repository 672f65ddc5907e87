"""Fuzzing the TFTP server: the packet codec, option negotiation, request paths, and the
whole datagram path (listener -> sessions -> replies) with a fake clock.

Properties:
- packets.parse turns any datagram into a packet or raises MalformedPacket, nothing else;
  what it returns is well formed; the builders and the parser agree (round trips).
- int_option is a number in range or None, for any bytes (Unicode digits included).
- negotiate grants only values in range.
- files.normalize gives a confined relative path or a TftpFileError.
- The server, fed requests and then any datagrams on the transfer sockets while time
  passes: never raises, never logs an internal error, sends only valid packets whose DATA
  is the requested file's bytes at the right offset, never serves a file outside its root,
  and ends every transfer (no session, socket or timer left once time has run on).
"""

import os
import socket
import struct
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from twisted.internet.task import Clock

from tests.fuzz.harness import attempt, fuzz_settings, tried
from xcatpy.boot.tftp import packets, protocol
from xcatpy.boot.tftp.files import TftpFileError, TftpRoot, normalize
from xcatpy.boot.tftp.packets import MalformedPacket
from xcatpy.boot.tftp.session import Session

# -- strategies ------------------------------------------------------------------------------

# Numbers as clients (and attackers) write them: in and out of range, huge, signed, padded,
# in other scripts ('١٢٣' is Arabic-Indic, '²' a superscript, '５' fullwidth).
NUMBER_TEXT = st.one_of(
    st.integers(-10, 70_000).map(str),
    st.integers(0, 10**30).map(str),
    st.sampled_from(["", " ", "0", "00008", "512 ", " 1468", "+512", "-1", "1e3", "0x200",
                     "١٢٣", "²", "٥١٢", "５１２", "1_000", "9" * 13, "65464", "65465", "7",
                     "8", "255", "256", "\t64\t", "1\x00"]),
    st.text(alphabet="0123456789١٢٣²³¹٠５ -+.", max_size=14),
)
NUMBER = NUMBER_TEXT.map(lambda s: s.encode("utf-8"))
OPTION_NAME = st.one_of(
    st.sampled_from(["blksize", "tsize", "timeout", "windowsize", "BLKSIZE", "TSize",
                     "WindowSize", "utimeout", "multicast", "rollover", ""]),
    st.text(max_size=8),
).map(lambda s: s.encode("utf-8"))
OPTION_VALUE = st.one_of(NUMBER, st.binary(max_size=12))
MODE = st.one_of(st.sampled_from([b"octet", b"octet", b"netascii", b"OCTET", b"NetAscii",
                                  b"mail", b"binary", b""]), st.binary(max_size=8))
# Mostly the options servers act on, with numbers, so that requests get as far as a
# transfer; anything else some of the time.
GOOD_OPTION = st.tuples(st.sampled_from([b"blksize", b"tsize", b"timeout", b"windowsize"]),
                        NUMBER)


def _mutate(data: bytes, how: int, where: int, what: bytes) -> bytes:
    if not data or how == 0:
        return data
    i = where % (len(data) + 1)
    if how == 1:
        return data[:i]                                 # truncated
    if how == 2:
        return data[:i] + what + data[i:]               # bytes inserted
    j = min(i, len(data) - 1)
    return data[:j] + bytes([data[j] ^ 0xFF]) + data[j + 1:]    # one byte flipped


def mutated(strategy):
    return st.builds(_mutate, strategy, st.sampled_from([0, 0, 0, 1, 2, 3]),
                     st.integers(0, 1 << 16), st.binary(min_size=1, max_size=4))


ANY_FILENAME = st.binary(max_size=40)


@st.composite
def request_datagrams(draw, filenames=ANY_FILENAME):
    opcode = draw(st.sampled_from([packets.RRQ] * 6 + [packets.WRQ, packets.DATA, 0, 7, 0xFFFF]))
    fields = [draw(filenames), draw(st.one_of(MODE, st.sampled_from([b"octet", b"netascii"])))]
    any_option = st.tuples(OPTION_NAME, OPTION_VALUE)
    for name, value in draw(st.lists(st.one_of(GOOD_OPTION, GOOD_OPTION, any_option),
                                     max_size=6)):
        fields += [name, value]
    if draw(st.integers(0, 5)) == 0 and len(fields) > 2:
        fields.pop()                                    # a dangling option name
    tail = draw(st.sampled_from([b"\0", b"\0", b"", b"\0\0\0"]))
    return struct.pack("!H", opcode) + b"\0".join(fields) + tail


other_datagrams = st.one_of(
    st.builds(lambda op, block, body: struct.pack("!HH", op, block) + body,
              st.sampled_from([packets.DATA, packets.ACK, packets.ERROR]),
              st.integers(0, 0xFFFF), st.binary(max_size=40)),
    st.builds(lambda fields: struct.pack("!H", packets.OACK) + b"\0".join(fields),
              st.lists(st.one_of(OPTION_NAME, OPTION_VALUE), max_size=8)),
    st.binary(max_size=6),
)
any_datagram = st.one_of(st.binary(max_size=80), mutated(request_datagrams()),
                         mutated(other_datagrams))


# -- the codec -------------------------------------------------------------------------------

@fuzz_settings()
@given(any_datagram)
def test_parse_returns_a_packet_or_malformed(datagram):
    got = attempt("tftp.parse", lambda: packets.parse(datagram), (MalformedPacket,))
    if not got.ok:
        return
    pkt = got.value
    if isinstance(pkt, packets.Request):
        assert pkt.opcode in (packets.RRQ, packets.WRQ)
        assert pkt.filename and b"\0" not in pkt.filename
        assert pkt.mode in packets.MODES
    elif isinstance(pkt, packets.Data):
        assert 0 <= pkt.block <= 0xFFFF and pkt.payload == datagram[4:]
    elif isinstance(pkt, packets.Ack):
        assert 0 <= pkt.block <= 0xFFFF
    elif isinstance(pkt, packets.Error):
        assert b"\0" not in pkt.message
    else:
        assert isinstance(pkt, packets.OptionAck)
    options = getattr(pkt, "options", {})
    for name, value in options.items():
        assert name and name == name.lower() and b"\0" not in value


@fuzz_settings()
@given(NUMBER | st.binary(max_size=16), st.integers(0, 70_000), st.integers(0, 1 << 63))
def test_int_option_is_an_ascii_number_in_range_or_none(value, low, high):
    got = attempt("tftp.int_option", lambda: packets.int_option(value, low, high))
    assert got.ok
    if got.value is not None:
        text = value.strip()
        assert text.isascii() and text.isdigit() and low <= got.value <= high
        assert got.value == int(text)


names = st.binary(min_size=1, max_size=40).filter(lambda b: b"\0" not in b)
option_names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_-", min_size=1,
                       max_size=10)
values = st.binary(min_size=1, max_size=20).filter(lambda b: b"\0" not in b)


@fuzz_settings()
@given(names, st.sampled_from(packets.MODES), st.dictionaries(option_names, values, max_size=5),
       st.sampled_from([packets.RRQ, packets.WRQ]))
def test_request_round_trip(filename, mode, options, opcode):
    tried("tftp.roundtrip")
    got = packets.parse(packets.request(filename, mode, options, opcode))
    assert got == packets.Request(opcode, filename, mode, options)


@fuzz_settings()
@given(st.dictionaries(option_names, values, max_size=5), st.integers(0, 0xFFFF),
       st.binary(max_size=600), st.text(max_size=40))
def test_other_packets_round_trip(options, block, payload, message):
    tried("tftp.roundtrip")
    assert packets.parse(packets.oack(options)) == packets.OptionAck(options)
    assert packets.parse(packets.data(block, payload)) == packets.Data(block, payload)
    assert packets.parse(packets.ack(block)) == packets.Ack(block)
    error = packets.parse(packets.error(block, message))
    assert error == packets.Error(block, message.encode("utf-8", "replace").replace(b"\0", b" "))


@fuzz_settings()
@given(mutated(request_datagrams()))
def test_reencoding_a_parsed_request_is_stable(datagram):
    tried("tftp.roundtrip")
    try:
        req = packets.parse(datagram)
    except MalformedPacket:
        return
    assume(isinstance(req, packets.Request))
    # Only what the builder can write: ASCII option names and non-empty values (an empty
    # last value is dropped with the trailing NULs, see share/doc/fuzzing.md).
    assume(all(n.isascii() and v for n, v in req.options.items()))
    again = packets.parse(packets.request(req.filename, req.mode, req.options, req.opcode))
    assert again == req


# -- negotiation -----------------------------------------------------------------------------

class FakeReactor(Clock):
    """A Clock the server can register its descriptors with (they are driven by hand)."""

    def addReader(self, reader) -> None:
        pass

    def removeReader(self, reader) -> None:
        pass


@pytest.fixture(scope="module")
def negotiator(tmp_path_factory):
    server = protocol.TftpServer(FakeReactor(), TftpRoot(tmp_path_factory.mktemp("neg")))
    yield server
    server.stop()


@fuzz_settings()
@given(request_datagrams(filenames=st.just(b"f")), st.integers(0, 1 << 40),
       st.integers(8, protocol.MAX_BLKSIZE))
def test_negotiation_grants_only_values_in_range(negotiator, datagram, size, cap):
    try:
        req = packets.parse(datagram)
    except MalformedPacket:
        return
    assume(isinstance(req, packets.Request))
    got = attempt("tftp.negotiate", lambda: negotiator.negotiate(req, size, cap))
    accepted, blksize, timeout, window = got.value
    assert set(accepted) <= set(req.options)
    assert 8 <= blksize <= max(cap, 512) and (blksize == 512 or blksize <= cap)
    assert 1 <= timeout <= 255 and 1 <= window <= negotiator.max_window
    assert accepted.get("blksize", blksize) == blksize
    assert accepted.get("windowsize", window) == window
    assert accepted.get("tsize", size) == size
    assert all(isinstance(v, int) for v in accepted.values())


# -- request paths ---------------------------------------------------------------------------

PATHS = st.one_of(
    st.binary(max_size=40),
    st.text(max_size=30),
    st.lists(st.sampled_from(["..", ".", "", "a", "b", "\\", "/", "..\\..", "\0", "ä",
                              "\udcff"]), max_size=8).map("/".join),
)


@fuzz_settings()
@given(PATHS)
def test_normalize_confines_or_refuses(path):
    got = attempt("tftp.normalize", lambda: normalize(path), (TftpFileError,))
    if got.ok:
        parts = got.value.split("/")
        assert all(p not in ("", ".", "..") for p in parts)
        assert "\0" not in got.value and "\\" not in got.value


# -- the whole server ------------------------------------------------------------------------

SECRET = os.urandom(48)          # outside the root: must never be served
CONTENTS = {
    "empty": b"",
    "small": b"boot me\n" * 12,
    "block": bytes(range(256)) * 2,                   # exactly 512 bytes
    "mid": os.urandom(3000),
    "big": os.urandom(70_000),
    "dir/sub.txt": b"line one\r\nline two\nthree\r",
}
FILENAMES = st.one_of(
    st.sampled_from([b"small", b"empty", b"block", b"mid", b"big", b"dir/sub.txt"]),
    st.sampled_from([b"small", b"empty", b"block", b"mid", b"big", b"dir/sub.txt"]),
    st.sampled_from([b"/small", b"\\dir\\sub.txt", b"./mid", b"../secret",
                     b"dir/../../secret", b"escape", b"dir", b"missing", b"gen/x", b"gen/none",
                     b"gen/boom", b"\xff\xfe", b"a" * 300]),
    st.binary(min_size=1, max_size=12),
)


def build_tree(base: Path) -> Path:
    """The TFTP root (CONTENTS, a symlink out) under `base`, with SECRET beside it."""
    (base / "secret").write_bytes(SECRET)
    root = base / "root"
    (root / "dir").mkdir(parents=True)
    for name, content in CONTENTS.items():
        (root / name).write_bytes(content)
    (root / "escape").symlink_to(base / "secret")
    return root


@pytest.fixture(scope="module")
def tftp_tree(tmp_path_factory):
    return build_tree(tmp_path_factory.mktemp("tftpfuzz"))


class Sink:
    """Client sockets the transfer sockets connect to (GSO windows really go there)."""

    def __init__(self, count: int) -> None:
        self.socks = []
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(("127.0.0.1", 0))
            s.setblocking(False)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
            self.socks.append(s)
        self.addresses = [s.getsockname() for s in self.socks]

    def drain(self) -> list[tuple[bytes, int]]:
        """(datagram, sender port) for everything received."""
        got = []
        for s in self.socks:
            while True:
                try:
                    data, sender = s.recvfrom(70_000)
                except (BlockingIOError, InterruptedError):
                    break
                got.append((data, sender[1]))
        return got

    def close(self) -> None:
        for s in self.socks:
            s.close()


@pytest.fixture(scope="module")
def sink():
    s = Sink(3)
    yield s
    s.close()


class Listener:
    def __init__(self) -> None:
        self.replies: list[bytes] = []

    def reply(self, datagram: bytes, client, local) -> None:
        self.replies.append(datagram)


class Recording(Session):
    """A Session whose send() and recv() are the test's; it remembers what it sent and
    any internal error (which the real one only logs)."""

    created: list["Recording"] = []

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.port = self.sock.getsockname()[1]
        self.sent_packets: list[bytes] = []
        self.inbox: list[bytes] = []
        self.crashes: list = []
        self.opened = None
        self.send = self._record
        self.recv = self._receive
        Recording.created.append(self)

    def _record(self, datagram) -> int:
        self.sent_packets.append(bytes(datagram))
        return len(datagram)

    def _receive(self, size: int) -> bytes:
        if not self.inbox:
            raise BlockingIOError
        return self.inbox.pop(0)[:size]

    def _opened(self, file) -> None:
        self.opened = file.name
        super()._opened(file)

    def _open_failed(self, failure) -> None:
        if not failure.check(TftpFileError):
            self.crashes.append(failure)
        super()._open_failed(failure)

    def _crashed(self, failure) -> None:
        self.crashes.append(failure)
        super()._crashed(failure)


def _root(tree: Path, reactor) -> TftpRoot:
    root = TftpRoot(tree, inline_read_max=1 << 30, reactor=reactor)
    root.add_generator(r"gen/x", lambda m, client, local: b"generated\n" * 70)
    root.add_generator(r"gen/none", lambda m, client, local: None)

    def boom(m, client, local):
        raise RuntimeError("generator bug")     # the root turns this into an ERROR
    root.add_generator(r"gen/boom", boom)
    return root


def _check_sent(session: Recording, extra: list[bytes]) -> None:
    name = session.opened
    if name is None:
        content = None
    else:
        assert name in CONTENTS or name.startswith("gen/"), name
        content = CONTENTS.get(name, b"generated\n" * 70)
        if session.request.mode == "netascii":
            content = packets.to_netascii(content)
    for datagram in session.sent_packets + extra:
        assert SECRET not in datagram
        pkt = packets.parse(datagram)
        if isinstance(pkt, packets.Data):
            assert content is not None
            assert len(pkt.payload) <= session.blksize
            offset = (pkt.block - 1) * session.blksize   # files here stay under 65536 blocks
            assert pkt.payload == content[offset:offset + session.blksize]
        elif isinstance(pkt, packets.OptionAck):
            assert set(pkt.options) <= set(session.request.options)
            assert all(v.isdigit() for v in pkt.options.values())
        else:
            assert isinstance(pkt, packets.Error), pkt


WHO = st.sampled_from([0, 0, 0, 1, 2])     # mostly one client, sometimes three at once
first_request = st.tuples(st.just("request"), WHO,
                          request_datagrams(FILENAMES))
step = st.one_of(
    first_request,
    st.tuples(st.just("request"), WHO, mutated(request_datagrams(FILENAMES))),
    st.tuples(st.just("good-ack"), WHO, st.just(b"")),
    st.tuples(st.just("good-ack"), WHO, st.just(b"")),
    st.tuples(st.just("good-ack"), WHO, st.just(b"")),
    st.tuples(st.just("ack"), WHO, st.integers(-3, 70)),
    st.tuples(st.just("packet"), WHO, any_datagram),
    st.tuples(st.just("tick"), st.just(0), st.floats(0, 400)),
)


@fuzz_settings(weight=0.6)
@given(first_request, st.lists(step, max_size=16), st.booleans())
def test_server_survives_any_datagrams(tftp_tree, sink, first, steps, gso):
    run_server(tftp_tree, sink, [first] + steps, gso)


def run_server(tftp_tree: Path, sink: Sink, steps: list[tuple], gso: bool) -> None:
    """Drive a server through `steps` ((kind, client index, argument), see `step`), let
    time run out, and check everything it did."""
    reactor = FakeReactor()
    server = protocol.TftpServer(reactor, _root(tftp_tree, reactor), max_sessions=2)
    server.gso = gso
    listener = Listener()
    Recording.created = []
    sink.drain()
    via_gso: dict[int, list[bytes]] = {}      # GSO windows, by the session they came from

    def collect() -> None:
        live = {s.port: s for s in Recording.created}     # the latest session on each port
        for datagram, port in sink.drain():
            if port in live:
                via_gso.setdefault(id(live[port]), []).append(datagram)
    try:
        with mock.patch.object(protocol, "Session", Recording):
            for kind, who, arg in steps:
                tried("tftp.server")
                client = sink.addresses[who]
                session = server.sessions.get(client)
                if kind == "request":
                    server.request_received(arg, client, "127.0.0.1", 0, listener)
                elif kind == "tick":
                    reactor.advance(arg)
                elif session is not None:
                    if kind == "good-ack":
                        datagram = packets.ack(0 if session.oack else session.sent)
                    elif kind == "ack":
                        datagram = packets.ack(max(0, session.acked + arg))
                    else:
                        datagram = arg
                    session.inbox.append(datagram)
                    session.readable()
                collect()
            # Time runs on: every transfer must end by itself.
            for _ in range(40):
                if not server.sessions:
                    break
                reactor.advance(300)
                collect()
        assert not server.sessions and not server.mux.sessions
        assert not reactor.getDelayedCalls()
        for s in Recording.created:
            if s.crashes:
                s.crashes[0].raiseException()
            assert s.sock is None
        assert server.completed + server.failed == len(Recording.created)
        for s in Recording.created:
            _check_sent(s, via_gso.get(id(s), []))
        for reply in listener.replies:
            assert isinstance(packets.parse(reply), packets.Error)
    finally:
        server.stop()
