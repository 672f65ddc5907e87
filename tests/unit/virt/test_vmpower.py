"""rpower and rsetboot for guests, above the toolstack: identity, capacity, per-node errors."""

import re

import pytest

from tests.unit.virt import fakehv
from xcatpy.drivers import power
from xcatpy.drivers.base import Reply
from xcatpy.virt import hosts, vmpower  # noqa: F401  (registers the guest drivers)


@pytest.fixture
def world(run, monkeypatch):
    w = fakehv.install()
    hosts.use_shell(lambda state_dir: None)  # the fake hypervisor never uses a shell
    yield w
    hosts.use_shell(None)


@pytest.fixture
def cluster(run, world):
    assert run("nodeadd", "node01,node02", "groups=hv", "hypervisor.type=fake",
               "hypervisor.memory=4096", "hypervisor.dom0mem=1024").rc == 0
    assert run("nodeadd", "xen1-xen4", "groups=compute,all", "vm.host=node01",
               "vm.storage=/vms/vm_disk", "nodehm.mgt=xen", "nodehm.power=xen",
               "vm.memory=1024").rc == 0
    return run


def test_on_creates_the_guest_with_a_stored_identity(cluster, world):
    r = cluster("rpower", "xen1", "on")
    assert (r.rc, r.out, r.err) == (0, ["xen1: on"], [])
    mac = cluster("nodels", "xen1", "mac.mac").out[0].split(": ")[-1]
    uuid = cluster("nodels", "xen1", "vm.uuid").out[0].split(": ")[-1]
    assert re.fullmatch(r"42(:[0-9a-f]{2}){5}", mac)
    assert re.fullmatch(r"[0-9a-f-]{36}", uuid)
    spec = world.defined["node01"]["xen1"]
    assert spec.nics[0].mac == mac and spec.nics[0].bridge == "br0"
    assert [d.path for d in spec.disks] == ["/vms/vm_disk/xen1.img"]
    assert world.disks["node01"] == {"/vms/vm_disk/xen1.img"}
    assert cluster("rpower", "xen1", "stat").out == ["xen1: on"]
    assert cluster("nodels", "xen1", "vm.powerstate").out == ["xen1: on"]
    assert cluster("rpower", "xen1", "off").out == ["xen1: off"]
    assert cluster("rpower", "xen1", "stat").out == ["xen1: off"]
    assert cluster("rpower", "xen1", "on").rc == 0
    assert cluster("nodels", "xen1", "mac.mac").out[0].endswith(mac)  # generated once
    assert cluster("nodels", "xen1", "vm.uuid").out[0].endswith(uuid)


def test_bridges_come_from_vm_nics_then_the_hosts_defaultnet(cluster, world):
    assert cluster("nodech", "node01", "hypervisor.defaultnet=provbr").rc == 0
    assert cluster("nodech", "xen2", "vm.nics=br7,pub:eth1").rc == 0
    assert cluster("rpower", "xen1,xen2", "on").rc == 0
    assert [n.bridge for n in world.defined["node01"]["xen1"].nics] == ["provbr"]
    assert [n.bridge for n in world.defined["node01"]["xen2"].nics] == ["br7", "pub"]


def test_generated_macs_are_unique_and_keep_admin_macs(cluster, world):
    assert cluster("nodech", "xen2", "mac.mac=52:54:00:aa:bb:cc").rc == 0
    assert cluster("nodech", "xen1-xen4", "vm.memory=64").rc == 0
    assert cluster("rpower", "xen1-xen4", "on").rc == 0
    macs = [line.split(": ")[-1] for line in cluster("nodels", "xen1-xen4", "mac.mac").out]
    assert len(set(macs)) == 4
    assert "52:54:00:aa:bb:cc" in macs


def test_a_guest_that_does_not_fit_is_refused_with_the_numbers(cluster, world):
    # 4096 total - 1024 dom0 = 3072: three 1024 MB guests fit, the fourth does not.
    r = cluster("rpower", "xen1-xen4", "on")
    assert r.rc == 1
    assert sorted(r.out) == sorted(f"{n}: on" for n in ["xen1", "xen2", "xen3", "xen4"]
                                   if f"{n}: on" in r.out)
    assert len(r.out) == 3
    refused = re.fullmatch(r"(xen\d): Error: does not fit on node01: needs 1024 MB, 0 MB "
                           r"free \(4096 MB total - 0 overhead - 1024 dom0 - 3072 in 3 running "
                           r"guests\)", r.err[0])
    assert refused, r.err
    assert len(world.running["node01"]) == 3
    assert refused.group(1) not in world.running["node01"]


