"""The SSH protocol pieces, on Twisted Conch: transport, key authentication, exec channels.

Everything here runs in the reactor thread and knows nothing about pooling or threads
(pool.py). The transport refuses the connection inside key exchange when the host key is
not the recorded one, so nothing (not even the user name) is sent to an unverified host.
"""

from __future__ import annotations

import signal
import struct
from collections.abc import Callable

from twisted.conch.ssh import channel, common, connection, userauth
from twisted.conch.ssh import transport as sshtransport
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.error import ConnectionLost

from xcatpy.drivers.base import DriverError
from xcatpy.drivers.remote import (
    CommandTimeout,
    HostKeyError,
    RemoteResult,
    SessionError,
    Target,
    UnreachableError,
)
from xcatpy.drivers.ssh.keys import ClientKey
from xcatpy.drivers.ssh.knownhosts import HostKey

# Host key algorithms we accept, best first. SHA-1 RSA signatures (ssh-rsa) and DSA are left
# out, as OpenSSH has done by default since 8.8.
_ALGORITHMS_BY_KEYTYPE = {
    "ssh-ed25519": [b"ssh-ed25519"],
    "ecdsa-sha2-nistp256": [b"ecdsa-sha2-nistp256"],
    "ecdsa-sha2-nistp384": [b"ecdsa-sha2-nistp384"],
    "ecdsa-sha2-nistp521": [b"ecdsa-sha2-nistp521"],
    "ssh-rsa": [b"rsa-sha2-512", b"rsa-sha2-256"],
}


def host_key_algorithms(known_types: list[str]) -> list[bytes]:
    """Our preference order, with the key types already recorded for the host first: a host
    with several keys then shows the one we can verify (OpenSSH orders them the same way)."""
    conch = set(sshtransport.SSHClientTransport.supportedPublicKeys)
    order = [t for t in known_types if t in _ALGORITHMS_BY_KEYTYPE]
    order += [t for t in _ALGORITHMS_BY_KEYTYPE if t not in order]
    return [alg for t in order for alg in _ALGORITHMS_BY_KEYTYPE[t] if alg in conch]


def cannot_connect(target: Target, reason: str) -> UnreachableError:
    return UnreachableError(f"{target.node}: cannot connect to {target.address}:{target.port}: "
                            f"{reason}")


class ClientTransport(sshtransport.SSHClientTransport):
    """One connection: key exchange, host key check, key authentication, then `ready` fires
    with the Connection service."""

    def __init__(self, target: Target, check_host_key: Callable[[HostKey], None],
                 key: ClientKey, known_types: list[str], max_channels: int,
                 on_lost: Callable[[ClientTransport], None]) -> None:
        self.target = target
        self._check_host_key = check_host_key
        self._key = key
        self._max_channels = max_channels
        self._on_lost = on_lost
        self.supportedPublicKeys = host_key_algorithms(known_types)
        self.problem: DriverError | None = None
        self.ready: Deferred[Connection] = Deferred(canceller=lambda _d: self.abort())
        self.gone: Deferred[None] = Deferred()
        self.connection: Connection | None = None

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abortConnection()

    def connectionMade(self) -> None:
        # Commands are small request/reply exchanges; Nagle's algorithm would hold each
        # small packet back for the peer's delayed ACK (~40 ms a command).
        self.transport.setTcpNoDelay(True)
        super().connectionMade()

    def verifyHostKey(self, hostKey: bytes, fingerprint: bytes) -> Deferred:
        try:
            self._check_host_key(HostKey.from_blob(hostKey))
        except (HostKeyError, ValueError) as exc:
            self.problem = (exc if isinstance(exc, HostKeyError) else
                            HostKeyError(f"{self.target.node}: unreadable host key from "
                                         f"{self.target.address}: {exc}"))
            return fail(self.problem)
        return succeed(True)

    def connectionSecure(self) -> None:
        self.connection = Connection(self._max_channels)
        self.requestService(_KeyAuth(self.target.user.encode(), self.connection, self._key))

    def sendDisconnect(self, reason, desc) -> None:
        if (reason == sshtransport.DISCONNECT_NO_MORE_AUTH_METHODS_AVAILABLE
                and self.problem is None):
            t = self.target
            self.problem = UnreachableError(
                f"{t.node}: {t.address} refused key authentication as {t.user} with "
                f"{self._key.path}; put {self._key.path}.pub into {t.user}'s authorized_keys "
                "on the host")
        super().sendDisconnect(reason, desc)

    def receiveError(self, reasonCode, description) -> None:
        if self.problem is None:
            text = description.decode("utf-8", "replace") if description else f"{reasonCode}"
            self.problem = cannot_connect(self.target, f"the server disconnected: {text}")

    def connection_ready(self, conn: Connection) -> None:
        if not self.ready.called:
            self.ready.callback(conn)

    def connectionLost(self, reason=None) -> None:
        super().connectionLost(reason)
        if not self.ready.called:
            why = reason.getErrorMessage() if reason is not None else "closed"
            self.ready.errback(self.problem or cannot_connect(
                self.target, f"connection closed during the SSH handshake ({why})"))
        self._on_lost(self)
        if not self.gone.called:
            self.gone.callback(None)


