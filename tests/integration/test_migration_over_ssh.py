"""rmigrate, revacuate and chhypervisor through xcatd and real OpenSSH, on simulated hosts.

    CLI --mTLS--> xcatd --SSH--> sshd per simulated host --> xl / virsh / arping / ls
                  (tables)                                    (tests/sim, one shared state)

Each test looks at the same move from every side: the command's output and exit code, vm.host
in the tables, where the simulated hardware says the guest runs, and the eventlog.
Every test builds its own small lab (a daemon and a few sshd, about a second): the hosts'
memory and faults differ from test to test, and nothing leaks from one to the next.
"""

import re

import pytest

from tests.integration.simhv import HypervisorLab
from tests.sim import hvstate
from tests.sim.bmcsim import BmcFleet, BmcSpec
from tests.sim.bmctools import ipmitool

SHARED = "/shared"


@pytest.fixture
def make_lab(tmp_path):
    """make_lab({host: hvstate spec}, shared=[...]) -> a started HypervisorLab."""
    labs = []

    def make(hosts, shared=(SHARED,)):
        lab = HypervisorLab(tmp_path, hosts, shared=list(shared)).start()
        labs.append(lab)
        return lab

    yield make
    for lab in labs:
        lab.stop()


@pytest.fixture
def bmcs():
    """bmcs(spec, ...) -> endpoints; every fleet started is stopped after the test."""
    fleets = []

    def start(*specs):
        fleet = BmcFleet(list(specs))
        fleets.append(fleet)
        return fleet.start()

    yield start
    for fleet in fleets:
        fleet.stop()


# -- helpers ----------------------------------------------------------------------------------


def start_guests(lab, *names):
    r = lab.run("rpower", ",".join(names), "on")
    assert (r.rc, r.err) == (0, ""), r
    assert sorted(r.out.splitlines()) == sorted(f"{n}: on" for n in names)
    for name in names:
        assert lab.sim_guest(name)["state"] == hvstate.RUNNING


def migrations_run(lab, host=None):
    return [argv for argv in lab.commands_run(host) if argv[:2] in (["xl", "migrate"],
                                                                    ["virsh", "migrate"])]


def where(lab, name):
    """(host, state) of a guest as the simulated hardware has it."""
    guest = lab.sim_guest(name)
    return guest["host"], guest["state"]


def new_events(lab, before):
    """Events recorded since `before` (a list from lab.events()), as
    (node, application, eventtype, severity, component, message)."""
    seen = {e["recid"] for e in before}
    return [(e["node"], e["application"], e["eventtype"], e["severity"], e["component"],
             e["message"]) for e in lab.events() if e["recid"] not in seen]


def assert_stays_put(lab, guest, host, before_events, reason, dest):
    """A refused rmigrate: nothing moved anywhere, and the refusal is in the eventlog."""
    assert lab.vm_host(guest) == host
    assert where(lab, guest) == (host, hvstate.RUNNING)
    assert migrations_run(lab) == []
    assert new_events(lab, before_events) == [
        (guest, "rmigrate", "refused", "warning", f"{host}->{dest}",
         f"not migrated from {host} to {dest}: {reason}")]


def arpings(lab, host):
    return [argv for argv in lab.commands_run(host) if argv[0] == "arping"]


def arping_argv(bridge, mac, ip):
    return ["arping", "-q", "-U", "-c", "1", "-i", bridge, "-S", ip, "-s", mac, ip]


def two_xen_hosts(make_lab, h2=None, **h1):
    return make_lab({"h1": {"memory_mb": 8192, **h1}, "h2": {"memory_mb": 8192, **(h2 or {})}})


# -- rmigrate ---------------------------------------------------------------------------------


def test_rmigrate_moves_a_guest_that_fits_and_announces_it_from_the_new_host(make_lab):
    lab = two_xen_hosts(make_lab)
    lab.add_guest("xen1", "h1", 2048, ip="10.10.10.21", **{"vm.nics": "xenbr1"})
    start_guests(lab, "xen1")
    mac = lab.column("xen1", "mac.mac")
    assert re.fullmatch(r"42(:[0-9a-f]{2}){5}", mac), mac
    before = lab.events()

    r = lab.run("rmigrate", "xen1", "h2")
    assert (r.rc, r.out, r.err) == (0, "xen1: migrated to h2\n", "")

    assert lab.vm_host("xen1") == "h2"
    assert "vmhost=h2" in lab.ok("lsdef", "xen1", "-i", "vmhost").out.split()
    assert lab.column("xen1", "vm.powerstate") == "on"
    assert where(lab, "xen1") == ("h2", hvstate.RUNNING)
    assert lab.running_on("h1") == set()
    # xl copies no config: the driver moved it, so the guest is defined where it runs.
    assert hvstate.host_file(lab.sim, "h2", "/etc/xen/xen1.cfg").is_file()
    assert not hvstate.host_file(lab.sim, "h1", "/etc/xen/xen1.cfg").exists()
    assert migrations_run(lab, "h1") == [["xl", "migrate", "-s", f"ssh -p {lab.hosts.port}",
                                          "xen1", lab.hosts["h2"].address]]
    assert arpings(lab, "h2") == [arping_argv("xenbr1", mac, "10.10.10.21")]
    assert arpings(lab, "h1") == []
    assert new_events(lab, before) == [
        ("xen1", "rmigrate", "migrate", "informational", "h1->h2",
         "migrated from h1 to h2 (2048 MB)")]
    # The daemon now finds the guest where the table says it is.
    assert lab.run("rpower", "xen1", "stat").out == "xen1: on\n"


