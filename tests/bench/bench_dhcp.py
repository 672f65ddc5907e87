#!/usr/bin/env python3
"""DHCP benchmark: xcatd's embedded DHCP service against dnsmasq, loaded by Kea's perfdhcp.

Run on demand, as root (it makes two network namespaces):

    python tests/bench/bench_dhcp.py [--hosts 2000] [--rates 1000,2000,5000,10000]
        [--period 5] [--servers ours,dnsmasq] [--quiet] [--pool] [--json FILE]

How it measures, so the figures can be judged:
- Two namespaces joined by a veth (tests/integration/dhcpnet.py): the server on
  10.77.0.1/16, perfdhcp on 10.77.255.254/16. perfdhcp acts as a relay agent (giaddr =
  its address), so requests and replies are unicast both ways, for both servers alike.
- Hosts: --hosts reservations (10.77.x.y), as dhcpreservation rows for ours and a
  --dhcp-hostsfile for dnsmasq; perfdhcp takes a MAC from the same list for every exchange
  (-M), so every exchange hits a reservation, never a pool. With --pool there are no
  reservations: the same clients get dynamic leases from 10.77.100.1-10.77.199.254, which
  both servers persist (ours in dhcplease through the executor's writer, dnsmasq in its
  lease file).
- Rate ladder: `perfdhcp -r RATE -p PERIOD` per rate, single-threaded (-g single) so that
  on a 2-CPU machine it and the server each have a core. Printed: DORA exchanges/s
  achieved, drops of DISCOVER->OFFER and REQUEST->ACK (perfdhcp counts an answer later
  than 1 s as dropped), p50/p99 latency of both from `-x t` timestamps, and the server's
  CPU time (utime+stime of its process, threads included) per exchange.
  "sustained" is the highest rate with under 1% drops.
- Avalanche: all --hosts clients at once (`--scenario avalanche`, perfdhcp retransmits
  until every one is answered): the time to provision them all.
- Logging: as in production, both servers log every transaction to a file (ours one line
  per OFFER/ACK; dnsmasq its DISCOVER/OFFER/REQUEST/ACK lines); --quiet turns both off.
- perfdhcp's own CPU time is printed: near 100% of the wall time means the load generator,
  not the server, is the limit.
"""

import argparse
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.bench.report import figure, params_of, write_json  # noqa: E402
from tests.integration import dhcpnet  # noqa: E402
from tests.integration.dhcpnet import CLIENT_IF, SERVER_IF, DhcpHarness, VethNamespaces  # noqa: E402

CLIENT_ADDR = "10.77.255.254"
NETMASK_BITS = 16


@dataclass
class Run:
    server: str
    label: str
    achieved: float = 0.0
    sent: tuple[int, int] = (0, 0)
    received: tuple[int, int] = (0, 0)
    drops: tuple[float, float] = (0.0, 0.0)
    latency: dict[str, tuple[float, float]] = field(default_factory=dict)
    server_cpu: float = 0.0
    client_cpu: float = 0.0
    wall: float = 0.0
    provision_time: float | None = None
    error: str = ""

    @property
    def exchanges(self) -> int:
        return self.received[1]


def hosts(n: int) -> list[tuple[str, str, str]]:
    found = []
    for k in range(n):
        mac = f"52:54:01:{k >> 16 & 255:02x}:{k >> 8 & 255:02x}:{k & 255:02x}"
        found.append((mac, f"10.77.{k // 250 + 1}.{k % 250 + 1}", f"n{k:05d}"))
    return found


POOL = ("10.77.100.1", "10.77.199.254")


def prepare_state(state: Path, table: list[tuple[str, str, str]], pool: bool) -> None:
    from xcatpy.db.store import Store

    store = Store.open(state)
    try:
        store.begin()
        store.upsert_rows("networks", [{"net": "10.77.0.0", "mask": "255.255.0.0",
                                        "netname": "bench",
                                        "dynamicrange": "-".join(POOL) if pool else None}])
        if not pool:
            store.upsert_rows("dhcpreservation", [
                {"mac": m, "node": h, "ip": ip, "hostname": h} for m, ip, h in table])
        store.commit()
    finally:
        store.close()


def process_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Ours:
    name = "ours"

    def __init__(self, nets: VethNamespaces, work: Path, table, quiet: bool,
                 pool: bool) -> None:
        self.state = work / "state"
        prepare_state(self.state, table, pool)
        self.harness = DhcpHarness(nets.in_server, self.state, work / "ours", log=not quiet)

    def start(self) -> int:
        self.harness.start()
        return self.harness.proc.pid

    def stop(self) -> None:
        self.harness.stop()


