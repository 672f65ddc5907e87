"""What the load tests share: a private xcatd with short timeouts, crowds of held
connections (idle, slowloris, raw TCP), and xcatd's own file descriptors, memory and CPU
time read from /proc.

Every client is a real socket on loopback; every loop here stops by itself (a deadline),
and every socket a crowd opens is closed when the crowd is.
"""

from __future__ import annotations

import os
import random
import resource
import select
import socket
import ssl
import struct
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from unittest import mock

from tests.integration.clitools import Completed, cli, command_path
from tests.integration.xcatd import Xcatd
from xcatpy.pki.paths import PkiPaths

CLK_TCK = os.sysconf("SC_CLK_TCK")
JUNK = random.Random(1017)


def init(state: Path) -> Path:
    """A fresh state directory: database, CA, root's credentials."""
    subprocess.run([*command_path("xcatd"), "--init"], check=True, capture_output=True,
                   env=dict(os.environ, XCATPY_STATE=str(state)))
    return state


def start(state: Path, *extra: str) -> Xcatd:
    """A fresh xcatd on ephemeral loopback ports."""
    return Xcatd(init(state), *extra).start()


class LimitedXcatd(Xcatd):
    """An xcatd started with RLIMIT_NOFILE (soft, hard) = `nofile`, as a distribution's
    default (1024 soft) or a tight container would start it."""

    def __init__(self, state: Path, nofile: tuple[int, int], *extra: str) -> None:
        super().__init__(state, *extra)
        self.nofile = nofile

    def start(self, timeout: float = 30) -> LimitedXcatd:
        popen = subprocess.Popen

        def limited(*args, **kwargs):
            return popen(*args, preexec_fn=lambda: resource.setrlimit(
                resource.RLIMIT_NOFILE, self.nofile), **kwargs)

        with mock.patch.object(subprocess, "Popen", limited):
            return super().start(timeout)


def nofile_limits(pid: int) -> tuple[int, int]:
    """The (soft, hard) open-files limit in force in process `pid`."""
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            soft, hard = line.split()[3:5]
            return int(soft), int(hard)
    raise AssertionError(f"no open-files limit in /proc/{pid}/limits")


def via(daemon: Xcatd, *args: str) -> Completed:
    """A command through xcatd (not XCATBYPASS), as root types it."""
    return cli(args[0], *args[1:], state=daemon.state, bypass=False,
               extra_env={"HOME": str(daemon.state.parent)})


def root_context(state: Path) -> ssl.SSLContext:
    creds = PkiPaths(state).root_creds
    ctx = ssl.create_default_context(cafile=str(creds.ca))
    ctx.check_hostname = False
    ctx.load_cert_chain(str(creds.cert), str(creds.key))
    return ctx


# -- the daemon's own resources ---------------------------------------------------------------


def fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS in /proc/{pid}/status")


def cpu_seconds(pid: int) -> float:
    """utime + stime of the whole process (every thread)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def cpu_over(pid: int, seconds: float) -> float:
    before = cpu_seconds(pid)
    time.sleep(seconds)
    return cpu_seconds(pid) - before


def wait_for(predicate, timeout: float, step: float = 0.2):
    """predicate() once it is true, else its last value after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(step)


# -- crowds of client connections ----------------------------------------------------------


class Crowd:
    """Connections a test holds open; `closed()` says how many the server has closed."""

    def __init__(self) -> None:
        self.socks: list[socket.socket] = []
        self.closed_at: dict[int, float] = {}
        self.opened_at: dict[int, float] = {}
        self.failed = 0

    def __len__(self) -> int:
        return len(self.socks)

    def add(self, sock: socket.socket | None) -> None:
        if sock is None:
            self.failed += 1
            return
        self.opened_at[sock.fileno()] = time.monotonic()
        self.socks.append(sock)

    def poll(self) -> int:
        """Notice which connections the server closed (readable at EOF or reset); the count
        of closed ones so far."""
        open_ones = {s.fileno(): s for s in self.socks if s.fileno() not in self.closed_at}
        poller = select.poll()
        for fd in open_ones:
            poller.register(fd, select.POLLIN | select.POLLERR | select.POLLHUP)
        for fd, _ in poller.poll(0):
            if _at_eof(open_ones[fd]):
                self.closed_at[fd] = time.monotonic()
        return len(self.closed_at)

    def wait_closed(self, timeout: float) -> int:
        return wait_for(lambda: self.poll() == len(self.socks) and len(self.socks),
                        timeout) or self.poll()

    def lifetimes(self) -> list[float]:
        return [self.closed_at[fd] - self.opened_at[fd] for fd in self.closed_at]

    def close(self) -> None:
        for sock in self.socks:
            try:
                sock.close()
            except OSError:
                pass
        self.socks = []


