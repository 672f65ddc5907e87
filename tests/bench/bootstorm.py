#!/usr/bin/env python3
"""Boot storm: N nodes network-boot at once, against xcatd and against the classic C stack
(dnsmasq, tftpd-hpa, nginx) in the same run.

Run on demand, as root (DHCP sockets are bound to `lo`, dnsmasq's TFTP listens on 69):

    python tests/bench/bootstorm.py [--nodes 500] [--kernel-mb 8] [--initrd-mb 40]
        [--stacks xcatd,dnsmasq,tftpd-hpa] [--spread 0] [--json FILE] [--profile FILE]

How it measures, so the figures can be judged:
- Everything is on loopback. Nodes are 127.1.x.y, each with its own MAC and UUID and a
  DHCP reservation; a simulated relay agent at 127.1.0.1 carries their DHCP to the server
  (unicast with giaddr, as on a routed cluster network). What each node does is in
  stormclient.py: DHCP, the boot program and ldlinux.c32 over TFTP with a tsize probe and
  blksize, its pxelinux config (UUID name first), kernel and initrd over HTTP, its answer
  file from its own address, and the install-finished callback.
- xcatd boots the nodes as `noderes.netboot=lpxelinux` after `nodeset osimage=`: configs
  and answer files are rendered per request, the callback moves each node to `boot`.
- The classic stack serves the same bytes as static files, written beforehand from the
  same tables (as xCAT's nodeset writes them): dnsmasq for DHCP with a hosts file, TFTP
  by dnsmasq ("dnsmasq") or tftpd-hpa ("tftpd-hpa"), nginx for HTTP; its callback is a
  static 200.
- Server CPU is the servers' own (each stack runs in its own cgroup where the machine
  allows, so forked tftpd-hpa children count); memory is the peak RSS. The client's own
  CPU is printed too: near 100% of the wall time would mean the client is the limit.
- A node fails when a phase exhausts its retries or gets a wrong answer (a short transfer,
  a differing file, the wrong address). Latencies are per phase, over completed nodes.
"""

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.bench.stormclient import (  # noqa: E402
    PHASES,
    NodeResult,
    SimNode,
    Target,
    file_prefix,
    raise_fd_limit,
    storm,
)
from tests.integration.clitools import cli, command_path  # noqa: E402
from tests.integration.xcatd import Xcatd  # noqa: E402

IMAGE = "rhels8-x86_64-install-compute"
SERVER = "127.0.0.1"
RELAY = "127.1.0.1"
NETWORK, NETMASK = "127.1.0.0", "255.255.0.0"
LOADERS = {"lpxelinux.0": "/usr/lib/PXELINUX/lpxelinux.0",
           "ldlinux.c32": "/usr/lib/syslinux/modules/bios/ldlinux.c32"}
KERNEL_PATH = "rhels8/x86_64/images/pxeboot/vmlinuz"
INITRD_PATH = "rhels8/x86_64/images/pxeboot/initrd.img"


def sim_nodes(count: int) -> list[SimNode]:
    width = max(4, len(str(count)))
    nodes = []
    for i in range(count):
        name = f"n{i + 1:0{width}d}"
        nodes.append(SimNode(
            name=name, mac=f"52:54:01:{i >> 16 & 255:02x}:{i >> 8 & 255:02x}:{i & 255:02x}",
            ip=f"127.1.{1 + i // 250}.{1 + i % 250}",
            uuid=uuid.uuid5(uuid.NAMESPACE_DNS, f"{name}.bootstorm").bytes))
    return nodes


def write_big(path: Path, megabytes: float) -> None:
    """A file of the given size whose bytes differ by position, so a misplaced block shows."""
    path.parent.mkdir(parents=True, exist_ok=True)
    block = os.urandom(1 << 20)
    with open(path, "wb") as f:
        whole, part = divmod(int(megabytes * (1 << 20)), 1 << 20)
        for _ in range(whole):
            f.write(block)
        f.write(block[:part])


