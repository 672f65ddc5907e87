#!/usr/bin/env python3
"""rpower benchmark: `rpower <N nodes> stat` against simulated BMCs, some of them dead.

    python tests/bench/bench_rpower.py [--nodes 1000] [--dead 100] [--sim-processes 2]
                                       [--maxp 64] [--timeout 2] [--retries 3] [--repeat 2]
                                       [--action stat] [--cli] [--json FILE]

How it measures, so the figures can be judged:
- The BMCs are tests/sim/bmcsim.py BMCs (pyghmi's IPMI 2.0 server), 127.0.0.1 with one port
  each, in --sim-processes child processes, so they do not share this process's CPU time
  or interpreter lock. Every tenth node (--dead of them, spread evenly: the worst case for
  the ipmimaxp slots) has a BMC that swallows every packet.
- The command is the real one: `rpower all <action>` through run_command in this process
  (XCATBYPASS=1's path: noderange, table lookups, driver dispatch, output), on a private
  state directory with nodehm.mgt=ipmi and ipmi.bmc=127.0.0.1:<port> for every node and
  site.ipmimaxp/ipmitimeout/ipmiretries as given. Each output line is timestamped as the
  command emits it. With --cli it runs bin/rpower instead, as a user would, and only the
  wall time and line counts are printed.
- --repeat runs the command again in the same process: the first run includes starting
  the engine and pyghmi's IO thread, later ones show a warm daemon.
- Phases: "first reply" and "last live reply" (the last node whose BMC answers) show the
  throughput part; "last reply" includes the dead BMCs' deadline (ipmitimeout x
  ipmiretries). CPU: this process (user+sys over the command) and the simulators' (from
  /proc), to show which side was the limit on this machine's cores.
- Target (issue 6): every node reported once, under 5 s plus one deadline.
"""

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.bench.report import figure, params_of, write_json  # noqa: E402
from tests.bench.timedoutput import TimedOutput  # noqa: E402
from tests.sim.bmcsim import BmcFleet, BmcSpec  # noqa: E402


def populate(state: Path, endpoints, args) -> float:
    from xcatpy.commands import run_command
    from xcatpy.commands.base import ListOutput, Request
    from xcatpy.db.store import Store

    started = time.monotonic()
    store = Store.open(state)
    for argv in (["nodeadd", f"n[1-{args.nodes}]", "groups=compute", "nodehm.mgt=ipmi"],
                 ["tabch", "key=ipmimaxp", f"site.value={args.maxp}"],
                 ["tabch", "key=ipmitimeout", f"site.value={args.timeout}"],
                 ["tabch", "key=ipmiretries", f"site.value={args.retries}"]):
        out = ListOutput()
        rc = run_command(Request(argv[0], argv[1:]), out, store)
        assert rc == 0, out.stderr[:5]
    store.begin()
    store.upsert_rows("ipmi", [{"node": f"n{i + 1}", "bmc": f"{ep.address}:{ep.port}"}
                               for i, ep in enumerate(endpoints)])
    store.commit()
    store.close()
    return time.monotonic() - started


def cpu_seconds(pids: list[int]) -> float:
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def run_in_process(state: Path, action: str):
    from xcatpy.commands import run_command
    from xcatpy.commands.base import Request
    from xcatpy.db.store import Store

    store = Store.open(state)
    out = TimedOutput()
    before = resource.getrusage(resource.RUSAGE_SELF)
    rc = run_command(Request("rpower", ["all", action]), out, store)
    wall = time.monotonic() - out.start
    after = resource.getrusage(resource.RUSAGE_SELF)
    store.close()
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return rc, wall, cpu, out


def target_figures(run: int, wall: float, reported: int, duplicates: int, args) -> list[dict]:
    """Issue 6's target: every node reported once, under 5 s plus one deadline."""
    limit = 5 + float(args.timeout) * int(args.retries)
    return [figure(f"run {run}: wall", wall, "s", f"< 5 s + one deadline = {limit:g} s",
                   wall < limit),
            figure(f"run {run}: nodes reported", reported, "nodes",
                   f"all {args.nodes}, once each", reported == args.nodes and not duplicates)]


