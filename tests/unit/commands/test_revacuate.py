"""revacuate: the plan, the moves it makes, what happens when a host fails under it, the
concurrency limits, and -f (restarting a dead host's guests elsewhere).

Live evacuations run the real xl driver against simulated Xen hosts h1-h3 (migfixtures
.xlfleet). The concurrency limits are measured with the in-memory hypervisor of
migfixtures.gated, which holds every migration until the runner has started all it is
allowed to, so the number in flight at once is observed exactly, without timing. -f asks
the hypervisor's BMC through a fake power driver (migfixtures.bmc).
"""

import re

import pytest

from tests.unit.commands import migfixtures
from tests.unit.commands.migfixtures import BMC_MGT, eventlog, events_of, vm_host
from xcatpy.db.store import Store

xlfleet, gated, bmc = migfixtures.xlfleet, migfixtures.gated, migfixtures.bmc  # fixtures

PLAN_LINE = re.compile(r"(\S+): (\S+) -> (\S+) \((\d+) MB\)")


def nodech(run, *args):
    r = run("nodech", *args)
    assert r.rc == 0, r.err


def maintenance(run, host: str) -> str:
    return run("nodels", host, "hypervisor.maintenance").out[0].split(": ", 1)[1]


def migrations_run(xlfleet) -> list[list[str]]:
    return [argv for argv in xlfleet.commands() if argv[:2] == ["xl", "migrate"]]


def plan_lines(out: list[str]) -> list[str]:
    return [line for line in out if PLAN_LINE.fullmatch(line)]


# -- the plan -----------------------------------------------------------------------------------


def test_a_dry_run_prints_the_plan_and_changes_nothing(xlfleet, run, store):
    xlfleet.guest("g1", "h1", 1024)
    xlfleet.guest("g2", "h1", 2048)
    r = run("revacuate", "h1", "-n")
    assert (r.rc, r.err) == (0, [])
    assert r.out == [
        "Plan for h1: 2 running guests (3072 MB), 2 to move, 0 staying",
        "g2: h1 -> h2 (2048 MB)",
        "g1: h1 -> h3 (1024 MB)",
    ]
    assert maintenance(run, "h1") == ""
    assert migrations_run(xlfleet) == []
    assert eventlog(store) == []
    assert (xlfleet.where("g1"), xlfleet.where("g2")) == ("h1", "h1")
    assert (vm_host(run, "g1"), vm_host(run, "g2")) == ("h1", "h1")


def test_the_plan_printed_is_what_is_done(xlfleet, run, store):
    xlfleet.guest("busy", "h2", 6144)  # h3 is the emptier destination
    for name, mb in (("g1", 1024), ("g2", 3072), ("g3", 2048), ("g4", 4096)):
        xlfleet.guest(name, "h1", mb)
    planned = plan_lines(run("revacuate", "h1", "--dry-run").out)
    assert len(planned) == 4
    r = run("revacuate", "h1")
    assert (r.rc, r.err) == (0, [])
    assert r.out[0] == "h1: in maintenance"
    assert r.out[1] == "Plan for h1: 4 running guests (10240 MB), 4 to move, 0 staying"
    assert plan_lines(r.out) == planned
    assert r.out[-1] == "h1: 4 guests moved, 0 stayed"
    for line in planned:
        guest, source, dest, _mb = PLAN_LINE.fullmatch(line).groups()
        assert (source, xlfleet.where(guest), vm_host(run, guest)) == ("h1", dest, dest)
        assert f"{guest}: migrated to {dest}" in r.out
    assert {PLAN_LINE.fullmatch(line).group(3) for line in planned} == {"h2", "h3"}
    assert xlfleet.where("busy") == "h2"
    moved = [(e["node"], e["message"]) for e in events_of(store, eventtype="migrate")]
    assert sorted(moved) == sorted(
        (g, f"migrated from h1 to {d} ({mb} MB)")
        for g, _s, d, mb in (PLAN_LINE.fullmatch(line).groups() for line in planned))


