#!/usr/bin/env python3
"""Boot-side benchmark: nodeset on a big cluster, then a storm of config requests.

1. `nodeset <all> osimage=<image>` on N nodes (default 10,000) through the real CLI in
   bypass mode: wall time, and how many files appeared in the TFTP root (must be 0).
2. A real xcatd; C concurrent raw TFTP clients fetch pxelinux.cfg/01-<mac> for R random
   nodes, as a rack powering on does: configs per second and latency percentiles.
3. The same through HTTP: iPXE scripts by MAC.

Run on demand:
`python tests/bench/bench_boot.py [--nodes N] [--requests R] [--clients C] [--json FILE]`.
"""

import argparse
import asyncio
import os
import random
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.bench.report import figure, params_of, write_json  # noqa: E402
from tests.integration.clitools import cli, command_path  # noqa: E402
from tests.integration.xcatd import Xcatd  # noqa: E402

IMAGE = "rhels8-x86_64-install-compute"


def mac(i: int) -> str:
    return f"52:54:00:{i >> 16 & 255:02x}:{i >> 8 & 255:02x}:{i & 255:02x}"


def build(state: Path, nodes: int) -> None:
    subprocess.run([*command_path("xcatd"), "--init"], check=True, capture_output=True,
                   env=dict(os.environ, XCATPY_STATE=str(state)))
    for rel in ("images/pxeboot/vmlinuz", "images/pxeboot/initrd.img"):
        path = state / "install/rhels8/x86_64" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    width = len(str(nodes))
    names = [f"n{i:0{width}d}" for i in range(1, nodes + 1)]
    mac_csv = "#node,interface,mac,comments,disable\n" + "".join(
        f'"{n}",,"{mac(i)}",,\n' for i, n in enumerate(names, 1))
    (state.parent / "mac.csv").write_text(mac_csv)
    for args in (
        ("nodeadd", f"n[{1:0{width}d}-{nodes}]", "groups=compute,all"),
        ("chdef", "-t", "group", "-o", "compute", "ip=|n(\\d+)|10.(($1+0)/65536).((($1+0)/256)"
         "%256).(($1+0)%256)|"),
        ("tabrestore", str(state.parent / "mac.csv")),
        ("mkdef", "-t", "osimage", "-o", IMAGE, "osvers=rhels8", "osarch=x86_64",
         "profile=compute", "provmethod=install", "imagetype=linux", "osname=Linux"),
        ("tabch", "key=system,username=root", "passwd.password=cluster"),
    ):
        r = cli(*args, state=state, cwd=state.parent)
        if r.rc:
            raise SystemExit(f"{args[0]} failed: {r.err}")


def files_under(path: Path) -> int:
    return sum(1 for p in path.rglob("*") if p.is_file())


class Fetch(asyncio.DatagramProtocol):
    def __init__(self, name: str, done: asyncio.Future) -> None:
        self.name, self.done, self.data = name, done, bytearray()

    def connection_made(self, transport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr) -> None:
        opcode, block = struct.unpack("!HH", data[:4])
        if opcode == 5:
            self.done.set_result(None)
            return
        self.transport.sendto(struct.pack("!HH", 4, block), addr)
        self.data += data[4:]
        if len(data) - 4 < 512 and not self.done.done():
            self.done.set_result(bytes(self.data))


async def tftp_storm(port: int, names: list[str], clients: int) -> tuple[list[float], int]:
    loop = asyncio.get_running_loop()
    queue = list(names)
    latencies: list[float] = []
    failures = 0

    async def worker() -> None:
        nonlocal failures
        while queue:
            name = queue.pop()
            done = loop.create_future()
            transport, _ = await loop.create_datagram_endpoint(
                lambda name=name, done=done: Fetch(name, done), local_addr=("127.0.0.1", 0),
                family=socket.AF_INET)
            start = time.perf_counter()
            transport.sendto(struct.pack("!H", 1) + name.encode() + b"\0octet\0",
                             ("127.0.0.1", port))
            try:
                result = await asyncio.wait_for(done, 10)
            except TimeoutError:
                result = None
            transport.close()
            if not result or b"KERNEL" not in result:
                failures += 1
            else:
                latencies.append(time.perf_counter() - start)

    await asyncio.gather(*(worker() for _ in range(clients)))
    return latencies, failures


def http_storm(port: int, macs: list[str], clients: int) -> tuple[list[float], int]:
    import http.client
    import threading

    latencies: list[float] = []
    failures = [0]
    queue = list(macs)
    lock = threading.Lock()

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while True:
            with lock:
                if not queue:
                    break
                m = queue.pop()
            start = time.perf_counter()
            conn.request("GET", f"/xcatpy/v1/boot/ipxe/{m}")
            response = conn.getresponse()
            body = response.read()
            if response.status != 200 or b"kernel " not in body:
                failures[0] += 1
            else:
                latencies.append(time.perf_counter() - start)
        conn.close()

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, failures[0]


def report(label: str, latencies: list[float], failures: int, wall: float) -> list[dict]:
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0] * 99
    print(f"{label}: {len(latencies) / wall:,.0f}/s over {wall:.2f} s; latency p50 "
          f"{q[49] * 1000:.1f} ms, p99 {q[98] * 1000:.1f} ms; failures {failures}")
    return [figure(label, len(latencies) / wall, "/s"),
            figure(f"{label}: latency p50", q[49] * 1000, "ms"),
            figure(f"{label}: latency p99", q[98] * 1000, "ms"),
            figure(f"{label}: failures", failures, "requests")]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nodes", type=int, default=10_000)
    ap.add_argument("--requests", type=int, default=5_000)
    ap.add_argument("--clients", type=int, default=100)
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "state"
        build(state, args.nodes)
        before = files_under(state / "tftpboot") if (state / "tftpboot").exists() else 0
        start = time.perf_counter()
        r = cli("nodeset", "all", f"osimage={IMAGE}", state=state)
        took = time.perf_counter() - start
        if r.rc:
            raise SystemExit(f"nodeset failed: {r.err[:500]}")
        after = files_under(state / "tftpboot") if (state / "tftpboot").exists() else 0
        print(f"nodeset all osimage on {args.nodes:,} nodes: {took:.2f} s "
              f"({took / args.nodes * 1e6:.0f} us/node, answer file and config checked per "
              f"node); files written to the TFTP root: {after - before}")
        figures = [figure(f"nodeset all osimage, {args.nodes:,} nodes", took, "s"),
                   figure("nodeset: per node", took / args.nodes * 1e6, "us"),
                   figure("nodeset: files written to the TFTP root", after - before, "files",
                          "0 (no file per node)", after == before)]
        daemon = Xcatd(state).start()
        try:
            picks = [random.randint(1, args.nodes) for _ in range(args.requests)]
            names = [f"pxelinux.cfg/01-{mac(i).replace(':', '-')}" for i in picks]
            start = time.perf_counter()
            latencies, failures = asyncio.run(
                tftp_storm(daemon.ports["tftp_port"], names, args.clients))
            figures += report("pxelinux configs over TFTP", latencies, failures,
                              time.perf_counter() - start)
            start = time.perf_counter()
            latencies, failures = http_storm(daemon.ports["http_port"],
                                             [mac(i) for i in picks], args.clients // 4 or 1)
            figures += report("iPXE scripts over HTTP", latencies, failures,
                              time.perf_counter() - start)
        finally:
            daemon.stop()
    write_json(args.json, "boot", params_of(args), figures)


if __name__ == "__main__":
    main()
