"""Fuzzing what booting nodes send: the install monitor's line protocol (port 3002), the
boot HTTP service's paths (install tree confinement, the iPXE script's MAC), and the
address and MAC parsers behind them.

Properties:
- The monitor, fed any bytes in any chunks (and half-closed), raises nothing, answers
  each line with one `ok ...` or `error ...` line, hands the resolver only well-formed
  statuses and the peer's own address, and drops the connection on an over-long line.
- InstallTree._confined gives None or a regular file inside the root, whatever the
  segments ('..', symlinks out, NULs, separators).
- The iPXE script resource hands the resolver only MACs that normalize_mac accepts, and
  normalize_mac accepts only six pairs of hex digits.
- plain_ip never raises.
"""

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from twisted.internet import defer
from twisted.internet.address import IPv4Address
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure

from tests.fuzz.harness import attempt, fuzz_settings, mostly, tried
from xcatpy.boot.http import InstallTree, IpxeScript
from xcatpy.boot.monitor import STATUS, MonitorFactory
from xcatpy.boot.nodeindex import normalize_mac, plain_ip

PEER = "10.0.0.5"

# -- the install monitor ---------------------------------------------------------------------


class Resolver:
    """Answers like the real one (a node for our peer, none for others), sometimes fails."""

    def __init__(self, fail: bool) -> None:
        self.fail = fail
        self.calls: list[tuple] = []

    def _answer(self, value):
        return defer.fail(RuntimeError("resolver bug")) if self.fail else defer.succeed(value)

    def install_status(self, client: str, status: str):
        self.calls.append(("status", client, status))
        return self._answer("n1" if client == PEER else None)

    def finished(self, client: str):
        self.calls.append(("finished", client))
        return self._answer(("n1", "boot") if client == PEER else None)


LINES = st.one_of(
    st.sampled_from([b"installstatus installing", b"installstatus booted", b"next",
                     b"installstatus", b"installstatus a b", b"installstatus " + b"x" * 65,
                     b"installstatus in$talling", b"  next  ", b"NEXT", b"next now", b"",
                     b"installstatus \xff\xfe", b"installstatus \xd9\xa1", b"\0",
                     b"installstatus installing\r", b"x" * 600]),
    st.binary(max_size=30).map(lambda b: b.replace(b"\n", b"")),
)


@st.composite
def monitor_streams(draw) -> list[bytes]:
    lines = draw(st.lists(LINES, max_size=6))
    stream = b"".join(line + b"\n" for line in lines)
    if draw(st.booleans()):
        stream += draw(st.binary(max_size=8))     # an unfinished last line
    cuts = sorted(draw(st.lists(st.integers(0, len(stream)), max_size=5)))
    chunks, last = [], 0
    for cut in cuts + [len(stream)]:
        chunks.append(stream[last:cut])
        last = cut
    return chunks


REPLY = re.compile(r"^(ok n1 (boot|[A-Za-z0-9_.:-]{1,64})|error .+)$")


@fuzz_settings()
@given(monitor_streams(), st.booleans(), st.booleans())
def test_monitor_answers_any_lines(chunks, half_close, fail):
    check_monitor(chunks, half_close, fail)


def check_monitor(chunks: list[bytes], half_close: bool, fail: bool) -> None:
    """Feed the chunks to one connection and check the replies and the resolver's calls."""
    clock = Clock()
    resolver = Resolver(fail)
    proto = MonitorFactory(resolver).buildProtocol(None)
    proto.factory = MonitorFactory(resolver)
    proto.callLater = clock.callLater
    transport = StringTransport(peerAddress=IPv4Address("TCP", PEER, 4321))
    proto.makeConnection(transport)
    got = attempt("boot.monitor", lambda: _feed(proto, transport, chunks, half_close))
    assert got.ok
    replies = transport.value().decode().split("\n")
    assert replies[-1] == ""
    for line in replies[:-1]:
        assert REPLY.match(line), line
    for call in resolver.calls:
        assert call[1] == PEER
        if call[0] == "status":
            assert STATUS.match(call[2])
    if any(len(c) > 512 for c in b"".join(chunks).split(b"\n")):
        assert transport.disconnecting
    proto.connectionLost(Failure(ConnectionError("over")))
    assert not clock.getDelayedCalls(), "idle timeout still armed (was monitor-timeout-left)"


def _feed(proto, transport, chunks, half_close) -> None:
    for chunk in chunks:
        proto.dataReceived(chunk)
        if transport.disconnecting:
            return
    if half_close:
        proto.readConnectionLost()
        assert transport.disconnecting


# -- boot HTTP -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def install_tree(tmp_path_factory):
    base = tmp_path_factory.mktemp("boothttp")
    (base / "outside.txt").write_text("secret")
    (base / "outdir").mkdir()
    root = base / "install"
    (root / "rhels8" / "x86_64").mkdir(parents=True)
    (root / "rhels8" / "x86_64" / "vmlinuz").write_bytes(b"kernel")
    (root / "file").write_text("x")
    (root / "link_out").symlink_to(base / "outside.txt")
    (root / "dir_out").symlink_to(base / "outdir")
    (root / "dangling").symlink_to(base / "nowhere")
    return root


