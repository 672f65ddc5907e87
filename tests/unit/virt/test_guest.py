"""Guest definitions from the vm table: sizes, storage forms, identity."""

import pytest

from xcatpy.db.store import Store
from xcatpy.virt.guest import (
    GuestError,
    Identity,
    assign_identity,
    guest_spec,
    node_macs,
    size_mb,
)

IDENTITY = Identity("9b0f6c56-6f5e-4a83-9b1e-0d3c8a1f2e11", ("42:00:00:00:00:01",
                                                            "42:00:00:00:00:02"))


@pytest.mark.parametrize("text, mb", [("512", 512), ("512M", 512), ("2G", 2048),
                                      ("2GiB", 2048), ("1.5g", 1536), ("1T", 1048576)])
def test_sizes(text, mb):
    assert size_mb(text, "vm.memory") == mb


@pytest.mark.parametrize("text", ["", "lots", "-1", "0", "5X"])
def test_bad_sizes_name_the_column(text):
    with pytest.raises(GuestError, match="vm.memory"):
        size_mb(text, "vm.memory")


def test_node_macs_skip_other_names():
    assert node_macs("42:00:00:00:00:01|52:54:00:00:00:09!xen1-eth1|AA-BB-CC-DD-EE-FF",
                     "xen1") == ["42:00:00:00:00:01", "aa:bb:cc:dd:ee:ff"]


@pytest.fixture
def attrs(run, store):
    assert run("nodeadd", "node01", "groups=hv", "hypervisor.type=xen").rc == 0
    assert run("nodeadd", "g1", "groups=all", "vm.host=node01", "nodehm.mgt=xen").rc == 0
    from xcatpy.db.attrs import NodeAttrs

    def _attrs(*changes):
        if changes:
            assert run("nodech", "g1", *changes).rc == 0
        return NodeAttrs(store)
    return _attrs


def test_storage_forms(attrs):
    spec = guest_spec(attrs("vm.storage=/vms/d,phy:/dev/sdb,file:/x/y.qcow2,dir:///pool/",
                            "vm.storageformat=qcow2"), "g1", IDENTITY, toolstack="xen",
                      disk_mb=4096)
    assert [(d.path, d.device, d.kind, d.size_mb) for d in spec.disks] == [
        ("/vms/d/g1.qcow2", "xvda", "file", 4096), ("/dev/sdb", "xvdb", "phy", None),
        ("/x/y.qcow2", "xvdc", "file", 4096), ("/pool/g1-xvdd.qcow2", "xvdd", "file", 4096)]
    assert spec.memory_mb == spec.maxmem_mb == 512 and spec.vcpus == 1
    assert spec.boot_order == ("network", "hd")


@pytest.mark.parametrize("storage, message", [
    ("nfs://10.0.0.1/vms", "is not supported; mount it"),
    ("vms/relative", "is not an absolute path"),
    ("/vms/../etc", "is not an absolute path"),
])
def test_bad_storage(attrs, storage, message):
    with pytest.raises(GuestError, match=message):
        guest_spec(attrs(f"vm.storage={storage}"), "g1", IDENTITY, toolstack="xen")


def test_memory_cpus_and_limits(attrs):
    spec = guest_spec(attrs("vm.memory=1G", "vm.maxmem=2G", "vm.cpus=4", "vm.virtflags=pv",
                            "vm.autostart=yes"), "g1", IDENTITY, toolstack="xen")
    assert (spec.memory_mb, spec.maxmem_mb, spec.vcpus, spec.paravirt, spec.autostart) == (
        1024, 2048, 4, True, True)
    with pytest.raises(GuestError, match=r"vm.maxmem \(512 MB\) is below vm.memory"):
        guest_spec(attrs("vm.maxmem=512"), "g1", IDENTITY, toolstack="xen")
    with pytest.raises(GuestError, match="vm.cpus is not a positive number: 'two'"):
        guest_spec(attrs("vm.maxmem=", "vm.cpus=two"), "g1", IDENTITY, toolstack="xen")


def test_assign_identity_generates_once(state_dir, run):
    assert run("nodeadd", "g1,g2", "groups=all").rc == 0
    store = Store.open(state_dir)
    try:
        store.begin()
        first = assign_identity(store, "g1", 2)
        again = assign_identity(store, "g1", 2)
        other = assign_identity(store, "g2", 1)
        store.commit()
    finally:
        store.close()
    assert first == again
    assert len(set(first.macs + other.macs)) == 3
    assert all(m.startswith("42:") for m in first.macs + other.macs)
