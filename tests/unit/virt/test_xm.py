"""The xm driver (xcatpy.virt.xm) against simulated Xen 3 hosts running xend
(tests/sim/xlsim.py as `xm`), through LocalShell."""

from pathlib import Path

import pytest

from tests.sim import hvstate
from tests.sim.hvstate import host_file
from tests.sim.localshell import LocalShell
from xcatpy.drivers.base import DriverError
from xcatpy.drivers.remote import Target
from xcatpy.virt.hypervisor import hypervisor_class
from xcatpy.virt.model import OFF, ON, Disk, GuestSpec, Nic
from xcatpy.virt.xenconfig import read_settings
from xcatpy.virt.xl import XenToolstackError
from xcatpy.virt.xm import XmHypervisor

UUID = "0a2040b3-3d85-49d4-accc-e38bc2e51a6d"
ADDRESSES = {"node01": "10.0.2.1", "node02": "10.0.2.2"}


@pytest.fixture
def state(tmp_path: Path) -> Path:
    path = tmp_path / "sim" / "state.json"
    hvstate.create(path, {name: {"toolstack": "xm", "address": address, "memory_mb": 4096,
                                 "dom0_mb": 512}
                          for name, address in ADDRESSES.items()}, shared_paths=["/vms"])
    return path


@pytest.fixture
def shell(state: Path) -> LocalShell:
    return LocalShell(state)


def xm(shell: LocalShell, host: str = "node01") -> XmHypervisor:
    return XmHypervisor(shell, Target(host, ADDRESSES[host]))


def spec(**changes) -> GuestSpec:
    values = dict(name="xen1", uuid=UUID, memory_mb=512, maxmem_mb=512, vcpus=1,
                  disks=(Disk("/vms/vm_disk", "hda", size_mb=4),),
                  nics=(Nic("00:1e:c9:53:22:ed", "xenbr0"),))
    values.update(changes)
    return GuestSpec(**values)


def argvs(state: Path, host: str = "node01") -> list[list[str]]:
    return hvstate.commands_run(state, host)


def running(shell: LocalShell, guest: GuestSpec, host: str = "node01") -> XmHypervisor:
    driver = xm(shell, host)
    for disk in guest.disks:
        driver.create_disk(disk)
    driver.start(guest)
    return driver


def test_registered_as_xm_with_three_nics():
    cls = hypervisor_class("xm")
    assert cls is XmHypervisor
    assert (cls.toolstack, cls.max_nics) == ("xm", 3)


def test_config_in_the_howtos_place_and_xm_syntax(state, shell):
    driver = running(shell, spec())
    config = read_settings(host_file(state, "node01", "/etc/xen/xen1").read_text())
    assert config["builder"] == "hvm"
    assert config["disk"] == ["file:/vms/vm_disk,hda,w"]
    assert config["vif"] == ["type=ioemu,mac=00:1e:c9:53:22:ed,bridge=xenbr0"]
    assert ["xm", "create", "/etc/xen/xen1"] in argvs(state)
    status = driver.guests()["xen1"]
    # xm list has no UUID column; the running guest is reported without one.
    assert (status.state, status.memory_mb, status.vcpus, status.uuid) == (ON, 512, 1, None)
    record = hvstate.read(state)["guests"]["xen1"]
    assert (record["macs"], record["bridges"]) == (["00:1e:c9:53:22:ed"], ["xenbr0"])
    info = driver.host_info()
    assert (info.total_mb, info.free_mb, info.version) == (4096, 4096 - 512 - 512, "3.1.2-92.el5")


def test_xend_files_in_etc_xen_are_not_guests(state, shell):
    driver = xm(shell)
    for name in ("xend-config.sxp", "xmexample1", "xmexample.hvm", "qemu-ifup", "xl.conf"):
        path = host_file(state, "node01", f"/etc/xen/{name}")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("(xend-relocation-server yes)\n")
    (host_file(state, "node01", "/etc/xen/scripts")).mkdir()
    driver.define(spec(name="xen2", memory_mb=256, maxmem_mb=256, uuid=""))
    guests = driver.guests()
    assert list(guests) == ["xen2"]
    assert (guests["xen2"].state, guests["xen2"].memory_mb) == (OFF, 256)


def test_start_without_enough_memory_quotes_xend(shell):
    with pytest.raises(XenToolstackError) as error:
        xm(shell).start(spec(memory_mb=4000, maxmem_mb=4000, disks=()))
    message = str(error.value)
    assert "node01: cannot start xen1: Not enough free memory and enable-dom0-ballooning is " \
           "False" in message
    assert "I need 4096000 KiB but only have 3670016." in message
    assert "xen1 needs 4000 MiB; node01 has 3584 MiB free" in message


def test_live_migration_through_xend_relocation(state, shell):
    source = running(shell, spec())
    source.migrate("xen1", Target("node02", ADDRESSES["node02"], port=2222))
    # xend's relocation server has its own port; the SSH port is not passed on.
    assert ["xm", "migrate", "--live", "xen1", "10.0.2.2"] in argvs(state)
    assert xm(shell, "node02").guests()["xen1"].state == ON
    assert host_file(state, "node02", "/etc/xen/xen1").exists()
    xm(shell, "node02").migrate("xen1", Target("node01", ADDRESSES["node01"]), live=False)
    assert ["xm", "migrate", "xen1", "10.0.2.1"] in argvs(state, "node02")
    assert source.guests()["xen1"].state == ON


def test_migration_refused_without_relocation_server(state, shell):
    with hvstate.locked(state) as data:
        data["hosts"]["node02"]["relocation"] = False
    source = running(shell, spec(disks=()))
    with pytest.raises(XenToolstackError, match="node01: cannot migrate xen1 to node02: can't "
                                                "connect: Connection refused"):
        source.migrate("xen1", Target("node02", ADDRESSES["node02"]))
    assert hvstate.read(state)["guests"]["xen1"]["host"] == "node01"


def test_stop_and_reset(state, shell):
    driver = running(shell, spec(disks=()))
    driver.reset("xen1")
    assert argvs(state)[-1] == ["xm", "trigger", "xen1", "reset"]
    driver.stop("xen1")
    assert argvs(state)[-1] == ["xm", "shutdown", "-w", "xen1"]
    assert driver.guests()["xen1"].state == OFF
    pv = running(shell, spec(name="xen2", paravirt=True, disks=(), uuid=""))
    pv.reset("xen2")
    assert argvs(state)[-2:] == [["xm", "destroy", "xen2"], ["xm", "create", "/etc/xen/xen2"]]
    assert pv.guests()["xen2"].state == ON


@pytest.mark.parametrize("name", ["xend-config.sxp", "xmexample1", "scripts", "auto"])
def test_a_guest_cannot_take_the_name_of_xends_files(shell, name):
    with pytest.raises(DriverError, match=f"node01: '{name}' cannot be a guest name"):
        xm(shell).define(spec(name=name))
    with pytest.raises(DriverError, match="cannot be a guest name"):
        xm(shell).undefine(name)
    assert shell.lines == []