def test_the_largest_guests_are_planned_and_moved_first(gated, run):
    gated.hypervisors("s1,d1,d2")
    sizes = {"a": 512, "b": 4096, "c": 1024, "d": 2048, "e": 3072}
    for name, mb in sizes.items():
        gated.guest(name, "s1", mb)
    r = run("revacuate", "s1", "--per-source", "1")
    assert r.rc == 0, r.err
    largest_first = sorted(sizes, key=lambda n: -sizes[n])
    assert [PLAN_LINE.fullmatch(line).group(1) for line in plan_lines(r.out)] == largest_first
    assert [guest for guest, _s, _d in gated.gate.started] == largest_first
    starts = [line.split(":")[0] for line in r.out if " migrating from " in line]
    assert starts == largest_first


def test_maintenance_is_committed_before_anything_moves(gated, run, state_dir, store):
    gated.hypervisors("s1,d1")
    gated.guest("a", "s1", 1024)
    gated.guest("b", "s1", 2048)
    seen = []

    def look(guest, source, dest):
        # Another connection, as any other command would read the tables meanwhile.
        other = Store.open(state_dir)
        try:
            seen.append((guest, (other.get("hypervisor", {"node": source}) or {}).get(
                "maintenance")))
        finally:
            other.close()

    gated.gate.on_migrate = look
    r = run("revacuate", "s1")
    assert r.rc == 0, r.err
    assert r.out[0] == "s1: in maintenance"
    assert sorted(seen) == [("a", "yes"), ("b", "yes")]
    kinds = [(e["node"], e["eventtype"]) for e in eventlog(store)]
    assert kinds[0] == ("s1", "maintenance")
    assert maintenance(run, "s1") == "yes"


def test_a_dry_run_reports_the_guests_that_would_stay_as_errors(xlfleet, run, store):
    xlfleet.guest("g1", "h1", 1024, vm__migrationdest="h9")
    xlfleet.guest("g2", "h1", 1024)
    r = run("revacuate", "h1", "-n")
    assert r.rc == 1
    assert r.out == ["Plan for h1: 2 running guests (2048 MB), 1 to move, 1 staying",
                     "g2: h1 -> h2 (1024 MB)"]
    assert r.err == ["g1: Error: stays on h1: no allowed destination (h2,h3: not in the "
                     "guest's vm.migrationdest (h9))"]
    assert eventlog(store) == [] and maintenance(run, "h1") == ""
    assert migrations_run(xlfleet) == []


def test_a_guest_defined_but_off_stays_defined_there(xlfleet, run):
    xlfleet.off("g0", "h1")
    xlfleet.guest("g1", "h1", 1024)
    r = run("revacuate", "h1")
    assert (r.rc, r.err) == (0, [])
    assert "Plan for h1: 1 running guest (1024 MB), 1 to move, 0 staying" in r.out
    assert r.out[-1] == "h1: 1 guest moved, 0 stayed"
    assert xlfleet.file_exists("h1", "/etc/xen/g0.cfg")
    assert vm_host(run, "g0") == "h1"


def test_a_host_that_is_not_a_hypervisor_is_an_error_and_the_others_go_on(xlfleet, run):
    assert run("nodeadd", "plain", "groups=all").rc == 0
    xlfleet.guest("g1", "h1", 1024)
    r = run("revacuate", "h1,plain")
    assert r.rc == 1
    assert r.err == ["plain: Error: hypervisor.type of plain is not set"]
    assert r.out[0] == "h1: in maintenance"
    assert r.out[-1] == "h1: 1 guest moved, 0 stayed"
    assert maintenance(run, "plain") == ""
    assert xlfleet.where("g1") in ("h2", "h3")


# -- guests that stay, hosts that fail ----------------------------------------------------------


