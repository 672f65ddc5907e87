"""nodeset and rinstall: states recorded in chain, all nodes or none, no files written."""

import pytest

from tests.unit.boot.bootfixtures import NB_IMAGE, RH_IMAGE, make_cluster
from xcatpy.drivers import power
from xcatpy.drivers.base import Reply


@pytest.fixture
def cluster(run, state_dir):
    make_cluster(run, state_dir)
    return run


def currstate(run, node):
    return run("nodels", node, "chain.currstate").out


def test_boot_and_stat(cluster):
    assert cluster("nodeset", "node01", "stat").out == ["node01: none"]
    r = cluster("nodeset", "node01,xs01", "boot")
    assert (r.rc, r.out) == (0, ["node01: boot", "xs01: boot"])
    assert cluster("nodeset", "all", "stat").out == ["node01: boot", "xh01: none", "xs01: boot"]


def test_osimage_records_state_and_nodetype(cluster):
    r = cluster("nodeset", "node01", f"osimage={RH_IMAGE}")
    assert (r.rc, r.out, r.err) == (0, [f"node01: install {RH_IMAGE}"], [])
    assert currstate(cluster, "node01") == [f"node01: install {RH_IMAGE}"]
    assert cluster("nodels", "node01", "nodetype.provmethod", "nodetype.os", "nodetype.arch",
                   "nodetype.profile").out == [
        f"node01: nodetype.provmethod: {RH_IMAGE}", "node01: nodetype.os: rhels8",
        "node01: nodetype.arch: x86_64", "node01: nodetype.profile: compute"]
    assert cluster("nodels", "node01", "chain.currchain").out == ["node01: boot"]


def test_osimage_without_name_uses_provmethod(cluster):
    assert cluster("nodech", "xh01", f"nodetype.provmethod={NB_IMAGE}").rc == 0
    assert cluster("nodeset", "xh01", "osimage").out == [f"xh01: netboot {NB_IMAGE}"]


def test_old_style_install_keyword(cluster):
    r = cluster("nodeset", "node01", "install", RH_IMAGE)
    assert r.out == [f"node01: install {RH_IMAGE}"]
    r = cluster("nodeset", "xh01", "install", NB_IMAGE)
    assert r.rc == 1
    assert r.err == [f"xh01: Error: osimage '{NB_IMAGE}' is provmethod 'netboot', "
                     "not 'install'"]


def test_next_advances_an_install_to_local_boot(cluster):
    cluster("nodeset", "node01", f"osimage={RH_IMAGE}")
    assert cluster("nodeset", "node01", "next").out == ["node01: boot"]
    assert currstate(cluster, "node01") == ["node01: boot"]


def test_one_bad_node_fails_all_and_writes_nothing(cluster, state_dir):
    (state_dir / "install/netboot/rhels8/x86_64/xenhost/kernel").unlink()
    assert cluster("nodech", "xh01", f"nodetype.provmethod={NB_IMAGE}").rc == 0
    assert cluster("nodech", "node01", f"nodetype.provmethod={RH_IMAGE}").rc == 0
    r = cluster("nodeset", "node01,xh01", "osimage")
    assert r.rc == 1
    assert r.err == [f"xh01: Error: osimage '{NB_IMAGE}': {state_dir}/install/netboot/rhels8/"
                     "x86_64/xenhost/kernel is missing (run copycds?)"]
    assert currstate(cluster, "node01") == ["node01: "]
    assert cluster("nodels", "node01", "nodetype.os").out == ["node01: "]


def test_unknown_image_and_unknown_state(cluster):
    r = cluster("nodeset", "node01", "osimage=nosuch")
    assert (r.rc, r.err) == (1, ["node01: Error: osimage 'nosuch' is not defined "
                                 "(see lsdef -t osimage)"])
    r = cluster("nodeset", "node01", "reboot")
    assert r.rc != 0 and r.err[0].startswith("Error: nodeset: unknown state 'reboot'")


def test_no_image_at_all_names_what_to_set(cluster):
    r = cluster("nodeset", "node01", "osimage")
    assert r.err == ["node01: Error: no osimage: set nodetype.provmethod to an osimage name "
                     "or set nodetype.os, nodetype.arch, nodetype.profile"]


def test_nodeset_writes_no_files(cluster, state_dir):
    before = sorted(p for p in state_dir.rglob("*") if "xcatdb" not in p.name)
    assert cluster("nodeset", "all", "boot").rc == 0
    assert sorted(p for p in state_dir.rglob("*") if "xcatdb" not in p.name) == before


class RecordingDriver:
    calls: list = []

    def __init__(self, ctx, fail=()):
        self.fail = fail

    def set_boot_device(self, nodes, device):
        self.calls.append(("bootdev", tuple(nodes), device))
        return iter([(n, Reply("Network")) for n in nodes])

    def power(self, nodes, action):
        self.calls.append(("power", tuple(nodes), action))
        return iter([(n, Reply.fail("BMC did not answer") if n in self.fail else Reply("on"))
                     for n in nodes])


@pytest.fixture
def ipmi_driver(monkeypatch):
    # setitem, not register/unregister: the real ipmi driver must be back after the test.
    RecordingDriver.calls = []
    monkeypatch.setitem(power._FACTORIES, "ipmi", RecordingDriver)
    yield RecordingDriver


def test_rinstall_sets_state_then_netboots_and_powers(cluster, ipmi_driver):
    assert cluster("nodech", "node01", "nodehm.mgt=ipmi").rc == 0
    r = cluster("rinstall", "node01", f"osimage={RH_IMAGE}")
    assert (r.rc, r.out, r.err) == (0, [f"node01: install {RH_IMAGE}"], [])
    assert ipmi_driver.calls == [("bootdev", ("node01",), "net"),
                                 ("power", ("node01",), "boot")]


def test_rinstall_power_failure_keeps_the_boot_state(cluster, ipmi_driver):
    power._FACTORIES["ipmi"] = lambda ctx: RecordingDriver(ctx, fail={"node01"})
    assert cluster("nodech", "node01,xs01", "nodehm.mgt=ipmi").rc == 0
    r = cluster("rinstall", "node01,xs01", "boot")
    assert r.rc == 1
    assert r.err == ["node01: Error: BMC did not answer (its boot state is set: power it on "
                     "or reset it to install)"]
    assert currstate(cluster, "node01") == ["node01: boot"]


def test_rinstall_without_a_driver_says_so(cluster):
    r = cluster("rinstall", "node01", "boot")
    assert r.rc == 1
    assert r.err == ["node01: Error: nodehm.mgt is not set, so there is no way to power it "
                     "(its boot state is set: power it on or reset it to install)"]
