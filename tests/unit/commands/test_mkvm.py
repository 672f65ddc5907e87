"""mkvm: definitions and disk images on the host, identity stored once, nothing overwritten."""

import re

from tests.unit.commands import vmfixtures
from tests.unit.commands.vmfixtures import row

world, cluster, xen = vmfixtures.world, vmfixtures.cluster, vmfixtures.xen  # fixtures


def test_defines_guest_and_creates_its_disk(cluster, world, store):
    r = cluster("mkvm", "g1", "-s", "10")
    assert (r.rc, r.err) == (0, [])
    assert r.out == ["g1: created /vms/g1.img (10 GB)", "g1: defined on hv1"]
    assert world.sizes[("hv1", "/vms/g1.img")] == 10 * 1024
    spec = world.guests["g1"].spec
    assert (world.guests["g1"].host, world.guests["g1"].state) == ("hv1", "off")
    assert (spec.memory_mb, spec.vcpus) == (1024, 1)
    assert [d.path for d in spec.disks] == ["/vms/g1.img"]
    vm, mac = row(store, "vm", "g1"), row(store, "mac", "g1")
    assert spec.uuid == vm["uuid"]
    assert [n.mac for n in spec.nics] == [mac["mac"]]
    assert [n.bridge for n in spec.nics] == ["br0"]


def test_default_disk_size_and_memory_units(cluster, world):
    assert cluster("mkvm", "g1", "-s", "512M").out[0] == "g1: created /vms/g1.img (512 MB)"
    assert cluster("mkvm", "g2").out[0] == "g2: created /vms/g2.img (20 GB)"


def test_existing_disk_image_is_kept_untouched(cluster, world):
    world.files[("hv1", "/vms/g1.img")] = b"the only copy of the data"
    r = cluster("mkvm", "g1", "-s", "1")
    assert (r.rc, r.out) == (0, ["g1: kept existing /vms/g1.img", "g1: defined on hv1"])
    assert world.files[("hv1", "/vms/g1.img")] == b"the only copy of the data"
    assert ("hv1", "/vms/g1.img") not in world.sizes


def test_block_devices_are_never_created(cluster, world):
    assert cluster("nodech", "g1", "vm.storage=phy:/dev/sdb,/vms").rc == 0
    r = cluster("mkvm", "g1")
    assert r.out == ["g1: created /vms/g1-xvdb.img (20 GB)", "g1: defined on hv1"]
    assert [(d.kind, d.path) for d in world.guests["g1"].spec.disks] == [
        ("phy", "/dev/sdb"), ("file", "/vms/g1-xvdb.img")]
    assert not [c for c in world.calls if c[1] == "create_disk" and c[2].kind == "phy"]


def test_size_without_an_image_to_create_is_an_error(cluster, world):
    assert cluster("nodech", "g1", "vm.storage=phy:/dev/sdb").rc == 0
    r = cluster("mkvm", "g1", "-s", "10")
    assert (r.rc, r.err) == (1, ["g1: Error: -s gives a disk size, but vm.storage names no "
                                 "disk image (block devices are never created)"])
    assert "g1" not in world.guests


def test_identity_is_generated_once_and_kept(cluster, world, store):
    assert cluster("mkvm", "g1").rc == 0
    first = row(store, "vm", "g1")["uuid"], row(store, "mac", "g1")["mac"]
    assert re.fullmatch(r"[0-9a-f-]{36}", first[0])
    assert re.fullmatch(r"42(:[0-9a-f]{2}){5}", first[1])
    assert cluster("mkvm", "g1").rc == 0
    assert cluster("rmvm", "g1").rc == 0
    assert cluster("mkvm", "g1").rc == 0
    assert (row(store, "vm", "g1")["uuid"], row(store, "mac", "g1")["mac"]) == first
    assert world.guests["g1"].spec.uuid == first[0]
    assert world.guests["g1"].spec.nics[0].mac == first[1]


def test_admin_macs_are_used_and_missing_ones_added(cluster, world, store):
    assert cluster("nodech", "g1", "vm.nics=br0,br1", "mac.mac=52:54:00:aa:bb:cc").rc == 0
    assert cluster("mkvm", "g1").rc == 0
    macs = row(store, "mac", "g1")["mac"].split("|")
    assert macs[0] == "52:54:00:aa:bb:cc" and len(macs) == 2
    assert [n.mac for n in world.guests["g1"].spec.nics] == macs


