"""Fuzzing the embedded DNS server: one datagram in, bytes out (DnsFactory.datagram), and
the TCP framing (TcpDns) fed in arbitrary chunks.

Properties:
- datagram() returns bytes or None for any input and never takes its internal-error path
  (it would answer SERVFAIL and log, hiding a crash: its counter must stay 0).
- A reply is a response (QR set) with the request's id that parses again; over UDP it fits
  the client's limit (512, or its EDNS size up to 4096); the FORMERR sent for an
  unreadable request is never larger than the request (no amplification).
- Over TCP, any byte stream gives only well-framed replies, at most one per request.
"""

import struct

import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
from hypothesis import given
from hypothesis import strategies as st
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.names import dns as tdns
from twisted.python.failure import Failure

from tests.fuzz.harness import attempt, fuzz_settings
from xcatpy.net.dns.server import MAX_UDP, DnsFactory
from xcatpy.net.dns.zones import ZoneData, ZoneSnapshot

RECORDS = tuple(
    [("n1.cluster.test", "A", 3600, "10.0.0.1"),
     ("v1.cluster.test", "AAAA", 3600, "fd00::5"),
     ("1.0.0.10.in-addr.arpa", "PTR", 3600, "n1.cluster.test"),
     ("deep.a.b.c.cluster.test", "A", 60, "10.0.0.9")]
    + [("big.cluster.test", "A", 60, f"10.0.1.{i}") for i in range(60)])
SNAPSHOT = ZoneSnapshot(ZoneData(("cluster.test", "0.0.10.in-addr.arpa"), RECORDS,
                                 "mgmt.cluster.test"), 7)

LABELS = st.one_of(
    st.sampled_from([b"n1", b"N1", b"v1", b"big", b"deep", b"a", b"b", b"c", b"nobody",
                     b"mgmt", b"*", b"1", b"0", b"10", b"in-addr", b"arpa", b"-", b"xn--x"]),
    st.binary(min_size=1, max_size=20),
    st.just(b"x" * 63),
)
SUFFIXES = st.sampled_from([[b"cluster", b"test"], [b"0", b"0", b"10", b"in-addr", b"arpa"],
                            [b"test"], [b"example", b"org"], []])


KNOWN_NAMES = st.sampled_from(["big.cluster.test.", "n1.cluster.test.", "cluster.test.",
                               "1.0.0.10.in-addr.arpa.", "BIG.Cluster.Test.",
                               "c.cluster.test."]).map(dns.name.from_text)


@st.composite
def names(draw) -> dns.name.Name:
    if draw(st.booleans()):
        return draw(KNOWN_NAMES)
    labels = draw(st.lists(LABELS, max_size=4)) + draw(SUFFIXES)
    while sum(len(label) + 1 for label in labels) > 254:
        labels.pop(0)
    return dns.name.Name(labels + [b""])


RDTYPES = st.one_of(st.sampled_from(["A", "A", "A", "AAAA", "PTR", "NS", "SOA", "ANY"]),
                    st.sampled_from(["TXT", "MX", "AXFR", "IXFR", "CNAME", "OPT"]),
                    st.integers(0, 0xFFFF)).map(
    lambda t: dns.rdatatype.from_text(t) if isinstance(t, str) else t)
RDCLASSES = st.sampled_from([dns.rdataclass.IN] * 4 + [dns.rdataclass.CH, dns.rdataclass.ANY,
                                                       dns.rdataclass.NONE, 0, 0xFFFF])


@st.composite
def queries(draw) -> bytes:
    edns = draw(st.sampled_from([None, None, 0, 0, 1, 255]))
    payload = None if edns is None else draw(st.sampled_from([512, 1232, 4096, 65535, 0, 100]))
    msg = dns.message.make_query(draw(names()), draw(RDTYPES), draw(RDCLASSES), use_edns=edns,
                                 payload=payload)
    if draw(st.integers(0, 5)) == 0:
        msg.set_opcode(draw(st.sampled_from([dns.opcode.UPDATE, dns.opcode.NOTIFY,
                                             dns.opcode.IQUERY, 3, 15])))
    if draw(st.integers(0, 5)) == 0:
        msg.flags |= draw(st.sampled_from([dns.flags.QR, dns.flags.TC, dns.flags.AA,
                                           dns.flags.CD, dns.flags.AD]))
    if draw(st.integers(0, 6)) == 0:
        msg.question.append(dns.rrset.RRset(draw(names()), dns.rdataclass.IN,
                                            dns.rdatatype.A))
    wire = msg.to_wire()
    how = draw(st.sampled_from([0] * 8 + [1, 2, 3]))
    if how == 1:
        wire = wire[:draw(st.integers(0, len(wire)))]
    elif how == 2:
        i = draw(st.integers(0, len(wire) - 1))
        wire = wire[:i] + bytes([wire[i] ^ draw(st.integers(1, 255))]) + wire[i + 1:]
    elif how == 3:
        i = draw(st.integers(0, len(wire)))
        wire = wire[:i] + draw(st.binary(min_size=1, max_size=8)) + wire[i:]
    return wire