def prepare_state(work: Path, nodes: list[SimNode], kernel_mb: float,
                  initrd_mb: float) -> Path:
    """An xcatpy state directory with the nodes defined, reserved and set to install,
    through the real CLIs in bypass mode; the boot programs in its TFTP root and a kernel
    and initrd of the given sizes in its install tree. Returns the state directory."""
    state = work / "state"
    subprocess.run([*command_path("xcatd"), "--init"], check=True, capture_output=True,
                   env=dict(os.environ, XCATPY_STATE=str(state)))
    write_big(state / "install" / KERNEL_PATH, kernel_mb)
    write_big(state / "install" / INITRD_PATH, initrd_mb)
    tftpboot = state / "tftpboot"
    tftpboot.mkdir(parents=True, exist_ok=True)
    for name, source in LOADERS.items():
        (tftpboot / name).write_bytes(Path(source).read_bytes())
    csv = {
        "mac.csv": "#node,interface,mac,comments,disable\n" + "".join(
            f'"{n.name}",,"{n.mac}",,\n' for n in nodes),
        "hosts.csv": "#node,ip,hostnames,otherinterfaces,comments,disable\n" + "".join(
            f'"{n.name}","{n.ip}",,,,\n' for n in nodes),
        "nodelist.csv": "#node,groups,status,statustime,appstatus,appstatustime,primarysn,"
                        "hidden,updatestatus,updatestatustime,zonename,comments,disable\n"
                        + "".join(f'"{n.name}","storm,all",,,,,,,,,,,\n' for n in nodes),
    }
    for name, text in csv.items():
        (work / name).write_text(text)
    steps = [
        ("tabrestore", str(work / "nodelist.csv")),
        ("tabrestore", str(work / "mac.csv")),
        ("tabrestore", str(work / "hosts.csv")),
        ("chdef", "-t", "group", "-o", "storm", "netboot=lpxelinux"),
        ("mkdef", "-t", "network", "-o", "storm", f"net={NETWORK}", f"mask={NETMASK}",
         f"gateway={RELAY}"),
        ("mkdef", "-t", "osimage", "-o", IMAGE, "osvers=rhels8", "osarch=x86_64",
         "profile=compute", "provmethod=install", "imagetype=linux", "osname=Linux"),
        ("tabch", "key=system,username=root", "passwd.password=cluster"),
        ("nodeset", "storm", f"osimage={IMAGE}"),
        ("makedhcp", "-a"),
    ]
    for args in steps:
        r = cli(*args, state=state, cwd=work)
        if r.rc:
            raise SystemExit(f"{' '.join(args)} failed: {r.err}")
    return state


def expected_prefixes(state: Path) -> dict[str, bytes]:
    return {"/" + KERNEL_PATH: file_prefix(state / "install" / KERNEL_PATH),
            "/" + INITRD_PATH: file_prefix(state / "install" / INITRD_PATH)}


# -- xcatd ---------------------------------------------------------------------------------

class XcatdStack:
    name = "xcatd"

    def __init__(self, work: Path, state: Path, dhcp_port: int) -> None:
        self.work, self.state, self.dhcp_port = work, state, dhcp_port
        self.daemon = Xcatd(state, "--dhcp-port", str(dhcp_port), "--dhcp-interfaces", "lo")
        self.usage = None

    def start(self, usage_factory) -> Target:
        self.daemon.start()
        try:
            self.usage = usage_factory(self.name)
            self.usage.attach(self.daemon.proc.pid)
            return Target(SERVER, self.dhcp_port, self.daemon.ports["tftp_port"], RELAY,
                          expected_prefixes(self.state))
        except BaseException:
            self.daemon.stop()
            raise

    def pids(self) -> list[int]:
        return [self.daemon.proc.pid]

    def check(self, results: list[NodeResult]) -> list[str]:
        """xcatd's own account: every completed node must now be set to boot locally."""
        r = cli("nodels", "storm", "chain.currstate", state=self.state, cwd=self.work)
        states = dict(line.split(": ", 1) for line in r.out.splitlines() if ": " in line)
        done = {x.node for x in results if x.failed is None}
        return [f"{node}: chain.currstate is {states.get(node)!r} after its callback"
                for node in sorted(done) if states.get(node) != "boot"]

    def stop(self) -> None:
        self.daemon.stop()


