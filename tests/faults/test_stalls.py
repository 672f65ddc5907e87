"""BMCs and hypervisors that stop answering in the middle of a command, through xcatd.

    CLI --mTLS--> xcatd --UDP 623--> simulated BMCs (tests/sim/bmcsim.py, pyghmi)
                        --SSH------> real sshd per simulated hypervisor (tests/sim)

Every stalled node gets its own one-line error, the others their answers; the command
ends by its timeouts, not never; xcatd answers other commands meanwhile; and the tables
still say where each guest really runs.
"""

from __future__ import annotations

import re

import pytest

from tests.faults.stalllab import BOUND_S, Background, frozen
from tests.integration.clitools import cli
from tests.integration.simhv import HypervisorLab
from tests.integration.xcatd import Xcatd
from tests.sim import hvstate
from tests.sim.bmcsim import BmcFleet, BmcSpec
from tests.sim.bmctools import ipmitool

# pyghmi's client: six packets log in, the seventh asks the chassis status; a BMC silent
# after seven hangs just as the power change goes out.
SILENT_BEFORE_CONTROL = 7
SILENT_DURING_LOGIN = 3


@pytest.fixture
def bmc_lab(tmp_path):
    fleet = BmcFleet([BmcSpec(power="on"), BmcSpec(power="off"),
                      BmcSpec(power="on", silent_after=SILENT_BEFORE_CONTROL),
                      BmcSpec(power="on", silent_after=SILENT_DURING_LOGIN)])
    eps = fleet.start()
    state = tmp_path / "state"
    daemon = None
    try:
        nodes = {"on1": eps[0], "off1": eps[1], "hangs1": eps[2], "mute1": eps[3]}
        for node, ep in nodes.items():
            ok(cli("nodeadd", node, "groups=bmcs,all", "nodehm.mgt=ipmi",
                   f"ipmi.bmc={ep.address}:{ep.port}", state=state))
        # A node's deadline: ipmitimeout x ipmiretries = 4 s.
        for key, value in (("ipmitimeout", "2"), ("ipmiretries", "2")):
            ok(cli("tabch", f"key={key}", f"site.value={value}", state=state))
        daemon = Xcatd(state).start()
        yield daemon, {node: f"{ep.address}:{ep.port}" for node, ep in nodes.items()}, eps
    finally:
        if daemon is not None:
            daemon.stop()
        fleet.stop()


def ok(r):
    assert r.rc == 0 and not r.err, r
    return r


def test_a_bmc_silent_mid_command_costs_its_node_a_clear_error_and_nothing_else(bmc_lab):
    daemon, bmc, eps = bmc_lab
    with Background("rpower", "bmcs", "off", state=daemon.state) as slow:
        # The daemon answers other commands while rpower waits out the silent BMCs.
        r = cli("nodels", "bmcs", "ipmi.bmc", state=daemon.state, bypass=False)
        assert slow.running, "rpower ended before nodels did: the test proves nothing"
        ok(r)
        assert len(r.out.splitlines()) == 4
    done = slow.result
    assert done.rc == 1
    assert sorted(done.out.splitlines()) == ["off1: off", "on1: off"]
    errors = sorted(done.err.splitlines())
    assert len(errors) == 2, done.err
    assert errors[0] == (f"hangs1: Error: BMC {bmc['hangs1']} did not answer chassis control "
                         "off; whether it was done is unknown")
    assert re.fullmatch(rf"mute1: Error: timed out talking to BMC {re.escape(bmc['mute1'])} "
                        r"after [\d.]+s", errors[1]), errors[1]
    assert slow.seconds < BOUND_S
    assert ipmitool(eps[0].address, eps[0].port, "chassis", "power", "status").strip() == (
        "Chassis Power is off")
    assert daemon.proc.poll() is None


# -- hypervisors --------------------------------------------------------------------------


@pytest.fixture
def hv_lab(tmp_path):
    lab = HypervisorLab(tmp_path, {"h1": {"memory_mb": 8192}, "h2": {"memory_mb": 8192},
                                   "h3": {"memory_mb": 8192}}, shared=["/shared"]).start()
    try:
        for i, host in enumerate(("h1", "h2", "h3"), start=1):
            lab.add_guest(f"g{i}", host, 1024, ip=f"10.10.10.{20 + i}")
        r = lab.run("rpower", "g1,g2,g3", "on")
        assert (r.rc, r.err) == (0, ""), r
        # Short limits, set as an admin would.
        lab.ok("tabch", "key=vmtimeout", "site.value=2")
        lab.ok("tabch", "key=vmmigratetimeout", "site.value=3")
        yield lab
    finally:
        lab.stop()


def set_faults(lab, host, **faults):
    with hvstate.locked(lab.sim) as state:
        state["hosts"][host]["faults"] = faults


def where(lab, guest):
    g = lab.sim_guest(guest)
    return g["host"], g["state"]


