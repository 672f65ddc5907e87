#!/usr/bin/env python3
"""Load benchmark: a real xcatd on loopback holding N connections on its API port.

Half the crowd is slowloris (TLS with root's certificate, then a request trickled a byte
every few seconds), a quarter idles after the TLS handshake, a quarter holds raw TCP and
never starts TLS. Prints the latency of one API request (`nodels node01`, a new TLS
connection each, as the CLI makes) unloaded and while the crowd is held (p50/p95), xcatd's
open descriptors and RSS before and while held, the CPU xcatd uses while merely holding
the crowd, and its CPU over 3 s after an nmap scan plus junk on every port. The daemon
runs with timeouts longer than the bench, so the crowd stays held while measured. Run on
demand: `python tests/bench/bench_load.py [--connections N] [--requests N] [--json FILE]`.
"""

import argparse
import http.client
import itertools
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.bench.report import figure, params_of, write_json  # noqa: E402
from tests.integration.clitools import command_path  # noqa: E402
from tests.load.loadlab import (  # noqa: E402
    Trickle,
    cpu_over,
    fd_count,
    open_many,
    raw_connect,
    root_context,
    rss_kb,
    scan_and_junk,
    start,
    tls_connect,
    wait_for,
)
from xcatpy.server.protocol import API_PATH, CommandRequest  # noqa: E402

SLOW_REQUEST = (b"POST /xcatpy/v1/command HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: application/json\r\nContent-Length: 100\r\n")


