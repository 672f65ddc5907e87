#!/usr/bin/env python3
"""revacuate benchmark: planning where the guests of evacuated hypervisors go.

    python tests/bench/bench_revacuate.py [--guests 1000] [--hosts 100] [--sources 10]
                                          [--free-min 2] [--free-max 16] [--repeat 7]
                                          [--seed 1]

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
"""

import argparse
import random
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

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


def bench_planning(args) -> bool:
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
    return not problems


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
    args = parser.parse_args()

    # Each part prints its figures and returns whether its checks held; further parts
    # (e.g. an evacuation through the real command) add their own arguments above and
    # their own call here.
    ok = [bench_planning(args)]
    return 0 if all(ok) else 1


if __name__ == "__main__":
    sys.exit(main())