def test_rmigrate_on_libvirt_hosts(make_lab):
    lab = make_lab({"k1": {"toolstack": "libvirt"}, "k2": {"toolstack": "libvirt"}})
    lab.add_guest("kvm1", "k1", 1024, ip="10.10.10.31")
    start_guests(lab, "kvm1")
    mac = lab.column("kvm1", "mac.mac")
    before = lab.events()

    r = lab.run("rmigrate", "kvm1", "k2")
    assert (r.rc, r.out, r.err) == (0, "kvm1: migrated to k2\n", "")
    assert lab.vm_host("kvm1") == "k2"
    assert where(lab, "kvm1") == ("k2", hvstate.RUNNING)
    assert [argv[:4] for argv in migrations_run(lab, "k1")] == [
        ["virsh", "migrate", "--live", "--persistent"]]
    assert arpings(lab, "k2") == [arping_argv("br0", mac, "10.10.10.31")]
    assert new_events(lab, before) == [
        ("kvm1", "rmigrate", "migrate", "informational", "k1->k2",
         "migrated from k1 to k2 (1024 MB)")]


def test_rmigrate_refuses_what_does_not_fit_counting_every_term(make_lab):
    lab = make_lab({"h1": {"memory_mb": 16384}, "h2": {"memory_mb": 4096}})
    lab.ok("chdef", "h2", "hostoverhead=512")
    lab.add_guest("resident", "h2", 1024, ip="10.10.10.40")
    lab.add_guest("big", "h1", 2048, ip="10.10.10.41")
    start_guests(lab, "resident", "big")
    before = lab.events()

    r = lab.run("rmigrate", "big", "h2")
    reason = ("needs 2048 MB, 1536 MB free (4096 MB total - 512 overhead - 1024 dom0 - 1024 "
              "in 1 running guest)")
    assert (r.rc, r.out, r.err) == (1, "", f"big: Error: cannot migrate to h2: {reason}\n")
    assert_stays_put(lab, "big", "h1", before, reason, "h2")


def test_rmigrate_counts_the_guests_going_to_one_host_together(make_lab):
    lab = make_lab({"h1": {"memory_mb": 16384}, "h2": {"memory_mb": 4096}})
    for i, name in enumerate(("small", "large", "medium")):
        lab.add_guest(name, "h1", (1024, 2048, 1536)[i], ip=f"10.10.10.{50 + i}")
    start_guests(lab, "small", "large", "medium")
    before = lab.events()

    # 3072 MB free on h2: the largest goes first, then what is left is 1024 MB.
    r = lab.run("rmigrate", "small,large,medium", "h2")
    reason = ("needs 1536 MB, 3072 MB free (4096 MB total - 0 overhead - 1024 dom0 - 0 in 0 "
              "running guests); 2048 MB held for guests already moving there")
    assert r.rc == 1
    assert r.err == f"medium: Error: cannot migrate to h2: {reason}\n"
    # Both migrations run at once: they are reported as they finish.
    assert sorted(r.out.splitlines()) == ["large: migrated to h2", "small: migrated to h2"]
    assert lab.vm_hosts(("small", "large", "medium")) == {
        "small": "h2", "large": "h2", "medium": "h1"}
    assert {n: where(lab, n)[0] for n in ("small", "large", "medium")} == {
        "small": "h2", "large": "h2", "medium": "h1"}
    assert lab.free_mb("h2") == 0
    events = new_events(lab, before)
    assert events[0] == ("medium", "rmigrate", "refused", "warning", "h1->h2",
                         f"not migrated from h1 to h2: {reason}")
    assert sorted(e[5] for e in events[1:]) == ["migrated from h1 to h2 (1024 MB)",
                                                "migrated from h1 to h2 (2048 MB)"]


def test_rmigrate_refuses_another_cluster(make_lab):
    lab = two_xen_hosts(make_lab)
    lab.ok("chdef", "h1", "hostcluster=east")
    lab.ok("chdef", "h2", "hostcluster=west")
    lab.add_guest("g1", "h1", 1024, ip="10.10.10.61")
    start_guests(lab, "g1")
    before = lab.events()

    r = lab.run("rmigrate", "g1", "h2")
    reason = "in cluster west, the guest's host in east (hypervisor.cluster)"
    assert (r.rc, r.out, r.err) == (1, "", f"g1: Error: cannot migrate to h2: {reason}\n")
    assert_stays_put(lab, "g1", "h1", before, reason, "h2")


