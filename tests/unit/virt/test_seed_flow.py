"""The xCAT Xen howto's guest flow, as written, against a simulated xl host.

nodeadd xen1 ... nodehm.mgt=xen nodehm.power=xen; rpower xen1 on (creates the guest and
its MAC); rpower xen1 off; makedhcp xen1; rinstall xen1.
"""

import json

import pytest

from tests.sim import hvstate
from tests.sim.localshell import LocalShell
from tests.unit.boot.bootfixtures import RH_IMAGE, make_cluster
from xcatpy.virt import hosts


@pytest.fixture
def sim(tmp_path):
    state = tmp_path / "sim" / "state.json"
    hvstate.create(state, {"node01": {"toolstack": "xen", "memory_mb": 8192, "dom0_mb": 1024,
                                      "address": "10.0.0.1"}})
    hosts.use_shell(lambda state_dir: LocalShell(state))
    yield state
    hosts.use_shell(None)


@pytest.fixture
def cluster(run, state_dir, sim):
    make_cluster(run, state_dir)  # node01 is an ordinary node there; make it the Xen host
    assert run("tabch", "net=10.0.0.0,mask=255.255.255.0", "networks.netname=prov").rc == 0
    assert run("nodech", "node01", "hypervisor.type=xen", "hypervisor.dom0mem=1024").rc == 0
    # The howto's command, with only the OS fields brought to an image we have.
    assert run("nodeadd", "xen1", "groups=compute,all", "vm.host=node01",
               "vm.storage=/vms/vm_disk", "nodehm.mgt=xen", "nodehm.power=xen",
               "nodehm.serialport=0", "nodehm.serialspeed=115200", "nodetype.os=rhels8",
               "nodetype.arch=x86_64", "nodetype.profile=compute", "noderes.netboot=pxe",
               "noderes.nfsserver=10.0.0.254", "noderes.primarynic=eth0",
               "hosts.ip=10.0.0.21", "noderes.xcatmaster=10.0.0.254").rc == 0
    return run


def test_the_howto_flow(cluster, sim, store):
    r = cluster("rpower", "xen1", "on")
    assert (r.rc, r.out, r.err) == (0, ["xen1: on"], [])
    mac = cluster("nodels", "xen1", "mac.mac").out[0].split(": ")[1]
    guest = hvstate.read(sim)["guests"]["xen1"]
    assert (guest["host"], guest["state"], guest["memory_mb"]) == ("node01", "running", 512)
    assert guest["macs"] == [mac] and guest["bridges"] == ["xenbr0"]
    disk = hvstate.host_file(sim, "node01", "/vms/vm_disk/xen1.img")
    assert disk.stat().st_size == 20 * 1024 * 1024 * 1024  # sparse, the default size
    config = hvstate.host_file(sim, "node01", "/etc/xen/xen1.cfg").read_text()
    assert f"mac={mac}" in config.replace('"', "").replace(" ", "")

    assert cluster("rpower", "xen1", "off").out == ["xen1: off"]
    assert hvstate.read(sim)["guests"]["xen1"]["state"] != "running"

    r = cluster("makedhcp", "xen1")
    assert r.rc == 0, r.err
    assert [(row["node"], row["mac"], row["ip"]) for row in store.rows("dhcpreservation")] == [
        ("xen1", mac, "10.0.0.21")]

    r = cluster("rinstall", "xen1", f"osimage={RH_IMAGE}")
    assert (r.rc, r.err) == (0, []), r.err
    assert r.out == [f"xen1: install {RH_IMAGE}"]
    assert hvstate.read(sim)["guests"]["xen1"]["state"] == "running"
    assert cluster("rpower", "xen1", "stat").out == ["xen1: on"]
    # The image on disk survived every step: a second rpower on never recreates it.
    disk.write_bytes(b"installed")
    assert cluster("rpower", "xen1", "off").rc == 0
    assert cluster("rpower", "xen1", "on").rc == 0
    assert disk.read_bytes() == b"installed"
    commands = hvstate.commands_run(sim)
    assert ["qemu-img", "create", "-f", "raw", "/vms/vm_disk/xen1.img", "20480M"] in commands
    assert json.dumps(commands).count('"create", "-f"') == 1
