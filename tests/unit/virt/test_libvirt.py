"""The libvirt driver against simulated KVM and Xen hosts (tests/sim/virshsim.py), through
the same hvshell and /bin/sh a real SSH login would use."""

from pathlib import Path

import pytest

from tests.sim import hvstate
from tests.sim.hvstate import host_file
from tests.sim.localshell import LocalShell, simulated_processes
from xcatpy.drivers.remote import CommandTimeout, RemoteError, Target
from xcatpy.virt.hypervisor import hypervisor_class
from xcatpy.virt.libvirt import DEFINITIONS_DIR, LibvirtError, LibvirtHypervisor
from xcatpy.virt.model import OFF, ON, Disk, GuestSpec, Nic

KVM1 = Target("kvm1", "10.0.0.1")
KVM2 = Target("kvm2", "10.0.0.2")
XEN1 = Target("xen1", "10.0.0.3")


@pytest.fixture
def state(tmp_path: Path):
    path = tmp_path / "sim" / "state.json"
    hvstate.create(path, {
        "kvm1": {"toolstack": "libvirt", "address": "10.0.0.1", "memory_mb": 4096,
                 "dom0_mb": 512, "cpus": 12, "cpu_flags": ["fpu", "vmx", "avx2"]},
        "kvm2": {"toolstack": "libvirt", "address": "10.0.0.2", "memory_mb": 4096,
                 "dom0_mb": 512},
        "xen1": {"toolstack": "libvirt", "libvirt_driver": "xen", "address": "10.0.0.3"},
    }, shared_paths=["/vms"])
    yield path
    assert simulated_processes(path) == []  # a timeout ended its hung command too


@pytest.fixture
def shell(state: Path) -> LocalShell:
    return LocalShell(state)


@pytest.fixture
def kvm1(shell) -> LibvirtHypervisor:
    return LibvirtHypervisor(shell, KVM1)


def guest(name: str = "vm1", memory: int = 1024, **overrides) -> GuestSpec:
    values = dict(name=name, uuid="0d5f8b1e-6a43-4c1b-9d7e-3f2a1b0c9d8e", memory_mb=memory,
                  maxmem_mb=max(memory, 2048), vcpus=2,
                  disks=(Disk(f"/vms/{name}.img", "vda", size_mb=16),),
                  nics=(Nic("42:00:0a:00:00:01", "br0", "virtio"),))
    values.update(overrides)
    return GuestSpec(**values)


def record(state: Path, name: str) -> dict | None:
    return hvstate.read(state)["guests"].get(name)


def logged(state: Path, command: str) -> list[list[str]]:
    return [argv for argv in hvstate.commands_run(state) if argv[:2] == ["virsh", command]]


def test_registered_for_libvirt_and_kvm():
    assert hypervisor_class("libvirt") is LibvirtHypervisor
    assert hypervisor_class("kvm") is LibvirtHypervisor
    assert LibvirtHypervisor.max_nics is None


def test_host_info_reads_nodeinfo_freecell_and_cpuinfo(kvm1):
    info = kvm1.host_info()
    assert (info.total_mb, info.free_mb, info.cpus) == (4096, 3584, 12)
    assert info.cpu_flags == {"fpu", "vmx", "avx2"}
    assert info.version == "QEMU 6.2.0"


def test_define_writes_the_xml_and_the_guest_is_listed_off(kvm1, state):
    kvm1.define(guest(autostart=True))
    xml = host_file(state, "kvm1", f"{DEFINITIONS_DIR}/vm1.xml").read_text()
    assert "<source bridge=\"br0\" />" in xml and "type=\"kvm\"" in xml
    status = kvm1.guests()["vm1"]
    assert (status.state, status.memory_mb, status.vcpus) == (OFF, 1024, 2)
    assert status.uuid == "0d5f8b1e-6a43-4c1b-9d7e-3f2a1b0c9d8e" and status.domid is None
    assert record(state, "vm1")["autostart"] is True
    assert record(state, "vm1")["bridges"] == ["br0"]


def test_a_xen_host_gets_xen_domains(shell, state):
    xen = LibvirtHypervisor(shell, XEN1)
    assert xen.domain_type() == "xen"
    xen.define(guest(paravirt=True))  # the simulated libxl refuses any other domain type
    assert record(state, "vm1")["domain_type"] == "xen"
    assert record(state, "vm1")["os_type"] == "xen"
    assert xen.migration_uri(Target("xen2", "10.0.0.9")) == "xen+ssh://root@10.0.0.9/system"


