"""The boot storm's classic C stack (tests/bench/stormcstack.py) boots simulated nodes.

Three nodes with a tiny kernel and initrd, through bootstorm's own functions, against each
variant: dnsmasq (DHCP + TFTP) and nginx; dnsmasq (DHCP), tftpd-hpa and nginx. The static
files the stack wrote must be what xcatd's resolver renders for the same endpoint. Needs
root (dnsmasq's TFTP is on port 69; the servers are put in cgroups) and the three programs
(CI runs as root with tests/install-debian-packages.sh installed); nothing is timed.
"""

import os
import socket
from pathlib import Path

import pytest
from twisted.internet import defer

from tests.bench import bootstorm
from tests.bench.procstat import ProcessUsage
from tests.bench.stormcstack import binary
from tests.integration.clitools import cli

NODES = 3
PROGRAMS = ("dnsmasq", "in.tftpd", "nginx")


def _reason() -> str | None:
    if os.geteuid() != 0:
        return "needs root (dnsmasq's TFTP listens on port 69)"
    missing = [p for p in PROGRAMS if binary(p) is None]
    missing += [path for path in bootstorm.LOADERS.values() if not Path(path).is_file()]
    if missing:
        return ("needs dnsmasq (dnsmasq-base), in.tftpd (tftpd-hpa), nginx (nginx-light), "
                f"pxelinux and syslinux-common; missing: {', '.join(missing)}")
    return None


_why = _reason()
pytestmark = pytest.mark.skipif(_why is not None, reason=str(_why))


def free_udp_port() -> int:
    """A port free on every address: the stack's DHCP server binds it on 0.0.0.0 and the
    simulated relay on 127.1.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("0.0.0.0", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def storm_state(tmp_path_factory):
    work = tmp_path_factory.mktemp("bootstorm")
    nodes = bootstorm.sim_nodes(NODES)
    state = bootstorm.prepare_state(work, nodes, kernel_mb=0.1, initrd_mb=0.2)
    return work, nodes, state


class Direct:
    """An executor that runs the resolver's reads here and now."""

    def __init__(self, store) -> None:
        self.store = store

    def read(self, fn):
        return defer.succeed(fn(self.store))


def value(deferred):
    got = []
    deferred.addCallback(got.append)
    return got[0]


def xcatd_would_serve(state: Path, node, http_port: int) -> tuple[bytes, str]:
    """(pxelinux.cfg/01-<mac>, answer file) as xcatd's resolver renders them for a node
    asking at 127.0.0.1, had xcatd's HTTP port been `http_port`."""
    from xcatpy.boot.nodeset import site_paths
    from xcatpy.boot.resolver import BootResolver
    from xcatpy.db.attrs import NodeAttrs
    from xcatpy.db.store import Store

    store = Store.open(state)
    try:
        paths = site_paths(NodeAttrs(store), state)
        resolver = BootResolver(Direct(store), paths.installdir, paths.tftpdir,
                                http_port=lambda: http_port)
        name = "pxelinux.cfg/01-" + node.mac.replace(":", "-")
        for pattern, generate in resolver.tftp_generators():
            match = pattern.match(name)
            if match:
                config = value(generate(match, (node.ip, 2000), bootstorm.SERVER))
                break
        else:
            raise AssertionError(f"xcatd has no generator for {name}")
        answer = value(resolver.answer(node.name, node.ip, bootstorm.SERVER))
        assert answer.status == 200, answer.text
        return config, answer.text
    finally:
        store.close()


@pytest.mark.parametrize("variant", ["dnsmasq", "tftpd-hpa"])
def test_storm_against_the_classic_stack(storm_state, variant):
    work, nodes, state = storm_state
    # As a storm before this one leaves them (xcatd's callback): the stack must nodeset
    # the nodes to install again before it writes their files.
    r = cli("nodeset", "storm", "boot", state=state, cwd=work)
    assert r.rc == 0, r.err
    stack = bootstorm.make_stack(variant, work, state, nodes, free_udp_port())
    run = bootstorm.run_stack(stack, nodes, ProcessUsage, blksize=1456, spread=0.0)

    assert run.failures == []
    assert (run.completed, run.failed) == (NODES, 0)
    assert all(server.proc.returncode is not None for server in stack.running)

    base = f"http://{bootstorm.SERVER}:{stack.http_port}"
    for node in nodes:
        config = stack.written[node.name]
        assert config.name == "01-" + node.mac.replace(":", "-")
        assert config.parent == stack.tftproot / "pxelinux.cfg"
        text = config.read_bytes()
        assert f"KERNEL {base}/install/{bootstorm.KERNEL_PATH}".encode() in text
        assert f"inst.ks={base}/install/autoinst/{node.name}".encode() in text
        answer = (stack.work / "autoinst" / node.name).read_text()
        assert f"{base}/xcatpy/v1/boot/done" in answer
        served_config, served_answer = xcatd_would_serve(state, node, stack.http_port)
        assert text == served_config
        assert answer == served_answer
