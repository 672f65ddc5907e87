#!/usr/bin/env python3
"""API benchmark: a real xcatd on loopback, reached by the real CLI and by raw clients.

Prints the median wall time of `nodels node01` through the daemon (a new interpreter per
call, as an admin's shell runs it; target under 150 ms), and requests per second for 100
concurrent clients each keeping its own TLS connection. Run on demand:
`python tests/bench/bench_api.py [--runs N] [--clients N] [--requests N] [--json FILE]`.
"""

import argparse
import http.client
import os
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.bench.report import figure, params_of, write_json  # noqa: E402
from tests.integration.clitools import command_path  # noqa: E402
from tests.integration.xcatd import Xcatd  # noqa: E402
from xcatpy.pki.paths import PkiPaths  # noqa: E402
from xcatpy.server.protocol import API_PATH, CommandRequest  # noqa: E402


def cli_median(state: Path, runs: int) -> tuple[float, float]:
    env = dict(os.environ, XCATPY_STATE=str(state))
    env.pop("XCATBYPASS", None)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        p = subprocess.run([*command_path("nodels"), "node01"], env=env, capture_output=True)
        times.append(time.perf_counter() - start)
        if p.returncode or p.stdout != b"node01\n":
            raise SystemExit(f"nodels failed: {p.stderr!r}")
    return statistics.median(times), max(times)


def throughput(state: Path, port: int, clients: int, per_client: int) -> float:
    creds = PkiPaths(state).root_creds
    ctx = ssl.create_default_context(cafile=str(creds.ca))
    ctx.load_cert_chain(str(creds.cert), str(creds.key))
    body = CommandRequest("nodels", ["node01"]).encode()
    errors: list[str] = []
    barrier = threading.Barrier(clients + 1)

    def client() -> None:
        conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=60)
        conn.connect()
        barrier.wait()
        for _ in range(per_client):
            conn.request("POST", API_PATH.decode(), body)
            data = conn.getresponse().read()
            if b'"exit": 0' not in data:
                errors.append(data.decode()[:200])
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    if errors:
        raise SystemExit(f"{len(errors)} requests failed: {errors[0]}")
    return clients * per_client / elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--clients", type=int, default=100)
    ap.add_argument("--requests", type=int, default=10, help="requests per client")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    opts = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "state"
        env = dict(os.environ, XCATPY_STATE=str(state))
        subprocess.run([*command_path("xcatd"), "--init"], env=env, check=True,
                       capture_output=True)
        daemon = Xcatd(state).start()
        try:
            subprocess.run([*command_path("nodeadd"), "node[01-99]", "groups=compute,all"],
                           env=dict(env, XCATBYPASS="1"), check=True)
            median, worst = cli_median(state, opts.runs)
            rps = throughput(state, daemon.port, opts.clients, opts.requests)
        finally:
            daemon.stop()
    print("| measure | value |")
    print("| --- | ---: |")
    print(f"| `nodels node01` through xcatd, median of {opts.runs} (interpreter start "
          f"included) | {median * 1000:.0f} ms (worst {worst * 1000:.0f} ms) |")
    print(f"| requests/s, {opts.clients} concurrent TLS clients x {opts.requests} "
          f"requests | {rps:.0f} |")
    write_json(opts.json, "api", params_of(opts), [
        figure(f"`nodels node01` through xcatd, median of {opts.runs}", median * 1000, "ms",
               "< 150 ms", median < 0.150),
        figure(f"`nodels node01` through xcatd, worst of {opts.runs}", worst * 1000, "ms"),
        figure(f"requests/s, {opts.clients} concurrent TLS clients x {opts.requests}", rps,
               "/s")])


if __name__ == "__main__":
    main()
