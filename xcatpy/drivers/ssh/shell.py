"""SshShell: the RemoteShell drivers use to run commands on hypervisors, synchronously.

A command thread calls `run`; the work happens on the reactor through the connection pool,
and the calling thread waits. The file work that must not happen in the reactor (reading
known_hosts and the client key, resolving a host name) is done here, on the caller's thread,
before handing over.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from xcatpy.drivers.base import DriverError
from xcatpy.drivers.reactorthread import ReactorRunner, default_runner
from xcatpy.drivers.remote import HostKeyError, RemoteError, RemoteResult, Target, command_line
from xcatpy.drivers.ssh.keys import ClientKey, client_key, known_hosts_path
from xcatpy.drivers.ssh.knownhosts import (
    HostKey,
    KnownHostsFile,
    KnownKeys,
    Verdict,
    host_name,
)
from xcatpy.drivers.ssh.pool import ConnectionPool
from xcatpy.drivers.ssh.transport import cannot_connect


class SshShell:
    def __init__(self, state_dir: Path, *, runner: ReactorRunner | None = None,
                 connect_timeout: float = 10.0, idle_timeout: float = 60.0,
                 max_channels: int = 6) -> None:
        self.state_dir = Path(state_dir)
        self.known_hosts = KnownHostsFile(known_hosts_path(self.state_dir))
        self._runner = runner or default_runner()
        self._pool_options = dict(connect_timeout=connect_timeout, idle_timeout=idle_timeout,
                                  max_channels=max_channels)
        self._pool: ConnectionPool | None = None
        self._key: ClientKey | None = None
        self._lock = threading.Lock()

    def set_connect_timeout(self, seconds: float) -> None:
        """The site's limit (site.vmtimeout): applies to connections made and sessions
        opened from now on."""
        with self._lock:
            self._pool_options["connect_timeout"] = seconds
            if self._pool is not None:
                self._pool.connect_timeout = seconds

    @property
    def pool(self) -> ConnectionPool:
        with self._lock:
            if self._pool is None:
                self._pool = ConnectionPool(self._runner.reactor, **self._pool_options)
            return self._pool

    def client_key(self) -> ClientKey:
        """The daemon's key, generated on first use."""
        with self._lock:
            if self._key is None:
                self._key = client_key(self.state_dir)
            return self._key

    def run(self, target: Target, argv: Sequence[str], *, stdin: bytes | None = None,
            timeout: float | None = 60.0, check: bool = True) -> RemoteResult:
        line = command_line(argv)
        if isinstance(stdin, str):
            stdin = stdin.encode()
        known = self.known_hosts.lookup(host_names(target))
        try:
            key = self.client_key()
        except OSError as exc:
            raise DriverError(f"{target.node}: cannot use the client key: {exc}") from None
        ip = resolve(target)
        result = self._runner.call(self.pool.run, target, ip, line, str(argv[0]), stdin,
                                   timeout, host_key_verifier(target, known,
                                                              self.known_hosts.path),
                                   known.keytypes, key)
        if check and result.exit_status != 0:
            raise RemoteError(target, argv, result)
        return result

    def fetch_host_keys(self, targets: Sequence[Target]) -> list[HostKey | DriverError]:
        """The host key each target offers (nothing is verified: this is the trust step),
        or why none came, in input order; all hosts are asked at once."""
        resolved: list[tuple[Target, str]] = []
        answers: list[HostKey | DriverError | None] = []
        for target in targets:
            try:
                resolved.append((target, resolve(target)))
                answers.append(None)
            except DriverError as exc:
                answers.append(exc)
        fetched = iter(self._runner.call(self.pool.fetch_host_keys, resolved) if resolved
                       else [])
        out: list[HostKey | DriverError] = []
        for target, answer in zip(targets, answers, strict=True):
            if answer is None:
                answer = next(fetched)
                if not isinstance(answer, HostKey | DriverError):
                    answer = cannot_connect(target, str(answer) or type(answer).__name__)
            out.append(answer)
        return out

    def close(self) -> None:
        """Close every pooled connection now (the pool also does at reactor shutdown)."""
        if self._pool is not None:
            self._runner.call(self._pool.close_all)


def host_names(target: Target) -> list[str]:
    """The names known_hosts holds a target under: its node name and its address."""
    return list(dict.fromkeys([host_name(target.node, target.port),
                               host_name(target.address, target.port)]))


def host_key_verifier(target: Target, known: KnownKeys,
                      path: Path) -> Callable[[HostKey], None]:
    def verify(offered: HostKey) -> None:
        verdict, recorded = known.check(offered)
        node, addr = target.node, target.address
        if verdict is Verdict.KNOWN:
            return
        if verdict is Verdict.CHANGED:
            raise HostKeyError(
                f"{node}: host key for {addr} has CHANGED (was {recorded.fingerprint}, now "
                f"{offered.fingerprint}); if the host was reinstalled, run makeknownhosts "
                f"{node} -r then makeknownhosts {node}")
        if verdict is Verdict.REVOKED:
            raise HostKeyError(f"{node}: host key {offered.fingerprint} of {addr} is marked "
                               f"@revoked in {path}")
        raise HostKeyError(f"{node}: host key for {addr} is not known; run makeknownhosts "
                           f"{node}")

    return verify


def resolve(target: Target) -> str:
    """The address to connect to. Resolved here, on the caller's thread, so the reactor never
    waits for DNS (and never starts Twisted's resolver thread pool)."""
    try:
        return str(ipaddress.ip_address(target.address))
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(target.address, target.port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise cannot_connect(target, f"cannot resolve {target.address}: {exc.strerror}") \
            from None
    return infos[0][4][0]


_shells: dict[Path, SshShell] = {}
_shells_lock = threading.Lock()


def shell_for(state_dir: Path) -> SshShell:
    """The process-wide shell of an instance: its connections are shared by all commands."""
    key = Path(state_dir).resolve()
    with _shells_lock:
        shell = _shells.get(key)
        if shell is None:
            shell = _shells[key] = SshShell(key)
        return shell