def test_many_guests_get_distinct_macs(cluster, world, store):
    assert cluster("nodeadd", "v[1-40]", "groups=guests,all", "vm.host=hv2",
                   "nodehm.mgt=xen").rc == 0
    r = cluster("mkvm", "v[1-40]")
    assert r.rc == 0
    assert sorted(r.out) == sorted(f"v{i}: defined on hv2" for i in range(1, 41))
    macs = [row(store, "mac", f"v{i}")["mac"] for i in range(1, 41)]
    uuids = {row(store, "vm", f"v{i}")["uuid"] for i in range(1, 41)}
    assert len(set(macs)) == 40 and len(uuids) == 40


def test_mem_and_cpus_are_stored_then_used(cluster, world, store):
    r = cluster("mkvm", "g2", "--mem", "2G", "--cpus", "4")
    assert r.rc == 0
    assert (row(store, "vm", "g2")["memory"], row(store, "vm", "g2")["cpus"]) == ("2G", "4")
    spec = world.guests["g2"].spec
    assert (spec.memory_mb, spec.vcpus) == (2048, 4)


def test_mkvm_does_not_need_free_memory(cluster, world):
    assert cluster("nodech", "g1", "vm.memory=64G").rc == 0
    assert cluster("mkvm", "g1").rc == 0
    assert world.guests["g1"].state == "off"


def test_bad_table_value_fails_that_node_only_and_changes_nothing(cluster, world, store):
    assert cluster("nodech", "g1", "vm.memory=lots").rc == 0
    r = cluster("mkvm", "g1,g2", "--cpus", "2")
    assert r.rc == 1
    assert r.err == ["g1: Error: vm.memory is not a size: 'lots' (e.g. 512, 512M, 2G)"]
    assert r.out == ["g2: created /vms/g2.img (20 GB)", "g2: defined on hv1"]
    g1 = row(store, "vm", "g1")
    assert (g1["uuid"], g1["cpus"], row(store, "mac", "g1")) == (None, None, {})
    assert "g1" not in world.guests
    assert not [c for c in world.calls if c[1] == "create_disk" and "g1" in c[2].path]


def test_bad_options_are_usage_errors_before_anything(cluster, world, store):
    for args, message in [(("-s", "big"), "mkvm -s is not a size: 'big'"),
                          (("--mem", "0"), "mkvm --mem must be positive: '0'"),
                          (("--cpus", "two"), "mkvm --cpus is not a positive number: 'two'")]:
        r = cluster("mkvm", "g1", *args)
        assert r.rc == 1
        assert r.err[0].startswith(f"Error: {message}")
    assert world.calls == []
    assert row(store, "vm", "g1")["uuid"] is None


def test_host_failure_is_that_guests_error(cluster, world):
    assert cluster("nodech", "g3", "vm.host=hv2").rc == 0
    world.fail[("hv2", "define")] = "xl: config file rejected"
    r = cluster("mkvm", "g1,g3")
    assert r.rc == 1
    assert r.err == ["g3: Error: hv2: xl: config file rejected"]
    assert sorted(r.out) == ["g1: created /vms/g1.img (20 GB)", "g1: defined on hv1",
                             "g3: created /vms/g3.img (20 GB)"]


def test_guest_without_host_or_toolstack(cluster, world):
    assert cluster("nodeadd", "lost", "groups=all").rc == 0
    r = cluster("mkvm", "lost")
    assert r.err == ["lost: Error: vm.host is not set, so no hypervisor runs it"]


def test_xen_host_gets_config_and_image_and_an_existing_image_survives(xen, run, store):
    r = run("mkvm", "x1", "-s", "1")
    assert (r.rc, r.err) == (0, [])
    assert r.out == ["x1: created /vms/x1.img (1 GB)", "x1: defined on xh1"]
    image = xen.file("xh1", "/vms/x1.img")
    assert image.stat().st_size == 1 << 30
    config = xen.file("xh1", "/etc/xen/x1.cfg").read_text()
    assert row(store, "vm", "x1")["uuid"] in config
    assert row(store, "mac", "x1")["mac"] in config
    image.write_bytes(b"an installed system")
    r = run("mkvm", "x1", "-s", "2")
    assert r.out == ["x1: kept existing /vms/x1.img", "x1: defined on xh1"]
    assert image.read_bytes() == b"an installed system"
