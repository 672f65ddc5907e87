"""A GuestSpec as libvirt domain XML, for `virsh define`.

Built with xml.etree, never by string formatting, so a name, path or bridge holding `<`, `&`
or quotes becomes an escaped value and cannot add elements to the definition.
The same builder serves KVM (`type='kvm'`) and Xen through libxl (`type='xen'`); the
differences are the ones libvirt itself draws (PV boot loader, block-device driver).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from xcatpy.virt.model import Disk, GuestSpec, Nic

DOMAIN_TYPES = ("kvm", "qemu", "xen")

# virsh/libvirt spell the boot devices differently from xCAT's vm.bootorder words.
_BOOT_DEVICE = {"network": "network", "net": "network", "hd": "hd", "cd": "cdrom",
                "cdrom": "cdrom"}

# The guest-side name decides the bus, as libvirt would infer it: a 'vda' disk is virtio.
_BUS_BY_PREFIX = (("xvd", "xen"), ("vd", "virtio"), ("sd", "scsi"), ("hd", "ide"))


def disk_bus(device: str) -> str:
    for prefix, bus in _BUS_BY_PREFIX:
        if device.startswith(prefix):
            return bus
    raise ValueError(f"disk device '{device}' is not one of xvdX, vdX, sdX, hdX")


def domain_xml(spec: GuestSpec, domain_type: str = "kvm") -> str:
    """The <domain> document for spec; ValueError for a value libvirt could not accept."""
    if domain_type not in DOMAIN_TYPES:
        raise ValueError(f"unknown libvirt domain type '{domain_type}'")
    if spec.memory_mb > spec.maxmem_mb:
        raise ValueError(f"memory {spec.memory_mb} MiB exceeds maxmem {spec.maxmem_mb} MiB")
    xen = domain_type == "xen"
    pv = xen and spec.paravirt

    domain = ET.Element("domain", type=domain_type)
    _text(domain, "name", spec.name)
    _text(domain, "uuid", spec.uuid)
    _text(domain, "memory", str(spec.maxmem_mb * 1024), unit="KiB")
    _text(domain, "currentMemory", str(spec.memory_mb * 1024), unit="KiB")
    _text(domain, "vcpu", str(spec.vcpus), placement="static")
    if pv:
        # libxl resolves a bare name in its own libexec directory.
        _text(domain, "bootloader", spec.extra.get("bootloader", "pygrub"))
    _os(domain, spec, pv)
    if not pv:
        features = ET.SubElement(domain, "features")
        # Without ACPI a guest ignores `virsh shutdown` (rpower softoff).
        ET.SubElement(features, "acpi")
        ET.SubElement(features, "apic")
        if xen:
            ET.SubElement(features, "pae")
    ET.SubElement(domain, "clock", offset="utc")
    _text(domain, "on_poweroff", "destroy")
    _text(domain, "on_reboot", "restart")
    _text(domain, "on_crash", "destroy")

    devices = ET.SubElement(domain, "devices")
    for disk in spec.disks:
        _disk(devices, disk, xen)
    if "cd" in spec.boot_order and not pv:
        # An empty drive, so the firmware has something to try and `change-media` a target.
        cdrom = ET.SubElement(devices, "disk", type="file", device="cdrom")
        ET.SubElement(cdrom, "target", dev="hdc", bus="ide")
        ET.SubElement(cdrom, "readonly")
    for nic in spec.nics:
        _interface(devices, nic)
    serial = ET.SubElement(devices, "serial", type="pty")
    ET.SubElement(serial, "target", port="0")
    console = ET.SubElement(devices, "console", type="pty")
    ET.SubElement(console, "target", type="xen" if pv else "serial", port="0")
    ET.SubElement(devices, "graphics", type="vnc", port="-1", autoport="yes")

    ET.indent(domain)
    return ET.tostring(domain, encoding="unicode") + "\n"


def _text(parent: ET.Element, tag: str, text: str, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, tag, **attrs)
    element.text = text
    return element


def _os(domain: ET.Element, spec: GuestSpec, pv: bool) -> None:
    os_element = ET.SubElement(domain, "os")
    _text(os_element, "type", "xen" if pv else "hvm")
    if pv:
        return  # a PV guest boots what its boot loader finds; there is no firmware order
    for word in spec.boot_order:
        if word not in _BOOT_DEVICE:
            raise ValueError(f"boot device '{word}' is not one of network, hd, cd")
        ET.SubElement(os_element, "boot", dev=_BOOT_DEVICE[word])


def _disk(devices: ET.Element, disk: Disk, xen: bool) -> None:
    if disk.kind == "file":
        element = ET.SubElement(devices, "disk", type="file", device="disk")
        ET.SubElement(element, "driver", name="qemu", type=disk.fmt)
        ET.SubElement(element, "source", file=disk.path)
    elif disk.kind == "phy":
        element = ET.SubElement(devices, "disk", type="block", device="disk")
        # libxl hands block devices to the kernel's blkback ('phy'); KVM opens them itself.
        ET.SubElement(element, "driver", name="phy" if xen else "qemu", type="raw")
        ET.SubElement(element, "source", dev=disk.path)
    else:
        raise ValueError(f"disk kind '{disk.kind}' is not 'file' or 'phy'")
    ET.SubElement(element, "target", dev=disk.device, bus=disk_bus(disk.device))


def _interface(devices: ET.Element, nic: Nic) -> None:
    element = ET.SubElement(devices, "interface", type="bridge")
    ET.SubElement(element, "mac", address=nic.mac)
    ET.SubElement(element, "source", bridge=nic.bridge)
    if nic.model:
        ET.SubElement(element, "model", type=nic.model)