def test_a_guest_that_is_not_a_node_stays_and_is_reported(xlfleet, run, store):
    xlfleet.guest("stray", "h1", 512, node=False)
    xlfleet.guest("g1", "h1", 1024)
    r = run("revacuate", "h1")
    assert r.rc == 1
    assert r.err == ["stray: Error: stays on h1: runs there but is not a node in the tables"]
    assert "Plan for h1: 1 running guest (1024 MB), 1 to move, 0 staying" in r.out
    assert r.out[-1] == "h1: 1 guest moved, 1 stayed"
    assert xlfleet.where("stray") == "h1"
    assert xlfleet.where("g1") in ("h2", "h3")
    [stays] = events_of(store, "stray")
    assert (stays["eventtype"], stays["severity"], stays["message"]) == (
        "plan", "warning", "stays on h1: runs there but is not a node in the tables")


def test_an_unreachable_source_is_reported_with_the_f_hint(xlfleet, run):
    xlfleet.guest("g1", "h1", 1024)
    xlfleet.host("h1", down=True)
    r = run("revacuate", "h1")
    assert r.rc == 1
    [error] = [line for line in r.err if line.startswith("h1: ")]
    assert error.startswith("h1: Error: did not answer: ")
    assert "No route to host" in error
    assert error.endswith("; if it is down, revacuate -f restarts its guests elsewhere")
    # No plan or summary speaks for a host that was never asked what it runs.
    assert not [line for line in r.out if line.startswith("Plan for") or " moved, " in line]
    assert migrations_run(xlfleet) == []
    assert vm_host(run, "g1") == "h1"


def test_a_destination_dying_midway_gets_its_guests_replanned(xlfleet, run, store):
    # Plan (largest first, to the host with the most free): g1 -> h2, g2 -> h3, g3 -> h3,
    # g4 -> h2, g5 -> h2. h2 dies once g1 has arrived; g4 finds it dead, so g4 and g5 (still
    # waiting for h2) are planned again over h3.
    xlfleet.host("h2", faults={"down_after_incoming": 1})
    sizes = {"g1": 5000, "g2": 4000, "g3": 3000, "g4": 2000, "g5": 1000}
    for name, mb in sizes.items():
        xlfleet.guest(name, "h1", mb)
    r = run("revacuate", "h1", "--per-source", "1")
    assert plan_lines(r.out) == ["g1: h1 -> h2 (5000 MB)", "g2: h1 -> h3 (4000 MB)",
                                 "g3: h1 -> h3 (3000 MB)", "g4: h1 -> h2 (2000 MB)",
                                 "g5: h1 -> h2 (1000 MB)"]
    assert "g4: h1 -> h3 (2000 MB), re-planned" in r.out
    assert "g5: h1 -> h3 (1000 MB), re-planned" in r.out
    [warning] = r.err
    assert warning.startswith("h2: Warning: did not answer after a failed migration (")
    assert warning.endswith("); re-planning 2 guests")
    assert r.rc == 0
    assert r.out[-1] == "h1: 5 guests moved, 0 stayed"
    expected = {"g1": "h2", "g2": "h3", "g3": "h3", "g4": "h3", "g5": "h3"}
    guests = xlfleet.data()["guests"]
    assert sorted(guests) == sorted(expected)  # nothing lost, nothing doubled
    for name, host in expected.items():
        assert (guests[name]["host"], guests[name]["state"]) == (host, "running"), name
        assert vm_host(run, name) == host
    replanned = [e["node"] for e in events_of(store, eventtype="plan")
                 if e["message"].startswith("re-planned")]
    assert sorted(replanned) == ["g4", "g5"]
    [died] = events_of(store, "h2", "host")
    assert died["severity"] == "critical"
    assert died["message"].startswith("stopped answering during the evacuation (")
    assert died["message"].endswith("); 2 guests re-planned")