def latencies(port: int, ctx, count: int, between=lambda: None) -> list[float]:
    body = CommandRequest("nodels", ["node01"]).encode()
    times = []
    for _ in range(count):
        between()
        start = time.perf_counter()
        conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=60)
        try:
            conn.request("POST", API_PATH.decode(), body)
            data = conn.getresponse().read()
        except OSError as exc:
            raise SystemExit(f"the API refused the measuring client ({exc}): is the crowd "
                             "larger than the cap in xcatd's log?") from None
        finally:
            conn.close()
        times.append(time.perf_counter() - start)
        if b'"exit": 0' not in data:
            raise SystemExit(f"nodels failed while measuring: {data[:200]!r}")
    return times


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) >= 2 else values[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--connections", type=int, default=1000)
    ap.add_argument("--requests", type=int, default=50, help="requests per latency figure")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    opts = ap.parse_args()
    n = opts.connections
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "state"
        daemon = start(state, "--dns-port", "0", "--idle-timeout", "600",
                       "--request-timeout", "900")
        crowds = []
        try:
            pid = daemon.proc.pid
            subprocess.run([*command_path("nodeadd"), "node[01-99]", "groups=compute,all"],
                           env=dict(os.environ, XCATPY_STATE=str(state), XCATBYPASS="1"),
                           check=True)
            ctx = root_context(state)
            cap = int(next(line for line in daemon.log.read_text().splitlines()
                           if "each TCP listener takes at most" in line)
                      .split("at most ")[1].split()[0])
            unloaded = latencies(daemon.port, ctx, opts.requests)
            base_fds, base_rss = fd_count(pid), rss_kb(pid)

            # The crowd comes from other loopback addresses than the measuring client,
            # 1000 per address, so no address reaches its half of the cap before the
            # listener's cap itself (past it, refusals are what is measured).
            sources = itertools.chain.from_iterable(
                itertools.repeat(f"127.0.0.{2 + i}", 1000) for i in range(250))
            opened = time.perf_counter()
            slow = open_many(lambda: tls_connect(daemon.port, ctx, next(sources)), n // 2)
            idle_tls = open_many(lambda: tls_connect(daemon.port, ctx, next(sources)), n // 4)
            raw = open_many(lambda: raw_connect(daemon.port, next(sources)),
                            n - n // 2 - n // 4)
            crowds = [slow, idle_tls, raw]
            trickle = Trickle(slow, SLOW_REQUEST, every=3.0)
            trickle.step()
            wait_for(lambda: fd_count(pid) >= base_fds + min(n, cap), 30)
            open_s = time.perf_counter() - opened
            failed = sum(c.failed for c in crowds)
            refused_now = sum(c.poll() for c in crowds)
            held_fds, held_rss = fd_count(pid), rss_kb(pid)
            held_cpu = cpu_over(pid, 3.0)
            loaded = latencies(daemon.port, ctx, opts.requests, trickle.step)
            still = sum(len(c) - c.poll() for c in crowds)
            for crowd in crowds:
                crowd.close()
            crowds = []
            wait_for(lambda: fd_count(pid) <= base_fds + 2, 30)

            scan_and_junk([daemon.port] + [daemon.ports[k] for k in
                                           ("http_port", "monitor_port", "dns_port")],
                          [daemon.ports["tftp_port"], daemon.ports["dns_port"]])
            wait_for(lambda: fd_count(pid) <= base_fds + 2, 30)
            scan_cpu = cpu_over(pid, 3.0)
            after_fds = fd_count(pid)
        finally:
            for crowd in crowds:
                crowd.close()
            daemon.stop()

    per_conn_kib = (held_rss - base_rss) / max(1, n)
    rows = [
        (f"connections held ({n // 2} slowloris TLS, {n // 4} idle TLS, "
         f"{n - n // 2 - n // 4} raw TCP; cap {cap})", n - failed - refused_now, "",
         f"opened in {open_s:.1f} s; {still} still open after the measurements"),
        ("`nodels node01` over the API, unloaded, p50 / p95",
         statistics.median(unloaded) * 1000, "ms", f"p95 {p95(unloaded) * 1000:.0f} ms"),
        ("`nodels node01` over the API, crowd held, p50 / p95",
         statistics.median(loaded) * 1000, "ms", f"p95 {p95(loaded) * 1000:.0f} ms"),
        ("xcatd open descriptors, before / held", held_fds, "", f"before {base_fds}"),
        ("xcatd RSS, before / held", held_rss / 1024, "MB",
         f"before {base_rss / 1024:.0f} MB, {per_conn_kib:.0f} KiB per connection"),
        ("xcatd CPU while holding the crowd, over 3 s", held_cpu, "s", ""),
        ("xcatd CPU over 3 s after nmap + junk on every port", scan_cpu, "s",
         f"descriptors afterwards {after_fds}"),
    ]
    print("| measure | value | note |")
    print("| --- | ---: | --- |")
    for name, value, unit, note in rows:
        print(f"| {name} | {value:.{0 if unit in ('', 'ms', 'MB') else 2}f} {unit} | {note} |")
    write_json(opts.json, "load", params_of(opts), [
        figure(f"connections held of {n}", n - failed - refused_now, "", f"min({n}, cap {cap})",
               n - failed - refused_now == min(n, cap)),
        figure("API latency unloaded, p50", statistics.median(unloaded) * 1000, "ms"),
        figure("API latency unloaded, p95", p95(unloaded) * 1000, "ms"),
        figure(f"API latency with {n} held, p50", statistics.median(loaded) * 1000, "ms"),
        figure(f"API latency with {n} held, p95", p95(loaded) * 1000, "ms"),
        figure("xcatd descriptors before", base_fds, ""),
        figure(f"xcatd descriptors with {n} held", held_fds, "", f"<= {base_fds + n + 50}",
               held_fds <= base_fds + n + 50),
        figure("xcatd RSS before", base_rss / 1024, "MB"),
        figure(f"xcatd RSS with {n} held", held_rss / 1024, "MB"),
        figure("RSS per held connection", per_conn_kib, "KiB", "< 200 KiB",
               per_conn_kib < 200),
        figure("xcatd CPU over 3 s holding the crowd", held_cpu, "s"),
        figure("xcatd CPU over 3 s after a port scan", scan_cpu, "s", "< 0.3 s",
               scan_cpu < 0.3)])


if __name__ == "__main__":
    main()
