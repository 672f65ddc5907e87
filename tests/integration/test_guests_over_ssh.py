"""Guests through xcatd and real OpenSSH: the Xen howto's flow, xm, refusals, host keys.

    CLI --mTLS--> xcatd --SSH (Conch, pooled)--> sshd per simulated host --> xl / xm / qemu-img
                                                                          (tests/sim, shared state)
"""

import pytest

from tests.integration.clitools import cli
from tests.integration.xcatd import Xcatd
from tests.sim import hvstate
from tests.sim.sshd import SimHosts
from xcatpy.drivers.ssh.keys import client_key

HOWTO_GUEST = ("xen1", "groups=compute,all", "vm.host=node01", "vm.storage=/vms/vm_disk",
               "nodehm.mgt=xen", "nodehm.power=xen", "nodehm.serialport=0",
               "nodehm.serialspeed=115200", "nodetype.os=centos5.2", "nodetype.arch=x86",
               "nodetype.profile=compute", "noderes.netboot=pxe",
               "noderes.nfsserver=10.10.10.1", "noderes.primarynic=eth0",
               "hosts.ip=10.10.10.21")


@pytest.fixture
def lab(tmp_path):
    state = tmp_path / "state"
    sim = tmp_path / "sim" / "state.json"
    hvstate.create(sim, {"node01": {"toolstack": "xen", "memory_mb": 4096, "dom0_mb": 1024},
                         "node02": {"toolstack": "xm", "memory_mb": 4096, "dom0_mb": 1024}})
    with SimHosts(["node01", "node02"], sim, tmp_path,
                  client_pubkey=client_key(state).public_line) as hosts:
        xcatd = Xcatd(state).start()
        try:
            def run(*args):
                return cli(*args, state=state, bypass=False)

            assert run("tabch", "key=sshport", f"site.value={hosts.port}").rc == 0
            assert run("tabch", "net=10.10.10.0,mask=255.255.255.0",
                       "networks.netname=prov").rc == 0
            for name, kind in (("node01", "xen"), ("node02", "xm")):
                assert run("nodeadd", name, "groups=hv,all", f"hosts.ip={hosts[name].address}",
                           f"hypervisor.type={kind}", "hypervisor.dom0mem=1024").rc == 0
            yield run, sim, hosts
        finally:
            xcatd.stop()


def guest(sim, name):
    return hvstate.read(sim)["guests"].get(name)


def test_the_howto_flow_through_the_daemon(lab):
    run, sim, hosts = lab
    assert run("nodeadd", *HOWTO_GUEST).rc == 0
    r = run("rpower", "xen1", "on")
    assert r.rc == 1 and "host key for 127.0.0.2 is not known; run makeknownhosts node01" \
        in r.err, r.err
    assert guest(sim, "xen1") is None  # nothing was sent to an unverified host

    assert run("makeknownhosts", "hv").rc == 0
    r = run("rpower", "xen1", "on")
    assert (r.rc, r.out, r.err) == (0, "xen1: on\n", "")
    mac = run("nodels", "xen1", "mac.mac").out.split(": ")[1].strip()
    assert (guest(sim, "xen1")["host"], guest(sim, "xen1")["macs"]) == ("node01", [mac])
    assert run("rpower", "xen1", "stat").out == "xen1: on\n"
    assert run("rpower", "xen1", "off").out == "xen1: off\n"
    assert guest(sim, "xen1")["state"] != "running"
    r = run("makedhcp", "xen1")
    assert r.rc == 0, r.err
    assert run("makedhcp", "-q", "xen1").out == (
        f"xen1: ip-address = 10.10.10.21, hardware-address = {mac}\n")
    # The refused first try, makeknownhosts' key fetch, then one pooled connection served
    # every later command.
    assert hosts["node01"].connections() == 3


def test_xm_guest_mkvm_keeps_an_existing_disk_and_lsvm_shows_it(lab):
    run, sim, hosts = lab
    assert run("makeknownhosts", "hv").rc == 0
    assert run("nodeadd", "xm1", "groups=all", "vm.host=node02", "vm.storage=/vms/d",
               "nodehm.mgt=xen", "vm.memory=1G").rc == 0
    disk = hvstate.host_file(sim, "node02", "/vms/d/xm1.img")
    disk.parent.mkdir(parents=True)
    disk.write_bytes(b"an installed system")
    r = run("mkvm", "xm1", "-s", "4")
    assert r.rc == 0, r.err
    assert "xm1: kept existing /vms/d/xm1.img" in r.out
    assert disk.read_bytes() == b"an installed system"
    assert run("rpower", "xm1", "on").out == "xm1: on\n"
    assert disk.read_bytes() == b"an installed system"
    lsvm = run("lsvm", "node02")
    assert lsvm.rc == 0 and "node02: xm1" in lsvm.out, lsvm.out


def test_a_guest_that_does_not_fit_is_refused_and_values_stay_inert(lab):
    run, sim, hosts = lab
    assert run("makeknownhosts", "hv").rc == 0
    assert run("nodeadd", "big", "groups=all", "vm.host=node01", "nodehm.mgt=xen",
               "vm.memory=4G", "vm.storage=/vms/d").rc == 0
    r = run("rpower", "big", "on")
    assert r.rc == 1
    assert r.err == ("big: Error: does not fit on node01: needs 4096 MB, 3072 MB free "
                     "(4096 MB total - 0 overhead - 1024 dom0 - 0 in 0 running guests)\n")
    assert guest(sim, "big") is None
    weird = "/vms/x; touch /tmp/pwned-$(id -u) `id`"
    assert run("nodeadd", "odd", "groups=all", "vm.host=node01", "nodehm.mgt=xen",
               f"vm.storage={weird}").rc == 0
    assert run("rpower", "odd", "on").rc == 0
    created = [argv for argv in hvstate.commands_run(sim) if argv[:2] == ["qemu-img", "create"]]
    assert created[-1][-2] == weird + "/odd.img"
    assert not any(argv[0] in ("touch", "id") for argv in hvstate.commands_run(sim))


def test_a_changed_host_key_is_refused(lab):
    run, sim, hosts = lab
    assert run("makeknownhosts", "node01").rc == 0
    assert run("nodeadd", "g1", "groups=all", "vm.host=node01", "nodehm.mgt=xen").rc == 0
    assert run("rpower", "g1", "stat").out == "g1: off\n"
    hosts["node01"].rotate_host_key()
    r = run("rpower", "g1", "stat")
    assert r.rc == 1 and "host key for 127.0.0.2 has CHANGED" in r.err, r.err
    assert run("makeknownhosts", "node01", "-r").rc == 0
    assert run("makeknownhosts", "node01").rc == 0
    assert run("rpower", "g1", "stat").out == "g1: off\n"
