"""Rendering guests into xl/xm config files (xcatpy.virt.xenconfig), and reading them back."""

import pytest

from tests.sim.xlsim import parse_config
from xcatpy.drivers.base import DriverError
from xcatpy.virt.model import Disk, GuestSpec, Nic
from xcatpy.virt.xenconfig import (
    XL,
    XM,
    XenConfigError,
    check_guest_name,
    check_path,
    quote,
    read_settings,
    render,
    replace_settings,
)

UUID = "6f1c8a3e-1111-2222-3333-444455556666"


def spec(**changes) -> GuestSpec:
    values = dict(name="vm1", uuid=UUID, memory_mb=1024, maxmem_mb=2048, vcpus=2,
                  disks=(Disk("/vms/vm1.img", "xvda"),),
                  nics=(Nic("00:16:3E:0A:0B:0C", "xenbr1", "e1000"),),
                  boot_order=("network", "hd"))
    values.update(changes)
    return GuestSpec(**values)


def test_xl_hvm_guest_has_every_table_value():
    settings = read_settings(render(spec(), XL))
    assert settings["name"] == "vm1"
    assert settings["uuid"] == UUID
    assert (settings["memory"], settings["maxmem"], settings["vcpus"]) == (1024, 2048, 2)
    assert settings["type"] == "hvm"
    assert settings["boot"] == "nc"
    assert settings["disk"] == ["format=raw, vdev=xvda, access=rw, target=/vms/vm1.img"]
    # The bridge is the NIC's, and the MAC is written lower case.
    assert settings["vif"] == ["mac=00:16:3e:0a:0b:0c,bridge=xenbr1,model=e1000"]
    assert (settings["on_poweroff"], settings["on_reboot"]) == ("destroy", "restart")
    assert "bootloader" not in settings


def test_xl_pv_guest_boots_with_pygrub_and_no_boot_order():
    settings = read_settings(render(spec(paravirt=True, boot_order=("cd", "hd")), XL))
    assert settings["bootloader"] == "pygrub"
    assert settings["type"] == "pv"
    assert "boot" not in settings


def test_boot_order_letters_follow_vm_bootorder():
    assert read_settings(render(spec(boot_order=("cd", "hd", "network")), XL))["boot"] == "dcn"
    with pytest.raises(XenConfigError, match="vm1: unknown boot device 'floppy'"):
        render(spec(boot_order=("floppy",)), XL)


def test_xm_dialect_disks_vifs_and_hvm_firmware():
    disks = (Disk("/vms/a.img", "hda"), Disk("/vms/b.qcow2", "hdb", fmt="qcow2"),
             Disk("/dev/vg0/c", "hdc", kind="phy"))
    settings = read_settings(render(spec(disks=disks), XM))
    assert settings["builder"] == "hvm"
    assert "type" not in settings
    assert settings["kernel"] == "/usr/lib/xen/boot/hvmloader"
    assert settings["disk"] == ["file:/vms/a.img,hda,w", "tap:qcow2:/vms/b.qcow2,hdb,w",
                                "phy:/dev/vg0/c,hdc,w"]
    assert settings["vif"] == ["type=ioemu,mac=00:16:3e:0a:0b:0c,bridge=xenbr1,model=e1000"]
    pv = read_settings(render(spec(paravirt=True), XM))
    assert pv["bootloader"] == "/usr/bin/pygrub"
    assert "kernel" not in pv and "builder" not in pv


def test_xl_phy_disk_names_its_backend():
    text = render(spec(disks=(Disk("/dev/vg0/vm1", "xvda", kind="phy"),)), XL)
    assert read_settings(text)["disk"] == [
        "format=raw, vdev=xvda, access=rw, backendtype=phy, target=/dev/vg0/vm1"]


def test_awkward_values_survive_a_round_trip_through_the_simulated_xl_parser():
    name = "vm$(reboot)`id`;'\"\\|&"
    path = "/vms/a b;$(rm -rf x),c.img"
    text = render(spec(name=name, disks=(Disk(path, "xvda"),),
                       nics=(Nic("00:16:3e:00:00:01", "br$(id)"),)), XL)
    for settings in (read_settings(text), parse_config(text)):
        assert settings["name"] == name
        assert settings["disk"] == [f"format=raw, vdev=xvda, access=rw, target={path}"]
        assert settings["vif"] == ["mac=00:16:3e:00:00:01,bridge=br$(id)"]


def test_rendered_xm_config_parses_strictly():
    settings = parse_config(render(spec(extra={"vnc": "1", "vnclisten": "'0.0.0.0'"}), XM))
    assert settings["vnc"] == 1
    assert settings["vnclisten"] == "0.0.0.0"
    assert settings["memory"] == 1024


