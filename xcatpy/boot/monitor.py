"""xCAT's install monitor: the plain-TCP line protocol installers use on port 3002.

A node sends `installstatus <status>` (recorded in nodelist.status) or `next` (its
install is finished: the chain advances, as with the HTTP callback), one per line. The
node is the peer address; nobody can report for another node.
"""

import re

from twisted.internet import interfaces, protocol
from twisted.logger import Logger
from twisted.protocols.basic import LineOnlyReceiver
from twisted.protocols.policies import TimeoutMixin
from zope.interface import implementer

from xcatpy.boot.nodeindex import plain_ip

log = Logger()
STATUS = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
IDLE_SECONDS = 60


@implementer(interfaces.IHalfCloseableProtocol)
class MonitorProtocol(LineOnlyReceiver, TimeoutMixin):
    """Half-close aware: busybox nc shuts its sending side after the line and then waits
    for the answer, so the connection ends only once every pending reply is written."""

    delimiter = b"\n"
    MAX_LENGTH = 512

    def connectionMade(self) -> None:
        self.setTimeout(IDLE_SECONDS)
        self.client = plain_ip(self.transport.getPeer().host)
        self.pending = 0
        self.input_closed = False

    def readConnectionLost(self) -> None:
        self.input_closed = True
        self._close_if_idle()

    def writeConnectionLost(self) -> None:
        self.transport.loseConnection()

    def _close_if_idle(self) -> None:
        if self.input_closed and not self.pending:
            self.transport.loseConnection()

    def lineReceived(self, line: bytes) -> None:
        self.resetTimeout()
        words = line.decode("utf-8", "replace").strip().split()
        if not words:
            return
        if words[0] == "installstatus" and len(words) == 2 and STATUS.match(words[1]):
            d = self.factory.resolver.install_status(self.client, words[1])
            d.addCallback(lambda node: self._reply(
                f"ok {node} {words[1]}" if node else f"error {self.client} is not a node"))
        elif words == ["next"]:
            d = self.factory.resolver.finished(self.client)
            d.addCallback(lambda result: self._reply(
                f"ok {result[0]} {result[1]}" if result
                else f"error {self.client} is not a node"))
        else:
            self._reply("error expected 'installstatus <status>' or 'next'")
            return
        self.pending += 1
        d.addErrback(self._failed)
        d.addBoth(self._settled)

    def _settled(self, _) -> None:
        self.pending -= 1
        self._close_if_idle()

    def _failed(self, failure) -> None:
        log.failure("install monitor request from {client} failed", failure,
                    client=self.client)
        self._reply("error internal error")

    def _reply(self, text: str) -> None:
        if self.transport is not None and self.connected:
            self.sendLine(text.encode())

    def lineLengthExceeded(self, line) -> None:
        self.transport.loseConnection()

    def timeoutConnection(self) -> None:
        self.transport.loseConnection()

    def connectionLost(self, reason) -> None:
        # The idle timer would otherwise outlive every connection by IDLE_SECONDS: one
        # DelayedCall per installer that ever reported, then loseConnection on a dead
        # transport. Not connected: a reply still on its way is dropped (_reply).
        self.setTimeout(None)
        self.connected = 0
        super().connectionLost(reason)


class MonitorFactory(protocol.ServerFactory):
    protocol = MonitorProtocol

    def __init__(self, resolver) -> None:
        self.resolver = resolver