def test_rmigrate_refuses_a_host_in_maintenance_until_it_is_back_online(make_lab):
    # xCAT's RHEV-H spellings: -d (deactivate) puts a host into maintenance, -e (activate)
    # brings it back.
    lab = two_xen_hosts(make_lab)
    lab.add_guest("g1", "h1", 1024, ip="10.10.10.62")
    start_guests(lab, "g1")
    before = lab.events()

    r = lab.run("chhypervisor", "h2", "-d")
    assert (r.rc, r.out, r.err) == (0, "h2: in maintenance\n", "")
    assert lab.column("h2", "hypervisor.maintenance") == "yes"
    assert lab.run("chhypervisor", "h1,h2", "-s").out == "h1: online\nh2: in maintenance\n"
    r = lab.run("rmigrate", "g1", "h2")
    reason = "in maintenance (hypervisor.maintenance)"
    assert (r.rc, r.out, r.err) == (1, "", f"g1: Error: cannot migrate to h2: {reason}\n")
    assert lab.vm_host("g1") == "h1"
    assert where(lab, "g1") == ("h1", hvstate.RUNNING)
    assert migrations_run(lab) == []

    r = lab.run("chhypervisor", "h2", "-e")
    assert (r.rc, r.out, r.err) == (0, "h2: online\n", "")
    assert lab.column("h2", "hypervisor.maintenance") == ""
    r = lab.run("rmigrate", "g1", "h2")
    assert (r.rc, r.out, r.err) == (0, "g1: migrated to h2\n", "")
    assert lab.vm_host("g1") == "h2"
    assert where(lab, "g1") == ("h2", hvstate.RUNNING)
    assert new_events(lab, before) == [
        ("h2", "chhypervisor", "maintenance", "informational", "", "entered maintenance"),
        ("g1", "rmigrate", "refused", "warning", "h1->h2",
         f"not migrated from h1 to h2: {reason}"),
        ("h2", "chhypervisor", "maintenance", "informational", "", "left maintenance"),
        ("g1", "rmigrate", "migrate", "informational", "h1->h2",
         "migrated from h1 to h2 (1024 MB)"),
    ]


def test_rmigrate_refuses_storage_the_destination_cannot_reach(make_lab):
    lab = two_xen_hosts(make_lab)
    # /local is not shared storage: the image exists on h1's disk only.
    lab.add_guest("g1", "h1", 1024, ip="10.10.10.63", storage="/local/vms")
    start_guests(lab, "g1")
    assert hvstate.host_file(lab.sim, "h1", "/local/vms/g1.img").is_file()
    assert not hvstate.host_file(lab.sim, "h2", "/local/vms/g1.img").exists()
    before = lab.events()

    r = lab.run("rmigrate", "g1", "h2")
    reason = "cannot reach the guest's storage: /local/vms/g1.img"
    assert (r.rc, r.out, r.err) == (1, "", f"g1: Error: cannot migrate to h2: {reason}\n")
    assert_stays_put(lab, "g1", "h1", before, reason, "h2")
    # The destination was asked, with the path the guest's disk has.
    assert ["ls", "-d", "--", "/local/vms/g1.img"] in lab.commands_run("h2")


def test_rmigrate_refuses_missing_cpu_features_unless_the_source_masks_them(make_lab):
    flags = list(hvstate.HOST_DEFAULTS["cpu_flags"])
    lab = two_xen_hosts(make_lab, cpu_flags=flags + ["avx2", "aes"])
    lab.add_guest("g1", "h1", 1024, ip="10.10.10.64")
    start_guests(lab, "g1")
    before = lab.events()

    r = lab.run("rmigrate", "g1", "h2")
    reason = (f"lacks CPU features the guest may use: aes, avx2 (2 of the {len(flags) + 2} on "
              "h1)")
    assert (r.rc, r.out, r.err) == (1, "", f"g1: Error: cannot migrate to h2: {reason}\n")
    assert_stays_put(lab, "g1", "h1", before, reason, "h2")

    # Guests on h1 see only what hypervisor.cpufeatures lets through: h2 has all of that.
    lab.ok("chdef", "h1", f"hostcpufeatures={','.join(flags)}")
    r = lab.run("rmigrate", "g1", "h2")
    assert (r.rc, r.out, r.err) == (0, "g1: migrated to h2\n", "")
    assert lab.vm_host("g1") == "h2"
    assert where(lab, "g1") == ("h2", hvstate.RUNNING)


