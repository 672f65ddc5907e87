"""Connection caps and the open-files limit (xCAT #4947: "too many open files" past 1,000
nodes). xcatd starts with a soft limit of 256 and a hard one of 400, as a tight container
would start it: it raises the soft limit to the hard one and sizes each listener's cap
below it (100 here: a quarter of 400 kept for everything else, the rest shared by the
API, HTTP and install-monitor listeners). Floods beyond the cap are closed at once, one
client address gets at most half of a listener's cap, the refusals are logged once
rather than once each, and xcatd never runs out of descriptors.
"""

from __future__ import annotations

import socket
import subprocess

import pytest

from tests.load.loadlab import (
    LimitedXcatd,
    fd_count,
    init,
    log_lines,
    nofile_limits,
    open_many,
    raw_connect,
    via,
    wait_for,
)

SOFT, HARD = 256, 400
CAP = 100            # (HARD - HARD // 4) // 3 listeners
IDLE = 12


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    state = init(tmp_path_factory.mktemp("caps") / "state")
    d = LimitedXcatd(state, (SOFT, HARD), "--idle-timeout", str(IDLE),
                     "--request-timeout", str(IDLE + 8)).start()
    assert via(d, "nodeadd", "self1", "groups=compute,all", "hosts.ip=127.0.0.1").rc == 0
    (state / "install" / "hello").write_text("hello\n")
    yield d
    d.stop()


def curl_code(daemon) -> str:
    p = subprocess.run(["curl", "-s", "--max-time", "10", "-o", "/dev/null", "-w",
                        "%{http_code}", f"http://127.0.0.1:{daemon.ports['http_port']}/install/"
                        "hello"], capture_output=True, text=True, timeout=30)
    return p.stdout


def monitor_answer(daemon) -> str:
    try:
        with socket.create_connection(("127.0.0.1", daemon.ports["monitor_port"]),
                                      timeout=10) as s:
            s.sendall(b"installstatus installing\n")
            return s.makefile().readline().strip()
    except OSError as exc:
        return str(exc)


def closed_by_server(crowd, expected: int, timeout: float = 5) -> int:
    """How many of `crowd` the server has closed once `expected` are (or time is up), and
    half a second more, so that one too many would be seen."""
    wait_for(lambda: crowd.poll() >= expected, timeout)
    wait_for(lambda: crowd.poll() > expected, 0.5)
    return crowd.poll()


def test_the_soft_open_files_limit_is_raised_to_the_hard_one(daemon):
    assert nofile_limits(daemon.proc.pid) == (HARD, HARD)
    assert any(f"at most {CAP} connections" in line
               for line in log_lines(daemon, "each TCP listener"))


def test_floods_beyond_the_caps_are_refused_and_xcatd_keeps_serving(daemon):
    pid = daemon.proc.pid
    base = fd_count(pid)
    ports = [daemon.port, daemon.ports["http_port"], daemon.ports["monitor_port"]]
    crowds = []
    try:
        # One flooding host: half of each listener's cap, the rest closed at once.
        for port in ports:
            crowds.append(open_many(lambda p=port: raw_connect(p, "127.0.0.2"), 150))
        for crowd in crowds:
            assert closed_by_server(crowd, 100) == 100
        assert wait_for(lambda: fd_count(pid) >= base + 150, 5)
        assert via(daemon, "nodels", "self1").out == "self1\n"
        assert curl_code(daemon) == "200"
        assert monitor_answer(daemon) == "ok self1 installing"

        # More hosts fill the API's cap: beyond it everyone is refused, even root's CLI,
        # while the other listeners, each with its own cap, still serve.
        second = open_many(lambda: raw_connect(daemon.port, "127.0.0.3"), 80)
        third = open_many(lambda: raw_connect(daemon.port, "127.0.0.4"), 80)
        crowds += [second, third]
        assert (closed_by_server(second, 30), closed_by_server(third, 80)) == (30, 80)
        refused = via(daemon, "nodels", "self1")
        assert refused.rc != 0 and "self1" not in refused.out, refused
        assert curl_code(daemon) == "200"
        held = fd_count(pid)
        assert held <= base + 3 * CAP // 2 + CAP // 2 + 10 < HARD - 50, (base, held)

        # The idle ones go; everything answers again.
        for crowd in crowds:
            assert closed_by_server(crowd, len(crowd), IDLE + 10) == len(crowd)
        assert via(daemon, "nodels", "self1").out == "self1\n"
        assert wait_for(lambda: fd_count(pid) <= base + 2, 10), (base, fd_count(pid))
    finally:
        for crowd in crowds:
            crowd.close()

    assert daemon.proc.poll() is None
    # 100 + 100 + 100 + 30 + 80 refusals: each listener says so once per reason (again
    # after 10 s, with the count of those it did not log).
    for label in ("API", "HTTP", "install monitor"):
        lines = log_lines(daemon, f"{label}: refused a connection")
        assert 1 <= len(lines) <= (4 if label == "API" else 2), (label, lines)
    api = "\n".join(log_lines(daemon, "API: refused"))
    assert "from 127.0.0.2: it holds 50, half the cap of 100" in api
    assert ": 100 connections are open, the cap" in api
    text = daemon.log.read_text(errors="replace")
    assert "Too many open files" not in text and "EMFILE" not in text
