"""1,000 connections held on the command API (xCAT #4947's "too many open files"): 250
finish TLS and idle, 250 finish TLS and trickle a request a byte a second (slowloris),
500 hold raw TCP and never start TLS. While they are held, the real CLIs (nodels, nodeadd,
lsdef) keep working through the daemon; xcatd's descriptors and memory stay bounded; the
server closes the idle ones after --idle-timeout and the tricklers after
--request-timeout, and its descriptors return to where they were.
"""

from __future__ import annotations

import time

import pytest

from tests.load.loadlab import (
    Trickle,
    fd_count,
    open_many,
    raw_connect,
    root_context,
    rss_kb,
    start,
    tls_connect,
    via,
    wait_for,
)

IDLE = 10
REQUEST = 18
# One held connection costs xcatd a socket and, with TLS, an OpenSSL connection and
# twisted.web's channel: measured about 41 KiB each (tests/bench/bench_load.py). 200 KiB
# each is four times that: only a leak (buffers per byte trickled, a copy of the
# certificate chain per connection) or something per connection that grows breaks it.
KIB_PER_CONNECTION = 200
SLOW_REQUEST = (b"POST /xcatpy/v1/command HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: application/json\r\nContent-Length: 100\r\n")


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    d = start(tmp_path_factory.mktemp("apiload") / "state", "--idle-timeout", str(IDLE),
              "--request-timeout", str(REQUEST))
    yield d
    d.stop()


def test_a_thousand_held_connections_leave_the_api_answering(daemon):
    pid = daemon.proc.pid
    assert via(daemon, "nodeadd", "node[001-020]", "groups=compute,all").rc == 0
    base_fds, base_rss = fd_count(pid), rss_kb(pid)
    ctx = root_context(daemon.state)
    crowds = []
    try:
        idle_tls = open_many(lambda: tls_connect(daemon.port, ctx), 250)
        slow_tls = open_many(lambda: tls_connect(daemon.port, ctx), 250)
        crowds += [idle_tls, slow_tls]
        trickle = Trickle(slow_tls, SLOW_REQUEST, every=1.0)
        trickle.step()
        raw = open_many(lambda: raw_connect(daemon.port), 500)
        crowds.append(raw)
        assert (len(idle_tls), len(slow_tls), len(raw)) == (250, 250, 500)
        assert sum(c.poll() for c in crowds) == 0, "the server closed some too early"

        # The kernel completes a connection before xcatd accepts it: give it time to.
        held_fds = wait_for(lambda: (n := fd_count(pid)) >= base_fds + 950 and n, 10) or \
            fd_count(pid)
        held_rss = rss_kb(pid)
        assert base_fds + 950 <= held_fds <= base_fds + 1000 + 50, (base_fds, held_fds)
        assert held_rss - base_rss < 1000 * KIB_PER_CONNECTION, (base_rss, held_rss)

        # The CLIs, while all of that is held (and the tricklers trickle).
        listed = via(daemon, "nodels", "compute")
        trickle.step()
        added = via(daemon, "nodeadd", "late01", "groups=compute,all")
        trickle.step()
        shown = via(daemon, "lsdef", "late01")
        trickle.step()
        assert listed.rc == 0 and listed.out.split() == [f"node{i:03}" for i in
                                                         range(1, 21)], listed
        assert added.rc == 0, added
        assert shown.rc == 0 and "Object name: late01" in shown.out, shown
        assert fd_count(pid) >= base_fds + 900, "the crowd was not held during the commands"

        # The idle ones, TLS or not, go after the idle timeout; the tricklers, which
        # restart the idle timer with every byte, stay until the request timeout.
        started = time.monotonic()
        idle_gone = trickle.run_until(
            lambda: idle_tls.poll() == 250 and raw.poll() == 500, IDLE + 10)
        assert idle_gone, (idle_tls.poll(), raw.poll())
        assert slow_tls.poll() < 250, "the tricklers went with the idle ones"
        slow_gone = trickle.run_until(lambda: slow_tls.poll() == 250,
                                      REQUEST + 10 - (time.monotonic() - started))
        assert slow_gone, slow_tls.poll()
        assert min(slow_tls.lifetimes()) > IDLE, "closed by the idle timer, not the request one"
        assert max(idle_tls.lifetimes() + raw.lifetimes()) < IDLE + 10
        assert max(slow_tls.lifetimes()) < REQUEST + 10

        # Every descriptor comes back.
        assert wait_for(lambda: fd_count(pid) <= base_fds + 5, 10), (base_fds, fd_count(pid))
        assert via(daemon, "nodels", "late01").out == "late01\n"
    finally:
        for crowd in crowds:
            crowd.close()