class Dnsmasq:
    name = "dnsmasq"

    def __init__(self, nets: VethNamespaces, work: Path, table, quiet: bool,
                 pool: bool) -> None:
        self.nets, self.work, self.quiet, self.pool = nets, work / "dnsmasq", quiet, pool
        self.work.mkdir(parents=True, exist_ok=True)
        self.hostsfile = self.work / "hosts"
        self.hostsfile.write_text("" if pool else
                                  "".join(f"{m},{ip},{h}\n" for m, ip, h in table))
        self.count = len(table)
        self.proc = None

    def start(self) -> int:
        argv = ["dnsmasq", "--no-daemon", "--port=0", "--conf-file=/dev/null",
                f"--interface={SERVER_IF}", "--bind-interfaces", "--user=root",
                "--group=root",
                (f"--dhcp-range={POOL[0]},{POOL[1]},255.255.0.0,12h" if self.pool
                 else "--dhcp-range=10.77.0.0,static,255.255.0.0,12h"),
                f"--dhcp-hostsfile={self.hostsfile}", "--dhcp-boot=pxelinux.0",
                f"--dhcp-lease-max={self.count + 100}",
                f"--dhcp-leasefile={self.work / 'leases'}",
                f"--log-facility={self.work / 'dnsmasq.log'}"]
        if self.quiet:
            argv.append("--quiet-dhcp")
        if self.pool:
            argv.append("--no-ping")    # ours does not ping before offering either
        self.proc = self.nets.popen(self.nets.server, *argv, stdout=subprocess.DEVNULL,
                                    stderr=open(self.work / "stderr", "w"))
        time.sleep(0.5)
        if self.proc.poll() is not None:
            raise RuntimeError(f"dnsmasq exited: {(self.work / 'stderr').read_text()}")
        return self.proc.pid

    def stop(self) -> None:
        if self.proc is not None:
            dhcpnet.stop_process(self.proc)


def perfdhcp(nets: VethNamespaces, macfile: Path, server_pid: int, label: str, server: str,
             *args: str, timeout: float = 300) -> Run:
    run = Run(server, label)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu0 = process_cpu(server_pid)
    start = time.monotonic()
    result = nets.run(nets.client, "perfdhcp", "-4", "-l", CLIENT_IF, "-M", str(macfile),
                      "-g", "single", "-x", "t", *args, timeout=timeout)
    run.wall = time.monotonic() - start
    run.server_cpu = process_cpu(server_pid) - cpu0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    run.client_cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    parse(result.stdout, run)
    if not run.received[0] and result.returncode not in (0, 3):
        lines = (result.stderr or result.stdout).strip().splitlines()
        run.error = lines[-1] if lines else f"perfdhcp exited {result.returncode}"
    return run


SECTION = re.compile(r"\*\*\*(Statistics for|Timestamps for packets): (\S+)\*\*\*")


def parse(text: str, run: Run) -> None:
    rate = re.search(r"Rate: ([\d.]+) 4-way exchanges/second", text)
    run.achieved = float(rate.group(1)) if rate else 0.0
    took = re.search(r"It took (\d+):(\d+):([\d.]+) to provision", text)
    if took:
        h, m, s = took.groups()
        run.provision_time = int(h) * 3600 + int(m) * 60 + float(s)
    stats: dict[str, dict[str, float]] = {}
    delays: dict[str, list[float]] = {}
    kind, which = None, None
    for line in text.splitlines():
        m = SECTION.search(line)
        if m:
            kind, which = m.group(1), m.group(2)
            continue
        if kind == "Statistics for":
            key, _, value = line.partition(":")
            try:
                stats.setdefault(which, {})[key.strip()] = float(value.split()[0])
            except (ValueError, IndexError):
                pass
        elif kind == "Timestamps for packets" and line.startswith("sent / received:"):
            sent, received = line.split(":", 1)[1].split("/")
            delays.setdefault(which, []).append(float(received) - float(sent))
    do, ra = stats.get("DISCOVER-OFFER", {}), stats.get("REQUEST-ACK", {})
    run.sent = (int(do.get("sent packets", 0)), int(ra.get("sent packets", 0)))
    run.received = (int(do.get("received packets", 0)), int(ra.get("received packets", 0)))
    run.drops = (do.get("drops ratio", 0.0), ra.get("drops ratio", 0.0))
    for name, values in delays.items():
        values.sort()
        run.latency[name] = (statistics.median(values) * 1000,
                             values[min(len(values) - 1, int(len(values) * 0.99))] * 1000)


def show(runs: list[Run]) -> None:
    print(f"{'server':8} {'load':>12} {'DORA/s':>8} {'drops DO/RA %':>14} "
          f"{'DO p50/p99 ms':>14} {'RA p50/p99 ms':>14} {'srv CPU us/DORA':>16} "
          f"{'perfdhcp CPU':>12}")
    for r in runs:
        if r.error:
            print(f"{r.server:8} {r.label:>12} error: {r.error}")
            continue
        lat = {k: f"{v[0]:.2f}/{v[1]:.1f}" for k, v in r.latency.items()}
        per = r.server_cpu / r.exchanges * 1e6 if r.exchanges else 0.0
        achieved = (f"{r.exchanges / r.provision_time:.0f}" if r.provision_time
                    else f"{r.achieved:.0f}")
        print(f"{r.server:8} {r.label:>12} {achieved:>8} "
              f"{r.drops[0]:>6.2f}/{r.drops[1]:<7.2f} {lat.get('DISCOVER-OFFER', '-'):>14} "
              f"{lat.get('REQUEST-ACK', '-'):>14} {per:>16.0f} "
              f"{100 * r.client_cpu / r.wall:>11.0f}%")
        if r.provision_time:
            print(f"{'':8} {'':>12} all {r.exchanges} clients provisioned in "
                  f"{r.provision_time:.2f} s")