def assert_guests_where_recorded(lab):
    recorded = lab.vm_hosts(["g1", "g2", "g3"])
    for guest, host in recorded.items():
        assert where(lab, guest) == (host, hvstate.RUNNING), (guest, host, lab.sim_state())


def test_a_hypervisor_whose_commands_hang_is_reported_per_node_and_the_rest_answered(hv_lab):
    lab = hv_lab
    set_faults(lab, "h2", hang=["xl list"])
    with Background("rpower", "g1,g2,g3", "stat", state=lab.state) as slow:
        r = lab.run("nodels", "g1,g2,g3", "vm.host")
        assert slow.running, "rpower ended before nodels did: the test proves nothing"
        assert (r.rc, sorted(r.out.splitlines())) == (0, ["g1: h1", "g2: h2", "g3: h3"]), r
    done = slow.result
    assert done.rc == 1 and slow.seconds < BOUND_S
    assert sorted(done.out.splitlines()) == ["g1: on", "g3: on"]
    assert done.err.splitlines() == ["g2: Error: h2: 'xl' did not finish within 2s"]

    r = lab.run("lsvm", "h1,h2,h3")
    assert r.rc == 1
    assert r.err == "h2: Error: 'xl' did not finish within 2s\n", r.err
    assert any(line.startswith("h1: g1 (on") for line in r.out.splitlines()), r.out
    assert any(line.startswith("h3: g3 (on") for line in r.out.splitlines()), r.out

    # Its listings hang: a move out of it is refused before anything moves.
    r = lab.run("rmigrate", "g2", "h3")
    assert (r.rc, r.out) == (1, ""), r
    assert r.err == "g2: Error: h2: did not answer: 'xl' did not finish within 2s\n"

    # Only the migration hangs: it runs into its own limit (vmmigratetimeout); the guest
    # stays recorded where it runs.
    set_faults(lab, "h2", hang=["xl migrate"])
    r = lab.run("rmigrate", "g2", "h3")
    assert r.rc == 1 and r.out == "", r
    assert r.err == ("g2: Error: migration to h3 failed, still running on h2: 'xl' did not "
                     "finish within 3s\n"), r.err
    assert lab.vm_host("g2") == "h2"
    assert where(lab, "g2") == ("h2", hvstate.RUNNING)

    set_faults(lab, "h2")
    ok(lab.run("rpower", "g1,g2,g3", "stat"))
    assert_guests_where_recorded(lab)


def test_a_hypervisor_frozen_mid_session_times_out_and_recovers_when_thawed(hv_lab):
    lab = hv_lab
    # h2 has a pooled connection from `rpower on`; its sshd, that connection's server side
    # and everything under them stop answering.
    with frozen(lab.hosts["h2"]):
        with Background("rpower", "g1,g2,g3", "stat", state=lab.state) as slow:
            r = lab.run("nodels", "g1,g2,g3", "vm.host")
            assert slow.running, "rpower ended before nodels did: the test proves nothing"
            assert r.rc == 0, r
        done = slow.result
        assert done.rc == 1 and slow.seconds < BOUND_S
        assert sorted(done.out.splitlines()) == ["g1: on", "g3: on"]
        assert re.fullmatch(r"g2: Error: h2: 127\.0\.0\.3 did not open a session within 2s",
                            done.err.strip()), done.err

        # The next command connects afresh: the kernel accepts, sshd never speaks.
        r = lab.run("rpower", "g2", "stat")
        assert r.rc == 1 and r.out == ""
        assert re.fullmatch(r"g2: Error: h2: cannot connect to 127\.0\.0\.3:\d+: timed out "
                            r"after 2s", r.err.strip()), r.err

        r = lab.run("rmigrate", "g2", "h1")
        assert (r.rc, r.out) == (1, ""), r
        assert re.fullmatch(r"g2: Error: h2: did not answer: cannot connect to 127\.0\.0\.3:\d+: "
                            r"timed out after 2s", r.err.strip()), r.err
        r = lab.run("revacuate", "h2")
        assert (r.rc, r.out) == (1, "h2: in maintenance\n"), r
        assert re.fullmatch(r"h2: Error: did not answer: cannot connect to 127\.0\.0\.3:\d+: "
                            r"timed out after 2s; if it is down, revacuate -f restarts its "
                            r"guests elsewhere", r.err.strip()), r.err
        assert lab.vm_host("g2") == "h2"
    assert where(lab, "g2") == ("h2", hvstate.RUNNING)

    # Thawed, the host answers again; nothing was lost or moved.
    r = lab.run("rpower", "g1,g2,g3", "stat")
    assert (r.rc, sorted(r.out.splitlines())) == (0, ["g1: on", "g2: on", "g3: on"]), r
    assert_guests_where_recorded(lab)
    assert lab.xcatd.proc.poll() is None