def test_a_failed_migration_keeps_the_guest_and_frees_its_memory_for_later_plans(
        xlfleet, run, store):
    # h2 4096 MB free, h3 3072. Plan: a -> h2, b -> h3 (1024 left there), c -> h2.
    # a arrives and h2 dies; b's migration fails with h3 alive, so b stays and h3 has 3072
    # free again; c, refused by the dead h2, fits on h3 only thanks to b's released memory.
    xlfleet.host("h2", memory_mb=5120, faults={"down_after_incoming": 1})
    xlfleet.host("h3", memory_mb=4096)
    xlfleet.fail("h1", "xl migrate b ", "migration sender: libxl_domain_suspend failed")
    for name in ("a", "b", "c"):
        xlfleet.guest(name, "h1", 2048)
    r = run("revacuate", "h1", "--per-source", "1")
    assert plan_lines(r.out) == ["a: h1 -> h2 (2048 MB)", "b: h1 -> h3 (2048 MB)",
                                 "c: h1 -> h2 (2048 MB)"]
    assert r.rc == 1
    b_error = [line for line in r.err if line.startswith("b: ")]
    assert len(b_error) == 1
    assert b_error[0].startswith("b: Error: migration to h3 failed, still running on h1: ")
    assert "libxl_domain_suspend failed" in b_error[0]
    assert "c: h1 -> h3 (2048 MB), re-planned" in r.out
    assert "c: migrated to h3" in r.out
    assert r.out[-1] == "h1: 2 guests moved, 1 stayed"
    assert (xlfleet.where("b"), vm_host(run, "b")) == ("h1", "h1")
    assert (xlfleet.where("c"), vm_host(run, "c")) == ("h3", "h3")
    assert (xlfleet.where("a"), vm_host(run, "a")) == ("h2", "h2")
    [failed] = [e for e in events_of(store, "b") if e["eventtype"] == "migrate"]
    assert failed["severity"] == "warning"
    assert failed["message"].startswith("migration from h1 to h3 failed, still on h1: ")


def test_a_failed_migration_with_the_destination_alive(xlfleet, run):
    xlfleet.fail("h1", "xl migrate", "migration sender: libxl_domain_suspend failed")
    xlfleet.guest("g1", "h1", 1024)
    r = run("revacuate", "h1")
    assert r.rc == 1
    [error] = r.err
    assert error.startswith("g1: Error: migration to h2 failed, still running on h1: ")
    assert r.out[-1] == "h1: 0 guests moved, 1 stayed"
    assert (xlfleet.where("g1"), vm_host(run, "g1")) == ("h1", "h1")


def test_a_failed_migration_records_the_guest_where_it_runs(xlfleet, run, store):
    xlfleet.fail("h1", "xl migrate", "migration sender: libxl_domain_suspend failed")
    xlfleet.guest("g1", "h1", 1024)
    nodech(run, "g1", "vm.host=h3")  # the table is behind: g1 runs on h1
    r = run("revacuate", "h1")
    assert r.rc == 1
    [error] = r.err
    assert re.fullmatch(r"g1: Error: migration to h[23] failed, still running on h1: .*", error)
    assert (xlfleet.where("g1"), vm_host(run, "g1")) == ("h1", "h1")


# -- the concurrency limits ---------------------------------------------------------------------


def test_per_source_limit_is_reached_and_never_passed(gated, run):
    gated.hypervisors("s1,s2,d1,d2,d3,d4")
    for i in range(1, 7):
        gated.guest(f"a{i}", "s1", 1024)
        gated.guest(f"b{i}", "s2", 1024)
    r = run("revacuate", "s1,s2", "--per-source", "2", "--per-dest", "10")
    assert (r.rc, r.err) == (0, [])
    assert r.out[-1] == "s1,s2: 12 guests moved, 0 stayed"
    gate = gated.gate
    assert gate.max_leaving == {"s1": 2, "s2": 2}
    assert gate.snapshots[0][0] == {"s1": 2, "s2": 2}
    assert all(n <= 10 for n in gate.max_arriving.values())
    assert len(gate.started) == 12
    assert {gated.where(f"{p}{i}")[0] for p in "ab" for i in range(1, 7)} <= {
        "d1", "d2", "d3", "d4"}