class _KeyAuth(userauth.SSHUserAuthClient):
    """Public key only: a daemon has nobody to type a password."""

    preferredOrder = [b"publickey"]

    def __init__(self, user: bytes, instance, key: ClientKey) -> None:
        super().__init__(user, instance)
        self._key = key
        self._offered = False

    def getPublicKey(self):
        if self._offered:
            return None
        self._offered = True
        return self._key.public

    def getPrivateKey(self):
        return succeed(self._key.private)

    def auth_password(self) -> bool:
        return False

    def auth_keyboard_interactive(self) -> bool:
        return False


class Connection(connection.SSHConnection):
    """The connection service, with the bookkeeping the pool needs: how many channels are
    open (`active`, at most `cap`), whether it may take new ones, whether it is gone."""

    def __init__(self, cap: int) -> None:
        super().__init__()
        self.cap = cap
        self.active = 0
        self.retired = False
        self.lost = False

    def serviceStarted(self) -> None:
        super().serviceStarted()
        self.transport.connection_ready(self)

    def serviceStopped(self) -> None:
        self.lost = True
        super().serviceStopped()

    def close(self) -> None:
        if not self.lost:
            self.transport.loseConnection()


class ChannelOpenFailed(Exception):
    """The session channel did not open; nothing ran. `lost`: the connection went away first
    (a dead pooled connection, worth one retry on a fresh one)."""

    def __init__(self, text: str, code: int | None = None, lost: bool = False) -> None:
        super().__init__(text)
        self.code = code
        self.lost = lost


_SIGNAL_NUMBERS = {s.name[3:]: s.value for s in signal.Signals if not s.name.startswith("SIG_")}