def test_rmigrate_refuses_a_host_whose_table_disables_relocation(make_lab):
    lab = two_xen_hosts(make_lab)
    lab.ok("chdef", "h2", "hostrelocation=no")
    lab.add_guest("g1", "h1", 1024, ip="10.10.10.65")
    start_guests(lab, "g1")
    before = lab.events()

    r = lab.run("rmigrate", "g1", "h2")
    reason = "relocation is disabled (hypervisor.relocation)"
    assert (r.rc, r.out, r.err) == (1, "", f"g1: Error: cannot migrate to h2: {reason}\n")
    assert_stays_put(lab, "g1", "h1", before, reason, "h2")


def test_rmigrate_that_the_host_itself_refuses_leaves_the_guest_recorded_where_it_runs(
        make_lab):
    # The table says nothing about relocation; the host's xl refuses the connection.
    lab = two_xen_hosts(make_lab, h2={"relocation": False})
    lab.add_guest("g1", "h1", 1024, ip="10.10.10.66")
    start_guests(lab, "g1")
    before = lab.events()

    r = lab.run("rmigrate", "g1", "h2")
    failure = (f"cannot migrate g1 to h2: ssh: connect to host {lab.hosts['h2'].address} port "
               f"{lab.hosts.port}: Connection refused")
    assert (r.rc, r.out, r.err) == (
        1, "", f"g1: Error: migration to h2 failed, still running on h1: {failure}\n")
    assert lab.vm_host("g1") == "h1"
    assert where(lab, "g1") == ("h1", hvstate.RUNNING)
    assert len(migrations_run(lab, "h1")) == 1
    assert arpings(lab, "h2") == []
    assert new_events(lab, before) == [
        ("g1", "rmigrate", "migrate", "warning", "h1->h2",
         f"migration from h1 to h2 failed, still on h1: {failure}")]


def test_rmigrate_keeps_to_the_guests_migrationdest(make_lab):
    lab = make_lab({"h1": {"memory_mb": 8192}, "h2": {"memory_mb": 8192},
                    "h3": {"memory_mb": 8192}})
    lab.add_guest("g1", "h1", 1024, ip="10.10.10.67", **{"vm.migrationdest": "h3"})
    start_guests(lab, "g1")
    before = lab.events()

    r = lab.run("rmigrate", "g1", "h2")
    reason = "not in the guest's vm.migrationdest (h3)"
    assert (r.rc, r.out, r.err) == (1, "", f"g1: Error: cannot migrate to h2: {reason}\n")
    assert_stays_put(lab, "g1", "h1", before, reason, "h2")

    r = lab.run("rmigrate", "g1", "h3")
    assert (r.rc, r.out, r.err) == (0, "g1: migrated to h3\n", "")
    assert lab.vm_host("g1") == "h3"
    assert where(lab, "g1") == ("h3", hvstate.RUNNING)


# -- revacuate --------------------------------------------------------------------------------

PLAN_LINE = re.compile(r"^(\S+): (\S+) -> (\S+) \((\d+) MB\)$")


def plan_moves(out):
    """[(guest, source, dest, MB)] of the plan lines printed, in order."""
    return [(m[1], m[2], m[3], int(m[4])) for line in out.splitlines()
            if (m := PLAN_LINE.match(line))]


def sim_free(lab, hosts):
    return {h: lab.free_mb(h) for h in hosts}


def assert_tables_agree_with_the_hardware(lab, guests):
    state = lab.sim_state()
    for name in guests:
        assert state["guests"][name]["state"] == hvstate.RUNNING, (name, state["guests"][name])
    assert lab.vm_hosts(guests) == {name: state["guests"][name]["host"] for name in guests}


MIXED = {"vm-huge": 8192, "vm4g": 4096, "vm3g": 3072, "vm2g": 2048, "vm1a": 1024, "vm1b": 1024}