def test_overhead_counts_and_a_running_guest_is_not_counted_twice(cluster, world):
    assert cluster("nodech", "node01", "hypervisor.overhead=100").rc == 0
    assert cluster("rpower", "xen1,xen2", "on").rc == 0
    r = cluster("rpower", "xen3", "on")
    assert r.err == ["xen3: Error: does not fit on node01: needs 1024 MB, 924 MB free "
                     "(4096 MB total - 100 overhead - 1024 dom0 - 2048 in 2 running guests)"]
    assert cluster("rpower", "xen1", "on").out == ["xen1: on"]  # already on: no check


def test_boot_reset_and_softoff(cluster, world):
    assert cluster("rpower", "xen1", "boot").out == ["xen1: off on"]
    assert cluster("rpower", "xen1", "boot").out == ["xen1: on reset"]
    assert cluster("rpower", "xen1", "reset").out == ["xen1: reset"]
    assert cluster("rpower", "xen1", "softoff").out == ["xen1: softoff"]
    assert ("node01", "stop", "xen1", False) in world.calls
    r = cluster("rpower", "xen1", "reset")
    assert (r.rc, r.err) == (1, ["xen1: Error: off on node01; use rpower on"])


def test_errors_are_per_node(cluster, world):
    assert cluster("nodech", "xen2", "vm.host=node02").rc == 0
    assert cluster("nodech", "xen3", "vm.nics=br0,br1,br2,br3").rc == 0
    assert cluster("nodech", "xen4", "vm.memory=lots").rc == 0
    world.down.add("node02")
    r = cluster("rpower", "xen1-xen4", "on")
    assert r.rc == 1
    assert r.out == ["xen1: on"]
    assert sorted(r.err) == [
        "xen2: Error: node02: cannot connect: host is down",
        "xen3: Error: 4 NICs in vm.nics, but fake guests have at most 3",
        "xen4: Error: vm.memory is not a size: 'lots' (e.g. 512, 512M, 2G)",
    ]


def test_a_guest_without_a_host(run, world):
    assert run("nodeadd", "lost", "groups=all", "nodehm.mgt=xen").rc == 0
    r = run("rpower", "lost", "stat")
    assert r.err == ["lost: Error: vm.host is not set, so no hypervisor runs it"]


def test_rsetboot_changes_the_boot_order_used_at_next_start(cluster, world):
    assert cluster("rsetboot", "xen1", "stat").out == ["xen1: Network"]
    assert cluster("rsetboot", "xen1", "hd").out == ["xen1: Hard Drive"]
    assert cluster("nodels", "xen1", "vm.bootorder").out == ["xen1: hd,net"]
    assert cluster("rpower", "xen1", "on").rc == 0
    assert world.defined["node01"]["xen1"].boot_order == ("hd", "network")
    assert cluster("rsetboot", "xen1", "def").out == ["xen1: boot override inactive"]
    assert cluster("rsetboot", "xen1", "stat").out == ["xen1: Network"]


class _Bmc:
    def __init__(self, ctx):
        pass

    def power(self, nodes, action):
        return iter([(n, Reply("on")) for n in nodes])

    def set_boot_device(self, nodes, device):
        return iter([(n, Reply("Network")) for n in nodes])


def test_a_noderange_mixing_bmcs_and_guests(cluster, world, monkeypatch):
    monkeypatch.setitem(power._FACTORIES, "ipmi", _Bmc)
    assert cluster("nodech", "node01", "nodehm.mgt=ipmi").rc == 0
    r = cluster("rpower", "node01,xen1,node02", "stat")
    assert sorted(r.out) == ["node01: on", "xen1: off"]
    assert r.err == ["node02: Error: nodehm.mgt is not set, so there is no way to power it"]


def test_a_host_is_listed_once_per_command(cluster, world):
    assert cluster("nodech", "xen1-xen4", "vm.memory=64").rc == 0
    assert cluster("rpower", "xen1,xen2", "on").rc == 0
    world.calls.clear()
    r = cluster("rpower", "xen1-xen4", "stat")
    assert sorted(r.out) == ["xen1: on", "xen2: on", "xen3: off", "xen4: off"]
    assert world.calls == [("node01", "guests")]


class _ForgetfulBmc(_Bmc):
    def power(self, nodes, action):
        return iter([(n, Reply("on")) for n in nodes[1:]])


def test_a_node_a_driver_forgets_is_reported_not_waited_for(cluster, world, monkeypatch):
    monkeypatch.setitem(power._FACTORIES, "ipmi", _ForgetfulBmc)
    assert cluster("nodech", "node01,node02", "nodehm.mgt=ipmi").rc == 0
    r = cluster("rpower", "node01,node02,xen1", "stat")
    assert sorted(r.out) == ["node02: on", "xen1: off"]
    assert r.err == ["node01: Error: the driver gave no reply"]