def test_per_dest_limit_is_reached_and_never_passed(gated, run):
    gated.hypervisors("s1,s2,d1,d2")
    for i in range(1, 5):
        gated.guest(f"a{i}", "s1", 1024)
        gated.guest(f"b{i}", "s2", 1024)
    r = run("revacuate", "s1,s2", "--per-source", "10", "--per-dest", "1")
    assert (r.rc, r.err) == (0, [])
    gate = gated.gate
    assert gate.max_arriving == {"d1": 1, "d2": 1}
    assert gate.snapshots[0][1] == {"d1": 1, "d2": 1}
    assert gate.max_in_flight == 2
    assert len(gate.started) == 8


def test_default_per_source_limit_is_two(gated, run):
    gated.hypervisors("s1,d1,d2,d3")
    for i in range(1, 7):
        gated.guest(f"a{i}", "s1", 1024)
    r = run("revacuate", "s1")
    assert (r.rc, r.err) == (0, [])
    assert gated.gate.max_leaving == {"s1": 2}
    assert gated.gate.snapshots[0][0] == {"s1": 2}
    assert all(n <= 2 for n in gated.gate.max_arriving.values())
    assert len(gated.gate.started) == 6


def test_default_per_dest_limit_binds_with_one_destination(gated, run):
    gated.hypervisors("s1,s2,s3,d1")
    for src in ("s1", "s2", "s3"):
        for i in range(1, 3):
            gated.guest(f"{src}g{i}", src, 1024)
    r = run("revacuate", "s1,s2,s3")
    assert (r.rc, r.err) == (0, [])
    assert gated.gate.max_arriving == {"d1": 2}
    assert gated.gate.snapshots[0][1] == {"d1": 2}
    assert len(gated.gate.started) == 6


def test_site_vmmaxp_bounds_the_migrations_in_all(gated, run):
    assert run("tabch", "key=vmmaxp", "site.value=3").rc == 0
    gated.hypervisors("s1,s2,d1,d2,d3")
    for i in range(1, 5):
        gated.guest(f"a{i}", "s1", 1024)
        gated.guest(f"b{i}", "s2", 1024)
    r = run("revacuate", "s1,s2", "--per-source", "4", "--per-dest", "4")
    assert (r.rc, r.err) == (0, [])
    assert gated.gate.max_in_flight == 3
    assert sum(gated.gate.snapshots[0][0].values()) == 3
    assert len(gated.gate.started) == 8


@pytest.mark.parametrize("args, message", [
    (("--per-source", "0"), "revacuate: --per-source is not a positive number: '0'"),
    (("--per-source", "two"), "revacuate: --per-source is not a positive number: 'two'"),
    (("--per-dest", "0"), "revacuate: --per-dest is not a positive number: '0'"),
    (("--per-dest", "1.5"), "revacuate: --per-dest is not a positive number: '1.5'"),
    (("--per-dest", "-1"), "revacuate: --per-dest is not a positive number: '-1'"),
    # str.isdigit() accepts a superscript two, which int() refuses.
    (("--per-source", "\u00b2"), "revacuate: --per-source is not a positive number: '\u00b2'"),
    (("-f", "--per-source", "2"),
     "revacuate: --per-source has no meaning with -f (nothing leaves a dead host)"),
])
def test_bad_limits_are_usage_errors_before_anything(xlfleet, run, store, args, message):
    xlfleet.guest("g1", "h1", 1024)
    r = run("revacuate", "h1", *args)
    assert r.rc != 0
    assert r.out == []
    assert r.err[0] == f"Error: {message}"
    assert r.err[1].startswith("Usage:")
    assert maintenance(run, "h1") == ""
    assert xlfleet.commands() == [] and eventlog(store) == []


def test_a_noderange_is_required(run):
    r = run("revacuate")
    assert r.rc != 0
    assert r.err[0] == "Error: revacuate: a noderange of hypervisors is required"


