"""The install monitor's connection lifetime, on a Clock: an idle connection is dropped
after IDLE_SECONDS, and a connection that ends leaves no timer behind (each one used to
leave its idle timer armed for 60 s, then call loseConnection on a dead transport)."""

from twisted.internet import defer
from twisted.internet.address import IPv4Address
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure

from xcatpy.boot.monitor import IDLE_SECONDS, MonitorFactory

PEER = "10.0.0.5"


class Resolver:
    def __init__(self) -> None:
        self.pending: list[defer.Deferred] = []

    def install_status(self, client: str, status: str) -> defer.Deferred:
        d = defer.Deferred()
        self.pending.append(d)
        return d

    def finished(self, client: str) -> defer.Deferred:
        return defer.succeed(("n1", "boot"))


def connect(resolver=None):
    clock = Clock()
    proto = MonitorFactory(resolver or Resolver()).buildProtocol(None)
    proto.callLater = clock.callLater
    transport = StringTransport(peerAddress=IPv4Address("TCP", PEER, 4321))
    proto.makeConnection(transport)
    return clock, proto, transport


def end(proto) -> None:
    proto.connectionLost(Failure(ConnectionError("closed")))


def test_an_idle_connection_is_dropped_after_the_timeout():
    clock, proto, transport = connect()
    proto.dataReceived(b"next\n")
    clock.advance(IDLE_SECONDS - 1)
    assert not transport.disconnecting            # a line restarts the count
    clock.advance(1)
    assert transport.disconnecting and transport.value() == b"ok n1 boot\n"
    end(proto)
    assert clock.getDelayedCalls() == []


def test_a_connection_that_ends_leaves_no_timer():
    for lines in (b"", b"next\n", b"bogus\n", b"x" * 600 + b"\n"):
        clock, proto, transport = connect()
        proto.dataReceived(lines)
        end(proto)
        assert clock.getDelayedCalls() == [], lines
        clock.advance(IDLE_SECONDS * 2)          # nothing fires on the dead transport


def test_an_answer_after_the_connection_ended_is_dropped():
    resolver = Resolver()
    clock, proto, transport = connect(resolver)
    proto.dataReceived(b"installstatus installing\n")
    end(proto)
    assert clock.getDelayedCalls() == []
    resolver.pending[0].callback("n1")
    assert transport.value() == b""