# -- report --------------------------------------------------------------------------------

def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


@dataclass
class StormRun:
    stack: str
    nodes: int
    completed: int
    failed: int
    wall: float                         # s from the first node's start to the last's end
    server_cpu: float                   # s
    peak_rss_mb: float | None
    client_cpu: float                   # s
    phases: dict[str, dict[str, float]] = field(default_factory=dict)   # phase -> p50/p95/..
    failures: list[str] = field(default_factory=list)
    retransmits: int = 0
    gbytes: float = 0.0


def summarize(stack: str, results: list[NodeResult], wall: float, server_cpu: float,
              peak_rss: float | None, client_cpu: float) -> StormRun:
    done = [r for r in results if r.failed is None]
    run = StormRun(stack, len(results), len(done), len(results) - len(done), wall,
                   server_cpu, peak_rss, client_cpu,
                   retransmits=sum(r.retransmits for r in results),
                   gbytes=sum(r.bytes for r in results) / 1e9)
    for phase in (*PHASES, "total"):
        values = ([r.finished - r.started for r in done] if phase == "total"
                  else [r.phases[phase] for r in done if phase in r.phases])
        run.phases[phase] = {"p50": percentile(values, 50), "p95": percentile(values, 95),
                             "p99": percentile(values, 99), "max": max(values, default=0.0)}
    run.failures = sorted(f"{r.node}: {r.failed}" for r in results if r.failed)
    return run


def show(run: StormRun) -> None:
    rss = f"{run.peak_rss_mb:.0f} MB" if run.peak_rss_mb is not None else "unknown"
    print(f"\n== {run.stack}: {run.nodes} nodes ==")
    print(f"completed {run.completed}, failed {run.failed}, wall {run.wall:.2f} s, "
          f"{run.gbytes:.1f} GB moved, retransmissions {run.retransmits}")
    print(f"server CPU {run.server_cpu:.1f} s, peak memory {rss}; client CPU "
          f"{run.client_cpu:.1f} s ({100 * run.client_cpu / max(run.wall, 1e-9):.0f}% of wall)")
    print(f"{'phase':8} {'p50 ms':>9} {'p95 ms':>9} {'p99 ms':>9} {'max ms':>9}")
    for phase, q in run.phases.items():
        print(f"{phase:8} " + " ".join(f"{1000 * q[k]:9.1f}" for k in ("p50", "p95", "p99",
                                                                        "max")))
    for line in run.failures[:20]:
        print(f"  FAILED {line}")
    if len(run.failures) > 20:
        print(f"  ... and {len(run.failures) - 20} more")


# -- driver --------------------------------------------------------------------------------