# -- -f: a dead host's guests restarted elsewhere ---------------------------------------------


def dead_h1(xlfleet, run, bmc, said="off"):
    """h1 is down (its BMC says `said`); g1 (2 GB) and g2 (1 GB) were on, g3 off; their disks
    are on the shared /vms."""
    nodech(run, "h1", f"nodehm.mgt={BMC_MGT}")
    xlfleet.guest("g1", "h1", 2048, running=False)
    xlfleet.guest("g2", "h1", 1024, running=False)
    xlfleet.guest("g3", "h1", 1024, running=False, powerstate="off")
    xlfleet.host("h1", down=True)
    bmc.states["h1"] = said


def test_f_restarts_the_guests_that_were_on_once_the_bmc_says_off(xlfleet, run, store, bmc):
    dead_h1(xlfleet, run, bmc)
    r = run("revacuate", "h1", "-f")
    assert (r.rc, r.err) == (0, [])
    assert bmc.asked == [("h1", "stat")]
    assert r.out[0] == "h1: in maintenance"
    out = r.out[1:]
    assert out[:4] == [
        "g3: was not on when h1 went down; left there",
        "Plan for h1 (down): 2 guests to restart elsewhere, 2 placed, 0 staying down",
        "g1: h1 -> h2 (2048 MB), restart from shared storage",
        "g2: h1 -> h3 (1024 MB), restart from shared storage",
    ]
    assert sorted(out[4:6]) == ["g1: restarted on h2", "g2: restarted on h3"]
    assert out[6:] == ["h1: 2 guests restarted elsewhere, 0 stayed down"]
    assert (xlfleet.where("g1"), vm_host(run, "g1")) == ("h2", "h2")
    assert (xlfleet.where("g2"), vm_host(run, "g2")) == ("h3", "h3")
    assert (xlfleet.where("g3"), vm_host(run, "g3")) == (None, "h1")
    assert ["xl", "create", "/etc/xen/g1.cfg"] in xlfleet.commands("h2")
    assert ["xl", "create", "/etc/xen/g2.cfg"] in xlfleet.commands("h3")
    # Disks are never created (nor probed for creation): a restart boots what is there.
    assert not [argv for argv in xlfleet.commands() if argv[0] == "qemu-img"]
    assert maintenance(run, "h1") == "yes"
    restarts = {e["node"]: (e["severity"], e["message"])
                for e in events_of(store, eventtype="restart")}
    assert restarts == {
        "g1": ("informational", "restarted on h2 from shared storage after h1 was confirmed "
                                "off by its BMC (2048 MB)"),
        "g2": ("informational", "restarted on h3 from shared storage after h1 was confirmed "
                                "off by its BMC (1024 MB)"),
    }
    assert [e["eventtype"] for e in events_of(store, "h1")] == ["power", "maintenance"]


@pytest.mark.parametrize("said, why", [
    ("on", "power is on"),
    (RuntimeError("BMC did not answer within 20s"), "BMC did not answer within 20s"),
])
def test_f_refuses_unless_the_bmc_confirms_off(xlfleet, run, store, bmc, said, why):
    dead_h1(xlfleet, run, bmc, said)
    r = run("revacuate", "h1", "-f")
    assert r.rc == 1
    assert r.out == []
    assert r.err == [f"h1: Error: not restarting its guests elsewhere: cannot confirm it is "
                     f"down ({why}); they may still be running there"]
    assert xlfleet.commands() == []
    assert eventlog(store) == []
    assert maintenance(run, "h1") == ""
    assert [vm_host(run, g) for g in ("g1", "g2", "g3")] == ["h1", "h1", "h1"]