def test_start_stop_destroy_and_reset(kvm1, state):
    spec = guest()
    kvm1.create_disk(spec.disks[0])
    kvm1.start(spec)  # not defined yet: start defines it first
    status = kvm1.guests()["vm1"]
    assert status.state == ON and status.domid is not None
    kvm1.reset("vm1")
    kvm1.start(spec)  # already running: nothing to do
    assert len(logged(state, "start")) == 1
    kvm1.stop("vm1")
    assert kvm1.guests()["vm1"].state == OFF
    kvm1.stop("vm1", hard=True)  # already off is not an error
    kvm1.start(spec)
    kvm1.stop("vm1", hard=True)
    assert kvm1.guests()["vm1"].state == OFF
    assert len(logged(state, "shutdown")) == 1 and len(logged(state, "destroy")) == 2


def test_reset_of_a_stopped_guest_names_the_reason(kvm1):
    kvm1.define(guest())
    with pytest.raises(RemoteError, match="kvm1: 'virsh reset' failed: .*domain is not running"):
        kvm1.reset("vm1")


def test_start_without_enough_memory_is_refused_with_libvirts_message(kvm1, state):
    spec = guest(memory=4000)
    kvm1.create_disk(spec.disks[0])
    with pytest.raises(RemoteError) as failure:
        kvm1.start(spec)
    assert "Failed to start domain 'vm1'" in str(failure.value)
    assert "Cannot allocate memory" in str(failure.value)
    assert record(state, "vm1")["state"] == hvstate.SHUTOFF


def test_create_disk_never_overwrites_an_existing_image(kvm1, state):
    image = host_file(state, "kvm1", "/vms/vm1.img")
    image.parent.mkdir(parents=True)
    image.write_bytes(b"installed system")
    assert kvm1.create_disk(Disk("/vms/vm1.img", "vda", size_mb=16)) is False
    assert image.read_bytes() == b"installed system"
    assert not any(c["argv"][:2] == ["qemu-img", "create"]
                   for c in hvstate.logged_commands(state.parent / "commands.log"))


def test_create_disk_makes_the_directory_and_image(kvm1, state):
    disk = Disk("/vms/new/dir/vm2.qcow2", "vda", fmt="qcow2", size_mb=3)
    assert kvm1.create_disk(disk) is True
    image = host_file(state, "kvm1", disk.path)
    assert image.stat().st_size == 3 * 1024 * 1024
    assert image.read_bytes()[:4] == b"QFI\xfb"
    kvm1.remove_disk(disk)
    assert not image.exists()


def test_block_devices_are_neither_created_nor_removed(kvm1, state):
    disk = Disk("/dev/vg0/vm1", "vda", kind="phy", size_mb=10)
    assert kvm1.create_disk(disk) is False
    kvm1.remove_disk(disk)
    assert hvstate.logged_commands(state.parent / "commands.log") == []


def test_a_disk_without_size_cannot_be_created(kvm1):
    with pytest.raises(LibvirtError, match="no size"):
        kvm1.create_disk(Disk("/vms/nosize.img", "vda"))


def test_relative_paths_and_bad_names_are_refused_before_any_command(kvm1, state):
    with pytest.raises(LibvirtError, match="not absolute"):
        kvm1.create_disk(Disk("vms/x.img", "vda", size_mb=1))
    with pytest.raises(LibvirtError, match="not absolute"):
        kvm1.define(guest(disks=(Disk("-rf", "vda"),)))
    for name in ("../etc/passwd", "-vm", ""):
        with pytest.raises(LibvirtError, match="cannot be a libvirt guest name"):
            kvm1.start(guest(name=name))
    assert hvstate.logged_commands(state.parent / "commands.log") == []


def test_migrate_moves_the_guest_and_its_definition(kvm1, shell, state):
    spec = guest()
    kvm1.create_disk(spec.disks[0])
    kvm1.start(spec)
    kvm1.migrate("vm1", KVM2)
    assert logged(state, "migrate")[-1][-2:] == ["vm1", "qemu+ssh://root@10.0.0.2/system"]
    assert "vm1" not in kvm1.guests()
    assert LibvirtHypervisor(shell, KVM2).guests()["vm1"].state == ON
    assert record(state, "vm1")["host"] == "kvm2"


def test_migration_uri_carries_a_non_default_port(kvm1):
    assert kvm1.migration_uri(Target("kvm2", "10.0.0.2", port=2222)) == \
        "qemu+ssh://root@10.0.0.2:2222/system"
    assert kvm1.migration_uri(Target("kvm6", "fd00::6")) == "qemu+ssh://root@[fd00::6]/system"


