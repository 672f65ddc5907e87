"""chhypervisor: maintenance on (-m, and xCAT's other spellings) and off (-o), shown (-s), in
the table, the eventlog and, for a XenServer, the pool itself; and rpower refusing to start
guests on a host in maintenance (share/doc/man8/chhypervisor.md).

Xen hosts h1, h2 and XenServer pool members xs1, xs2 are simulated (tests/sim), driven by
the real drivers through LocalShell.
"""

import pytest

from tests.sim import hvstate
from tests.sim.localshell import LocalShell
from tests.unit.commands.migfixtures import XlFleet, eventlog, vm_host
from xcatpy.virt import hosts

ENTER = ("-m", "--maintenance", "-d", "--deactivate")
LEAVE = ("-o", "--online", "-e", "--activate")
NOT_A_HYPERVISOR = ("not a hypervisor: hypervisor.type is not set, and no guest placed there "
                    "has a nodehm.mgt that implies one")


@pytest.fixture
def fleet(run, tmp_path):
    """h1, h2 (xl) and xs1, xs2 (a XenServer pool), all simulated; guest g1 on h1 (off)."""
    state = tmp_path / "sim" / "state.json"
    hvstate.create(state, {
        "h1": {}, "h2": {},
        "xs1": {"toolstack": "xenserver", "memory_mb": 8192, "dom0_mb": 1024},
        "xs2": {"toolstack": "xenserver", "memory_mb": 8192, "dom0_mb": 1024},
    }, shared_paths=["/vms"])
    hosts.use_shell(lambda state_dir: LocalShell(state))
    assert run("nodeadd", "h1,h2", "groups=hypervisors,all", "hypervisor.type=xen",
               "hypervisor.dom0mem=1024").rc == 0
    assert run("nodeadd", "xs1,xs2", "groups=hypervisors,all",
               "hypervisor.type=xenserver").rc == 0
    assert run("nodeadd", "g1", "groups=guests,all", "vm.host=h1", "vm.memory=1024",
               "vm.storage=/vms", "nodehm.mgt=xen", "vm.nics=br0").rc == 0
    yield XlFleet(state, run)
    hosts.use_shell(None)


def lsdef_maintenance(run, host: str) -> str | None:
    lines = run("lsdef", host).out
    values = [line.strip().split("=", 1)[1] for line in lines
              if line.strip().startswith("hostmaintenance=")]
    return values[0] if values else None


def tabdump_maintenance(run) -> dict[str, str]:
    r = run("tabdump", "hypervisor")
    columns = r.out[0].lstrip("#").split(",")
    found = {}
    for line in r.out[1:]:
        values = [v.strip('"') for v in line.split(",")]
        row = dict(zip(columns, values, strict=True))
        found[row["node"]] = row["maintenance"]
    return found


def events(store) -> list[tuple]:
    return [(e["node"], e["application"], e["eventtype"], e["message"]) for e in eventlog(store)]


def test_m_and_o_set_and_clear_maintenance(fleet, run, store):
    r = run("chhypervisor", "h1,h2", "-m")
    assert (r.rc, r.out, r.err) == (0, ["h1: in maintenance", "h2: in maintenance"], [])
    assert lsdef_maintenance(run, "h1") == "yes"
    assert tabdump_maintenance(run) == {"h1": "yes", "h2": "yes", "xs1": "", "xs2": ""}
    r = run("chhypervisor", "h2", "-o")
    assert (r.rc, r.out, r.err) == (0, ["h2: online"], [])
    assert lsdef_maintenance(run, "h2") is None
    assert lsdef_maintenance(run, "h1") == "yes"
    assert tabdump_maintenance(run) == {"h1": "yes", "h2": "", "xs1": "", "xs2": ""}
    assert events(store) == [
        ("h1", "chhypervisor", "maintenance", "entered maintenance"),
        ("h2", "chhypervisor", "maintenance", "entered maintenance"),
        ("h2", "chhypervisor", "maintenance", "left maintenance"),
    ]
    # Only the table changes for an xl host: the host itself is not asked anything.
    assert fleet.commands() == []


