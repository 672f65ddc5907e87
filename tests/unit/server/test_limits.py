"""Connection bounds (xcatpy/server/limits.py) on a fake clock and string transports: the
request timer that trickling does not restart, the stall timer, the caps, the sizing from
the open-files limit, the rate-limited log, and the settings that choose them. The real
daemon under real crowds is tested in tests/load/."""

import pytest
from twisted.internet.address import IPv4Address
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.logger import capturedLogs
from twisted.web import resource, server

from xcatpy.errors import XcatError
from xcatpy.server.daemon import parse_args, resolve
from xcatpy.server.limits import (
    CappedFactory,
    Limits,
    Notices,
    bound_site,
    connection_cap,
    tftp_sessions,
)


class Hello(resource.Resource):
    isLeaf = True

    def render_GET(self, request):
        if request.path == b"/slow":      # a response still being sent
            request.write(b"part of a kernel")
            return server.NOT_DONE_YET
        return b"hello"


def connect(factory, clock: Clock, host: str = "10.0.0.9"):
    proto = factory.buildProtocol(IPv4Address("TCP", host, 40000))
    if proto is None:
        return None, None
    proto.callLater = clock.callLater
    transport = StringTransport(peerAddress=IPv4Address("TCP", host, 40000))
    proto.makeConnection(transport)
    return proto, transport


def site(clock: Clock, stall: bool = False) -> server.Site:
    s = server.Site(Hello(), reactor=clock)
    return bound_site(s, "HTTP", Limits(idle_timeout=5, request_timeout=12), stall=stall)


def test_trickling_a_request_does_not_outlast_the_request_timeout():
    clock = Clock()
    channel, transport = connect(site(clock), clock)
    for byte in b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaa":
        channel.dataReceived(bytes([byte]))
        clock.advance(1)       # one byte a second: the idle timer (5 s) never fires
        if transport.disconnected:
            break
    assert transport.disconnected and clock.seconds() == 12
    channel.connectionLost(None)
    assert clock.getDelayedCalls() == [], "a timer outlived its connection"