@st.composite
def raw_queries(draw) -> bytes:
    """Queries written byte by byte: what dnspython refuses to write (labels holding '.',
    names over 255 bytes) is what a client can still send."""
    labels = draw(st.lists(st.one_of(
        st.binary(min_size=1, max_size=63),
        st.sampled_from([b".", b"a.", b"..", b"x" * 63, b"n1", b"cluster", b"test"])),
        min_size=1, max_size=4)) + [b"x" * 63] * draw(st.integers(0, 5))
    name = b"".join(bytes([len(label)]) + label for label in labels) + b"\0"
    header = struct.pack("!HHHHHH", draw(st.integers(0, 0xFFFF)),
                         draw(st.sampled_from([0x0100, 0, 0x2800, 0x0110])), 1, 0, 0, 0)
    return header + name + struct.pack("!HH", draw(st.sampled_from([1, 28, 12, 6, 255])),
                                       draw(st.sampled_from([1, 1, 255, 3])))


any_request = st.one_of(queries(), queries(), raw_queries(), st.binary(max_size=64),
                        st.binary(min_size=12, max_size=12).map(lambda h: h + b"\x00" * 5))


def _limit(data: bytes) -> int:
    message = tdns.Message()
    try:
        message.fromStr(data)
    except Exception:
        return 512
    opts = [r for r in message.additional if r.type == tdns.OPT]
    return max(512, min(opts[0].cls, MAX_UDP)) if len(opts) == 1 else 512


def _readable(data: bytes) -> bool:
    try:
        tdns.Message().fromStr(data)
    except Exception:
        return False
    return True


def _check_internal_errors(factory: DnsFactory) -> None:
    """The internal-error path (SERVFAIL and a logged traceback) is never taken. It hid
    dns-name-encode: a question name Twisted reads but cannot write back."""
    assert not factory.counters.failed, "internal error"


def _check_reply(request: bytes, reply: bytes | None, udp: bool) -> None:
    if reply is None:
        return
    assert _readable(reply)
    assert reply[:2] == request[:2] and reply[2] & 0x80      # our id, QR set
    if not _readable(request):
        assert len(reply) <= len(request)
    elif udp:
        assert len(reply) <= _limit(request)


@fuzz_settings()
@given(any_request, st.booleans())
def test_datagram_gives_a_valid_reply_or_none(data, udp):
    factory = DnsFactory(lambda: SNAPSHOT)
    got = attempt("dns.datagram", lambda: factory.datagram(data, udp))
    assert got.bug is None          # was dns-name-encode: nothing may leave datagram()
    _check_internal_errors(factory)
    _check_reply(data, got.value, udp)


@fuzz_settings(weight=0.3)
@given(any_request)
def test_datagram_before_the_first_snapshot(data):
    factory = DnsFactory(lambda: None)
    got = attempt("dns.datagram", lambda: factory.datagram(data, True))
    assert got.bug is None
    _check_internal_errors(factory)
    _check_reply(data, got.value, True)


@st.composite
def tcp_streams(draw) -> tuple[list[bytes], list[bytes]]:
    """(requests, the stream cut into chunks): requests framed with their length, and
    sometimes a frame whose length lies."""
    requests = draw(st.lists(any_request, max_size=5))
    stream = b"".join(struct.pack("!H", len(r)) + r for r in requests)
    if draw(st.integers(0, 4)) == 0:
        stream += draw(st.binary(max_size=10))
    cuts = sorted(draw(st.lists(st.integers(0, len(stream)), max_size=6)))
    chunks, last = [], 0
    for cut in cuts + [len(stream)]:
        chunks.append(stream[last:cut])
        last = cut
    return requests, chunks


@fuzz_settings(weight=0.5)
@given(tcp_streams())
def test_tcp_framing(stream):
    requests, chunks = stream
    clock = Clock()
    factory = DnsFactory(lambda: SNAPSHOT, reactor=clock)
    proto = factory.buildProtocol(None)
    transport = StringTransport()
    proto.makeConnection(transport)
    try:
        for chunk in chunks:
            got = attempt("dns.tcp", lambda c=chunk: proto.dataReceived(c))
            assert got.bug is None
            if transport.disconnecting:
                break
        _check_internal_errors(factory)
        out, replies = transport.value(), []
        while out:
            (size,) = struct.unpack("!H", out[:2])
            replies.append(out[2:2 + size])
            assert len(replies[-1]) == size
            out = out[2 + size:]
        assert len(replies) <= len(requests)
        for reply in replies:
            assert _readable(reply) and reply[2] & 0x80
    finally:
        proto.connectionLost(Failure(ConnectionError("test over")))
        assert not clock.getDelayedCalls()


def test_question_name_twisted_cannot_write():
    """Found by atheris: a question name with a label holding '.' and over 255 bytes
    (Twisted's decoder takes it, its encoder cannot write it back) used to raise out of
    datagram(), even from the SERVFAIL meant to cover it. Such names, and those Twisted
    would write back as other labels, get a header-only FORMERR."""
    factory = DnsFactory(lambda: SNAPSHOT)

    def ask(labels: list[bytes]) -> bytes | None:
        name = b"".join(bytes([len(label)]) + label for label in labels) + b"\0"
        query = struct.pack("!HHHHHH", 7, 0x0100, 1, 0, 0, 0) + name + struct.pack("!HH", 1, 1)
        return factory.datagram(query, True)

    for labels in ([b"."] + [b"a" * 63] * 5, [b"n1.cluster", b"test"], [b"x" * 64],
                   [b"a" * 63] * 4):
        reply = ask(labels)
        assert reply is not None and len(reply) == 12, labels
        assert reply[:2] == b"\0\7" and reply[2] & 0x80 and reply[3] & 0xF == tdns.EFORMAT
    assert factory.counters.malformed == 4 and factory.counters.failed == 0
    ok = tdns.Message()
    ok.fromStr(ask([b"n1", b"cluster", b"test"]))
    assert ok.rCode == tdns.OK and ok.answers and factory.counters.failed == 0