def report(run: int, rc: int, wall: float, cpu: float, sim_cpu: float, out: TimedOutput,
           args) -> list[dict]:
    nodes = {line.split(":", 1)[0] for _, line in out.ok + out.failed}
    dead_expected = args.dead
    timeouts = [t for t, line in out.failed if "timed out" in line]
    live_times = [t for t, _ in out.ok]
    print(f"run {run}: rc={rc} wall {wall:.2f} s, {len(out.ok)} ok, {len(out.failed)} failed "
          f"({len(timeouts)} timed out, {dead_expected} BMCs dead), "
          f"{len(nodes)} distinct nodes of {args.nodes} reported, "
          f"{len(out.ok) + len(out.failed) - len(nodes)} duplicates")
    if live_times:
        q = statistics.quantiles(live_times, n=20) if len(live_times) > 1 else live_times * 19
        print(f"  first reply {min(live_times):.3f} s, last live reply {max(live_times):.2f} s;"
              f" live replies at p50 {q[9]:.2f} s, p95 {q[18]:.2f} s")
    if out.failed:
        print(f"  failures from {min(t for t, _ in out.failed):.2f} s to "
              f"{max(t for t, _ in out.failed):.2f} s; e.g. {out.failed[0][1]}")
    print(f"  CPU: rpower process {cpu:.2f} s, simulators {sim_cpu:.2f} s "
          f"(wall x cores = {wall * os.cpu_count():.1f} s)")
    duplicates = len(out.ok) + len(out.failed) - len(nodes)
    figures = target_figures(run, wall, len(nodes), duplicates, args)
    figures += [figure(f"run {run}: ok", len(out.ok), "nodes"),
                figure(f"run {run}: timed out", len(timeouts), "nodes"),
                figure(f"run {run}: other failures", len(out.failed) - len(timeouts), "nodes")]
    if live_times:
        figures.append(figure(f"run {run}: last live reply", max(live_times), "s"))
    return figures + [figure(f"run {run}: rpower process CPU", cpu, "s"),
                      figure(f"run {run}: simulators' CPU", sim_cpu, "s")]


def run_cli(state: Path, action: str) -> tuple[int, float, int, int]:
    env = {**os.environ, "XCATPY_STATE": str(state), "XCATBYPASS": "1"}
    started = time.monotonic()
    proc = subprocess.run([sys.executable, str(REPO / "bin" / "rpower"), "all", action],
                          capture_output=True, text=True, env=env)
    wall = time.monotonic() - started
    return (proc.returncode, wall, len(proc.stdout.splitlines()),
            len(proc.stderr.splitlines()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--dead", type=int, default=100)
    parser.add_argument("--sim-processes", type=int, default=2)
    parser.add_argument("--maxp", type=int, default=64)
    parser.add_argument("--timeout", default="2")
    parser.add_argument("--retries", default="3")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--action", default="stat")
    parser.add_argument("--cli", action="store_true", help="run bin/rpower in a subprocess")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    step = args.nodes // args.dead if args.dead else 0
    dead = {i * step for i in range(args.dead)} if step else set()
    specs = [BmcSpec(power="on" if i % 2 else "off", dead=i in dead) for i in range(args.nodes)]
    print(f"{args.nodes} nodes, {len(dead)} dead BMCs, {args.sim_processes} simulator "
          f"processes, ipmimaxp {args.maxp}, ipmitimeout {args.timeout} s x ipmiretries "
          f"{args.retries}, {os.cpu_count()} CPUs")
    figures = []
    with tempfile.TemporaryDirectory() as tmp, BmcFleet(specs, args.sim_processes) as fleet:
        state = Path(tmp) / "state"
        took = populate(state, fleet.endpoints, args)
        print(f"setup: tables for {args.nodes} nodes in {took:.2f} s; simulators pids "
              f"{fleet.pids}")
        for run in range(1, args.repeat + 1):
            sim_before = cpu_seconds(fleet.pids)
            if args.cli:
                rc, wall, out_lines, err_lines = run_cli(state, args.action)
                print(f"run {run} (bin/rpower): rc={rc} wall {wall:.2f} s, {out_lines} ok "
                      f"lines, {err_lines} error lines, simulators CPU "
                      f"{cpu_seconds(fleet.pids) - sim_before:.2f} s")
                # bin/rpower: one line per node, so the count stands for the nodes
                figures += target_figures(run, wall, out_lines + err_lines, 0, args)
                continue
            rc, wall, cpu, out = run_in_process(state, args.action)
            figures += report(run, rc, wall, cpu, cpu_seconds(fleet.pids) - sim_before, out,
                              args)
    write_json(args.json, "rpower", params_of(args), figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