def _at_eof(sock: socket.socket) -> bool:
    """Readable because the server closed it (not because it sent data we ignore)."""
    raw = sock
    try:
        raw.setblocking(False)
        data = raw.recv(4096)
        return data == b""
    except (BlockingIOError, ssl.SSLWantReadError):
        return False
    except (ConnectionError, ssl.SSLError, OSError):
        return True


def raw_connect(port: int, source: str = "127.0.0.1") -> socket.socket | None:
    try:
        return socket.create_connection(("127.0.0.1", port), timeout=10,
                                        source_address=(source, 0))
    except OSError:
        return None


def tls_connect(port: int, ctx: ssl.SSLContext,
                source: str = "127.0.0.1") -> socket.socket | None:
    sock = raw_connect(port, source)
    if sock is None:
        return None
    try:
        return ctx.wrap_socket(sock, server_hostname="127.0.0.1")
    except (OSError, ssl.SSLError):
        sock.close()
        return None


def open_many(connect, count: int, workers: int = 32) -> Crowd:
    crowd = Crowd()
    with ThreadPoolExecutor(workers) as pool:
        for sock in pool.map(lambda _: connect(), range(count)):
            crowd.add(sock)
    return crowd


class Trickle:
    """Slowloris: each socket gets the next byte of `payload` every `every` seconds, for
    as long as the caller keeps calling step() (which never blocks)."""

    def __init__(self, crowd: Crowd, payload: bytes, every: float) -> None:
        self.crowd = crowd
        self.payload = payload
        self.every = every
        self.sent = 0
        self._next = time.monotonic()

    def step(self) -> None:
        if time.monotonic() < self._next:
            return
        self._next = time.monotonic() + self.every
        byte = self.payload[self.sent % len(self.payload):][:1]
        for sock in self.crowd.socks:
            if sock.fileno() in self.crowd.closed_at:
                continue
            try:
                sock.setblocking(False)
                sock.send(byte)
            except (BlockingIOError, ssl.SSLWantWriteError, ssl.SSLWantReadError):
                pass
            except (OSError, ssl.SSLError):
                pass    # closed by the server: poll() will notice
        self.sent += 1

    def run_until(self, done, timeout: float, step: float = 0.2):
        """Keep trickling until done() is true or `timeout` passes; done()'s last value."""
        def check():
            self.step()
            return done()
        return wait_for(check, timeout, step)


def log_lines(daemon: Xcatd, text: str) -> list[str]:
    return [line for line in daemon.log.read_text(errors="replace").splitlines()
            if text in line]


# -- a port scan and junk --------------------------------------------------------------


def nmap(*args: str) -> str:
    p = subprocess.run(["nmap", "-n", "-Pn", "--host-timeout", "90s", *args, "127.0.0.1"],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    return p.stdout


def reset_after_connect(port: int) -> None:
    """Connect, then close with SO_LINGER 0: the kernel sends RST instead of FIN."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def junk_tcp(port: int, size: int) -> None:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(JUNK.randbytes(size))
    except OSError:
        pass    # the server may close on the first bad byte: that is its right


def junk_udp(port: int, count: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for _ in range(count):
            s.sendto(JUNK.randbytes(JUNK.choice((0, 1, 2, 4, 12, 100, 512, 1500))),
                     ("127.0.0.1", port))


def scan_and_junk(tcp: list[int], udp: list[int]) -> tuple[str, str | None]:
    """What a scanner and a fuzzer do to these ports: nmap's connect scan with version
    probes (protocol junk), its UDP scan (root only: raw sockets), connections reset right
    after connecting, random bytes over TCP and random datagrams. nmap's TCP and UDP
    reports (None: no UDP scan)."""
    tcp_report = nmap("-sT", "-sV", "--version-intensity", "0", "-p", ",".join(map(str, tcp)))
    udp_report = nmap("-sU", "-p", ",".join(map(str, udp))) if os.geteuid() == 0 else None
    for port in tcp:
        for _ in range(50):
            reset_after_connect(port)
        for size in (1, 3, 100, 4096, 65536, 1 << 20):
            junk_tcp(port, size)
    for port in udp:
        junk_udp(port, 300)
    return tcp_report, udp_report
