import xml.etree.ElementTree as ET

import pytest

from xcatpy.virt.domainxml import disk_bus, domain_xml
from xcatpy.virt.model import Disk, GuestSpec, Nic

UUID = "6f1c2f8e-3b7a-4d8e-9c1a-2b3c4d5e6f70"


def spec(**overrides) -> GuestSpec:
    values = dict(name="vm1", uuid=UUID, memory_mb=1024, maxmem_mb=2048, vcpus=2,
                  disks=(Disk("/vms/vm1.qcow2", "vda", fmt="qcow2"),
                         Disk("/dev/vg0/vm1data", "vdb", kind="phy")),
                  nics=(Nic("42:00:00:00:00:01", "br5", "virtio"),
                        Nic("42:00:00:00:00:02", "br7")),
                  boot_order=("network", "hd"))
    values.update(overrides)
    return GuestSpec(**values)


def parsed(guest: GuestSpec, domain_type: str = "kvm") -> ET.Element:
    return ET.fromstring(domain_xml(guest, domain_type))


def test_kvm_domain_carries_identity_sizes_and_boot_order():
    root = parsed(spec())
    assert root.get("type") == "kvm"
    assert root.findtext("name") == "vm1"
    assert root.findtext("uuid") == UUID
    assert root.find("memory").get("unit") == "KiB"
    assert root.findtext("memory") == str(2048 * 1024)
    assert root.findtext("currentMemory") == str(1024 * 1024)
    assert root.findtext("vcpu") == "2"
    assert root.findtext("os/type") == "hvm"
    assert [b.get("dev") for b in root.iterfind("os/boot")] == ["network", "hd"]
    assert root.find("features/acpi") is not None


def test_file_and_block_disks():
    file_disk, block_disk = parsed(spec()).iterfind("devices/disk")
    assert (file_disk.get("type"), file_disk.get("device")) == ("file", "disk")
    assert file_disk.find("driver").attrib == {"name": "qemu", "type": "qcow2"}
    assert file_disk.find("source").get("file") == "/vms/vm1.qcow2"
    assert file_disk.find("target").attrib == {"dev": "vda", "bus": "virtio"}
    assert block_disk.get("type") == "block"
    assert block_disk.find("source").get("dev") == "/dev/vg0/vm1data"
    assert block_disk.find("driver").get("name") == "qemu"


def test_interfaces_join_the_nics_own_bridges():
    first, second = parsed(spec()).iterfind("devices/interface")
    assert first.get("type") == "bridge"
    assert first.find("mac").get("address") == "42:00:00:00:00:01"
    assert first.find("source").get("bridge") == "br5"
    assert first.find("model").get("type") == "virtio"
    assert second.find("source").get("bridge") == "br7"
    assert second.find("model") is None  # the toolstack's default model


def test_serial_console_for_rcons():
    root = parsed(spec())
    assert root.find("devices/serial").get("type") == "pty"
    assert root.find("devices/console/target").get("type") == "serial"


def test_cd_boot_adds_an_empty_cdrom_drive():
    root = parsed(spec(boot_order=("cd", "hd")))
    assert [b.get("dev") for b in root.iterfind("os/boot")] == ["cdrom", "hd"]
    assert [d.get("device") for d in root.iterfind("devices/disk")] == ["disk", "disk",
                                                                        "cdrom"]


def test_xen_pv_guest_uses_a_boot_loader_and_blkback():
    guest = spec(paravirt=True, disks=(Disk("/dev/vg0/vm1", "xvda", kind="phy"),),
                 boot_order=("hd",))
    root = parsed(guest, "xen")
    assert root.get("type") == "xen"
    assert root.findtext("os/type") == "xen"
    assert root.findtext("bootloader") == "pygrub"
    assert root.find("os/boot") is None
    disk = root.find("devices/disk")
    assert disk.find("driver").get("name") == "phy"
    assert disk.find("target").attrib == {"dev": "xvda", "bus": "xen"}
    assert root.find("devices/console/target").get("type") == "xen"


def test_xen_hvm_guest_keeps_firmware_boot_order():
    root = parsed(spec(paravirt=False), "xen")
    assert root.findtext("os/type") == "hvm"
    assert root.find("features/pae") is not None
    assert [b.get("dev") for b in root.iterfind("os/boot")] == ["network", "hd"]


def test_metacharacters_are_escaped_and_come_back_unchanged():
    name = "vm<1>&'\"; $(reboot)"
    path = "/vms/a&b<c>'\".img"
    bridge = "br0'/><source bridge='evil"
    text = domain_xml(spec(name=name, disks=(Disk(path, "vda"),),
                           nics=(Nic("42:00:00:00:00:01", bridge),)))
    assert "<c>" not in text and "&amp;" in text
    root = ET.fromstring(text)
    assert root.findtext("name") == name
    assert root.find("devices/disk/source").get("file") == path
    interface = root.find("devices/interface")
    assert [s.get("bridge") for s in interface.iterfind("source")] == [bridge]


@pytest.mark.parametrize("bad", [
    dict(boot_order=("floppy",)),
    dict(memory_mb=4096),
    dict(disks=(Disk("/vms/x", "nvme0"),)),
    dict(disks=(Disk("/vms/x", "vda", kind="iscsi"),)),
])
def test_values_libvirt_cannot_take_are_refused(bad):
    with pytest.raises(ValueError):
        domain_xml(spec(**bad))


def test_unknown_domain_type_is_refused():
    with pytest.raises(ValueError, match="lxc"):
        domain_xml(spec(), "lxc")


def test_bus_follows_the_device_name():
    assert [disk_bus(d) for d in ("xvdb", "vdc", "sda", "hdd")] == ["xen", "virtio", "scsi",
                                                                    "ide"]