def test_more_than_three_nics_is_refused_naming_the_guest():
    nics = tuple(Nic(f"00:16:3e:00:00:0{i}", "xenbr0") for i in range(4))
    with pytest.raises(XenConfigError, match="vm1: 4 NICs requested; Xen guests have at most 3"):
        render(spec(nics=nics), XL)
    assert len(read_settings(render(spec(nics=nics[:3]), XL))["vif"]) == 3


def test_extra_settings_are_written_verbatim_but_checked():
    text = render(spec(extra={"on_crash": "'preserve'", "cpuid": "[ 'host,tm=0', \"x\" ]"}), XL)
    assert "\non_crash = 'preserve'\n" in text
    assert read_settings(text)["cpuid"] == ["host,tm=0", "x"]
    for key, value, message in [
        ("vnc", "1\nmemory = 99999", "not a single number"),
        ("serial", "'pty", "not a single number"),
        ("vnc", "yes", "not a single number"),
        ("memory", "512", "comes from the vm table"),
        ("disk", "[ ]", "comes from the vm table"),
        ("bad key", "1", "not a config setting name"),
    ]:
        with pytest.raises(XenConfigError, match=message):
            render(spec(extra={key: value}), XL)


@pytest.mark.parametrize("changes, message", [
    ({"disks": (Disk("vms/vm1.img", "xvda"),)}, "not an absolute path"),
    ({"disks": (Disk("/vms/../etc/shadow", "xvda"),)}, "not an absolute path"),
    ({"disks": (Disk("/vms/x", "xvda;"),)}, "not a guest disk device"),
    ({"disks": (Disk("/vms/x", "xvda", fmt="vmdk"),)}, "disk format 'vmdk'"),
    ({"nics": (Nic("00:16:3e:00:00", "xenbr0"),)}, "not a MAC address"),
    ({"nics": (Nic("00:16:3e:00:00:01", "br0,script=/tmp/x"),)}, "cannot be a bridge"),
    ({"nics": (Nic("00:16:3e:00:00:01", "a-bridge-name-too-long"),)}, "cannot be a bridge"),
    ({"nics": (Nic("00:16:3e:00:00:01", ""),)}, "cannot be a bridge"),
    ({"uuid": "not-a-uuid"}, "not a UUID"),
    ({"memory_mb": 0}, "must be positive"),
])
def test_values_a_config_cannot_hold_are_refused(changes, message):
    with pytest.raises(XenConfigError, match=message):
        render(spec(**changes), XL)


def test_xm_cannot_name_a_disk_path_with_a_comma():
    with pytest.raises(XenConfigError, match="holds ','"):
        render(spec(disks=(Disk("/vms/a,b.img", "hda"),)), XM)
    assert "target=/vms/a,b.img" in render(spec(disks=(Disk("/vms/a,b.img", "xvda"),)), XL)


@pytest.mark.parametrize("name", ["", "a/b", "-f", "12", "a b", "tab\there", "Domain-0", ".."])
def test_guest_names_that_would_be_misread_are_refused(name):
    with pytest.raises(XenConfigError):
        check_guest_name(name)


def test_checks_are_driver_errors_and_paths_must_be_absolute():
    assert issubclass(XenConfigError, DriverError)
    assert check_path("/vms/x.img", "disk") == "/vms/x.img"
    with pytest.raises(XenConfigError, match="disk: '-rf' is not an absolute path"):
        check_path("-rf", "disk")


def test_quote_escapes_what_both_readers_unescape_and_refuses_control_characters():
    assert quote('a"b\\c', "x") == '"a\\"b\\\\c"'
    with pytest.raises(XenConfigError, match="control characters"):
        quote("a\nb", "x")


def test_read_settings_skips_python_it_cannot_read():
    text = ("import os, re\narch = os.uname()[4]\nmemory = 128 # MiB\n"
            "vif = [ 'bridge=xenbr0',\n        'bridge=xenbr1' ]\nname = 'k'; vcpus = 0x2\n")
    assert read_settings(text) == {"memory": 128, "vif": ["bridge=xenbr0", "bridge=xenbr1"],
                                   "name": "k", "vcpus": 2}


def test_replace_settings_changes_one_line_and_appends_missing_keys():
    text = render(spec(), XL)
    changed = replace_settings(text, {"memory": 1536, "maxvcpus": 4})
    settings = read_settings(changed)
    assert (settings["memory"], settings["maxvcpus"], settings["maxmem"]) == (1536, 4, 2048)
    assert len(changed.splitlines()) == len(text.splitlines()) + 1
