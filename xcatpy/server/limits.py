"""How long and how many: the bounds every TCP listener of xcatd puts on its connections.

A connection costs a file descriptor and some memory for as long as it stays open, so a
client that connects and sends nothing, or trickles a request a byte at a time
(slowloris), must not keep it forever, and no number of them may exhaust the process's
descriptors: past about a thousand nodes xCAT died with "too many open files" (xCAT
#4947). Three bounds:

- idle_timeout: nothing received while a request is expected (that includes a TLS
  handshake that never finishes), or, on the boot HTTP service, nothing of a response
  read by the client: the connection is closed.
- request_timeout: a request must arrive complete, head and body, within this time of
  its first byte (of the connection, for the first request). Receiving a byte does not
  restart it, so trickling does not help.
- max_connections: open connections per listener. Beyond it a new connection is closed
  at once; one client address may hold at most half of them, so a single flooding host
  leaves room for everyone else. The default is sized from RLIMIT_NOFILE, which xcatd
  raises from its soft to its hard limit at start.

TFTP keeps no connections, but each transfer holds a UDP socket: the number of concurrent
transfers is sized from the same limit (tftp_sessions).

Refusals and timeouts are logged at most once per LOG_EVERY seconds per listener and
kind, with a count: a flood must not become a flood of log lines.
"""

import resource
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from twisted.internet import interfaces
from twisted.logger import Logger
from twisted.protocols import policies
from twisted.web import http
from zope.interface import implementer

log = Logger()

IDLE_TIMEOUT = 30.0
REQUEST_TIMEOUT = 60.0
# Enough for a boot storm of thousands of nodes per listener, when the fd limit allows.
MAX_CONNECTIONS = 10000
# TFTP's own default (xcatpy/boot/tftp/protocol.py); each transfer holds a UDP socket.
MAX_TFTP_SESSIONS = 4096
LOG_EVERY = 10.0


@dataclass(frozen=True)
class Limits:
    idle_timeout: float = IDLE_TIMEOUT
    request_timeout: float = REQUEST_TIMEOUT
    max_connections: int = MAX_CONNECTIONS
    tftp_sessions: int = MAX_TFTP_SESSIONS


def raise_fd_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard one (distributions default the soft one to
    1024, xCAT #4947); the limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        # Linux refuses RLIM_INFINITY above fs.nr_open; 1M is what systemd uses.
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError) as exc:
            log.warn("cannot raise the open-files limit from {soft} to {target}: {error}",
                     soft=soft, target=target, error=exc)
    return soft


