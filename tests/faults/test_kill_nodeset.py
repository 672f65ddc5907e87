"""kill -9 of xcatd while `nodeset` sets 3,000 nodes to install: all of them or none.

Real xcatd, real nodeset CLI over mTLS, boot configs fetched over the daemon's real HTTP
service (iPXE scripts by MAC). The nodes start at `boot`; each round kills the daemon at an
offset after nodeset took the write lock (killlab). After it: integrity_check is ok, every
node's chain.currstate is the same (all `install <image>` or all `boot`), nodetype.provmethod
agrees with it on every node, and once the daemon is back the boot configs it serves are
the ones the tables say: a local boot, or the image's kernel.
"""

import os
import subprocess
import urllib.request

from tests.faults import killlab
from tests.integration.clitools import cli, command_path
from tests.integration.xcatd import Xcatd

NODES = 3000
IMAGE = "rhels8-x86_64-install-compute"
INSTALL = f"install {IMAGE}"
NODESET = ("nodeset", "compute", f"osimage={IMAGE}")
OFFSETS = (0.0, 0.3, 0.55, 1.5)
# Nodes whose boot configs are fetched (a MAC each): first, middle, last.
SAMPLE = {"c0001": "52:54:00:0f:00:01", "c1500": "52:54:00:0f:15:00",
          "c3000": "52:54:00:0f:30:00"}


def setup_instance(state):
    subprocess.run([*command_path("xcatd"), "--init"], check=True, capture_output=True,
                   env=dict(os.environ, XCATPY_STATE=str(state)))
    for rel, data in (("rhels8/x86_64/images/pxeboot/vmlinuz", b"kernel"),
                      ("rhels8/x86_64/images/pxeboot/initrd.img", b"initrd")):
        path = state / "install" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    for args in (
            ("mkdef", "-t", "osimage", "-o", IMAGE, "osvers=rhels8", "osarch=x86_64",
             "profile=compute", "provmethod=install", "imagetype=linux", "osname=Linux"),
            ("nodeadd", f"c[0001-{NODES}]", "groups=compute,all",
             "hosts.ip=|\\D+(\\d+)|10.7.(($1-1)/250).(($1-1)%250+1)|"),
            ("tabch", "key=system,username=root", "passwd.password=cluster"),
            *(("nodech", node, f"mac.mac={mac}") for node, mac in SAMPLE.items()),
            ("nodeset", "compute", "boot")):
        r = cli(*args, state=state)
        assert r.rc == 0, (args, r.err)


def chain_states(db: killlab.Database) -> dict[tuple[str | None, str | None], int]:
    """(chain.currstate, nodetype.provmethod) -> how many compute nodes have it."""
    rows = db.rows("SELECT c.currstate, t.provmethod, COUNT(*) FROM nodelist n "
                   "LEFT JOIN chain c ON c.node = n.node LEFT JOIN nodetype t ON t.node = "
                   "n.node WHERE n.node LIKE 'c%' GROUP BY 1, 2")
    return {(state, method): count for state, method, count in rows}


def ipxe(daemon: Xcatd, mac: str) -> str:
    url = f"http://127.0.0.1:{daemon.ports['http_port']}/xcatpy/v1/boot/ipxe/{mac}"
    with urllib.request.urlopen(url, timeout=30) as reply:
        return reply.read().decode()


def assert_configs_follow_the_tables(daemon: Xcatd, installing: bool) -> None:
    for node, mac in SAMPLE.items():
        script = ipxe(daemon, mac)
        assert script.startswith("#!ipxe\n"), (node, script)
        has_kernel = "/install/rhels8/x86_64/images/pxeboot/vmlinuz" in script
        assert has_kernel == installing, (node, script)
        if installing:
            assert f"/install/autoinst/{node}" in script, (node, script)


def test_kill_9_during_nodeset_of_3000_nodes_leaves_all_or_nothing(tmp_path):
    state = tmp_path / "state"
    setup_instance(state)
    db = killlab.Database(state)
    assert chain_states(db) == {("boot", None): NODES}
    outcomes = []
    for offset in OFFSETS:
        daemon = Xcatd(state).start()
        try:
            rc, _out, err = killlab.kill_during_write(daemon, state, NODESET, offset)
        finally:
            daemon.stop()
        assert db.integrity() == ["ok"]
        states = chain_states(db)
        assert states in ({("boot", None): NODES}, {(INSTALL, IMAGE): NODES}), (offset, states)
        installing = (INSTALL, IMAGE) in states
        if rc == 0:
            assert installing  # it finished before the kill
        else:
            killlab.assert_cli_saw_the_daemon_die(rc, err)
        outcomes.append(installing)

        daemon = Xcatd(state).start()
        try:
            assert_configs_follow_the_tables(daemon, installing)
            if installing:  # back to the start for the next round
                r = cli("nodeset", "compute", "boot", state=state, bypass=False)
                assert r.rc == 0, r.err
                assert_configs_follow_the_tables(daemon, False)
        finally:
            daemon.stop()
    print("nodeset landed per offset:", dict(zip(OFFSETS, outcomes, strict=True)))
    assert False in outcomes, outcomes  # at least one kill hit the transaction

    daemon = Xcatd(state).start()
    try:
        r = cli(*NODESET, state=state, bypass=False)
        assert r.rc == 0, r.err
        assert len(r.out.splitlines()) == NODES
        assert chain_states(db) == {(INSTALL, IMAGE): NODES}
        assert_configs_follow_the_tables(daemon, True)
    finally:
        daemon.stop()
