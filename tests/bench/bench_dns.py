#!/usr/bin/env python3
"""DNS benchmark: makedns on N nodes, snapshot reload, and queries/s of the embedded server.

    python tests/bench/bench_dns.py [--nodes 5000] [--seconds 5] [--clients 4] [--json FILE]

- makedns: wall time of `makedns` (bypass mode, in-process) publishing every node.
- snapshot rebuild: what the service does on a reader thread after each commit
  (zone_data + ZoneSnapshot), timed here directly on the same database.
- queries/s: `--clients` processes, each with one UDP socket sending pre-encoded A and PTR
  queries for random nodes in lockstep (send, wait for the reply), against
  tests/integration/dnsserver_harness.py on 127.0.0.1. Every reply's rcode is checked.
  The clients are plain sockets, so the server (one Python reactor thread) is the limit;
  if the client processes' CPU approaches 100% each, add clients.
"""

import argparse
import multiprocessing
import random
import socket
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import dns.message  # noqa: E402
import dns.rcode  # noqa: E402

from tests.bench.report import figure, params_of, write_json  # noqa: E402


def populate(state: Path, nodes: int) -> float:
    from xcatpy.commands import run_command
    from xcatpy.commands.base import ListOutput, Request
    from xcatpy.db.store import Store

    store = Store.open(state)

    def run(*args):
        out = ListOutput()
        rc = run_command(Request(args[0], list(args[1:])), out, store)
        assert rc == 0, out.stderr[:5]

    run("tabch", "key=domain", "site.value=cluster.test")
    run("tabch", "net=10.0.0.0,mask=255.255.0.0", "networks.netname=prov")
    run("nodeadd", f"n[1-{nodes}]", "groups=compute",
        "hosts.ip=|n(\\d+)|10.0.(($1-1)/250).(($1-1)%250+1)|")
    start = time.perf_counter()
    run("makedns")
    took = time.perf_counter() - start
    store.close()
    return took


def reload_time(state: Path) -> float:
    from xcatpy.db.store import Store
    from xcatpy.net.dns.zones import ZoneSnapshot, zone_data

    store = Store.open(state)
    start = time.perf_counter()
    store.begin(write=False)
    data = zone_data(store, "mgmt")
    ZoneSnapshot(data, 1)
    store.rollback()
    store.close()
    return time.perf_counter() - start


def client(port: int, nodes: int, seconds: float, out) -> None:
    rng = random.Random()
    queries = []
    for _ in range(2000):
        n = rng.randint(1, nodes)
        ip = f"10.0.{(n - 1) // 250}.{(n - 1) % 250 + 1}"
        name, rtype = rng.choice([(f"n{n}.cluster.test", "A"),
                                  (".".join(reversed(ip.split("."))) + ".in-addr.arpa",
                                   "PTR")])
        queries.append(dns.message.make_query(name, rtype).to_wire())
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect(("127.0.0.1", port))
    s.settimeout(2)
    done = bad = lost = 0
    cpu0 = time.process_time()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        q = queries[done % len(queries)]
        s.send(q)
        try:
            reply = s.recv(4096)
        except TimeoutError:
            lost += 1
            continue
        if reply[:2] != q[:2] or reply[3] & 0xF != dns.rcode.NOERROR:
            bad += 1
        done += 1
    out.put((done, bad, lost, time.process_time() - cpu0))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", type=int, default=5000)
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args()

    from tests.integration.dnstools import DnsHarness

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        state = work / "state"
        took = populate(state, args.nodes)
        print(f"makedns, {args.nodes} nodes ({args.nodes * 2} records): {took:.2f} s")
        rebuild = reload_time(state)
        print(f"snapshot rebuild: {rebuild * 1000:.0f} ms")
        server = DnsHarness(state, work).start()
        try:
            out = multiprocessing.Queue()
            procs = [multiprocessing.Process(target=client,
                                             args=(server.port, args.nodes, args.seconds, out))
                     for _ in range(args.clients)]
            for p in procs:
                p.start()
            results = [out.get() for _ in procs]
            for p in procs:
                p.join()
            stats = server.stats()
        finally:
            server.stop()
    done = sum(r[0] for r in results)
    bad = sum(r[1] for r in results)
    lost = sum(r[2] for r in results)
    cpu = max(r[3] for r in results) / args.seconds
    print(f"queries/s: {done / args.seconds:,.0f} with {args.clients} lockstep clients "
          f"(wrong rcode {bad}, lost {lost}; busiest client CPU {cpu:.0%}; "
          f"server counted {stats.get('queries', 'unknown')})")
    write_json(args.json, "dns", params_of(args), [
        figure(f"makedns, {args.nodes} nodes ({args.nodes * 2} records)", took, "s"),
        figure("snapshot rebuild", rebuild * 1000, "ms"),
        figure(f"queries/s, {args.clients} lockstep clients", done / args.seconds, "/s"),
        figure("replies with a wrong rcode", bad, "queries"),
        figure("queries lost (2 s timeout)", lost, "queries"),
        figure("busiest client's CPU", cpu * 100, "%")])


if __name__ == "__main__":
    main()