def test_revacuate_dry_run_then_evacuation_largest_first_without_overcommitting(make_lab):
    lab = make_lab({"h1": {"memory_mb": 32768}, "h2": {"memory_mb": 8192},
                    "h3": {"memory_mb": 6144}, "h4": {"memory_mb": 4096},
                    "h5": {"memory_mb": 16384}})
    # h5 could take anything, but it is in maintenance: nothing is planned there.
    assert lab.run("chhypervisor", "h5", "-m").out == "h5: in maintenance\n"
    for i, (name, mb) in enumerate(MIXED.items()):
        lab.add_guest(name, "h1", mb, ip=f"10.10.20.{i + 1}")
    start_guests(lab, *MIXED)
    dests = ("h2", "h3", "h4")
    free_before = sim_free(lab, dests)
    assert free_before == {"h2": 7168, "h3": 5120, "h4": 3072}
    stays = ("vm-huge: Error: stays on h1: no host has room: needs 8192 MB, the most free on an "
             "allowed host is 7168 MB on h2; 1 other host not allowed\n")
    plan_head = "Plan for h1: 6 running guests (19456 MB), 5 to move, 1 staying"
    before = lab.events()

    dry = lab.run("revacuate", "h1", "-n")
    assert (dry.rc, dry.err) == (1, stays), dry
    planned = plan_moves(dry.out)
    assert dry.out.splitlines() == [plan_head] + [f"{g}: {s} -> {d} ({mb} MB)"
                                                  for g, s, d, mb in planned]
    assert {g: mb for g, _, _, mb in planned} == {g: mb for g, mb in MIXED.items()
                                                  if g != "vm-huge"}
    assert all(s == "h1" and d in dests for _, s, d, _ in planned)
    sizes = [mb for *_, mb in planned]
    assert sizes == sorted(sizes, reverse=True)  # largest first
    for dest in dests:
        assert sum(mb for _, _, d, mb in planned if d == dest) <= free_before[dest], dest
    # A dry run changes nothing: no maintenance, no move, no event.
    assert lab.column("h1", "hypervisor.maintenance") == ""
    assert lab.running_on("h1") == set(MIXED)
    assert migrations_run(lab) == []
    assert new_events(lab, before) == []

    r = lab.run("revacuate", "h1")
    assert (r.rc, r.err) == (1, stays), r
    lines = r.out.splitlines()
    assert lines[:2] == ["h1: in maintenance", plan_head]
    assert plan_moves(r.out) == planned  # the plan printed is the dry run's
    assert [line for line in lines if " migrating from " in line] == [
        f"{g}: migrating from h1 to {d} ({i} of 5)" for i, (g, _, d, _) in
        enumerate(planned, start=1)]  # started in the plan's order: largest first
    assert sorted(line for line in lines if " migrated to " in line) == sorted(
        f"{g}: migrated to {d}" for g, _, d, _ in planned)
    assert lines[-1] == "h1: 5 guests moved, 1 stayed"
    assert len(lines) == 2 + 5 + 5 + 5 + 1

    assert lab.column("h1", "hypervisor.maintenance") == "yes"
    assert_tables_agree_with_the_hardware(lab, MIXED)
    assert {g: where(lab, g)[0] for g in MIXED} == {
        **{g: d for g, _, d, _ in planned}, "vm-huge": "h1"}
    after = sim_free(lab, dests)
    for dest in dests:
        inbound = sum(mb for _, _, d, mb in planned if d == dest)
        assert after[dest] == free_before[dest] - inbound >= 0, dest
    ips = lab.columns(MIXED, "hosts.ip")
    macs = lab.columns(MIXED, "mac.mac")
    for guest, _, dest, _ in planned:
        assert [a for a in arpings(lab, dest) if a[-1] == ips[guest]] == [
            arping_argv("xenbr0", macs[guest], ips[guest])]

    events = new_events(lab, before)
    assert events[0] == ("h1", "revacuate", "maintenance", "informational", "",
                         "entered maintenance")
    assert sorted(e for e in events if e[2] == "plan") == sorted(
        [(g, "revacuate", "plan", "informational", f"h1->{d}", f"planned h1 -> {d} ({mb} MB)")
         for g, _, d, mb in planned]
        + [("vm-huge", "revacuate", "plan", "warning", "", stays.split("Error: ")[1].strip())])
    assert sorted(e for e in events if e[2] == "migrate") == sorted(
        (g, "revacuate", "migrate", "informational", f"h1->{d}",
         f"migrated from h1 to {d} ({mb} MB)") for g, _, d, mb in planned)
    assert len(events) == 1 + 6 + 5

    # With h5 back, the one that stayed goes too, and h1 is empty: exit 0.
    assert lab.run("chhypervisor", "h5", "-o").out == "h5: online\n"
    r = lab.run("revacuate", "h1")
    assert (r.rc, r.err) == (0, ""), r
    assert r.out.splitlines() == [
        "h1: in maintenance",
        "Plan for h1: 1 running guest (8192 MB), 1 to move, 0 staying",
        "vm-huge: h1 -> h5 (8192 MB)",
        "vm-huge: migrating from h1 to h5 (1 of 1)",
        "vm-huge: migrated to h5",
        "h1: 1 guest moved, 0 stayed"]
    assert where(lab, "vm-huge") == ("h5", hvstate.RUNNING)
    assert lab.running_on("h1") == set()
    assert_tables_agree_with_the_hardware(lab, MIXED)
    assert lab.free_mb("h5") == 16384 - 1024 - 8192


DYING = {"ga": 3072, "gb": 2048, "gc": 2048, "gd": 1024, "ge": 1024}


