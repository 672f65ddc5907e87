"""A pool of SSH connections, one per (address, port, user), shared by every command.

Runs entirely in the reactor thread. Many commands to one hypervisor share one connection as
concurrent session channels, at most `max_channels` at a time, the rest wait for a free one.
OpenSSH's MaxSessions is 10, but sshd frees a closed session late, so a burst of finishing
and starting commands needs headroom: with 8, about one open in ten was refused (and retried)
under load; with 6, almost none, at the same throughput.

A connection found dead is replaced; one idle for `idle_timeout` is closed, so the daemon
holds nothing stale. After a command times out its connection is retired: OpenSSH keeps
the session of a process that will not die, so new commands go to a fresh connection and
the old one closes when its other commands are done.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field

from twisted.internet.defer import Deferred, DeferredList, DeferredSemaphore
from twisted.internet.defer import TimeoutError as DeferredTimeout
from twisted.internet.endpoints import TCP4ClientEndpoint, TCP6ClientEndpoint
from twisted.internet.error import ConnectError, ConnectionRefusedError, NoRouteError
from twisted.internet.error import TimeoutError as TcpTimeout
from twisted.internet.protocol import ClientFactory
from twisted.internet.task import deferLater
from twisted.python.failure import Failure

from xcatpy.drivers.base import DriverError
from xcatpy.drivers.remote import CommandTimeout, RemoteResult, Target, UnreachableError
from xcatpy.drivers.ssh.keys import ClientKey
from xcatpy.drivers.ssh.knownhosts import HostKey
from xcatpy.drivers.ssh.transport import (
    ChannelOpenFailed,
    ClientTransport,
    Connection,
    ExecChannel,
    KeyProbe,
    cannot_connect,
)

# Seconds to wait before asking again after a refused channel open.
_REFUSAL_BACKOFF = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5)


@dataclass
class _Link:
    """The pooled connection to one (address, port, user) and the commands waiting on it."""

    current: Connection | None = None
    connect_waiters: list[Deferred] | None = None   # not None while connecting
    slot_waiters: list[Deferred] = field(default_factory=list)
    idle_call: object = None


class _OneProtocol(ClientFactory):
    def __init__(self, protocol) -> None:
        self._protocol = protocol

    def buildProtocol(self, addr):
        self._protocol.factory = self
        return self._protocol


class ConnectionPool:
    def __init__(self, reactor, *, connect_timeout: float = 10.0, idle_timeout: float = 60.0,
                 max_channels: int = 6) -> None:
        self.reactor = reactor
        self.connect_timeout = connect_timeout
        self.idle_timeout = idle_timeout
        self.max_channels = max_channels
        self._links: dict[tuple[str, int, str], _Link] = {}
        self._transports: set[ClientTransport] = set()
        self._shutdown_hooked = False
        self.connections_made = 0   # a count for tests and benchmarks

    # running commands

    def run(self, target: Target, ip: str, line: str, argv0: str, stdin: bytes | None,
            timeout: float | None, verify: Callable[[HostKey], None], known_types: list[str],
            key: ClientKey) -> Deferred[RemoteResult]:
        return Deferred.fromCoroutine(self._run(target, ip, line, argv0, stdin, timeout,
                                                verify, known_types, key))

    async def _run(self, target, ip, line, argv0, stdin, timeout, verify, known_types, key):
        self._hook_shutdown()
        link = self._links.setdefault((target.address, target.port, target.user), _Link())
        conn, channel = await self._open(link, target, ip, line, argv0, stdin, verify,
                                         known_types, key)
        timer = None
        if timeout is not None:
            timer = self.reactor.callLater(timeout, channel.expire, timeout)
        try:
            return await channel.finished
        except CommandTimeout:
            self._retire(link, conn)
            raise
        finally:
            if timer is not None and timer.active():
                timer.cancel()
            self._release(link, conn)

    async def _open(self, link, target, ip, line, argv0, stdin, verify, known_types, key):
        """An open session channel running the command, on a pooled connection."""
        retried_dead = False
        refusals = 0
        while True:
            conn = await self._acquire(link, target, ip, verify, known_types, key)
            channel = ExecChannel(target, line, argv0, stdin, conn)
            conn.openChannel(channel)
            opened = channel.opened
            opened.addTimeout(self.connect_timeout, self.reactor)
            try:
                await opened
                return conn, channel
            except ChannelOpenFailed as exc:
                self._release(link, conn)
                if exc.lost and not retried_dead:
                    # A pooled connection that died while idle; nothing ran, try a fresh one.
                    retried_dead = True
                    continue
                if exc.lost or refusals >= len(_REFUSAL_BACKOFF):
                    raise UnreachableError(f"{target.node}: {target.address} did not open a "
                                           f"session: {exc}") from None
                # sshd frees a closed session only after it has read every packet already
                # received, so a CLOSE and the next OPEN arriving together can be refused
                # even below MaxSessions: wait a moment and ask again. If refusals go on,
                # the server allows fewer sessions than we assumed: use fewer.
                if refusals >= 2 and conn.active > 0:
                    conn.cap = max(1, min(conn.cap, conn.active))
                await deferLater(self.reactor, _REFUSAL_BACKOFF[refusals])
                refusals += 1
            except DeferredTimeout:
                self._release(link, conn)
                self._retire(link, conn)
                raise UnreachableError(f"{target.node}: {target.address} did not open a "
                                       f"session within {self.connect_timeout:g}s") from None

    async def _acquire(self, link: _Link, target, ip, verify, known_types, key) -> Connection:
        """A live connection with a channel slot reserved for the caller."""
        while True:
            self._cancel_idle(link)
            conn = link.current
            if conn is None or conn.lost:
                conn = await self._connected(link, target, ip, verify, known_types, key)
            if conn.lost or conn.retired:
                continue
            if conn.active < conn.cap:
                conn.active += 1
                return conn
            waiter: Deferred[None] = Deferred()
            link.slot_waiters.append(waiter)
            await waiter

    def _connected(self, link: _Link, target, ip, verify, known_types, key) -> Deferred:
        waiter: Deferred[Connection] = Deferred()
        if link.connect_waiters is not None:
            link.connect_waiters.append(waiter)
            return waiter
        link.connect_waiters = [waiter]

        def done(result):
            waiters, link.connect_waiters = link.connect_waiters, None
            failed = isinstance(result, Failure)
            if not failed:
                link.current = result
            for w in waiters:
                if failed:
                    w.errback(result)
                else:
                    w.callback(result)

        self._connect(link, target, ip, verify, known_types, key).addBoth(done)
        return waiter

    def _connect(self, link: _Link, target: Target, ip: str, verify, known_types,
                 key: ClientKey) -> Deferred[Connection]:
        def lost(transport: ClientTransport) -> None:
            self._transports.discard(transport)
            conn = transport.connection
            if conn is not None and link.current is conn:
                link.current = None
                self._cancel_idle(link)
            self._wake(link)

        proto = ClientTransport(target, verify, key, known_types, self.max_channels, lost)
        self._transports.add(proto)
        attempt = _endpoint(self.reactor, ip, target.port, self.connect_timeout).connect(
            _OneProtocol(proto))
        attempt.addCallback(lambda _p: proto.ready)
        attempt.addTimeout(self.connect_timeout, self.reactor)
        attempt.addErrback(_connect_failure, target, self.connect_timeout)

        def made(conn: Connection) -> Connection:
            self.connections_made += 1
            return conn

        def failed(failure: Failure) -> Failure:
            self._transports.discard(proto)
            return failure

        return attempt.addCallbacks(made, failed)

    # slots, idling, retiring

    def _release(self, link: _Link, conn: Connection) -> None:
        conn.active -= 1
        if conn.retired:
            if conn.active == 0:
                conn.close()
            return
        self._wake(link, one=True)
        if conn is link.current and conn.active == 0 and not link.slot_waiters:
            self._cancel_idle(link)
            link.idle_call = self.reactor.callLater(self.idle_timeout, self._close_idle, link)

    def _retire(self, link: _Link, conn: Connection) -> None:
        conn.retired = True
        if link.current is conn:
            link.current = None
        if conn.active == 0:
            conn.close()
        self._wake(link)

    def _wake(self, link: _Link, one: bool = False) -> None:
        waiters = link.slot_waiters[:1] if one else list(link.slot_waiters)
        for w in waiters:
            link.slot_waiters.remove(w)
            w.callback(None)

    def _cancel_idle(self, link: _Link) -> None:
        if link.idle_call is not None and link.idle_call.active():
            link.idle_call.cancel()
        link.idle_call = None

    def _close_idle(self, link: _Link) -> None:
        link.idle_call = None
        conn = link.current
        if conn is not None and conn.active == 0 and not link.slot_waiters:
            link.current = None
            conn.close()

    def open_connections(self) -> int:
        return len(self._transports)

    # host keys for makeknownhosts

    def fetch_host_keys(self, targets: list[tuple[Target, str]],
                        parallel: int = 32) -> Deferred[list[HostKey | DriverError]]:
        """The key each (target, ip) offers, in input order; a DriverError where none came."""
        limit = DeferredSemaphore(parallel)

        def one(target: Target, ip: str) -> Deferred[HostKey]:
            probe = KeyProbe(target)
            d = _endpoint(self.reactor, ip, target.port, self.connect_timeout).connect(
                _OneProtocol(probe))
            d.addCallback(lambda _p: probe.offered)
            d.addTimeout(self.connect_timeout, self.reactor)
            return d.addErrback(_connect_failure, target, self.connect_timeout)

        runs = [limit.run(one, t, ip) for t, ip in targets]
        return DeferredList(runs, consumeErrors=True).addCallback(
            lambda results: [value if ok else value.value for ok, value in results])

    # shutdown

    def close_all(self) -> Deferred[None]:
        """Say goodbye on every connection; fires when they are gone (or after a second)."""
        for link in self._links.values():
            self._cancel_idle(link)
            link.current = None
        gone = []
        for proto in list(self._transports):
            if proto.transport is not None:
                proto.loseConnection()
                gone.append(proto.gone)
        done = DeferredList(gone)
        done.addTimeout(1.0, self.reactor)
        return done.addBoth(lambda _r: None)

    def _hook_shutdown(self) -> None:
        if not self._shutdown_hooked:
            self._shutdown_hooked = True
            self.reactor.addSystemEventTrigger("before", "shutdown", self.close_all)


def _endpoint(reactor, ip: str, port: int, timeout: float):
    cls = TCP6ClientEndpoint if ipaddress.ip_address(ip).version == 6 else TCP4ClientEndpoint
    return cls(reactor, ip, port, timeout=timeout)


def _connect_failure(failure: Failure, target: Target, timeout: float):
    if failure.check(DriverError):
        return failure
    if failure.check(DeferredTimeout, TcpTimeout):
        reason = f"timed out after {timeout:g}s"
    elif failure.check(ConnectionRefusedError):
        reason = "connection refused"
    elif failure.check(NoRouteError):
        reason = "no route to host"
    elif failure.check(ConnectError):
        reason = failure.getErrorMessage()
    else:
        return failure
    raise cannot_connect(target, reason)