@pytest.mark.parametrize("enter", ENTER)
@pytest.mark.parametrize("leave", LEAVE)
def test_xcats_spellings_of_both_platforms(fleet, run, enter, leave):
    r = run("chhypervisor", "h1", enter)
    assert (r.rc, r.out, r.err) == (0, ["h1: in maintenance"], [])
    assert lsdef_maintenance(run, "h1") == "yes"
    r = run("chhypervisor", "h1", leave)
    assert (r.rc, r.out, r.err) == (0, ["h1: online"], [])
    assert lsdef_maintenance(run, "h1") is None


def test_s_shows_which_hosts_are_in_maintenance(fleet, run, store):
    assert run("chhypervisor", "h2", "-m").rc == 0
    r = run("chhypervisor", "h1,h2", "-s")
    assert (r.rc, r.out, r.err) == (0, ["h1: online", "h2: in maintenance"], [])
    assert run("chhypervisor", "h1,h2", "--show").out == r.out
    assert [e[0] for e in events(store)] == ["h2"]  # showing records nothing


def test_s_names_an_unreadable_maintenance_value(fleet, run):
    assert run("nodech", "h1", "hypervisor.maintenance=perhaps").rc == 0
    r = run("chhypervisor", "h1,h2", "-s")
    assert r.rc == 1
    assert r.out == ["h2: online"]
    assert r.err == ["h1: Error: hypervisor.maintenance must be yes or no, not 'perhaps'"]


def test_entering_twice_is_harmless(fleet, run):
    assert run("chhypervisor", "h1", "-m").rc == 0
    r = run("chhypervisor", "h1", "-m")
    assert (r.rc, r.out) == (0, ["h1: in maintenance"])
    assert lsdef_maintenance(run, "h1") == "yes"


@pytest.mark.parametrize("flags", [(), ("-m", "-o"), ("-d", "-e"), ("-m", "-s"), ("-o", "-s")])
def test_exactly_one_of_enter_leave_and_show(fleet, run, store, flags):
    r = run("chhypervisor", "h1", *flags)
    assert r.rc != 0
    assert r.out == []
    assert r.err[0] == ("Error: chhypervisor: give exactly one of -m (enter maintenance), -o "
                        "(leave maintenance) and -s (show)")
    assert r.err[1].startswith("Usage:")
    assert tabdump_maintenance(run)["h1"] == ""
    assert eventlog(store) == []


def test_a_noderange_is_required(fleet, run):
    r = run("chhypervisor", "-m")
    assert r.rc != 0
    assert r.err[0] == "Error: chhypervisor: a noderange is required"


def test_a_node_that_is_not_a_hypervisor_is_named(fleet, run, store):
    assert run("nodeadd", "plain", "groups=all").rc == 0
    r = run("chhypervisor", "plain,h1", "-m")
    assert r.rc == 1
    assert r.out == ["h1: in maintenance"]
    assert r.err == [f"plain: Error: {NOT_A_HYPERVISOR}"]
    assert lsdef_maintenance(run, "plain") is None
    assert [e[0] for e in events(store)] == ["h1"]


def test_a_name_that_is_not_a_node_fails_before_anything(fleet, run, store):
    r = run("chhypervisor", "h1,nosuch", "-m")
    assert r.rc != 0
    assert r.out == []
    assert tabdump_maintenance(run)["h1"] == ""
    assert eventlog(store) == []


def test_a_host_named_by_a_guests_vm_host_is_a_hypervisor_when_mgt_implies_one(fleet, run):
    assert run("nodeadd", "h8,h9", "groups=all").rc == 0
    assert run("nodeadd", "g8", "groups=all", "vm.host=h8", "nodehm.mgt=ipmi").rc == 0
    assert run("nodeadd", "g9", "groups=all", "vm.host=h9", "nodehm.mgt=xen").rc == 0
    r = run("chhypervisor", "h8,h9", "-m")
    assert r.rc == 1
    assert r.out == ["h9: in maintenance"]
    assert r.err == [f"h8: Error: {NOT_A_HYPERVISOR}"]
    assert lsdef_maintenance(run, "h9") == "yes"
    assert lsdef_maintenance(run, "h8") is None


