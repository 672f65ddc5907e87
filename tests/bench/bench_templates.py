#!/usr/bin/env python3
"""Answer-file rendering benchmark: every node of a 10,000-node store, as nodeset does.

Renders the built-in RHEL compute kickstart (plain-text root password, so #CRYPT#-style
hashing is in the path once), the Xen hypervisor kickstart, and the XenServer answer file
for each node, and prints the time per template kind and per node. Run on demand:
`python tests/bench/bench_templates.py [--nodes N] [--json FILE]`.
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.bench.report import figure, params_of, write_json  # noqa: E402
from xcatpy.boot.osimage import image_for_node  # noqa: E402
from xcatpy.boot.templates import render_answer_file  # noqa: E402
from xcatpy.db.attrs import NodeAttrs  # noqa: E402
from xcatpy.db.store import Store  # noqa: E402

IMAGES = {
    "compute": ("rhels8.6-x86_64-install-compute", "rhels8.6", "compute"),
    "xen": ("centos7-x86_64-install-xen", "centos7", "xen"),
    "xenserver": ("xenserver7.1-x86_64-install-xen", "xenserver7.1", "xen"),
}


def populate(store: Store, nodes: int) -> None:
    store.begin()
    store.upsert_rows("site", [{"key": "domain", "value": "cluster"},
                               {"key": "timezone", "value": "UTC"},
                               {"key": "managedaddressmode", "value": "static"}])
    store.upsert_rows("passwd", [{"key": "system", "username": "root", "password": "secret"}])
    store.upsert_rows("networks", [{"netname": "mgt", "net": "10.0.0.0", "mask": "255.0.0.0",
                                    "gateway": "<xcatmaster>"}])
    store.upsert_rows("osimage", [{"imagename": name, "osvers": osvers, "osarch": "x86_64",
                                   "profile": profile, "provmethod": "install"}
                                  for name, osvers, profile in IMAGES.values()])
    store.upsert_rows("hypervisor", [{"node": "all", "dom0mem": "2048", "relocation": "yes"}])
    store.upsert_rows("nodehm", [{"node": "all", "serialport": "0", "serialspeed": "115200"}])
    names = [f"n{i:05d}" for i in range(nodes)]
    store.upsert_rows("nodelist", [{"node": n, "groups": "compute,all"} for n in names])
    store.upsert_rows("hosts", [{"node": n, "ip": f"10.{i >> 16 & 255}.{i >> 8 & 255}."
                                 f"{i & 255}"} for i, n in enumerate(names)])
    store.upsert_rows("mac", [{"node": n, "mac": f"52:54:00:{i >> 16 & 255:02x}:"
                               f"{i >> 8 & 255:02x}:{i & 255:02x}"}
                              for i, n in enumerate(names)])
    store.commit()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nodes", type=int, default=10_000)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    figures = []
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp)
        store = Store.open(state)
        populate(store, args.nodes)
        installdir = state / "install"
        for kind, (image_name, _, _) in IMAGES.items():
            attrs = NodeAttrs(store)   # fresh: table reads are part of the cost
            nodes = attrs.node_names()
            start = time.perf_counter()
            size = 0
            for node in nodes:
                image = image_for_node(attrs, node, image_name)
                size += len(render_answer_file(attrs, node, image, master="10.255.255.254",
                                               http_port=80, installdir=installdir,
                                               env={}).text)
            took = time.perf_counter() - start
            print(f"{kind:10s} {len(nodes)} nodes in {took:6.2f} s  "
                  f"({took / len(nodes) * 1e6:6.0f} us/node, {size / len(nodes):.0f} B/node)")
            figures += [figure(f"{kind}: {len(nodes)} nodes", took, "s"),
                        figure(f"{kind}: per node", took / len(nodes) * 1e6, "us")]
        store.close()
    write_json(args.json, "templates", params_of(args), figures)


if __name__ == "__main__":
    main()
