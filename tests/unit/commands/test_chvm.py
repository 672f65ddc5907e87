"""chvm: tables, persistent definition and running guest change together, or not at all."""

from tests.unit.commands import vmfixtures
from tests.unit.commands.vmfixtures import row

world, cluster, xen = vmfixtures.world, vmfixtures.cluster, vmfixtures.xen  # fixtures


def test_stopped_guest_gets_new_definition_and_tables(cluster, world, store):
    assert cluster("mkvm", "g1").rc == 0
    r = cluster("chvm", "g1", "--mem", "2048", "--cpus", "2")
    assert (r.rc, r.err) == (0, [])
    assert r.out == ["g1: definition updated on hv1", "g1: memory 2048 MB", "g1: cpus 2"]
    assert (row(store, "vm", "g1")["memory"], row(store, "vm", "g1")["cpus"]) == ("2048", "2")
    spec = world.guests["g1"].spec
    assert (spec.memory_mb, spec.vcpus) == (2048, 2)
    assert not [c for c in world.calls if c[1] in ("set_memory", "set_vcpus")]


def test_running_guest_changes_live_when_it_fits(cluster, world, store):
    assert cluster("nodech", "g1", "vm.maxmem=4G").rc == 0
    assert cluster("mkvm", "g1").rc == 0
    world.guests["g1"].state = "on"
    r = cluster("chvm", "g1", "--mem", "3G", "--cpus", "2")
    assert (r.rc, r.err) == (0, [])
    assert r.out == ["g1: definition updated on hv1",
                     "g1: memory 3072 MB (the running guest has 3072 MB)",
                     "g1: cpus 2 (the running guest has 2)"]
    assert ("hv1", "set_memory", "g1", 3072) in world.calls
    assert row(store, "vm", "g1")["memory"] == "3G"


def test_growth_that_does_not_fit_is_refused_with_the_numbers(cluster, world, store):
    assert cluster("nodech", "g1", "vm.maxmem=8G").rc == 0
    assert cluster("mkvm", "g1").rc == 0
    world.guests["g1"].state = "on"
    world.on("big", "hv1", 5120)
    calls = len(world.calls)
    r = cluster("chvm", "g1", "--mem", "4G", "--cpus", "2")
    assert r.rc == 1
    assert r.err == ["g1: Error: does not fit on hv1: needs 4096 MB, 2048 MB free (8192 MB "
                     "total - 0 overhead - 1024 dom0 - 5120 in 1 running guest)"]
    assert r.out == []
    assert [c[1] for c in world.calls[calls:]] == ["guests"]
    assert (row(store, "vm", "g1")["memory"], row(store, "vm", "g1")["cpus"]) == ("1024", None)
    assert world.guests["g1"].spec.memory_mb == 1024


def test_growth_beyond_the_running_ceiling_is_refused(cluster, world, store):
    assert cluster("mkvm", "g1").rc == 0
    world.guests["g1"].state = "on"
    r = cluster("chvm", "g1", "--mem", "1536")
    assert r.rc == 1
    assert r.err == ["g1: Error: running on hv1 with at most 1024 MB (vm.maxmem, else "
                     "vm.memory, when it started); power it off to give it 1536 MB, or raise "
                     "vm.maxmem before its next start"]
    assert row(store, "vm", "g1")["memory"] == "1024"


def test_shrinking_a_running_guest_needs_no_room(cluster, world):
    assert cluster("mkvm", "g1").rc == 0
    world.guests["g1"].state = "on"
    world.on("big", "hv1", 7168)  # the host is overcommitted already
    r = cluster("chvm", "g1", "--mem", "512")
    assert (r.rc, r.out[-1]) == (0, "g1: memory 512 MB (the running guest has 512 MB)")


def test_add_disks_appends_to_storage_and_creates_images(cluster, world, store):
    assert cluster("mkvm", "g1").rc == 0
    world.files[("hv1", "/vms/g1-xvdc.img")] = b"left over, kept"
    r = cluster("chvm", "g1", "-a", "4,512M")
    assert (r.rc, r.err) == (0, [])
    assert r.out == ["g1: created /vms/g1-xvdb.img (4 GB)", "g1: kept existing /vms/g1-xvdc.img",
                     "g1: definition updated on hv1"]
    assert row(store, "vm", "g1")["storage"] == "/vms,/vms,/vms"
    assert [d.path for d in world.guests["g1"].spec.disks] == [
        "/vms/g1.img", "/vms/g1-xvdb.img", "/vms/g1-xvdc.img"]
    assert world.files[("hv1", "/vms/g1-xvdc.img")] == b"left over, kept"
    assert world.sizes[("hv1", "/vms/g1-xvdb.img")] == 4096