# What the JSON carries for each load: (key, title, unit) and how a Run gives it.
MEASURES = [
    ("rate", "DORA/s", "/s"),
    ("drops", "drops, worst of DISCOVER-OFFER and REQUEST-ACK", "%"),
    ("p99", "REQUEST-ACK p99 latency", "ms"),
    ("cpu", "server CPU per DORA", "us"),
    ("time", "all clients provisioned in", "s"),
]


def measure(r: Run | None, key: str) -> float | None:
    if r is None or r.error:
        return None
    if key == "rate":
        return r.exchanges / r.provision_time if r.provision_time else r.achieved
    if key == "drops":
        return max(r.drops)
    if key == "p99":
        return r.latency["REQUEST-ACK"][1] if "REQUEST-ACK" in r.latency else None
    if key == "cpu":
        return r.server_cpu / r.exchanges * 1e6 if r.exchanges else None
    return r.provision_time


def json_figures(runs: list[Run], names: list[str], sustained: dict[str, float]) -> list[dict]:
    """The first server's figures, each with the others' from the same load beside it."""
    first, others = names[0], names[1:]
    by = {(r.server, r.label): r for r in runs}
    figures = []
    if first in sustained:
        figures.append(figure(f"{first}: sustained DORA/s with <1% drops", sustained[first],
                              "/s", compare={o: sustained[o] for o in others
                                             if o in sustained}))
    for label in dict.fromkeys(r.label for r in runs):
        for key, title, unit in MEASURES:
            value = measure(by.get((first, label)), key)
            if value is None:
                continue
            compare = {o: measure(by.get((o, label)), key) for o in others}
            figures.append(figure(f"{first}, {label}: {title}", value, unit,
                                  compare={o: v for o, v in compare.items() if v is not None}))
    return figures


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hosts", type=int, default=2000)
    ap.add_argument("--rates", default="1000,2000,5000,10000")
    ap.add_argument("--period", type=int, default=5)
    ap.add_argument("--servers", default="ours,dnsmasq")
    ap.add_argument("--quiet", action="store_true", help="no per-transaction logging")
    ap.add_argument("--pool", action="store_true",
                    help="dynamic leases from a range instead of reservations")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("bench_dhcp: needs root (network namespaces)", file=sys.stderr)
        return 2
    for program, package in (("perfdhcp", "kea-admin"), ("dnsmasq", "dnsmasq-base")):
        if shutil.which(program) is None:
            print(f"bench_dhcp: needs {program} (Debian package {package})", file=sys.stderr)
            return 2
    table = hosts(args.hosts)
    rates = [int(r) for r in args.rates.split(",")]
    servers = {"ours": Ours, "dnsmasq": Dnsmasq}
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="bench-dhcp-") as tmp:
        work = Path(tmp)
        macfile = work / "macs"
        macfile.write_text("".join(f"{m}\n" for m, _, _ in table))
        with VethNamespaces(prefix="xcpdbench", netmask_bits=NETMASK_BITS) as nets:
            dhcpnet.ip("-n", nets.client, "addr", "add", f"{CLIENT_ADDR}/{NETMASK_BITS}",
                       "dev", CLIENT_IF)
            for name in args.servers.split(","):
                server = servers[name](nets, work, table, args.quiet, args.pool)
                pid = server.start()
                try:
                    perfdhcp(nets, macfile, pid, "warm-up", name, "-r", "500", "-p", "1")
                    for rate in rates:
                        runs.append(perfdhcp(nets, macfile, pid, f"{rate}/s", name,
                                             "-r", str(rate), "-p", str(args.period)))
                    runs.append(perfdhcp(nets, macfile, pid, "avalanche", name,
                                         "--scenario", "avalanche", "-R", str(args.hosts)))
                finally:
                    server.stop()
    what = "dynamic leases from a range" if args.pool else "reservations"
    print(f"{args.hosts} hosts, {what}, perfdhcp as a relay, {args.period} s per "
          f"rate, logging {'off' if args.quiet else 'to a file'}; {os.cpu_count()} CPUs")
    show(runs)
    sustained = {}
    for name in args.servers.split(","):
        ok = [r for r in runs if r.server == name and not r.provision_time and not r.error
              and max(r.drops) < 1.0]
        best = max(ok, key=lambda r: r.achieved) if ok else None
        if best:
            sustained[name] = best.achieved
        print(f"{name}: sustained {best.achieved:.0f} DORA/s with <1% drops" if best
              else f"{name}: no rate ran with <1% drops")
    write_json(args.json, "dhcp", params_of(args),
               json_figures(runs, args.servers.split(","), sustained))
    return 0


if __name__ == "__main__":
    sys.exit(main())