def test_f_leaves_a_guest_without_a_uuid_down(xlfleet, run, store, bmc):
    dead_h1(xlfleet, run, bmc)
    nodech(run, "g2", "vm.uuid=")
    r = run("revacuate", "h1", "-f")
    assert r.rc == 1
    assert r.err == ["g2: Error: restart on h3 failed, stays down on h1: has no vm.uuid, so "
                     "it was never created here; start it with rpower on"]
    assert "g1: restarted on h2" in r.out
    assert r.out[-1] == "h1: 1 guest restarted elsewhere, 1 stayed down"
    assert vm_host(run, "g2") == "h1"
    assert xlfleet.where("g2") is None
    assert not [argv for argv in xlfleet.commands("h3") if argv[0] in ("tee", "xl")
                and argv[:2] != ["xl", "info"] and argv[:2] != ["xl", "list"]]
    [event] = events_of(store, "g2")
    assert (event["eventtype"], event["severity"]) == ("restart", "critical")
    assert event["message"] == ("restart on h3 failed, stays down on h1: has no vm.uuid, so it "
                                "was never created here; start it with rpower on")


def test_f_dry_run_plans_and_writes_nothing(xlfleet, run, store, bmc):
    dead_h1(xlfleet, run, bmc)
    r = run("revacuate", "h1", "-f", "-n")
    assert (r.rc, r.err) == (0, [])
    assert r.out == [
        "g3: was not on when h1 went down; left there",
        "Plan for h1 (down): 2 guests to restart elsewhere, 2 placed, 0 staying down",
        "g1: h1 -> h2 (2048 MB), restart from shared storage",
        "g2: h1 -> h3 (1024 MB), restart from shared storage",
    ]
    assert bmc.asked == [("h1", "stat")]  # a dry run still asks the BMC
    assert eventlog(store) == []
    assert maintenance(run, "h1") == ""
    written = [argv for argv in xlfleet.commands()
               if argv[0] in ("tee", "mkdir", "qemu-img") or argv[:2] == ["xl", "create"]]
    assert written == []
    assert [vm_host(run, g) for g in ("g1", "g2", "g3")] == ["h1", "h1", "h1"]




def test_f_leaves_down_a_guest_whose_disk_no_other_host_reaches(xlfleet, run, store, bmc):
    dead_h1(xlfleet, run, bmc)
    nodech(run, "g2", "vm.storage=/local/g2.img")
    r = run("revacuate", "h1", "-f")
    assert r.rc == 1
    assert r.err == ["g2: Error: stays down on h1: no allowed destination (h2,h3: cannot "
                     "reach the guest's storage: /local/g2.img)"]
    assert "Plan for h1 (down): 2 guests to restart elsewhere, 1 placed, 1 staying down" in r.out
    assert r.out[-1] == "h1: 1 guest restarted elsewhere, 1 stayed down"
    assert (xlfleet.where("g1"), vm_host(run, "g1")) == ("h2", "h2")
    assert (xlfleet.where("g2"), vm_host(run, "g2")) == (None, "h1")
    assert not [argv for argv in xlfleet.commands() if "g2" in " ".join(argv)
                and argv[0] in ("tee", "xl")]


def test_running_f_again_retries_a_guest_whose_restart_failed(xlfleet, run, store, bmc):
    dead_h1(xlfleet, run, bmc)
    nodech(run, "g2", "vm.uuid=")
    assert run("revacuate", "h1", "-f").rc == 1
    assert run("nodels", "g2", "vm.powerstate").out == ["g2: on"]
    nodech(run, "g2", "vm.uuid=6f1c8a3e-1111-2222-3333-444455556666")
    r = run("revacuate", "h1", "-f")
    assert (r.rc, r.err) == (0, [])
    assert "Plan for h1 (down): 1 guest to restart elsewhere, 1 placed, 0 staying down" in r.out
    assert "g2: restarted on h3" in r.out
    assert (xlfleet.where("g2"), vm_host(run, "g2")) == ("h3", "h3")
    assert xlfleet.where("g1") == "h2"  # restarted by the first run, not again
    assert [e["eventtype"] for e in events_of(store, "g2")] == ["restart", "restart"]