def test_a_request_in_time_is_answered_and_leaves_no_timer():
    clock = Clock()
    channel, transport = connect(site(clock), clock)
    clock.advance(4)
    channel.dataReceived(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert transport.value().endswith(b"hello") and not transport.disconnected
    clock.advance(30)          # a running request is never cut off; done, it closes
    channel.connectionLost(None)
    assert clock.getDelayedCalls() == []


def test_idle_keepalive_connection_is_closed_after_the_idle_timeout():
    clock = Clock()
    channel, transport = connect(site(clock), clock)
    channel.dataReceived(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert transport.value().endswith(b"hello")
    clock.advance(4.9)
    assert not transport.disconnected
    clock.advance(0.2)
    assert transport.disconnected


def test_a_client_that_reads_nothing_is_dropped_only_where_asked():
    for stall, dropped in ((True, True), (False, False)):
        clock = Clock()
        channel, transport = connect(site(clock, stall=stall), clock)
        channel.dataReceived(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
        channel.pauseProducing()            # the transport's buffer is full
        clock.advance(6)
        assert transport.disconnected is dropped
        channel.resumeProducing()
        channel.connectionLost(None)


def test_caps_per_listener_and_per_address():
    clock = Clock()
    notices = Notices(clock.seconds)
    capped = CappedFactory(Factory.forProtocol(Protocol), "API", 4, reactor=clock,
                           notices=notices)
    held = [connect(capped, clock, "10.0.0.1")[0] for _ in range(3)]
    assert held[2] is None, "one address took more than half the cap"
    held += [connect(capped, clock, "10.0.0.2")[0] for _ in range(2)]
    assert connect(capped, clock, "10.0.0.3")[0] is None and capped.refused == 2
    held[0].connectionLost(None)
    assert connect(capped, clock, "10.0.0.3")[0] is not None
    assert capped.open_connections == 4


def test_refusals_are_logged_once_per_ten_seconds_with_a_count():
    clock = Clock()
    capped = CappedFactory(Factory.forProtocol(Protocol), "HTTP", 2, reactor=clock,
                           notices=Notices(clock.seconds))
    with capturedLogs() as events:
        for _ in range(50):
            connect(capped, clock, "10.0.0.1")
        clock.advance(10)
        connect(capped, clock, "10.0.0.1")
    texts = [e["log_format"].format(**e) for e in events if "refused" in e["log_format"]]
    assert len(texts) == 2 and capped.refused == 50
    assert texts[0] == ("HTTP: refused a connection from 10.0.0.1: it holds 1, half the cap "
                        "of 2 (xcatd --max-connections)")
    assert texts[1].endswith("(48 more since the last such message)")


def test_idle_and_lifetime_bounds_for_a_protocol_without_its_own():
    clock = Clock()
    capped = CappedFactory(Factory.forProtocol(Protocol), "install monitor", 10,
                           idle_timeout=5, lifetime=12, reactor=clock)
    proto, transport = connect(capped, clock)
    for _ in range(11):
        proto.dataReceived(b"x")
        clock.advance(1)
    assert not transport.disconnected
    clock.advance(1)
    assert transport.disconnected
    proto.connectionLost(None)
    assert clock.getDelayedCalls() == [] and capped.open_connections == 0
    proto, transport = connect(capped, clock)
    clock.advance(5)
    assert transport.disconnected


def test_a_reply_still_owed_is_not_cut_off():
    clock = Clock()

    class Owing(Protocol):
        pending = 1         # as the install monitor while the database is busy

    capped = CappedFactory(Factory.forProtocol(Owing), "install monitor", 10,
                           idle_timeout=5, lifetime=12, reactor=clock)
    proto, transport = connect(capped, clock)
    clock.advance(30)
    assert not transport.disconnected
    proto.wrappedProtocol.pending = 0
    clock.advance(5)
    assert transport.disconnected


@pytest.mark.parametrize("fd_limit,listeners,requested,cap", [
    (400, 3, None, 100),
    (1024, 4, None, 192),
    (20000, 3, None, 5000),
    (1 << 20, 4, None, 10000),
    (20000, 3, 50, 50),
    (400, 3, 5000, 100),        # never more than the descriptors allow
])
def test_caps_are_sized_below_the_open_files_limit(fd_limit, listeners, requested, cap):
    assert connection_cap(listeners, requested, fd_limit) == cap


def test_tftp_transfers_fit_in_what_the_caps_leave():
    assert [tftp_sessions(n) for n in (256, 400, 1024, 20000, 1 << 20)] == \
        [32, 50, 128, 2500, 4096]


def settings(tmp_path, *argv, conf=None):
    args = ["--state-dir", str(tmp_path / "state"), "--port", "3001", "--monitor-port",
            "3002"]
    if conf is not None:
        (tmp_path / "xcatd.conf").write_text("[xcatd]\n" + conf)
        args += ["--config", str(tmp_path / "xcatd.conf")]
    return resolve(parse_args([*args, *argv]))[0]


def test_settings_flag_over_config_over_default(tmp_path):
    s = settings(tmp_path)
    assert (s.idle_timeout, s.request_timeout, s.max_connections) == (30, 60, None)
    s = settings(tmp_path, "--idle-timeout", "2.5",
                 conf="idle_timeout = 9\nrequest_timeout = 20\nmax_connections = 300\n")
    assert (s.idle_timeout, s.request_timeout, s.max_connections) == (2.5, 20, 300)
    assert s.limits().max_connections <= 300


def test_bad_settings_are_named(tmp_path):
    with pytest.raises(XcatError, match=r"Invalid --idle-timeout '0': expected a number"):
        settings(tmp_path, "--idle-timeout", "0")
    with pytest.raises(XcatError, match=r"Invalid request_timeout 'soon'"):
        settings(tmp_path, conf="request_timeout = soon\n")
    with pytest.raises(XcatError, match=r"Invalid max_connections '0'"):
        settings(tmp_path, conf="max_connections = 0\n")