def test_deregister_keeps_images_and_later_disks_keep_their_files(cluster, world, store):
    assert cluster("nodech", "g1", "vm.storage=/vms,/vms,/vms").rc == 0
    assert cluster("mkvm", "g1").rc == 0
    r = cluster("chvm", "g1", "-d", "xvdb")
    assert (r.rc, r.out) == (0, ["g1: definition updated on hv1",
                                 "g1: removed /vms/g1-xvdb.img from the definition (image kept)"])
    assert row(store, "vm", "g1")["storage"] == "/vms/g1.img,/vms/g1-xvdc.img"
    assert [d.path for d in world.guests["g1"].spec.disks] == ["/vms/g1.img",
                                                              "/vms/g1-xvdc.img"]
    assert ("hv1", "/vms/g1-xvdb.img") in world.files


def test_purge_deletes_the_image_of_a_stopped_guest_only(cluster, world, store):
    assert cluster("nodech", "g1", "vm.storage=/vms,/vms").rc == 0
    assert cluster("mkvm", "g1").rc == 0
    world.guests["g1"].state = "on"
    r = cluster("chvm", "g1", "-p", "/vms/g1-xvdb.img")
    assert r.err == ["g1: Error: running on hv1; power it off before purging its disks "
                     "(chvm -d keeps the images)"]
    assert ("hv1", "/vms/g1-xvdb.img") in world.files
    world.guests["g1"].state = "off"
    r = cluster("chvm", "g1", "-p", "/vms/g1-xvdb.img")
    assert r.out[-1] == "g1: purged /vms/g1-xvdb.img"
    assert ("hv1", "/vms/g1-xvdb.img") not in world.files
    assert row(store, "vm", "g1")["storage"] == "/vms/g1.img"


def test_unknown_disk_and_block_device_purge(cluster, world):
    assert cluster("nodech", "g1", "vm.storage=/vms,phy:/dev/sdb").rc == 0
    r = cluster("chvm", "g1", "-d", "xvdq")
    assert r.err == ["g1: Error: no disk 'xvdq' in vm.storage (its disks: xvda=/vms/g1.img, "
                     "xvdb=/dev/sdb)"]
    r = cluster("chvm", "g1", "-p", "phy:/dev/sdb")
    assert r.err == ["g1: Error: /dev/sdb is a block device; it is never purged (chvm -d takes "
                     "it out of the definition)"]
    assert world.calls == []


def test_guest_not_defined_only_changes_tables(cluster, world, store):
    r = cluster("chvm", "g2", "--cpus", "3")
    assert (r.rc, r.out) == (0, ["g2: not defined on hv1; mkvm or rpower on creates it as "
                                 "changed", "g2: cpus 3"])
    assert row(store, "vm", "g2")["cpus"] == "3"
    assert "g2" not in world.guests


def test_bad_value_names_node_and_column_and_changes_nothing(cluster, world, store):
    assert cluster("nodech", "g1", "vm.maxmem=2G").rc == 0
    r = cluster("chvm", "g1", "--mem", "3G")
    assert (r.rc, r.err) == (1, ["g1: Error: vm.maxmem (2048 MB) is below vm.memory "
                                 "(3072 MB)"])
    assert row(store, "vm", "g1")["memory"] == "1024"
    assert world.calls == []
    r = cluster("chvm", "g1", "--mem", "lots")
    assert (r.rc, r.err[0]) == (1, "Error: chvm --mem is not a size: 'lots' (e.g. 512, 512M, "
                                   "2G)")


def test_option_conflicts(cluster):
    for args, message in [((), "chvm: nothing to change (--mem, --cpus, -a, -d or -p)"),
                          (("-a", "1", "-d", "xvda"), "chvm: adding and removing disks at "
                           "once is not supported; run chvm twice"),
                          (("--cpus", "0"), "chvm --cpus is not a positive number: '0'")]:
        r = cluster("chvm", "g1", *args)
        assert (r.rc, r.err[0]) == (1, f"Error: {message}")


def test_failed_definition_leaves_tables_alone(cluster, world, store):
    assert cluster("mkvm", "g1").rc == 0
    world.fail[("hv1", "define")] = "disk busy"
    r = cluster("chvm", "g1", "--cpus", "4")
    assert r.err == ["g1: Error: hv1: disk busy"]
    assert row(store, "vm", "g1")["cpus"] is None


def test_xen_running_guest_grows_only_when_it_fits(xen, run, store):
    assert run("nodech", "x1", "vm.maxmem=8G").rc == 0
    assert run("mkvm", "x1").rc == 0
    assert run("rpower", "x1", "on").rc == 0
    r = run("chvm", "x1", "--mem", "8G")
    assert r.err == ["x1: Error: does not fit on xh1: needs 8192 MB, 7168 MB free (8192 MB "
                     "total - 0 overhead - 1024 dom0 - 0 in 0 running guests)"]
    assert row(store, "vm", "x1")["memory"] == "1024"
    r = run("chvm", "x1", "--mem", "2G")
    assert (r.rc, r.err) == (0, [])
    assert r.out == ["x1: definition updated on xh1",
                     "x1: memory 2048 MB (the running guest has 2048 MB)"]
    assert xen.guest("x1")["memory_mb"] == 2048
    assert "memory = 2048" in xen.file("xh1", "/etc/xen/x1.cfg").read_text()
