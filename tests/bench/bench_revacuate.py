#!/usr/bin/env python3
"""revacuate benchmark: planning where the guests of evacuated hypervisors go, then a
simulated evacuation through the real command.

    python tests/bench/bench_revacuate.py [--guests 1000] [--hosts 100] [--sources 10]
                                          [--free-min 2] [--free-max 16] [--repeat 7]
                                          [--seed 1]
                                          [--evac-guests 200] [--evac-sources 4]
                                          [--evac-dests 20] [--dest-memory 32]
                                          [--dest-load 30] [--large-limits 8,8]
                                          [--no-evacuation] [--ssh] [--json FILE]

How it measures, so the figures can be judged:
- Planning: xcatpy.virt.placement.plan() alone, in this process, on a fixed random
  scenario (--seed): --sources hypervisors being evacuated carry --guests guests of mixed
  sizes (512 MB to 16 GB, mostly small); every other hypervisor (512 GB) is a destination
  with its own free memory: it already runs guests, leaving --free-min to --free-max percent
  of it free. The defaults make the plan tight (about the memory the guests need is free on
  the hosts open to all of them), so the last guests meet full hosts and the no-room path is
  part of what is timed; --free-max 22 gives a roomy case where every guest fits. All
  --hosts are in free_mb, as a command would read them, and the rule refuses the evacuated
  hosts, 5 in maintenance, 10 in another cluster, and the quarter of the hosts without
  avx512f for the 15% of guests that need it. The plan is made --repeat times; min and
  median wall time are printed (target: under 1 s), with the moves, the unplaced guests by
  reason, and a check, from the moves alone, that no host is planned past its free memory
  and that every guest is either moved or unplaced, once.
- Evacuation: `revacuate h01,...` through run_command in this process (XCATBYPASS=1's
  path: noderange, tables, Fleet, plan, MigrationRunner, eventlog), against the xl
  simulator (tests/sim): every command a driver sends runs tests/sim/hvshell and the
  simulated xl/ls/cat/tee/arping as a child process, through LocalShell (no SSH), all
  hosts sharing one hvstate file. --evac-sources hosts carry --evac-guests running guests
  of mixed sizes (512 MB to 8 GB), written straight into the simulator's state with their
  xl config on the host and their disk image on shared storage (/vms); the matching nodes
  (vm.host, vm.storage=/vms, vm.memory, vm.uuid, mac.mac, hosts.ip, nodehm.mgt=xen) and
  the hypervisors (hypervisor.type=xen, hypervisor.dom0mem) are in a private state
  directory. --evac-dests destinations of --dest-memory GB already run guests of their own
  (nodes too) using 0 to --dest-load percent of their memory. A fresh copy of that scenario
  (same --seed) is evacuated once with the default --per-source/--per-dest (2/2) and once
  with --large-limits; site.vmmaxp stays at its default (64).
  Printed per run: wall time of the command alone (setup excluded), guests moved and
  stayed (from the output, and the summary line), the exit code, the simulated commands run
  (the simulator's command log, as hvstate.commands_run reads it), the most `xl migrate`
  in flight at once (in all, leaving one host, arriving at one host: counted by a wrapper
  around the shell, and checked against the limits), CPU of this process and of the
  simulated hosts (each simulated command is a Python process: on a small machine the
  simulator, not revacuate, is the limit), and the checks afterwards, from the simulator's
  own state: no host's memory overcommitted (free memory >= 0 on every host: the max
  overcommit printed must be 0), every source empty, every guest still running, and
  vm.host naming the host each guest really runs on.
  With --ssh the same scenario runs once more (default limits) through real OpenSSH
  (tests/sim/sshd.py SimHosts: one sshd per host on 127.0.0.x, makeknownhosts, the daemon's
  pooled Conch connections); it needs root and /usr/sbin/sshd, and adds about 40 s.
"""

