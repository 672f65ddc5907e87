"""rinstall of a bare-metal node through its BMC: the whole path, with a real IPMI peer.

    rinstall pxe01 (CLI) --nodeset--> the node's boot state
                         --IPMI lanplus, pyghmi--> ipmi_sim (OpenIPMI): set boot device PXE,
                                                   chassis power on
    ipmi_sim's chassis script --power on--> QEMU in the namespace, which PXE-boots from
    xcatd, installs, calls back and powers off; the BMC then reports the chassis off.

ipmi_sim listens on the machine's loopback and the CLI runs in bypass mode beside it; only
QEMU and xcatd's boot services live in the namespace, as a BMC's network is separate from
the node's.
"""

import shlex

import pytest

from tests.e2e.bootimage import MARKER
from tests.e2e.netns import wait_for
from tests.e2e.qemu import Qemu
from tests.e2e.test_pxe_install import IMAGE, MAC, NODE, XcatdInNetns, configure, nodels, ok
from tests.integration.clitools import cli
from tests.sim.ipmisim import IpmiSim

pytestmark = pytest.mark.e2e

VM_TIMEOUT = 900  # a hang guard, not a performance target (the install takes ~20 s)


def test_rinstall_powers_the_node_on_through_its_bmc(tmp_path, netns, boot_image, e2e_logs):
    state = tmp_path / "state"
    work = tmp_path / "run"
    work.mkdir()
    xcatd = XcatdInNetns(netns, state, tmp_path / "xcatd.log")
    vm = Qemu(netns, work, MAC)
    pidfile = work / "qemu.pid"
    qemu = shlex.join(netns.argv(*vm.argv()))
    vm.sercon.write_bytes((0x3F8).to_bytes(2, "little"))  # what Qemu.start would write
    # The chassis: power on starts the VM; its exit (the installer powers off) is power off.
    start = f"{qemu} </dev/null >/dev/null 2>>{work}/qemu.stderr & echo $! >{pidfile}"
    stop = f"kill $(cat {pidfile}) 2>/dev/null; rm -f {pidfile}"
    bmc = IpmiSim(work / "bmc", username="xcat", password="s3cret", on_power_on=start,
                  on_power_off=stop, on_reset=f"{stop}; {start}",
                  power_query=f"test -f {pidfile} && kill -0 $(cat {pidfile})")
    e2e_logs += [("VM serial console", vm.serial_log), ("xcatd log", xcatd.log),
                 ("QEMU stderr", work / "qemu.stderr"), ("BMC hooks", work / "bmc/hooks.log")]
    configure(state, boot_image)
    ok(cli("nodeset", NODE, "boot", state=state), "nodeset boot")  # rinstall sets it again
    with bmc as sim:
        ok(cli("nodech", NODE, "nodehm.mgt=ipmi", "ipmi.username=xcat",
               "ipmi.password=s3cret", f"ipmi.bmc={sim.bmc}", state=state), "nodech")
        try:
            xcatd.start()
            assert ok(cli("rpower", NODE, "stat", state=state), "rpower stat") == \
                f"{NODE}: off\n"
            r = cli("rinstall", NODE, f"osimage={IMAGE}", state=state)
            assert (r.rc, r.err) == (0, ""), r.err
            assert r.out == f"{NODE}: install {IMAGE}\n"
            assert sim.events()[-2:] == ["boot pxe", "power 1"], sim.events()
            wait_for(lambda: "Chassis Power is off" in sim.ipmitool(
                "chassis", "power", "status").stdout, VM_TIMEOUT,
                "the node to install and power off", interval=2)
            steps = vm.serial()
            assert f"{MARKER} done" in steps, "the node did not finish its install"
            assert nodels(state, "chain.currstate") == f"{NODE}: boot"
            assert ok(cli("rpower", NODE, "stat", state=state), "rpower stat") == \
                f"{NODE}: off\n"
        finally:
            if pidfile.exists():
                sim.ipmitool("chassis", "power", "off")
            xcatd.stop()