def client_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def start_profiler(pid: int, out: Path) -> subprocess.Popen:
    """py-spy sampling the server for the storm (collapsed stacks: one line per stack)."""
    spy = Path(sys.executable).parent / "py-spy"
    if not spy.exists():
        raise SystemExit("bootstorm: --profile needs py-spy: pip install -e '.[bench]'")
    proc = subprocess.Popen([str(spy), "record", "-p", str(pid), "-o", str(out), "--format",
                             "raw", "-r", "100", "--nonblocking", "--threads"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)     # attached before the first packet
    return proc


def stop_profiler(proc: subprocess.Popen) -> None:
    proc.send_signal(subprocess.signal.SIGINT)
    proc.wait(60)


def run_stack(stack, nodes: list[SimNode], usage_factory, *, blksize: int,
              spread: float, profile: Path | None = None) -> StormRun:
    target = stack.start(usage_factory)
    try:
        spy = start_profiler(stack.pids()[0], profile) if profile else None
        cpu0, client0 = stack.usage.cpu_seconds(), client_cpu()
        started = time.monotonic()
        results = asyncio.run(storm(nodes, target, blksize=blksize, spread=spread))
        wall = time.monotonic() - started
        if spy is not None:
            stop_profiler(spy)
        server_cpu = stack.usage.cpu_seconds() - cpu0
        run = summarize(stack.name, results, wall, server_cpu, stack.usage.peak_rss_mb(),
                        client_cpu() - client0)
        run.failures += stack.check(results)
        return run
    finally:
        stack.stop()
        stack.usage.remove()


def make_stack(name: str, work: Path, state: Path, nodes: list[SimNode], dhcp_port: int):
    if name == "xcatd":
        return XcatdStack(work, state, dhcp_port)
    from tests.bench.stormcstack import CStack
    return CStack(work / name, state, nodes, relay=RELAY, dhcp_port=dhcp_port, tftp=name)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--nodes", default="500",
                    help="node counts, comma-separated: one storm per count (default 500)")
    ap.add_argument("--kernel-mb", type=float, default=8.0)
    ap.add_argument("--initrd-mb", type=float, default=40.0)
    ap.add_argument("--stacks", default="xcatd,dnsmasq",
                    help="xcatd, dnsmasq (dnsmasq DHCP+TFTP, nginx), tftpd-hpa (dnsmasq "
                         "DHCP, tftpd-hpa, nginx); comma-separated (default xcatd,dnsmasq)")
    ap.add_argument("--blksize", type=int, default=1456)
    ap.add_argument("--spread", type=float, default=0.0,
                    help="power the nodes on at random moments within this many seconds "
                         "(default 0: all at once)")
    ap.add_argument("--dhcp-port", type=int, default=6767)
    ap.add_argument("--json", type=Path, help="also write the figures here")
    ap.add_argument("--profile", type=Path, metavar="FILE",
                    help="sample xcatd with py-spy during the storm; collapsed stacks to "
                         "FILE (one per node count: FILE.<N>)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    args = ap.parse_args(argv)
    if os.geteuid() != 0:
        print("bootstorm: run as root (DHCP sockets bind to lo; dnsmasq's TFTP is on 69)",
              file=sys.stderr)
        return 2
    raise_fd_limit()
    from tests.bench.procstat import ProcessUsage
    counts = [int(c) for c in args.nodes.split(",")]
    stacks = [s.strip() for s in args.stacks.split(",") if s.strip()]
    runs: list[StormRun] = []
    work_root = Path(tempfile.mkdtemp(prefix="bootstorm-"))
    try:
        for count in counts:
            nodes = sim_nodes(count)
            work = work_root / f"n{count}"
            work.mkdir()
            t0 = time.monotonic()
            state = prepare_state(work, nodes, args.kernel_mb, args.initrd_mb)
            print(f"{count} nodes defined, reserved and set to install in "
                  f"{time.monotonic() - t0:.1f} s")
            for name in stacks:
                if name == "xcatd":
                    subprocess.run([*command_path("nodeset"), "storm", f"osimage={IMAGE}"],
                                   env=dict(os.environ, XCATPY_STATE=str(state),
                                            XCATBYPASS="1"), check=True,
                                   capture_output=True)
                stack = make_stack(name, work, state, nodes, args.dhcp_port)
                profile = (args.profile.with_name(f"{args.profile.name}.{count}")
                           if args.profile and name == "xcatd" else None)
                run = run_stack(stack, nodes, ProcessUsage, blksize=args.blksize,
                                spread=args.spread, profile=profile)
                show(run)
                runs.append(run)
    finally:
        if not args.keep:
            subprocess.run(["rm", "-rf", str(work_root)], check=False)
        else:
            print(f"work directory kept: {work_root}")
    if args.json:
        args.json.write_text(json.dumps({
            "bench": "bootstorm", "kernel_mb": args.kernel_mb, "initrd_mb": args.initrd_mb,
            "blksize": args.blksize, "spread": args.spread,
            "runs": [run.__dict__ for run in runs]}, indent=1))
    return 0 if all(r.failed == 0 for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())

