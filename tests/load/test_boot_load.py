"""The boot services' TCP listeners under idle and slowloris crowds: the HTTP boot service
(twisted.web with sendfile) and xCAT's install monitor. Nodes are not authenticated, so
anyone on the provisioning network can try this. While the crowds are held, curl fetches
from the install tree and an installer's status line is answered; the server closes idle
connections after --idle-timeout, tricklers after --request-timeout (HTTP: no complete
request; monitor: the connection's whole life), and an HTTP client that stops reading a
kernel halfway after --idle-timeout; xcatd's descriptors come back.
"""

from __future__ import annotations

import socket
import subprocess
import time

import pytest

from tests.load.loadlab import (
    Trickle,
    fd_count,
    log_lines,
    open_many,
    raw_connect,
    start,
    via,
    wait_for,
)

IDLE = 4
REQUEST = 9
CROWD = 100
BIG = 256 << 20    # sparse: sendfile reads zeros, the disk holds nothing


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    state = tmp_path_factory.mktemp("bootload") / "state"
    d = start(state, "--idle-timeout", str(IDLE), "--request-timeout", str(REQUEST))
    tree = state / "install" / "load"
    tree.mkdir(parents=True)
    (tree / "small").write_bytes(b"small file\n")
    with open(tree / "big", "wb") as f:
        f.truncate(BIG)
    assert via(d, "nodeadd", "self1", "groups=compute,all", "hosts.ip=127.0.0.1").rc == 0
    yield d
    d.stop()


def curl(daemon, path: str) -> tuple[int, bytes]:
    url = f"http://127.0.0.1:{daemon.ports['http_port']}{path}"
    p = subprocess.run(["curl", "-s", "-S", "--max-time", "10", "-o", "-", "-w",
                        "\n%{http_code}", url], capture_output=True, timeout=30)
    body, _, code = p.stdout.rpartition(b"\n")
    return int(code or 0), body


def monitor_line(daemon, line: str) -> str:
    with socket.create_connection(("127.0.0.1", daemon.ports["monitor_port"]),
                                  timeout=10) as s:
        s.sendall(line.encode() + b"\n")
        return s.makefile().readline().strip()


@pytest.mark.parametrize("service,trickled", [
    ("http_port", b"GET /install/load/small HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: aaaaaaaa"),
    ("monitor_port", b"installstatus installing-very-slowly-indeed"),
])
def test_idle_and_trickling_crowds_are_dropped_while_nodes_are_served(daemon, service,
                                                                     trickled):
    pid = daemon.proc.pid
    port = daemon.ports[service]
    base = fd_count(pid)
    idle = open_many(lambda: raw_connect(port), CROWD)
    slow = open_many(lambda: raw_connect(port), CROWD)
    try:
        trickle = Trickle(slow, trickled, every=1.0)
        trickle.step()
        assert (len(idle), len(slow)) == (CROWD, CROWD)
        assert wait_for(lambda: fd_count(pid) >= base + 2 * CROWD, 10), fd_count(pid)

        assert curl(daemon, "/install/load/small") == (200, b"small file\n")
        trickle.step()
        assert monitor_line(daemon, "installstatus installing") == "ok self1 installing"
        assert idle.poll() == 0 and slow.poll() == 0, "closed before the idle timeout"

        started = time.monotonic()
        assert trickle.run_until(lambda: idle.poll() == CROWD, IDLE + 5), idle.poll()
        assert slow.poll() < CROWD, "the tricklers went with the idle ones"
        assert trickle.run_until(lambda: slow.poll() == CROWD,
                                 REQUEST + 5 - (time.monotonic() - started)), slow.poll()
        assert min(slow.lifetimes()) > IDLE
        assert max(idle.lifetimes()) < IDLE + 5 and max(slow.lifetimes()) < REQUEST + 5
        assert wait_for(lambda: fd_count(pid) <= base + 2, 10), (base, fd_count(pid))
    finally:
        idle.close()
        slow.close()
    # Two hundred drops, each kind logged once (a flood must not become one of log lines).
    label = "HTTP" if service == "http_port" else "install monitor"
    assert 1 <= len(log_lines(daemon, f"{label}: closed")) <= 4


def test_a_client_that_stops_reading_a_kernel_is_dropped(daemon):
    pid = daemon.proc.pid
    base = fd_count(pid)
    sock = socket.socket()
    # A small window, so the server's buffers fill long before the file is sent.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", daemon.ports["http_port"]))
    try:
        sock.sendall(b"GET /install/load/big HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert wait_for(lambda: fd_count(pid) > base, 5)
        time.sleep(IDLE + 2)          # read nothing
        assert wait_for(lambda: fd_count(pid) <= base, 5), "the stalled reader was kept"
        sock.settimeout(20)
        got = 0
        try:
            while chunk := sock.recv(1 << 20):
                got += len(chunk)
        except ConnectionResetError:
            pass                      # aborted with bytes unread: the kernel says so
        assert got < BIG, got         # what was in flight, then the end (never a timeout)
    finally:
        sock.close()
    assert curl(daemon, "/install/load/small") == (200, b"small file\n")