@pytest.mark.parametrize("address", ["10.0.0.2/system?netcat=/tmp/x", "h@evil", "-oProxy",
                                     "fd00::1]?socket=/x"])
def test_migration_to_a_crafted_address_is_refused(kvm1, state, address):
    with pytest.raises(LibvirtError, match="not a"):
        kvm1.migrate("vm1", Target("kvm2", address))
    assert logged(state, "migrate") == []


def test_migration_refused_by_the_destination_leaves_the_guest_running(kvm1, state):
    with hvstate.locked(state) as data:
        data["hosts"]["kvm2"]["relocation"] = False
    spec = guest()
    kvm1.create_disk(spec.disks[0])
    kvm1.start(spec)
    with pytest.raises(RemoteError, match="Connection refused"):
        kvm1.migrate("vm1", KVM2)
    assert record(state, "vm1")["host"] == "kvm1"
    assert kvm1.guests()["vm1"].state == ON


def test_metacharacters_reach_virsh_as_one_inert_argument(kvm1, state):
    name = "vm1;touch x & $(id) `id` 'q\" <b>"
    bridge = "br0;reboot'\"<x>&"
    spec = guest(name=name, disks=(Disk("/vms/a b;$(id).img", "vda", size_mb=1),),
                 nics=(Nic("42:00:0a:00:00:09", bridge),))
    kvm1.create_disk(spec.disks[0])
    kvm1.start(spec)
    assert logged(state, "start") == [["virsh", "start", name]]
    assert logged(state, "define") == [["virsh", "define", f"{DEFINITIONS_DIR}/{name}.xml"]]
    assert record(state, name)["bridges"] == [bridge]
    assert record(state, name)["disks"][0]["path"] == "/vms/a b;$(id).img"
    xml = host_file(state, "kvm1", f"{DEFINITIONS_DIR}/{name}.xml").read_text()
    assert "&lt;b&gt;" in xml and "<b>" not in xml
    assert kvm1.guests()[name].state == ON
    commands = {c["argv"][0] for c in hvstate.logged_commands(state.parent / "commands.log")}
    assert commands == {"virsh", "qemu-img", "mkdir", "tee"}


def test_set_memory_and_vcpus_change_the_definition(kvm1, state):
    kvm1.define(guest())
    kvm1.set_memory("vm1", 3072)  # above maxmem: the maximum rises with it
    kvm1.set_vcpus("vm1", 4)
    kvm1.set_vcpus("vm1", 1)
    saved = record(state, "vm1")
    assert (saved["memory_mb"], saved["maxmem_mb"]) == (3072, 3072)
    assert (saved["vcpus"], saved["maxvcpus"]) == (1, 1)
    assert kvm1.guests()["vm1"].memory_mb == 3072


def test_a_running_guest_gets_new_memory_at_its_next_boot(kvm1, state):
    spec = guest()
    kvm1.create_disk(spec.disks[0])
    kvm1.start(spec)
    kvm1.set_memory("vm1", 512)
    assert kvm1.guests()["vm1"].memory_mb == 1024
    kvm1.stop("vm1", hard=True)
    assert kvm1.guests()["vm1"].memory_mb == 512


def test_undefine_refuses_a_running_guest_and_keeps_disks(kvm1, state):
    spec = guest()
    kvm1.create_disk(spec.disks[0])
    kvm1.start(spec)
    with pytest.raises(LibvirtError, match="vm1 is on; stop it"):
        kvm1.undefine("vm1")
    kvm1.stop("vm1", hard=True)
    kvm1.undefine("vm1")
    kvm1.undefine("vm1")  # already gone
    assert kvm1.guests() == {}
    assert host_file(state, "kvm1", "/vms/vm1.img").exists()


def test_a_hung_virsh_times_out(kvm1, state):
    with hvstate.locked(state) as data:
        data["hosts"]["kvm1"]["faults"] = {"hang": ["virsh list"]}
    kvm1.command_timeout = 0.5
    with pytest.raises(CommandTimeout, match="kvm1"):
        kvm1.guests()


def test_a_failing_virsh_reports_its_message(kvm1, state):
    with hvstate.locked(state) as data:
        data["hosts"]["kvm1"]["faults"] = {"fail": {"virsh nodeinfo": "error: failed to "
                                                                     "connect to the hypervisor"}}
    with pytest.raises(RemoteError, match="kvm1: 'virsh nodeinfo' failed: failed to connect"):
        kvm1.host_info()
