"""lsvm: a host's guests as the host reports them, a guest's details, the memory account."""

from tests.unit.commands import vmfixtures
from tests.unit.commands.vmfixtures import row
from xcatpy.virt import hypervisor

world, cluster, xen = vmfixtures.world, vmfixtures.cluster, vmfixtures.xen  # fixtures


def test_host_lists_what_it_really_runs_and_its_account(cluster, world):
    assert cluster("mkvm", "g1,g2").rc == 0
    world.guests["g1"].state = "on"
    world.on("stray", "hv1", 2048, vcpus=2)
    r = cluster("lsvm", "hv1")
    assert (r.rc, r.err) == (0, [])
    assert r.out == [
        "hv1: g1 (on, 1024 MB, 1 vcpu)",
        "hv1: g2 (off, 1024 MB, 1 vcpu)",
        "hv1: stray (on, 2048 MB, 2 vcpus, not a node)",
        "hv1: g3 (not defined here)",
        "hv1: memory: 4096 MB free (8192 MB total - 0 overhead - 1024 dom0 - 3072 in 2 "
        "running guests)",
    ]


def test_host_total_from_the_toolstack_when_the_table_has_none(cluster, world):
    assert cluster("nodech", "hv2", "hypervisor.memory=", "hypervisor.overhead=512").rc == 0
    world.host_memory_mb["hv2"] = 32768
    world.on("g1", "hv2", 4096)
    r = cluster("lsvm", "hv2")
    assert r.out == [
        "hv2: g1 (on, 4096 MB, 1 vcpu, vm.host=hv1)",
        "hv2: memory: 27136 MB free (32768 MB total - 512 overhead - 1024 dom0 - 4096 in 1 "
        "running guest)",
    ]


def test_guest_details_from_host_and_tables(cluster, world, store):
    assert cluster("nodech", "g1", "vm.nics=br0,br1", "vm.storage=/vms,phy:/dev/sdb").rc == 0
    assert cluster("mkvm", "g1").rc == 0
    world.guests["g1"].state, world.guests["g1"].memory_mb = "on", 900
    uuid = row(store, "vm", "g1")["uuid"]
    mac1, mac2 = row(store, "mac", "g1")["mac"].split("|")
    r = cluster("lsvm", "g1")
    assert (r.rc, r.out) == (0, [
        f"g1: host=hv1, state=on, memory=900 MB, cpus=1, uuid={uuid}, "
        f"disks=/vms/g1.img,phy:/dev/sdb, nics={mac1}@br0,{mac2}@br1"])


def test_guest_not_yet_created(cluster, world):
    r = cluster("lsvm", "g3")
    assert r.out == ["g3: host=hv1, state=not defined, memory=1024 MB, cpus=1, "
                     "uuid=unassigned, disks=/vms/g3.img, nics=unassigned@br0"]


def test_one_query_per_host_for_many_nodes(cluster, world):
    assert cluster("mkvm", "g1-g3").rc == 0
    world.calls.clear()
    r = cluster("lsvm", "hv1,g1-g3")
    assert r.rc == 0
    assert len(r.out) == 3 + 1 + 3  # host: three guests and its account; three guests
    assert [c for c in world.calls if c[1] == "guests"] == [("hv1", "guests")]


def test_unreachable_host_fails_its_nodes_only(cluster, world):
    assert cluster("nodech", "g3", "vm.host=hv2").rc == 0
    world.fail[("hv2", "guests")] = "ssh: connect to host hv2 port 22: Connection refused"
    r = cluster("lsvm", "g1,g3,hv2")
    assert r.rc == 1
    assert sorted(r.err) == [
        "g3: Error: hv2: ssh: connect to host hv2 port 22: Connection refused",
        "hv2: Error: ssh: connect to host hv2 port 22: Connection refused"]
    assert [line.split(",")[0] for line in r.out] == ["g1: host=hv1"]


def test_neither_host_nor_guest(cluster, world):
    assert cluster("nodeadd", "sw1", "groups=switches").rc == 0
    r = cluster("lsvm", "sw1")
    assert (r.rc, r.err) == (1, ["sw1: Error: neither a hypervisor (no hypervisor.type, and no "
                                 "guest's vm.host names it) nor a guest (vm.host is not set)"])


def test_host_known_only_through_its_guests(cluster, world, monkeypatch):
    """No hypervisor row: the guests' nodehm.mgt says which toolstack it runs (kvm: libvirt)."""
    monkeypatch.setitem(hypervisor._CLASSES, "libvirt", vmfixtures.FakeHypervisor)
    assert cluster("nodeadd", "hv9", "groups=all").rc == 0
    assert cluster("nodeadd", "g9", "groups=all", "vm.host=hv9", "nodehm.mgt=kvm").rc == 0
    world.host_memory_mb["hv9"] = 1024
    r = cluster("lsvm", "hv9")
    assert (r.rc, r.err) == (0, [])
    assert r.out == [
        "hv9: g9 (not defined here)",
        "hv9: memory: 1024 MB free (1024 MB total - 0 overhead - 0 dom0 - 0 in 0 running "
        "guests)"]
    assert ("hv9", "host_info") in world.calls


def test_xen_host_listing_and_account_from_xl(xen, run):
    assert run("mkvm", "x1,x2").rc == 0
    assert run("rpower", "x1", "on").rc == 0
    r = run("lsvm", "xh1,x1")
    assert (r.rc, r.err) == (0, [])
    assert r.out[:3] == [
        "xh1: x1 (on, 1024 MB, 1 vcpu)",
        "xh1: x2 (off, 1024 MB, 1 vcpu)",
        "xh1: memory: 6144 MB free (8192 MB total - 0 overhead - 1024 dom0 - 1024 in 1 "
        "running guest)"]
    assert r.out[3].startswith("x1: host=xh1, state=on, memory=1024 MB, cpus=1, uuid=")
