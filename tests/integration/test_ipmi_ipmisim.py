"""The ipmi driver against OpenIPMI's ipmi_sim (tests/sim/ipmisim.py): an IPMI 2.0 stack
written independently of pyghmi, whose chassis is a script recording what it was told."""

import pytest

from tests.sim.bmctools import define_nodes, replies, set_login
from tests.sim.ipmisim import IpmiSim


@pytest.fixture
def ipmisim(tmp_path):
    with IpmiSim(tmp_path / "bmc", on_power_on="echo on >>hooks.txt",
                 on_power_off="echo off >>hooks.txt", on_reset="echo reset >>hooks.txt") as sim:
        yield sim


def test_rpower_drives_the_chassis_script_and_agrees_with_ipmitool(run, store, ipmisim):
    driver = define_nodes(run, store, {"n1": ipmisim.bmc})
    assert replies(driver.power(["n1"], "stat")) == {"n1": "off"}
    assert replies(driver.power(["n1"], "on")) == {"n1": "on"}
    assert ipmisim.power() == "on"
    assert ipmisim.ipmitool("chassis", "power", "status").stdout.strip() == "Chassis Power is on"
    assert replies(driver.power(["n1"], "boot")) == {"n1": "on reset"}
    assert replies(driver.power(["n1"], "softoff")) == {"n1": "softoff"}
    assert ipmisim.ipmitool("chassis", "power", "on").returncode == 0
    assert replies(driver.power(["n1"], "stat")) == {"n1": "on"}
    assert replies(driver.power(["n1"], "off")) == {"n1": "off"}
    assert replies(driver.power(["n1"], "boot")) == {"n1": "off on"}
    assert ipmisim.events() == ["power 1", "reset 1", "shutdown 1", "power 1", "power 0",
                                "power 1"]
    hooks = (ipmisim.workdir / "hooks.txt").read_text().split()
    assert hooks == ["on", "reset", "off", "on", "off", "on"]


def test_rsetboot_sets_the_device_ipmi_sim_hands_its_chassis(run, store, ipmisim):
    driver = define_nodes(run, store, {"n1": ipmisim.bmc})
    assert replies(driver.set_boot_device(["n1"], "net")) == {"n1": "Network"}
    assert ipmisim.boot_device() == "pxe"
    bootparam = ipmisim.ipmitool("chassis", "bootparam", "get", "5").stdout
    assert "Boot Device Selector : Force PXE" in bootparam
    # ipmi_sim never sets the boot flags' valid bit (see ipmisim.py); ipmitool says so too.
    assert "Boot Flag Invalid" in bootparam
    assert replies(driver.set_boot_device(["n1"], "stat")) == {"n1": "boot override inactive"}
    assert replies(driver.set_boot_device(["n1"], "cd")) == {"n1": "CD/DVD"}
    assert ipmisim.boot_device() == "cdrom"
    assert replies(driver.set_boot_device(["n1"], "def")) == {"n1": "boot override inactive"}
    assert ipmisim.boot_device() == "none"


def test_wrong_password_is_refused_by_ipmi_sim(run, store, ipmisim):
    driver = define_nodes(run, store, {"n1": ipmisim.bmc})
    set_login(run, "n1", "USERID", "guess")
    driver.attrs.invalidate()
    assert replies(driver.power(["n1"], "stat")) == {
        "n1": f"Error: BMC {ipmisim.bmc} rejected the credentials (user USERID)"}
    assert ipmisim.events() == []


def test_power_query_hook_lets_the_machine_power_off_by_itself(run, store, tmp_path):
    # How an e2e test runs a VM behind ipmi_sim: on starts it, stat asks whether it runs.
    with IpmiSim(tmp_path / "vmbmc", on_power_on="touch running", on_power_off="rm -f running",
                 power_query="test -f running") as sim:
        driver = define_nodes(run, store, {"vm1": sim.bmc})
        assert replies(driver.power(["vm1"], "on")) == {"vm1": "on"}
        assert (sim.workdir / "running").exists()
        (sim.workdir / "running").unlink()  # the guest halted
        assert replies(driver.power(["vm1"], "stat")) == {"vm1": "off"}
        assert replies(driver.power(["vm1"], "boot")) == {"vm1": "off on"}
        assert replies(driver.power(["vm1"], "off")) == {"vm1": "off"}
        assert not (sim.workdir / "running").exists()