@pytest.mark.parametrize("flag, expected", [("-o", None), ("-m", "yes")])
def test_a_bad_maintenance_value_can_still_be_replaced(fleet, run, store, flag, expected):
    assert run("nodech", "h1", "hypervisor.maintenance=perhaps").rc == 0
    r = run("chhypervisor", "h1", flag)
    assert (r.rc, r.err) == (0, [])
    assert lsdef_maintenance(run, "h1") == expected
    assert len(events(store)) == 1


def test_a_xenserver_host_is_disabled_and_enabled_in_its_pool(fleet, run, store):
    r = run("chhypervisor", "xs1", "-m")
    assert (r.rc, r.out, r.err) == (0, ["xs1: in maintenance"], [])
    assert fleet.commands("xs1") == [["xe", "host-disable", "host=xs1"]]
    assert fleet.data()["hosts"]["xs1"].get("disabled") is True
    assert not fleet.data()["hosts"]["xs2"].get("disabled")
    assert lsdef_maintenance(run, "xs1") == "yes"
    r = run("chhypervisor", "xs1", "-o")
    assert (r.rc, r.out, r.err) == (0, ["xs1: online"], [])
    assert fleet.commands("xs1")[-1] == ["xe", "host-enable", "host=xs1"]
    assert fleet.data()["hosts"]["xs1"].get("disabled") is False
    assert lsdef_maintenance(run, "xs1") is None
    assert [e[3] for e in events(store)] == ["entered maintenance", "left maintenance"]


def test_showing_does_not_ask_the_pool(fleet, run):
    assert run("chhypervisor", "xs1", "-s").out == ["xs1: online"]
    assert fleet.commands() == []


def test_a_pool_that_refuses_leaves_the_table_unchanged(fleet, run, store):
    fleet.fail("xs1", "xe host-disable", "The operation could not be performed because HA "
               "is enabled on the Pool")
    r = run("chhypervisor", "xs1,xs2,h1", "-m")
    assert r.rc == 1
    assert r.out == ["h1: in maintenance", "xs2: in maintenance"]
    assert len(r.err) == 1
    assert r.err[0].startswith("xs1: Error: ")
    assert "HA is enabled on the Pool" in r.err[0]
    assert tabdump_maintenance(run) == {"h1": "yes", "h2": "", "xs1": "", "xs2": "yes"}
    assert not fleet.data()["hosts"]["xs1"].get("disabled")
    assert fleet.data()["hosts"]["xs2"].get("disabled") is True
    assert sorted(e[0] for e in events(store)) == ["h1", "xs2"]


def test_a_pool_that_refuses_to_enable_keeps_the_host_in_maintenance(fleet, run, store):
    assert run("chhypervisor", "xs1", "-m").rc == 0
    fleet.fail("xs1", "xe host-enable", "The host is still booting.")
    r = run("chhypervisor", "xs1", "-o")
    assert (r.rc, r.out) == (1, [])
    assert len(r.err) == 1 and r.err[0].startswith("xs1: Error: ")
    assert "The host is still booting." in r.err[0]
    assert lsdef_maintenance(run, "xs1") == "yes"
    assert [e[3] for e in events(store)] == ["entered maintenance"]


def test_rpower_on_refuses_a_guest_whose_host_is_in_maintenance(fleet, run):
    assert run("chhypervisor", "h1", "-m").rc == 0
    r = run("rpower", "g1", "on")
    assert (r.rc, r.out) == (1, [])
    assert r.err == ["g1: Error: h1 is in maintenance (hypervisor.maintenance), so no guest "
                     "starts there; 'chhypervisor h1 -o' ends it, or place the guest elsewhere "
                     "(chdef vmhost=)"]
    r = run("rpower", "g1", "boot")  # boot of a guest that is off starts it: refused too
    assert (r.rc, r.out) == (1, [])
    assert r.err[0].startswith("g1: Error: h1 is in maintenance (hypervisor.maintenance)")
    assert fleet.where("g1") is None
    assert not [argv for argv in fleet.commands()
                if argv[:2] in (["xl", "create"], ["qemu-img", "create"])]
    assert run("chhypervisor", "h1", "-o").rc == 0
    r = run("rpower", "g1", "on")
    assert (r.rc, r.out, r.err) == (0, ["g1: on"], [])
    assert fleet.where("g1") == "h1" and vm_host(run, "g1") == "h1"