def test_revacuate_replans_when_a_destination_dies_and_loses_no_guest(make_lab):
    # h2 takes the first guest that arrives, then stops answering (its sshd still accepts,
    # every command gets ssh's "No route to host", as through a dead gateway).
    lab = make_lab({"h1": {"memory_mb": 16384},
                    "h2": {"memory_mb": 8192, "faults": {"down_after_incoming": 1}},
                    "h3": {"memory_mb": 4096}, "h4": {"memory_mb": 3072}})
    for i, (name, mb) in enumerate(DYING.items()):
        lab.add_guest(name, "h1", mb, ip=f"10.10.30.{i + 1}")
    start_guests(lab, *DYING)
    before = lab.events()

    # One migration at a time, so which guest reaches h2 first, and which find it dead, is
    # the plan's order and not a race.
    r = lab.run("revacuate", "h1", "--per-source", "1")
    lines = r.out.splitlines()
    # Largest first, to the host with the most free: h2 (7168), then h3 (3072), h4 (2048).
    assert lines[:7] == [
        "h1: in maintenance",
        "Plan for h1: 5 running guests (9216 MB), 5 to move, 0 staying",
        "ga: h1 -> h2 (3072 MB)",
        "gb: h1 -> h2 (2048 MB)",
        "gc: h1 -> h3 (2048 MB)",
        "gd: h1 -> h4 (1024 MB)",
        "ge: h1 -> h2 (1024 MB)",
    ]
    assert lines[7:] == [
        "ga: migrating from h1 to h2 (1 of 5)",
        "ga: migrated to h2",
        "gb: migrating from h1 to h2 (2 of 5)",
        # h2 died under gb: gb and ge (still waiting for h2) get a new plan over h3 and h4.
        "ge: h1 -> h3 (1024 MB), re-planned",
        "gc: migrating from h1 to h3 (3 of 5)",
        "gc: migrated to h3",
        "gd: migrating from h1 to h4 (4 of 5)",
        "gd: migrated to h4",
        "ge: migrating from h1 to h3 (5 of 5)",
        "ge: migrated to h3",
        "h1: 4 guests moved, 1 stayed",
    ]
    # ga landed, then h2 died: what should have followed it there could not.
    unreachable = hvstate.unreachable("h2", lab.sim_state())
    no_route = (f"ssh: connect to host {lab.hosts['h2'].address} port {lab.hosts.port}: No "
                "route to host")
    assert r.err.splitlines() == [
        f"ga: Warning: its config file did not follow it from h1 to h2: h2: 'mkdir' failed: "
        f"{unreachable}; ARP not refreshed on h2: cannot announce 10.10.30.1: arping on xenbr0 "
        f"failed: {unreachable}",
        f"h2: Warning: did not answer after a failed migration (cannot migrate gb to h2: "
        f"{no_route}); re-planning 2 guests",
        "gb: Error: stays on h1: no host has room: needs 2048 MB, the most free on an allowed "
        "host is 1024 MB on h3",
    ]
    assert r.rc == 1  # gb stayed
    assert hvstate.host_file(lab.sim, "h1", "/etc/xen/ga.cfg").is_file()  # as warned

    # No guest lost: each has one record in the simulation, running, where vm.host says.
    state = lab.sim_state()
    assert set(state["guests"]) == set(DYING)
    assert {g: (rec["host"], rec["state"]) for g, rec in state["guests"].items()} == {
        "ga": ("h2", hvstate.RUNNING), "gb": ("h1", hvstate.RUNNING),
        "gc": ("h3", hvstate.RUNNING), "gd": ("h4", hvstate.RUNNING),
        "ge": ("h3", hvstate.RUNNING)}
    assert state["hosts"]["h2"].get("down") is True
    assert_tables_agree_with_the_hardware(lab, DYING)
    assert all(hvstate.free_memory(state, h) >= 0 for h in state["hosts"])

    ga_warning = r.err.splitlines()[0].split("ga: Warning: ", 1)[1]
    stays = r.err.splitlines()[2].split("gb: Error: ", 1)[1]
    assert new_events(lab, before) == [
        ("h1", "revacuate", "maintenance", "informational", "", "entered maintenance"),
        *[(g, "revacuate", "plan", "informational", f"h1->{d}", f"planned h1 -> {d} ({mb} MB)")
          for g, d, mb in (("ga", "h2", 3072), ("gb", "h2", 2048), ("gc", "h3", 2048),
                           ("gd", "h4", 1024), ("ge", "h2", 1024))],
        ("ga", "revacuate", "migrate", "informational", "h1->h2",
         "migrated from h1 to h2 (3072 MB)"),
        ("ga", "revacuate", "warning", "warning", "h1->h2", ga_warning),
        ("gb", "revacuate", "migrate", "warning", "h1->h2",
         f"migration from h1 to h2 failed, still on h1: cannot migrate gb to h2: {no_route}"),
        ("h2", "revacuate", "host", "critical", "",
         f"stopped answering during the evacuation (cannot migrate gb to h2: {no_route}); "
         "2 guests re-planned"),
        ("ge", "revacuate", "plan", "warning", "h1->h3", "re-planned h1 -> h3 after h2 died"),
        ("gb", "revacuate", "plan", "warning", "", stays),
        ("gc", "revacuate", "migrate", "informational", "h1->h3",
         "migrated from h1 to h3 (2048 MB)"),
        ("gd", "revacuate", "migrate", "informational", "h1->h4",
         "migrated from h1 to h4 (1024 MB)"),
        ("ge", "revacuate", "migrate", "informational", "h1->h3",
         "migrated from h1 to h3 (1024 MB)"),
    ]