SEGMENTS = st.lists(mostly(st.sampled_from(["rhels8", "x86_64", "vmlinuz", "file", "..", ".",
                                            "", "link_out", "dir_out", "outside.txt",
                                            "dangling", "a/b", "a\\b", "\0", "..\\..", "é"]),
                           st.text(max_size=6)), max_size=5)


@fuzz_settings()
@given(SEGMENTS)
def test_install_tree_confines(install_tree, segments):
    import os

    tree = InstallTree(install_tree)
    got = attempt("boot.install_tree", lambda: tree._confined(segments))
    if got.value is not None:
        root = os.path.realpath(install_tree)
        real = os.path.realpath(got.value)
        assert real.startswith(root + os.sep) and os.path.isfile(real)


class FakeRequest:
    def __init__(self, postpath: list[bytes], args: dict) -> None:
        self.postpath, self.args = postpath, args
        self.method = b"GET"
        self.code, self.body, self.finished, self._disconnected = 200, b"", False, False

    def getClientAddress(self):
        return IPv4Address("TCP", PEER, 1)

    def getHost(self):
        return IPv4Address("TCP", "10.0.0.1", 80)

    def setResponseCode(self, code: int) -> None:
        self.code = code

    def setHeader(self, name, value) -> None:
        pass

    def write(self, data: bytes) -> None:
        self.body += data

    def finish(self) -> None:
        self.finished = True


class IpxeResolver:
    def __init__(self) -> None:
        self.macs: list = []

    def ipxe(self, mac, client, local):
        self.macs.append(mac)
        return defer.succeed(None)


MACS = st.one_of(
    st.sampled_from(["52:54:00:aa:00:01", "52-54-00-AA-00-01", "52:54:00:aa:00", "",
                     "52:54:00:aa:00:0g", "52:54:00:ab:  :cd", "52:54:00:ab:\t\n:cd",
                     "525400aa0001", "52:54:00:aa:00:01:02", "٥٢:54:00:aa:00:01"]),
    st.lists(st.text(alphabet="0123456789abcdefABCDEF \t-:", min_size=2, max_size=2),
             min_size=6, max_size=6).map(":".join),
    st.text(max_size=20),
)
MAC_SHAPE = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")


@fuzz_settings()
@given(MACS, st.booleans())
def test_ipxe_script_takes_only_macs(mac, in_path):
    resolver = IpxeResolver()
    raw = mac.encode("utf-8", "surrogatepass")
    request = FakeRequest([raw] if in_path else [], {} if in_path else {b"mac": [raw]})
    got = attempt("boot.ipxe", lambda: IpxeScript(resolver).render_GET(request))
    assert got.ok and request.finished and request.code in (200, 400, 404)
    for seen in resolver.macs:
        if seen is None:            # no MAC given: the node is found by its address
            continue
        norm = normalize_mac(seen)
        assert norm is not None and MAC_SHAPE.match(norm), f"{seen!r} taken as a MAC"


@fuzz_settings()
@given(MACS)
def test_normalize_mac(text):
    got = attempt("boot.normalize_mac", lambda: normalize_mac(text))
    # Was a bug (mac-whitespace): bytes.fromhex let blank pairs through.
    assert got.value is None or MAC_SHAPE.match(got.value), f"{text!r} -> {got.value!r}"


@fuzz_settings()
@given(st.one_of(st.sampled_from(["::ffff:10.0.0.5", "10.0.0.5", "fe80::1%eth0", "%", "::",
                                  "::ffff:", "1.2.3.4%x", "١.2.3.4"]), st.text(max_size=20)))
def test_plain_ip(address):
    got = attempt("boot.plain_ip", lambda: plain_ip(address))
    assert isinstance(got.value, str)


def test_normalize_mac_refuses_blank_pairs():
    for text in ("52:54:00:ab:  :cd", "52:54:00:ab: c:cd", "52:54:00:ab:c :cd",
                 "52:54:00:ab:\tc:cd", "52:54:00:ab:١٢:cd", "52:54:00:ab:+1:cd"):
        assert normalize_mac(text) is None, text
    assert normalize_mac(" 52-54-00-AB-cd-01\n") == "52:54:00:ab:cd:01"


def test_monitor_cancels_its_timeout_when_the_connection_ends():
    """Each closed connection used to leave its 60 s idle timer behind."""
    clock = Clock()
    proto = MonitorFactory(Resolver(False)).buildProtocol(None)
    proto.callLater = clock.callLater
    proto.makeConnection(StringTransport(peerAddress=IPv4Address("TCP", PEER, 4321)))
    proto.connectionLost(Failure(ConnectionError("over")))
    assert not clock.getDelayedCalls()


def test_monitor_regression_lines_answered_once():
    # One reply per complete line, whatever the chunking (a fixed example of the above).
    tried("boot.monitor")
    clock, resolver = Clock(), Resolver(False)
    proto = MonitorFactory(resolver).buildProtocol(None)
    proto.factory = MonitorFactory(resolver)
    proto.callLater = clock.callLater
    transport = StringTransport(peerAddress=IPv4Address("TCP", PEER, 4321))
    proto.makeConnection(transport)
    for chunk in (b"installstatus inst", b"alling\nne", b"xt\n", b"bogus\n"):
        proto.dataReceived(chunk)
    assert transport.value().decode().splitlines() == [
        "ok n1 installing", "ok n1 boot", "error expected 'installstatus <status>' or 'next'"]
    proto.connectionLost(Failure(ConnectionError("over")))