def connection_cap(listeners: int, requested: int | None = None,
                   fd_limit: int | None = None) -> int:
    """Connections per listener: the one asked for, or MAX_CONNECTIONS, but never more than
    the listeners' share of the fd limit once a quarter of it (at least 64) is kept for
    the database, TFTP transfers, SSH sessions and log files."""
    share = max(1, (_fd_limit(fd_limit) - _reserve(fd_limit)) // max(1, listeners))
    return max(1, min(requested or MAX_CONNECTIONS, share))


def tftp_sessions(fd_limit: int | None = None) -> int:
    """Concurrent TFTP transfers: half of the descriptors connection_cap keeps back."""
    return max(16, min(MAX_TFTP_SESSIONS, _reserve(fd_limit) // 2))


def _fd_limit(fd_limit: int | None) -> int:
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0] if fd_limit is None else fd_limit


def _reserve(fd_limit: int | None) -> int:
    return max(64, _fd_limit(fd_limit) // 4)


class Notices:
    """Log lines that a flood would repeat, at most once per LOG_EVERY s per kind, each
    with the number of times it happened since the last one."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._said: dict[str, float] = {}
        self._unsaid: Counter[str] = Counter()

    def say(self, kind: str, format: str, **fields) -> None:
        now = self.clock()
        if now - self._said.get(kind, float("-inf")) < LOG_EVERY:
            self._unsaid[kind] += 1
            return
        self._said[kind] = now
        more = self._unsaid.pop(kind, 0)
        log.warn(format + (f" ({more} more since the last such message)" if more else ""),
                 **fields)


NOTICES = Notices()


class _Counted(policies.ProtocolWrapper, policies.TimeoutMixin):
    """A connection the factory counts; with the factory's timeouts, also the idle and
    lifetime bounds of a protocol that has none of its own (the install monitor). Neither
    cuts off an answer being worked on: while the protocol says it owes replies (its
    `pending` count, as the install monitor keeps one while the database records a
    status), the bounds wait another idle period."""

    _lifetime_call = None

    def connectionMade(self) -> None:
        f = self.factory
        if f.idle_timeout:
            self.callLater = f.reactor.callLater
            self.setTimeout(f.idle_timeout)
        if f.lifetime:
            self._lifetime_call = f.reactor.callLater(f.lifetime, self._expired)
        super().connectionMade()

    def dataReceived(self, data: bytes) -> None:
        self.resetTimeout()
        super().dataReceived(data)

    def _owes_replies(self) -> bool:
        return getattr(self.wrappedProtocol, "pending", 0) > 0

    def timeoutConnection(self) -> None:
        if self._owes_replies():
            self.setTimeout(self.factory.idle_timeout)
            return
        self.factory.notices.say(f"{self.factory.label} idle",
                                 "{label}: closed a connection from {peer} idle for {n} s",
                                 label=self.factory.label, peer=self.peer_host,
                                 n=self.factory.idle_timeout)
        self.transport.abortConnection()

    def _expired(self) -> None:
        self._lifetime_call = None
        if self._owes_replies():
            self._lifetime_call = self.factory.reactor.callLater(
                self.factory.idle_timeout or self.factory.lifetime, self._expired)
            return
        self.factory.notices.say(f"{self.factory.label} lifetime",
                                 "{label}: closed a connection from {peer} open for {n} s",
                                 label=self.factory.label, peer=self.peer_host,
                                 n=self.factory.lifetime)
        self.transport.abortConnection()

    def connectionLost(self, reason) -> None:
        self.setTimeout(None)
        if self._lifetime_call is not None and self._lifetime_call.active():
            self._lifetime_call.cancel()
        self._lifetime_call = None
        super().connectionLost(reason)


@implementer(interfaces.IHalfCloseableProtocol)
class _HalfCloseableCounted(_Counted):
    """For a wrapped protocol that reads to end of input and then answers (busybox nc
    sends its line and shuts its side): without this the transport takes the half close
    for a full one."""

    def readConnectionLost(self) -> None:
        self.wrappedProtocol.readConnectionLost()

    def writeConnectionLost(self) -> None:
        self.wrappedProtocol.writeConnectionLost()


class CappedFactory(policies.WrappingFactory):
    """At most `cap` connections through `wrapped` (half of them per client address);
    more are closed as soon as accepted. `idle_timeout` and `lifetime` (seconds) bound
    each connection when the wrapped protocol does not."""

    protocol = _Counted
    noisy = False

    def __init__(self, wrapped, label: str, cap: int, *, idle_timeout: float | None = None,
                 lifetime: float | None = None, reactor=None,
                 notices: Notices = NOTICES) -> None:
        super().__init__(wrapped)
        if reactor is None:
            from twisted.internet import reactor
        self.reactor = reactor
        self.label = label
        self.cap = cap
        self.per_peer = max(1, cap // 2)
        self.idle_timeout = idle_timeout
        self.lifetime = lifetime
        self.notices = notices
        self.by_peer: Counter[str] = Counter()
        self.refused = 0

    @property
    def open_connections(self) -> int:
        return len(self.protocols)

    def buildProtocol(self, addr):
        host = getattr(addr, "host", "")
        if len(self.protocols) >= self.cap:
            return self._refuse("cap", host, f"{len(self.protocols)} connections are open, "
                                "the cap")
        if self.by_peer[host] >= self.per_peer:
            return self._refuse("peer", host, f"it holds {self.by_peer[host]}, half the cap "
                                f"of {self.cap}")
        inner = self.wrappedFactory.buildProtocol(addr)
        if inner is None:
            return None
        wrapper = (_HalfCloseableCounted
                   if interfaces.IHalfCloseableProtocol.providedBy(inner) else self.protocol)
        proto = wrapper(self, inner)
        proto.peer_host = host
        return proto

    def _refuse(self, kind: str, host: str, why: str) -> None:
        self.refused += 1
        self.notices.say(f"{self.label} refused {kind}",
                         "{label}: refused a connection from {peer}: {why} "
                         "(xcatd --max-connections)", label=self.label, peer=host, why=why)
        return None

    def registerProtocol(self, p) -> None:
        super().registerProtocol(p)
        self.by_peer[p.peer_host] += 1

    def unregisterProtocol(self, p) -> None:
        if p in self.protocols:
            self.by_peer[p.peer_host] -= 1
            if self.by_peer[p.peer_host] <= 0:
                del self.by_peer[p.peer_host]
        super().unregisterProtocol(p)


class BoundedHTTPChannel(http.HTTPChannel):
    """twisted.web's channel, whose idle timer restarts on every byte received, with the
    total-time bound on receiving a request (request_timeout) and, where set, a bound on
    how long a client may read nothing of a response (stall_timeout)."""

    label = "HTTP"
    request_timeout: float | None = REQUEST_TIMEOUT
    stall_timeout: float | None = None
    notices = NOTICES
    _head_call = None
    _stall_call = None

    def connectionMade(self) -> None:
        super().connectionMade()
        self._arm_head()

    def dataReceived(self, data: bytes) -> None:
        if self._head_call is None and not self._handlingRequest:
            self._arm_head()
        super().dataReceived(data)

    def allContentReceived(self) -> None:
        self._cancel("_head_call")
        super().allContentReceived()

    def pauseProducing(self) -> None:
        super().pauseProducing()
        if self.stall_timeout and self._stall_call is None:
            self._stall_call = self.callLater(self.stall_timeout, self._stalled)

    def resumeProducing(self) -> None:
        self._cancel("_stall_call")
        super().resumeProducing()

    def timeoutConnection(self) -> None:
        # twisted.web logs every one; a thousand idle clients would be a thousand lines.
        self._drop("idle", "nothing received for {n} s", self.timeOut)

    def connectionLost(self, reason) -> None:
        self._cancel("_head_call")
        self._cancel("_stall_call")
        super().connectionLost(reason)

    def _arm_head(self) -> None:
        if self.request_timeout:
            self._head_call = self.callLater(self.request_timeout, self._head_expired)

    def _head_expired(self) -> None:
        self._head_call = None
        self._drop("request", "no complete request within {n} s", self.request_timeout)

    def _stalled(self) -> None:
        self._stall_call = None
        self._drop("stalled", "the client read nothing for {n} s", self.stall_timeout)

    def _drop(self, kind: str, why: str, seconds: float | None) -> None:
        peer = getattr(self.transport.getPeer(), "host", "?")
        self.notices.say(f"{self.label} {kind}", "{label}: closed the connection from "
                         "{peer}: " + why, label=self.label, peer=peer, n=seconds)
        self.transport.abortConnection()

    def _cancel(self, name: str) -> None:
        call = getattr(self, name)
        if call is not None:
            if call.active():
                call.cancel()
            setattr(self, name, None)


def bound_site(site: http.HTTPFactory, label: str, limits: Limits, *,
               stall: bool = False) -> http.HTTPFactory:
    """Make `site` build BoundedHTTPChannels with `limits` (stall: also drop clients that
    stop reading a response, for services whose clients are not authenticated)."""
    site.protocol = type("BoundedHTTPChannel", (BoundedHTTPChannel,), {
        "label": label, "request_timeout": limits.request_timeout,
        "stall_timeout": limits.idle_timeout if stall else None})
    site.timeOut = limits.idle_timeout
    return site
