#!/usr/bin/env python3
"""Table-command benchmark: 10,000 nodes with ~8 attributes each.

Prints, for each operation, the handler time in-process and the wall time of the real
command-line program (Python start-up included), beside a raw SQLite insert of the same
rows as the floor. Targets (issue 2): each command under 2 s, and within 20x the floor.
Run on demand: `python tests/bench/bench_tables.py [--nodes N] [--json FILE]`.
"""

import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.bench.report import figure, params_of, write_json  # noqa: E402
from xcatpy.commands import run_command  # noqa: E402
from xcatpy.commands.base import ListOutput, Request  # noqa: E402
from xcatpy.db.attrs import NodeAttrs  # noqa: E402
from xcatpy.db.noderange import NodeRange  # noqa: E402
from xcatpy.db.store import Store  # noqa: E402

ATTRS = ["groups=compute,all", "nodehm.mgt=ipmi", "nodehm.power=ipmi", "nodetype.os=rhels9",
         "nodetype.arch=x86_64", "nodetype.profile=compute", "noderes.netboot=xnba",
         "vm.memory=4096"]


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def in_process(state: Path, command: str, *args: str) -> float:
    store = Store.open(state)
    out = ListOutput()
    t = timed(lambda: run_command(Request(command, list(args)), out, store))
    store.close()
    if out.stderr:
        raise SystemExit(f"{command} failed: {out.stderr[:3]}")
    return t


def cli(state: Path, command: str, *args: str) -> float:
    env = dict(os.environ, XCATPY_STATE=str(state), XCATBYPASS="1")
    launcher = [sys.executable, str(REPO / "bin" / command)]
    start = time.perf_counter()
    p = subprocess.run(launcher + list(args), env=env, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - start
    if p.returncode:
        raise SystemExit(f"{command} failed: {p.stderr[:300]}")
    return elapsed


def raw_floor(tmp: Path, n: int) -> float:
    """The same rows inserted with plain sqlite3 executemany in one transaction."""
    conn = sqlite3.connect(tmp / "raw.sqlite", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    tables = {"nodelist": ["groups"], "nodehm": ["mgt", "power"],
              "nodetype": ["os", "arch", "profile"], "noderes": ["netboot"], "vm": ["memory"]}
    for t, cols in tables.items():
        conn.execute(f"CREATE TABLE {t} (node TEXT PRIMARY KEY, {', '.join(cols)})")
    values = {"groups": "compute,all", "mgt": "ipmi", "power": "ipmi", "os": "rhels9",
              "arch": "x86_64", "profile": "compute", "netboot": "xnba", "memory": "4096"}
    names = [f"node{i:05d}" for i in range(1, n + 1)]

    def insert():
        conn.execute("BEGIN")
        for t, cols in tables.items():
            conn.executemany(f"INSERT INTO {t} VALUES (?{', ?' * len(cols)})",
                             [(nm, *[values[c] for c in cols]) for nm in names])
        conn.execute("COMMIT")

    t = timed(insert)
    conn.close()
    return t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--nodes", type=int, default=10000)
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args()
    n = args.nodes
    rng = f"node[00001-{n:05d}]"
    excl = f"{rng},-node[{n // 2:05d}-{n // 2 + n // 10 - 1:05d}]"
    rows = []
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        floor = raw_floor(tmp, n)
        a, b = tmp / "a", tmp / "b"
        rows.append(("nodeadd", in_process(a, "nodeadd", rng, *ATTRS),
                     cli(b, "nodeadd", rng, *ATTRS)))
        rows.append(("nodels all groups", in_process(a, "nodels", "all", "groups"),
                     cli(b, "nodels", "all", "groups")))
        rows.append(("lsdef -l all nodes", in_process(a, "lsdef", "-l", "all"),
                     cli(b, "lsdef", "-l", "all")))
        rows.append(("chdef all nodes", in_process(a, "chdef", "all", "vmmemory=8192",
                                                   "os=rhels9.4"),
                     cli(b, "chdef", "all", "vmmemory=8192", "os=rhels9.4")))
        store = Store.open(a)
        store.begin(write=False)
        expand = NodeRange(NodeAttrs(store), read_file=lambda _: "").expand
        count = len(expand(excl))
        t_range = timed(lambda: expand(excl))
        store.rollback()
        store.close()
        rows.append((f"noderange {excl} ({count} nodes)", t_range, None))
    print(f"# {n} nodes, {len(ATTRS)} attributes each; raw SQLite floor {floor * 1000:.0f} ms\n")
    print("| operation | in-process (s) | CLI wall (s) | CLI / floor |")
    print("| --- | ---: | ---: | ---: |")
    for name, t_in, t_cli in rows:
        cli_s = f"{t_cli:.3f}" if t_cli is not None else "-"
        ratio = f"{t_cli / floor:.1f}x" if t_cli is not None else f"{t_in / floor:.2f}x"
        print(f"| {name} | {t_in:.3f} | {cli_s} | {ratio} |")
    print(f"| raw sqlite3 insert (floor) | {floor:.3f} | - | 1.0x |")
    figures = [figure("raw sqlite3 insert (floor)", floor, "s")]
    for name, t_in, t_cli in rows:
        figures.append(figure(f"{name}, in-process", t_in, "s"))
        if t_cli is None:
            figures[-1].update(target="< 2 s", met=t_in < 2)
            continue
        figures.append(figure(f"{name}, CLI wall", t_cli, "s", "< 2 s", t_cli < 2))
        figures.append(figure(f"{name}, CLI / floor", t_cli / floor, "x", "< 20x floor",
                              t_cli / floor < 20))
    write_json(args.json, "tables", params_of(args), figures)


if __name__ == "__main__":
    main()