def test_revacuate_with_a_dying_destination_at_full_concurrency_loses_no_guest(make_lab):
    # The same fleet with the default limits: which guest reaches h2 before it dies is a
    # race, so only what must hold whatever the order is checked.
    lab = make_lab({"h1": {"memory_mb": 16384},
                    "h2": {"memory_mb": 8192, "faults": {"down_after_incoming": 1}},
                    "h3": {"memory_mb": 4096}, "h4": {"memory_mb": 3072}})
    for i, (name, mb) in enumerate(DYING.items()):
        lab.add_guest(name, "h1", mb, ip=f"10.10.30.{i + 1}")
    start_guests(lab, *DYING)

    r = lab.run("revacuate", "h1")
    state = lab.sim_state()
    assert set(state["guests"]) == set(DYING)
    assert all(rec["state"] == hvstate.RUNNING for rec in state["guests"].values())
    assert_tables_agree_with_the_hardware(lab, DYING)
    assert all(hvstate.free_memory(state, h) >= 0 for h in state["hosts"])
    assert state["hosts"]["h2"]["incoming"] == 1 and state["hosts"]["h2"]["down"] is True
    stayed = sorted(g for g, rec in state["guests"].items() if rec["host"] == "h1")
    moved = len(DYING) - len(stayed)
    assert r.out.splitlines()[-1] == (f"h1: {moved} guest{'' if moved == 1 else 's'} moved, "
                                      f"{len(stayed)} stayed"), r.out
    assert sorted(line.split(":")[0] for line in r.err.splitlines()
                  if ": Error: stays on h1: " in line) == stayed, r.err
    assert sorted(line.split(":")[0] for line in r.out.splitlines()
                  if re.fullmatch(r"\S+: migrated to h[2-4]", line)) == sorted(
        g for g in DYING if g not in stayed)
    assert r.rc == (1 if stayed else 0), r


# -- revacuate -f -----------------------------------------------------------------------------


def lose_power(lab, host):
    """The host's power is gone: its sshd stops, and the simulation marks it down.

    The simulation keeps one record per guest name, and `xl create` elsewhere refuses a name
    whose record still runs on another host. A real host that lost power runs nothing, so
    its guests' records are set off here, before revacuate -f; their host stays `host`, as
    the old copy's (dead) place."""
    lab.hosts[host].stop()
    with hvstate.locked(lab.sim) as state:
        state["hosts"][host]["down"] = True
        for guest in hvstate.guests_on(state, host).values():
            if guest["state"] in (hvstate.RUNNING, hvstate.PAUSED):
                guest["state"], guest["domid"] = hvstate.SHUTOFF, None


def with_bmc(lab, host, endpoint):
    lab.ok("nodech", host, "nodehm.mgt=ipmi", f"ipmi.bmc={endpoint.address}:{endpoint.port}")


def restart_commands(lab, host):
    return [argv for argv in lab.commands_run(host)
            if argv[:2] == ["xl", "create"] or argv[:2] == ["qemu-img", "create"]]


