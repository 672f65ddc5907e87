"""rmvm: refuses running guests unless -f, purges file images with -p, keeps identity."""

from tests.unit.commands import vmfixtures
from tests.unit.commands.vmfixtures import row

world, cluster, xen = vmfixtures.world, vmfixtures.cluster, vmfixtures.xen  # fixtures


def test_removes_a_stopped_guest_and_keeps_its_disk(cluster, world, store):
    assert cluster("mkvm", "g1").rc == 0
    r = cluster("rmvm", "g1")
    assert (r.rc, r.out, r.err) == (0, ["g1: removed from hv1"], [])
    assert "g1" not in world.guests
    assert ("hv1", "/vms/g1.img") in world.files
    assert row(store, "vm", "g1")["powerstate"] == "off"


def test_refuses_a_running_guest(cluster, world):
    assert cluster("mkvm", "g1,g2").rc == 0
    world.guests["g1"].state = "on"
    r = cluster("rmvm", "g1,g2")
    assert r.rc == 1
    assert r.err == ["g1: Error: running on hv1; use rpower off first or rmvm -f"]
    assert r.out == ["g2: removed from hv1"]
    assert world.guests["g1"].state == "on"
    assert not [c for c in world.calls if c[1] in ("stop", "undefine") and c[2] == "g1"]


def test_force_stops_then_removes(cluster, world, store):
    assert cluster("mkvm", "g1").rc == 0
    world.guests["g1"].state = "paused"
    r = cluster("rmvm", "g1", "-f")
    assert (r.rc, r.out) == (0, ["g1: stopped on hv1", "g1: removed from hv1"])
    assert [c for c in world.calls if c[1] in ("stop", "undefine")] == [
        ("hv1", "stop", "g1", True), ("hv1", "undefine", "g1")]
    assert "g1" not in world.guests


def test_purge_removes_file_images_never_block_devices(cluster, world, store):
    assert cluster("nodech", "g1", "vm.storage=/vms,phy:/dev/sdb,/data/g1-extra.qcow2").rc == 0
    assert cluster("mkvm", "g1").rc == 0
    world.files[("hv1", "/dev/sdb")] = b"site disk"
    r = cluster("rmvm", "g1", "--purge")
    assert r.rc == 0
    assert r.out == ["g1: removed from hv1", "g1: purged /vms/g1.img",
                     "g1: purged /data/g1-extra.qcow2"]
    assert world.files == {("hv1", "/dev/sdb"): b"site disk"}
    assert [c[2].kind for c in world.calls if c[1] == "remove_disk"] == ["file", "file"]


def test_identity_stays_so_dhcp_stays_valid(cluster, world, store):
    assert cluster("mkvm", "g1").rc == 0
    before = row(store, "vm", "g1")["uuid"], row(store, "mac", "g1")["mac"]
    assert cluster("rmvm", "g1", "-p").rc == 0
    assert (row(store, "vm", "g1")["uuid"], row(store, "mac", "g1")["mac"]) == before
    assert row(store, "vm", "g1")["host"] == "hv1"
    assert cluster("nodels", "g1").out == ["g1"]


def test_guest_the_host_does_not_know(cluster, world):
    r = cluster("rmvm", "g3", "-p")
    assert (r.rc, r.out) == (0, ["g3: not defined on hv1", "g3: purged /vms/g3.img"])
    assert not [c for c in world.calls if c[1] == "undefine"]


def test_failure_on_one_host_leaves_the_others(cluster, world):
    assert cluster("nodech", "g2", "vm.host=hv2").rc == 0
    assert cluster("mkvm", "g1,g2").rc == 0
    world.fail[("hv2", "undefine")] = "cannot remove config"
    r = cluster("rmvm", "g1,g2")
    assert r.rc == 1
    assert r.out == ["g1: removed from hv1"]
    assert r.err == ["g2: Error: hv2: cannot remove config"]
    assert "g2" in world.guests and "g1" not in world.guests


def test_needs_a_noderange(cluster):
    r = cluster("rmvm")
    assert r.rc == 1 and r.err[0] == "Error: rmvm: a noderange is required"


def test_xen_guest_running_then_forced_and_purged(xen, run):
    assert run("mkvm", "x1").rc == 0
    assert run("rpower", "x1", "on").out == ["x1: on"]
    r = run("rmvm", "x1", "-p")
    assert r.err == ["x1: Error: running on xh1; use rpower off first or rmvm -f"]
    assert xen.file("xh1", "/vms/x1.img").exists()
    r = run("rmvm", "x1", "-f", "-p")
    assert (r.rc, r.out) == (0, ["x1: stopped on xh1", "x1: removed from xh1",
                                 "x1: purged /vms/x1.img"])
    assert not xen.file("xh1", "/vms/x1.img").exists()
    assert not xen.file("xh1", "/etc/xen/x1.cfg").exists()
    assert run("rpower", "x1", "stat").out == ["x1: off"]