import argparse
import contextlib
import os
import random
import resource
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.bench.report import figure, params_of, write_json  # noqa: E402
from tests.bench.timedoutput import TimedOutput  # noqa: E402
from xcatpy.virt.placement import Demand, Plan, plan  # noqa: E402

HOST_MB = 512 * 1024
# Guest sizes as a cloud flavour list would have them: many small, a few large.
SIZES_MB = [512, 1024, 2048, 4096, 8192, 16384]
SIZE_WEIGHTS = [10, 20, 30, 20, 12, 8]


def planning_scenario(rng: random.Random, guests: int, hosts: int, sources: int,
                      free_pct: tuple[float, float] = (2, 16)):
    """(demands, free_mb, allowed) for evacuating the first `sources` of `hosts`."""
    names = [f"hv{i:03}" for i in range(1, hosts + 1)]
    evacuated = set(names[:sources])
    dests = names[sources:]
    maintenance = set(dests[:5])
    other_cluster = set(dests[5:15])
    no_avx512 = set(rng.sample(dests, len(dests) // 4))  # an older generation of hosts
    # The hosts being evacuated are full of the guests leaving them; the others run guests
    # of their own, leaving free_pct percent of their memory free.
    low, high = free_pct
    free_mb = {h: 2048 if h in evacuated
               else int(HOST_MB * rng.uniform(low, high) / 100) // 256 * 256 for h in names}
    demands = [Demand(f"vm{i:04}", rng.choices(SIZES_MB, SIZE_WEIGHTS)[0],
                      names[i % sources]) for i in range(guests)]
    needs_avx512 = {d.guest for d in demands if rng.random() < 0.15}

    def allowed(demand: Demand, host: str) -> str | None:
        if host in evacuated:
            return "being evacuated"
        if host in maintenance:
            return "in maintenance"
        if host in other_cluster:
            return "in cluster b, the guest's host is in cluster a"
        if host in no_avx512 and demand.guest in needs_avx512:
            return "lacks CPU feature avx512f that the guest uses"
        return None

    return demands, free_mb, allowed


def check_plan(demands: list[Demand], free_mb: dict[str, int], result: Plan) -> list[str]:
    """What is wrong with the plan, from its moves alone: overcommit, guests lost or doubled,
    a guest moved onto its own source, free_mb not what the moves leave."""
    problems = []
    inbound: Counter = Counter()
    for m in result.moves:
        inbound[m.dest] += m.memory_mb
        if m.dest == m.source:
            problems.append(f"{m.guest} planned onto its source {m.source}")
    for host, mb in sorted(inbound.items()):
        if mb > free_mb[host]:
            problems.append(f"{host} overcommitted: {mb} MB planned in, {free_mb[host]} MB free")
    seen = Counter([m.guest for m in result.moves] + list(result.unplaced))
    lost = [d.guest for d in demands if seen[d.guest] != 1]
    if lost or len(seen) != len(demands):
        problems.append(f"{len(lost)} guests not moved or unplaced exactly once")
    if result.free_mb != {h: free_mb[h] - inbound[h] for h in free_mb}:
        problems.append("plan free_mb is not the input less the moves")
    return problems


def bench_planning(args, figures: list[dict]) -> bool:
    rng = random.Random(args.seed)
    demands, free_mb, allowed = planning_scenario(rng, args.guests, args.hosts, args.sources,
                                                  (args.free_min, args.free_max))
    need = sum(d.memory_mb for d in demands)
    usable = sum(mb for h, mb in free_mb.items() if allowed(Demand("", 0, ""), h) is None)
    print(f"planning: {len(demands)} guests ({need // 1024} GB) leaving {args.sources} hosts, "
          f"{args.hosts - args.sources} destinations with {usable // 1024} GB free on those "
          f"open to every guest")
    times = []
    result = None
    for _ in range(args.repeat):
        started = time.perf_counter()
        result = plan(demands, free_mb, allowed)
        times.append(time.perf_counter() - started)
    best, median = min(times), statistics.median(times)
    print(f"  plan x{args.repeat}: min {best * 1000:.1f} ms, median {median * 1000:.1f} ms "
          f"(target < 1 s: {'met' if median < 1 else 'MISSED'})")
    dests = Counter(m.dest for m in result.moves)
    print(f"  {len(result.moves)} moves onto {len(dests)} hosts (most onto one: "
          f"{max(dests.values(), default=0)}), {len(result.unplaced)} unplaced")
    for reason, n in Counter(why.split(":")[0].split(" (")[0]
                             for why in result.unplaced.values()).most_common():
        example = next(why for why in result.unplaced.values() if why.startswith(reason))
        print(f"    {n} x {reason}; e.g. {example}")
    tightest = min(result.free_mb[h] for h in dests) if dests else 0
    problems = check_plan(demands, free_mb, result)
    overcommitted = sum(1 for p in problems if "overcommitted" in p)
    print(f"  overcommitted hosts: {overcommitted} (least free left on a destination: "
          f"{tightest} MB); other problems: {len(problems) - overcommitted}")
    for p in problems[:10]:
        print(f"    {p}")
    figures += [
        figure(f"plan x{args.repeat}: median", median * 1000, "ms", "< 1 s", median < 1),
        figure(f"plan x{args.repeat}: min", best * 1000, "ms"),
        figure("guests moved", len(result.moves), "guests"),
        figure("guests unplaced (each with a reason)", len(result.unplaced), "guests"),
        figure("hosts overcommitted", overcommitted, "hosts", "0", overcommitted == 0),
        figure("other problems with the plan", len(problems) - overcommitted, "problems")]
    return not problems


# -- a simulated evacuation through the real command -------------------------------------

EVAC_SIZES_MB = [512, 1024, 2048, 4096, 8192]
EVAC_SIZE_WEIGHTS = [20, 30, 25, 15, 10]
DOM0_MB = 1024


def evacuation_scenario(rng: random.Random, guests: int, sources: int, dests: int,
                        dest_gb: int, dest_load_pct: float) -> dict:
    """Hosts (hvstate specs), the guests leaving the sources and the guests already on the
    destinations: {"hosts": {name: spec}, "guests": [(name, host, mb)], "resident": [...]}."""
    names = [f"h{i:02}" for i in range(1, sources + dests + 1)]
    leaving = [(f"g{i:03}", names[i % sources], rng.choices(EVAC_SIZES_MB, EVAC_SIZE_WEIGHTS)[0])
               for i in range(guests)]
    load: Counter = Counter()
    for _, host, mb in leaving:
        load[host] += mb
    hosts = {}
    for host in names[:sources]:
        # Room for its guests and dom0, rounded up to 16 GB.
        hosts[host] = {"memory_mb": -(-(load[host] + DOM0_MB) // 16384) * 16384,
                       "dom0_mb": DOM0_MB}
    resident = []
    for host in names[sources:]:
        hosts[host] = {"memory_mb": dest_gb * 1024, "dom0_mb": DOM0_MB}
        budget = int(dest_gb * 1024 * rng.uniform(0, dest_load_pct) / 100)
        i = 0
        while True:
            mb = rng.choices(EVAC_SIZES_MB, EVAC_SIZE_WEIGHTS)[0]
            if mb > budget:
                break
            budget -= mb
            i += 1
            resident.append((f"r{host[1:]}x{i:02}", host, mb))
    return {"hosts": hosts, "guests": leaving, "resident": resident,
            "sources": names[:sources], "dests": names[sources:]}


def _mac(i: int) -> str:
    return f"42:00:00:00:{i >> 8:02x}:{i & 0xFF:02x}"


def _ip(i: int) -> str:
    return f"10.1.{i >> 8}.{(i & 0xFF) + 1}"


def build_evacuation(workdir: Path, scenario: dict, addresses: dict[str, str] | None = None):
    """The simulator's state and the tables for `scenario` under workdir; returns
    (state_dir, sim_state_path). addresses: host -> address, for the sshd harness."""
    from tests.sim import hvstate
    from xcatpy.commands import run_command
    from xcatpy.commands.base import ListOutput, Request
    from xcatpy.db.store import Store

    sim = workdir / "sim" / "state.json"
    state_dir = workdir / "state"
    hosts = {h: {**spec, **({"address": addresses[h]} if addresses else {})}
             for h, spec in scenario["hosts"].items()}
    hvstate.create(sim, hosts, shared_paths=["/vms"])
    root = hvstate.files_root(sim)
    everyone = scenario["guests"] + scenario["resident"]
    rows = {"vm": [], "mac": [], "hosts": []}
    with hvstate.locked(sim) as state:
        for i, (name, host, mb) in enumerate(everyone):
            guest_uuid = str(uuid.UUID(int=i + 1))
            disk = f"/vms/{name}.img"
            config = f"/etc/xen/{name}.cfg"
            state["guests"][name] = {
                "host": host, "state": hvstate.RUNNING, "memory_mb": mb, "maxmem_mb": mb,
                "vcpus": 1, "max_vcpus": 1, "uuid": guest_uuid,
                "domid": hvstate.new_domid(state), "type": "pv", "toolstack": "xen",
                "macs": [_mac(i)], "bridges": ["xenbr0"], "disks": [disk],
                "disk_devices": ["xvda"], "defined": True, "autostart": False,
                "config": config}
            image = hvstate.host_path(host, disk, state, root)
            image.parent.mkdir(parents=True, exist_ok=True)
            image.touch()
            cfg = hvstate.host_path(host, config, state, root)
            cfg.parent.mkdir(parents=True, exist_ok=True)
            cfg.write_text(
                f'name = "{name}"\nuuid = "{guest_uuid}"\nmemory = {mb}\nmaxmem = {mb}\n'
                f"vcpus = 1\ndisk = [ 'format=raw, vdev=xvda, access=rw, target={disk}' ]\n"
                f"vif = [ 'mac={_mac(i)}, bridge=xenbr0' ]\n")
            rows["vm"].append({"node": name, "host": host, "memory": str(mb),
                               "uuid": guest_uuid, "cpus": "1", "powerstate": "on"})
            rows["mac"].append({"node": name, "mac": _mac(i)})
            rows["hosts"].append({"node": name, "ip": _ip(i)})

    store = Store.open(state_dir)
    commands = [
        ["nodeadd", ",".join(scenario["hosts"]), "groups=hv,all", "hypervisor.type=xen",
         f"hypervisor.dom0mem={DOM0_MB}"],
        ["nodeadd", ",".join(n for n, _, _ in everyone), "groups=guests,all",
         "vm.storage=/vms", "nodehm.mgt=xen"],
    ]
    for argv in commands:
        out = ListOutput()
        rc = run_command(Request(argv[0], argv[1:]), out, store)
        assert rc == 0, out.stderr[:5]
    store.begin()
    for table, table_rows in rows.items():
        store.upsert_rows(table, table_rows)
    if addresses:
        store.upsert_rows("hosts", [{"node": h, "ip": a} for h, a in addresses.items()])
    store.commit()
    store.close()
    return state_dir, sim


def run_revacuate(state_dir: Path, sources: list[str], extra: list[str]):
    from xcatpy.commands import run_command
    from xcatpy.commands.base import Request
    from xcatpy.db.store import Store

    store = Store.open(state_dir)
    out = TimedOutput()
    rc = run_command(Request("revacuate", [",".join(sources), *extra]), out, store)
    wall = time.monotonic() - out.start
    store.close()
    return rc, wall, out


class CountingShell:
    """A RemoteShell around another: counts the `xl migrate` commands in flight, in all,
    leaving each host and arriving at each, to show the limits the runner keeps."""

    def __init__(self, inner, host_of_address: dict[str, str]) -> None:
        self.inner = inner
        self.host_of_address = host_of_address
        self.lock = threading.Lock()
        self.now = 0
        self.leaving: Counter = Counter()
        self.arriving: Counter = Counter()
        self.peak = self.peak_leaving = self.peak_arriving = 0

    def run(self, target, argv, **kwargs):
        if list(argv[:2]) != ["xl", "migrate"]:
            return self.inner.run(target, argv, **kwargs)
        address = argv[-1].rpartition("@")[2]
        dest = self.host_of_address.get(address, address)
        with self.lock:
            self.now += 1
            self.leaving[target.node] += 1
            self.arriving[dest] += 1
            self.peak = max(self.peak, self.now)
            self.peak_leaving = max(self.peak_leaving, self.leaving[target.node])
            self.peak_arriving = max(self.peak_arriving, self.arriving[dest])
        try:
            return self.inner.run(target, argv, **kwargs)
        finally:
            with self.lock:
                self.now -= 1
                self.leaving[target.node] -= 1
                self.arriving[dest] -= 1

    def __getattr__(self, name):
        return getattr(self.inner, name)


def check_evacuation(state_dir: Path, sim: Path, scenario: dict) -> tuple[dict, list[str]]:
    """Figures and problems from the simulator's state and the tables after the run."""
    from tests.sim import hvstate
    from xcatpy.db.attrs import NodeAttrs
    from xcatpy.db.store import Store

    state = hvstate.read(sim)
    problems = []
    free = {h: hvstate.free_memory(state, h) for h in state["hosts"]}
    overcommit = max(0, -min(free.values()))
    for h, mb in sorted(free.items()):
        if mb < 0:
            problems.append(f"{h} overcommitted by {-mb} MB")
    running = {n: g["host"] for n, g in state["guests"].items() if g["state"] == hvstate.RUNNING}
    everyone = scenario["guests"] + scenario["resident"]
    lost = [n for n, _, _ in everyone if n not in running]
    if lost:
        problems.append(f"{len(lost)} guests no longer running, e.g. {lost[:3]}")
    left = Counter(running[n] for n, _, _ in scenario["guests"]
                   if running.get(n) in scenario["sources"])
    store = Store.open(state_dir)
    attrs = NodeAttrs(store)
    wrong = [n for n, host in running.items() if attrs.lookup(n, "vm", "host") != host]
    store.close()
    if wrong:
        problems.append(f"{len(wrong)} guests whose vm.host is not where they run, e.g. "
                        f"{wrong[:3]}")
    dest_free = [free[h] for h in scenario["dests"]]
    return {"overcommit": overcommit, "left_on_sources": sum(left.values()),
            "least_free_dest": min(dest_free), "most_free_dest": max(dest_free),
            "vmhost_wrong": len(wrong)}, problems


def evacuate_once(label: str, scenario: dict, limits: tuple[int, int],
                  measured: list[dict], *, ssh: bool = False) -> bool:
    """One evacuation of a fresh copy of `scenario` with --per-source/--per-dest `limits`;
    prints its figures and returns whether every check held."""
    from tests.sim import hvstate
    from xcatpy.virt import hosts as vmhosts

    per_source, per_dest = limits
    extra = ["--per-source", str(per_source), "--per-dest", str(per_dest)]
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as cleanup:
        workdir = Path(tmp)
        started = time.monotonic()
        if ssh:
            from tests.sim.sshd import SimHosts
            from xcatpy.drivers.ssh import shell_for
            from xcatpy.drivers.ssh.keys import client_key

            names = list(scenario["hosts"])
            sim_hosts = SimHosts(names, workdir / "sim" / "state.json", workdir,
                                 client_pubkey=client_key(workdir / "state").public_line)
            addresses = {h: sim_hosts[h].address for h in names}
            state_dir, sim = build_evacuation(workdir, scenario, addresses)
            cleanup.enter_context(sim_hosts)
            _must(state_dir, ["tabch", "key=sshport", f"site.value={sim_hosts.port}"])
            _must(state_dir, ["makeknownhosts", "hv"])
            shell = shell_for(state_dir)
            cleanup.callback(shell.close)  # before the sshds stop (callbacks run LIFO)
            counting = CountingShell(shell, {a: h for h, a in addresses.items()})
        else:
            from tests.sim.localshell import LocalShell

            state_dir, sim = build_evacuation(workdir, scenario)
            counting = CountingShell(LocalShell(sim), {})
        vmhosts.use_shell(lambda _state_dir: counting)
        cleanup.callback(vmhosts.use_shell, None)
        setup = time.monotonic() - started
        log_before = len(hvstate.logged_commands(sim.parent / "commands.log"))
        self_before = _cpu(resource.RUSAGE_SELF)
        children_before = _cpu(resource.RUSAGE_CHILDREN)
        rc, wall, out = run_revacuate(state_dir, scenario["sources"], extra)
        self_cpu = _cpu(resource.RUSAGE_SELF) - self_before
        log = hvstate.logged_commands(sim.parent / "commands.log")[log_before:]
        figures, problems = check_evacuation(state_dir, sim, scenario)
    # After the cleanup: sshd (and the commands it ran) is counted once it has been waited.
    sim_cpu = _cpu(resource.RUSAGE_CHILDREN) - children_before

    if counting.peak_leaving > per_source or counting.peak_arriving > per_dest:
        problems.append(f"limits not kept: {counting.peak_leaving} migrations leaving one "
                        f"host, {counting.peak_arriving} arriving at one host")
    moved = sum(1 for _, line in out.ok if line.endswith(tuple(f"migrated to {h}"
                                                              for h in scenario["dests"])))
    stayed = sum(1 for _, line in out.failed if ": Error: stays on " in line
                 or ": Error: migration to " in line)
    summary = next((line for _, line in out.ok if " guests moved, " in line
                    or " guest moved, " in line), "(no summary line)")
    per_host = Counter(e["host"] for e in log)
    migrations = [e for e in log if e["argv"][:2] == ["xl", "migrate"]]
    print(f"  {label}: rc={rc} wall {wall:.2f} s (setup {setup:.1f} s, excluded), "
          f"{moved} guests moved, {stayed} stayed; {summary}")
    print(f"    {moved / wall:.1f} guests/s; {len(log)} simulated commands run "
          f"({len(migrations)} xl migrate, {len(log) / max(moved, 1):.1f} per guest moved, "
          f"most on one host {max(per_host.values(), default=0)}); migrations at once: "
          f"{counting.peak} in all, {counting.peak_leaving} leaving one host, "
          f"{counting.peak_arriving} arriving at one host")
    print(f"    CPU: revacuate process {self_cpu:.1f} s, simulated hosts "
          f"{'(sshd and commands) ' if ssh else ''}{sim_cpu:.1f} s "
          f"(wall x cores = {wall * os.cpu_count():.1f} s)")
    print(f"    max simulated memory overcommit: {figures['overcommit']} MB (must be 0); "
          f"free on destinations afterwards {figures['least_free_dest']} to "
          f"{figures['most_free_dest']} MB; left on sources {figures['left_on_sources']}; "
          f"vm.host wrong {figures['vmhost_wrong']}")
    errors = [line for _, line in out.failed]
    for line in errors[:5]:
        print(f"    {line}")
    if len(errors) > 5:
        print(f"    ... {len(errors) - 5} more error lines")
    for p in problems[:10]:
        print(f"    PROBLEM: {p}")
    measured += [figure(f"evacuation {label}: wall", wall, "s"),
                 figure(f"evacuation {label}: guests moved", moved, "guests"),
                 figure(f"evacuation {label}: guests stayed", stayed, "guests"),
                 figure(f"evacuation {label}: max memory overcommit", figures["overcommit"],
                        "MB"),
                 figure(f"evacuation {label}: vm.host wrong", figures["vmhost_wrong"],
                        "guests"),
                 figure(f"evacuation {label}: revacuate process CPU", self_cpu, "s"),
                 figure(f"evacuation {label}: simulated hosts' CPU", sim_cpu, "s")]
    return not problems and moved + stayed == len(scenario["guests"])


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def _must(state_dir: Path, argv: list[str]) -> None:
    from xcatpy.commands import run_command
    from xcatpy.commands.base import ListOutput, Request
    from xcatpy.db.store import Store

    store = Store.open(state_dir)
    out = ListOutput()
    rc = run_command(Request(argv[0], argv[1:]), out, store)
    store.close()
    assert rc == 0, (argv, out.stdout[:5], out.stderr[:5])


def bench_evacuation(args, figures: list[dict]) -> bool:
    rng = random.Random(args.seed)
    scenario = evacuation_scenario(rng, args.evac_guests, args.evac_sources, args.evac_dests,
                                   args.dest_memory, args.dest_load)
    need = sum(mb for _, _, mb in scenario["guests"])
    free = sum(scenario["hosts"][h]["memory_mb"] - DOM0_MB for h in scenario["dests"]) - \
        sum(mb for _, _, mb in scenario["resident"])
    sizes = Counter(mb for _, _, mb in scenario["guests"])
    print(f"evacuation: {len(scenario['guests'])} running guests ({need // 1024} GB; "
          + ", ".join(f"{n} x {mb} MB" for mb, n in sorted(sizes.items()))
          + f") leaving {len(scenario['sources'])} hosts, {len(scenario['dests'])} "
          f"destinations of {args.dest_memory} GB with {len(scenario['resident'])} guests of "
          f"their own and {free // 1024} GB free; xl simulator, bypass mode, "
          f"{os.cpu_count()} CPUs")
    large = tuple(int(n) for n in args.large_limits.split(","))
    runs = [("--per-source 2 --per-dest 2 (the defaults)", (2, 2), False),
            (f"--per-source {large[0]} --per-dest {large[1]}", large, False)]
    if args.ssh:
        runs.append(("over OpenSSH, --per-source 2 --per-dest 2", (2, 2), True))
    ok = [evacuate_once(label, scenario, limits, figures, ssh=ssh)
          for label, limits, ssh in runs]
    return all(ok)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--guests", type=int, default=1000)
    parser.add_argument("--hosts", type=int, default=100)
    parser.add_argument("--sources", type=int, default=10)
    parser.add_argument("--free-min", type=float, default=2,
                        help="least free memory on a destination, percent of its 512 GB")
    parser.add_argument("--free-max", type=float, default=16)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--evac-guests", type=int, default=200)
    parser.add_argument("--evac-sources", type=int, default=4)
    parser.add_argument("--evac-dests", type=int, default=20)
    parser.add_argument("--dest-memory", type=int, default=32,
                        help="memory of each destination, GB")
    parser.add_argument("--dest-load", type=float, default=30,
                        help="most of a destination's memory its own guests use, percent")
    parser.add_argument("--large-limits", default="8,8",
                        help="--per-source,--per-dest of the second run")
    parser.add_argument("--no-evacuation", action="store_true",
                        help="only the planning part")
    parser.add_argument("--ssh", action="store_true",
                        help="also evacuate through real OpenSSH (needs root and sshd)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    # Each part prints its figures, adds them to `figures` and returns whether its checks held.
    figures: list[dict] = []
    ok = [bench_planning(args, figures)]
    if not args.no_evacuation:
        ok.append(bench_evacuation(args, figures))
    write_json(args.json, "revacuate", params_of(args), figures)
    return 0 if all(ok) else 1


if __name__ == "__main__":
    sys.exit(main())