class ExecChannel(channel.SSHChannel):
    """A session channel running one command line.

    `opened` fires when the channel is open (or fails with ChannelOpenFailed); `finished`
    with the RemoteResult, or CommandTimeout / SessionError / UnreachableError.
    """

    name = b"session"

    def __init__(self, target: Target, line: str, argv0: str, stdin: bytes | None,
                 conn: Connection) -> None:
        super().__init__(conn=conn)
        self.target = target
        self.line = line
        self.argv0 = argv0
        self.stdin = stdin or b""
        self.opened: Deferred[ExecChannel] = Deferred()
        self.finished: Deferred[RemoteResult] = Deferred()
        self._stdout: list[bytes] = []
        self._stderr: list[bytes] = []
        self._exit_status: int | None = None
        self._eof_pending = False

    # opening and starting the command

    def channelOpen(self, specificData) -> None:
        if self.opened.called:  # the caller gave up waiting for it
            self.loseConnection()
            return
        self.opened.callback(self)
        d = self.conn.sendRequest(self, b"exec", common.NS(self.line.encode()), wantReply=True)
        d.addCallbacks(self._exec_accepted, self._exec_refused)

    def openFailed(self, reason) -> None:
        if self.opened.called:
            return
        if isinstance(reason, ConnectionLost) or getattr(self.conn, "lost", False):
            self.opened.errback(ChannelOpenFailed("connection lost", lost=True))
        else:
            code = getattr(reason, "data", None)
            text = getattr(reason, "value", None) or str(reason)
            if isinstance(text, bytes):
                text = text.decode("utf-8", "replace")
            self.opened.errback(ChannelOpenFailed(str(text), code if isinstance(code, int)
                                                  else None))

    def _exec_accepted(self, _ignored) -> None:
        if self.stdin:
            self.write(self.stdin)
        self._eof_pending = True
        self._send_eof_if_flushed()

    def _exec_refused(self, reason) -> None:
        if not self.finished.called and not self.conn.lost and not self.localClosed:
            self._finish(UnreachableError(f"{self.target.node}: {self.target.address} refused "
                                          f"to run '{self.argv0}'"))
            self.loseConnection()

    def _send_eof_if_flushed(self) -> None:
        if self._eof_pending and not self.buf:
            self._eof_pending = False
            self.conn.sendEOF(self)

    def addWindowBytes(self, data) -> None:
        super().addWindowBytes(data)
        self._send_eof_if_flushed()

    # what comes back

    def dataReceived(self, data: bytes) -> None:
        self._stdout.append(data)

    def extReceived(self, dataType: int, data: bytes) -> None:
        if dataType == connection.EXTENDED_DATA_STDERR:
            self._stderr.append(data)

    def request_exit_status(self, data: bytes) -> int:
        (self._exit_status,) = struct.unpack(">L", data[:4])
        return 1

    def request_exit_signal(self, data: bytes) -> int:
        name, rest = common.getNS(data)
        signame = name.decode("ascii", "replace")
        # A shell reports a command killed by signal N as 128 + N; do the same.
        self._exit_status = 128 + _SIGNAL_NUMBERS.get(signame, 0)
        if self._stderr and not self._stderr[-1].endswith(b"\n"):
            self._stderr.append(b"\n")
        self._stderr.append(f"killed by signal {signame}\n".encode())
        return 1

    def closed(self) -> None:
        if self._exit_status is not None:
            self._finish(RemoteResult(self._exit_status,
                                      b"".join(self._stdout).decode("utf-8", "replace"),
                                      b"".join(self._stderr).decode("utf-8", "replace")))
        elif self.conn.lost:
            t = self.target
            self._finish(SessionError(f"{t.node}: connection to {t.address}:{t.port} was lost "
                                      f"while running '{self.argv0}'"))
        else:
            self._finish(SessionError(f"{self.target.node}: '{self.argv0}' ended without an "
                                      "exit status"))

    # giving up

    def expire(self, timeout: float) -> None:
        """The command ran too long: ask the remote side to kill it (OpenSSH refuses that for
        forced-command sessions, so also close the channel), and report the timeout now."""
        if self.finished.called:
            return
        self._finish(CommandTimeout(f"{self.target.node}: '{self.argv0}' did not finish "
                                    f"within {timeout:g}s"))
        if not self.localClosed and not self.conn.lost:
            self.conn.sendRequest(self, b"signal", common.NS(b"KILL"))
            self.buf, self.extBuf = b"", []
            self.loseConnection()

    def _finish(self, result) -> None:
        if self.finished.called:
            return
        if isinstance(result, BaseException):
            self.finished.errback(result)
        else:
            self.finished.callback(result)


class KeyProbe(sshtransport.SSHClientTransport):
    """Connects only far enough to see the host key the server offers, then hangs up:
    makeknownhosts's trust step. `offered` fires with the HostKey."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.supportedPublicKeys = host_key_algorithms([])
        self.problem: DriverError | None = None
        self.offered: Deferred[HostKey] = Deferred(canceller=lambda _d: self._abort())

    def _abort(self) -> None:
        if self.transport is not None:
            self.transport.abortConnection()

    def verifyHostKey(self, hostKey: bytes, fingerprint: bytes) -> Deferred:
        if not self.offered.called:
            try:
                self.offered.callback(HostKey.from_blob(hostKey))
            except ValueError as exc:
                self.offered.errback(HostKeyError(f"{self.target.node}: unreadable host key "
                                                  f"from {self.target.address}: {exc}"))
        self.sendDisconnect(sshtransport.DISCONNECT_BY_APPLICATION, b"host key recorded")
        return Deferred()  # never fires: the key exchange goes no further

    def receiveError(self, reasonCode, description) -> None:
        if self.problem is None:
            text = description.decode("utf-8", "replace") if description else f"{reasonCode}"
            self.problem = cannot_connect(self.target, f"the server disconnected: {text}")

    def connectionLost(self, reason=None) -> None:
        super().connectionLost(reason)
        if not self.offered.called:
            why = reason.getErrorMessage() if reason is not None else "closed"
            self.offered.errback(self.problem or cannot_connect(
                self.target, f"connection closed before a host key was offered ({why})"))