def test_revacuate_force_restarts_the_guests_that_were_on_from_shared_storage(make_lab, bmcs):
    lab = make_lab({"h1": {"memory_mb": 8192}, "h2": {"memory_mb": 8192},
                    "h3": {"memory_mb": 8192}})
    lab.add_guest("on1", "h1", 2048, ip="10.10.40.1")
    lab.add_guest("on2", "h1", 1024, ip="10.10.40.2")
    lab.add_guest("off1", "h1", 1024, ip="10.10.40.3")
    start_guests(lab, "on1", "on2", "off1")
    assert lab.run("rpower", "off1", "off").out == "off1: off\n"
    assert lab.column("off1", "vm.powerstate") == "off"
    uuids, macs = lab.columns(("on1", "on2"), "vm.uuid"), lab.columns(("on1", "on2"), "mac.mac")
    identity = {g: (uuids[g], macs[g]) for g in ("on1", "on2")}
    (bmc,) = bmcs(BmcSpec(power="off"))
    with_bmc(lab, "h1", bmc)
    lose_power(lab, "h1")
    before, sim_before = lab.events(), lab.sim_state()["guests"]

    dry = lab.run("revacuate", "h1", "-f", "-n")
    plan = ["off1: was not on when h1 went down; left there",
            "Plan for h1 (down): 2 guests to restart elsewhere, 2 placed, 0 staying down",
            "on1: h1 -> h2 (2048 MB), restart from shared storage",
            "on2: h1 -> h3 (1024 MB), restart from shared storage"]
    assert (dry.rc, dry.out.splitlines(), dry.err) == (0, plan, "")
    assert lab.sim_state()["guests"] == sim_before
    assert lab.column("h1", "hypervisor.maintenance") == ""
    assert new_events(lab, before) == []

    r = lab.run("revacuate", "h1", "-f")
    lines = r.out.splitlines()
    assert (r.rc, r.err) == (0, ""), r
    assert lines[:5] == ["h1: in maintenance", *plan]
    assert sorted(lines[5:7]) == ["on1: restarted on h2", "on2: restarted on h3"]
    assert lines[7:] == ["h1: 2 guests restarted elsewhere, 0 stayed down"]

    assert lab.vm_hosts(("on1", "on2", "off1")) == {
        "on1": "h2", "on2": "h3", "off1": "h1"}
    assert {g: where(lab, g) for g in ("on1", "on2", "off1")} == {
        "on1": ("h2", hvstate.RUNNING), "on2": ("h3", hvstate.RUNNING),
        "off1": ("h1", hvstate.SHUTOFF)}
    for guest, (uuid, mac) in identity.items():  # the same guest, not a new one
        assert (lab.sim_guest(guest)["uuid"], lab.sim_guest(guest)["macs"]) == (uuid, [mac])
    assert lab.column("h1", "hypervisor.maintenance") == "yes"
    # Booted from the disks on shared storage: nothing was created.
    assert restart_commands(lab, "h2") == [["xl", "create", "/etc/xen/on1.cfg"]]
    assert restart_commands(lab, "h3") == [["xl", "create", "/etc/xen/on2.cfg"]]
    events = new_events(lab, before)
    assert events[:2] == [
        ("h1", "revacuate", "power", "warning", "",
         "confirmed off by its BMC before restarting its guests elsewhere"),
        ("h1", "revacuate", "maintenance", "informational", "", "entered maintenance")]
    assert sorted(events[2:]) == [
        ("on1", "revacuate", "restart", "informational", "h1->h2",
         "restarted on h2 from shared storage after h1 was confirmed off by its BMC (2048 MB)"),
        ("on2", "revacuate", "restart", "informational", "h1->h3",
         "restarted on h3 from shared storage after h1 was confirmed off by its BMC (1024 MB)"),
    ]


def test_revacuate_force_refuses_while_the_bmc_says_on_then_restarts_what_it_can(make_lab,
                                                                                 bmcs):
    lab = make_lab({"h1": {"memory_mb": 8192}, "h2": {"memory_mb": 8192},
                    "h3": {"memory_mb": 8192}})
    lab.add_guest("on1", "h1", 2048, ip="10.10.41.1")
    lab.add_guest("loc1", "h1", 1024, ip="10.10.41.2", storage="/local/vms")
    start_guests(lab, "on1", "loc1")
    (bmc,) = bmcs(BmcSpec(power="on"))
    with_bmc(lab, "h1", bmc)
    # sshd is gone, but the BMC says the power is on: a hung host may still run its guests.
    lose_power(lab, "h1")
    before, sim_before = lab.events(), lab.sim_state()["guests"]

    r = lab.run("revacuate", "h1", "-f")
    assert (r.rc, r.out, r.err) == (
        1, "", "h1: Error: not restarting its guests elsewhere: cannot confirm it is down "
               "(power is on); they may still be running there\n")
    assert lab.sim_state()["guests"] == sim_before
    assert restart_commands(lab, "h2") == restart_commands(lab, "h3") == []
    assert lab.vm_hosts(("on1", "loc1")) == {"on1": "h1", "loc1": "h1"}
    assert lab.column("h1", "hypervisor.maintenance") == ""
    assert new_events(lab, before) == []

    ipmitool(bmc.address, bmc.port, "chassis", "power", "off")
    r = lab.run("revacuate", "h1", "-f")
    assert r.rc == 1
    assert r.err == ("loc1: Error: stays down on h1: no allowed destination (h2,h3: cannot "
                     "reach the guest's storage: /local/vms/loc1.img)\n")
    assert r.out.splitlines() == [
        "h1: in maintenance",
        "Plan for h1 (down): 2 guests to restart elsewhere, 1 placed, 1 staying down",
        "on1: h1 -> h2 (2048 MB), restart from shared storage",
        "on1: restarted on h2",
        "h1: 1 guest restarted elsewhere, 1 stayed down"]
    assert lab.vm_hosts(("on1", "loc1")) == {"on1": "h2", "loc1": "h1"}
    assert {g: where(lab, g) for g in ("on1", "loc1")} == {
        "on1": ("h2", hvstate.RUNNING), "loc1": ("h1", hvstate.SHUTOFF)}
    assert restart_commands(lab, "h3") == []
    assert ("loc1", "revacuate", "plan", "warning", "",
            "stays down on h1: no allowed destination (h2,h3: cannot reach the guest's "
            "storage: /local/vms/loc1.img)") in new_events(lab, before)
