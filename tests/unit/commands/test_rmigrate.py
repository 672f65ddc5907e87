"""rmigrate: every check before a guest moves, each refusal's exact words, and what happens
after a migration (vm.host, the eventlog, the ARP announce, failures).

Most tests run the real xl driver against simulated Xen hosts h1-h3 (migfixtures.xlfleet):
`xl migrate` really moves the domain in the simulated state. A migration whose answer is
lost after the guest moved cannot be made with the simulator (its faults fail a command
before it runs), so that one uses the in-memory hypervisor (migfixtures.gated).
"""

import pytest

from tests.unit.commands import migfixtures
from tests.unit.commands.migfixtures import events_of, vm_host

xlfleet, gated = migfixtures.xlfleet, migfixtures.gated  # fixtures

USAGE_FIRST_LINE = "Usage:"


def nodech(run, *args):
    r = run("nodech", *args)
    assert r.rc == 0, r.err


def migrated(xlfleet, run, guest: str, dest: str) -> bool:
    return xlfleet.where(guest) == dest and vm_host(run, guest) == dest


# -- usage ------------------------------------------------------------------------------------


@pytest.mark.parametrize("args", [(), ("g1",)])
def test_a_noderange_and_a_target_are_required(xlfleet, run, args):
    xlfleet.guest("g1", "h1")
    r = run("rmigrate", *args)
    assert r.rc != 0
    assert r.err[0] == "Error: rmigrate: a noderange and a target hypervisor are required"
    assert r.err[1].startswith(USAGE_FIRST_LINE)
    assert xlfleet.commands() == []


def test_a_target_that_is_not_a_node_is_an_error(xlfleet, run):
    xlfleet.guest("g1", "h1")
    r = run("rmigrate", "g1", "h9")
    assert (r.rc, r.out) == (1, [])
    assert r.err == ["Error: rmigrate: the target h9 is not a node"]
    assert xlfleet.where("g1") == "h1" and xlfleet.commands() == []


def test_a_target_that_is_not_a_hypervisor_is_an_error(xlfleet, run):
    xlfleet.guest("g1", "h1")
    xlfleet.guest("g2", "h1")
    r = run("rmigrate", "g1", "g2")
    assert r.rc == 1
    assert r.err == ["Error: rmigrate: g2: hypervisor.type of g2 is not set"]
    assert xlfleet.where("g1") == "h1"


def test_a_target_that_does_not_answer_fails_the_command(xlfleet, run, store):
    xlfleet.guest("g1", "h1")
    xlfleet.host("h2", down=True)
    r = run("rmigrate", "g1", "h2")
    assert (r.rc, r.out) == (1, [])
    [error] = r.err
    assert error.startswith("Error: rmigrate: h2: did not answer: ")
    assert "No route to host" in error
    assert no_migrate_ran(xlfleet) and vm_host(run, "g1") == "h1"
    assert migfixtures.eventlog(store) == []


def test_a_current_host_that_does_not_answer_fails_its_own_guests(xlfleet, run):
    xlfleet.guest("g1", "h1")
    xlfleet.guest("g3", "h3")
    xlfleet.host("h1", down=True)
    r = run("rmigrate", "g1,g3", "h2")
    assert r.rc == 1
    assert r.out == ["g3: migrated to h2"]
    [error] = r.err
    assert error.startswith("g1: Error: h1: did not answer: ")
    assert migrated(xlfleet, run, "g3", "h2") and vm_host(run, "g1") == "h1"


# -- guests that are not moved -------------------------------------------------------------


def test_a_guest_already_on_the_target_is_said_and_left(xlfleet, run):
    xlfleet.guest("g1", "h1")
    r = run("rmigrate", "g1", "h1")
    assert (r.rc, r.out, r.err) == (0, ["g1: already on h1"], [])
    assert not any(argv[:2] == ["xl", "migrate"] for argv in xlfleet.commands())


def test_a_guest_that_is_off_is_refused_with_its_state(xlfleet, run, store):
    xlfleet.off("g2", "h1")
    xlfleet.guest("g1", "h1")
    r = run("rmigrate", "g1,g2", "h2")
    assert r.rc == 1
    assert r.out == ["g1: migrated to h2"]
    assert r.err == ["g2: Error: not running on h1 (off); rmigrate moves running guests"]
    assert vm_host(run, "g2") == "h1"
    assert xlfleet.record("g2")["host"] == "h1"
    assert migrated(xlfleet, run, "g1", "h2")


def test_a_guest_its_host_does_not_know_is_refused(xlfleet, run):
    xlfleet.guest("g1", "h1", running=False)
    r = run("rmigrate", "g1", "h2")
    assert r.rc == 1
    assert r.err == ["g1: Error: not running on h1 (not defined there); rmigrate moves "
                     "running guests"]


# -- each refusal, with its words --------------------------------------------------------------


def refused(run, guest: str, dest: str, reason: str):
    r = run("rmigrate", guest, dest)
    assert r.rc == 1, r
    assert r.out == []
    assert r.err == [f"{guest}: Error: cannot migrate to {dest}: {reason}"]
    return r


def no_migrate_ran(xlfleet) -> bool:
    return not any(argv[:2] == ["xl", "migrate"] for argv in xlfleet.commands())


def test_refused_a_destination_with_another_toolstack(xlfleet, run):
    xlfleet.host("h3", toolstack="xm")
    nodech(run, "h3", "hypervisor.type=xm")
    xlfleet.guest("g1", "h1")
    refused(run, "g1", "h3", "a xm hypervisor, and the guest runs on xen")
    assert no_migrate_ran(xlfleet) and xlfleet.where("g1") == "h1"


@pytest.mark.parametrize("source_cluster, dest_cluster, reason", [
    ("east", "west", "in cluster west, the guest's host in east (hypervisor.cluster)"),
    ("east", None, "in cluster (none), the guest's host in east (hypervisor.cluster)"),
    (None, "west", "in cluster west, the guest's host in (none) (hypervisor.cluster)"),
])
def test_refused_across_clusters(xlfleet, run, source_cluster, dest_cluster, reason):
    if source_cluster:
        nodech(run, "h1", f"hypervisor.cluster={source_cluster}")
    if dest_cluster:
        nodech(run, "h2", f"hypervisor.cluster={dest_cluster}")
    xlfleet.guest("g1", "h1")
    refused(run, "g1", "h2", reason)
    assert no_migrate_ran(xlfleet) and vm_host(run, "g1") == "h1"


def test_the_same_cluster_is_allowed(xlfleet, run):
    nodech(run, "h1,h2", "hypervisor.cluster=east")
    xlfleet.guest("g1", "h1")
    assert run("rmigrate", "g1", "h2").out == ["g1: migrated to h2"]
    assert migrated(xlfleet, run, "g1", "h2")


def test_refused_a_destination_outside_vm_migrationdest(xlfleet, run):
    xlfleet.guest("g1", "h1", vm__migrationdest="h3")
    refused(run, "g1", "h2", "not in the guest's vm.migrationdest (h3)")
    assert no_migrate_ran(xlfleet)
    assert run("rmigrate", "g1", "h3").out == ["g1: migrated to h3"]
    assert migrated(xlfleet, run, "g1", "h3")


def test_refused_a_destination_in_maintenance(xlfleet, run):
    nodech(run, "h2", "hypervisor.maintenance=yes")
    xlfleet.guest("g1", "h1")
    refused(run, "g1", "h2", "in maintenance (hypervisor.maintenance)")
    assert no_migrate_ran(xlfleet)


def test_refused_a_destination_with_relocation_disabled(xlfleet, run):
    nodech(run, "h2", "hypervisor.relocation=no")
    xlfleet.guest("g1", "h1")
    refused(run, "g1", "h2", "relocation is disabled (hypervisor.relocation)")
    assert no_migrate_ran(xlfleet)


def test_refused_by_relocationhosts_that_exclude_the_source(xlfleet, run):
    nodech(run, "h2", "hypervisor.relocationhosts=h3")
    xlfleet.guest("g1", "h1")
    xlfleet.guest("g3", "h3")
    refused(run, "g1", "h2", "accepts migrations only from h3 (hypervisor.relocationhosts)")
    assert no_migrate_ran(xlfleet)
    assert run("rmigrate", "g3", "h2").out == ["g3: migrated to h2"]


def test_refused_a_destination_lacking_cpu_flags(xlfleet, run):
    flags = hvstate_flags(xlfleet, "h1")
    xlfleet.host("h2", cpu_flags=[f for f in flags if f not in ("vmx", "sse2")])
    xlfleet.guest("g1", "h1")
    refused(run, "g1", "h2", f"lacks CPU features the guest may use: sse2, vmx (2 of the "
                             f"{len(flags)} on h1)")
    assert no_migrate_ran(xlfleet)


def test_the_sources_cpufeatures_mask_lets_the_guest_go(xlfleet, run):
    flags = hvstate_flags(xlfleet, "h1")
    xlfleet.host("h2", cpu_flags=[f for f in flags if f != "vmx"])
    nodech(run, "h1", "hypervisor.cpufeatures=" + ",".join(f for f in flags if f != "vmx"))
    xlfleet.guest("g1", "h1")
    r = run("rmigrate", "g1", "h2")
    assert (r.rc, r.out, r.err) == (0, ["g1: migrated to h2"], [])
    assert migrated(xlfleet, run, "g1", "h2")


def test_more_than_eight_missing_flags_are_cut_short(xlfleet, run):
    base = hvstate_flags(xlfleet, "h1")
    extra = [f"x{i:02d}" for i in range(1, 12)]  # 11 flags h2 lacks
    xlfleet.host("h1", cpu_flags=base + extra)
    xlfleet.guest("g1", "h1")
    refused(run, "g1", "h2", "lacks CPU features the guest may use: x01, x02, x03, x04, x05, "
                             f"x06, x07, x08 and 3 more (11 of the {len(base) + 11} on h1)")


def test_refused_a_destination_that_cannot_reach_the_storage(xlfleet, run):
    xlfleet.guest("g1", "h1", storage="/local/g1.img")
    refused(run, "g1", "h2", "cannot reach the guest's storage: /local/g1.img")
    assert ["ls", "-d", "--", "/local/g1.img"] in xlfleet.commands("h2")
    assert no_migrate_ran(xlfleet)


def test_a_target_that_cannot_say_which_disks_it_reaches_refuses_every_guest(xlfleet, run):
    xlfleet.fail("h2", "ls -d", "ls: reading directory '/vms': Input/output error")
    xlfleet.guest("g1", "h1")
    xlfleet.guest("g2", "h1")
    r = run("rmigrate", "g1,g2", "h2")
    assert (r.rc, r.out) == (1, [])
    assert r.err == [f"{g}: Error: cannot migrate to h2: did not answer: cannot tell which "
                     "disks it can open: 'ls' failed: ls: reading directory '/vms': "
                     "Input/output error" for g in ("g1", "g2")]
    assert no_migrate_ran(xlfleet)


def test_refused_a_destination_without_the_memory(xlfleet, run):
    xlfleet.host("h2", memory_mb=4096)
    xlfleet.guest("g1", "h1", 4096)
    refused(run, "g1", "h2", "needs 4096 MB, 3072 MB free (4096 MB total - 0 overhead - "
                             "1024 dom0 - 0 in 0 running guests)")
    assert no_migrate_ran(xlfleet)


def test_two_guests_that_fit_alone_but_not_together_the_larger_goes(xlfleet, run, store):
    xlfleet.host("h2", memory_mb=4096)  # 3072 MB free
    # Named so that name order would pick the smaller first.
    xlfleet.guest("g1", "h1", 1536)
    xlfleet.guest("g2", "h1", 2048)
    r = run("rmigrate", "g1,g2", "h2")
    assert r.rc == 1
    assert r.out == ["g2: migrated to h2"]
    assert r.err == ["g1: Error: cannot migrate to h2: needs 1536 MB, 3072 MB free (4096 MB "
                     "total - 0 overhead - 1024 dom0 - 0 in 0 running guests); 2048 MB held "
                     "for guests already moving there"]
    assert migrated(xlfleet, run, "g2", "h2")
    assert xlfleet.where("g1") == "h1" and vm_host(run, "g1") == "h1"


# -- after the migration ----------------------------------------------------------------------


def test_a_failed_migration_is_reported_and_vm_host_stays(xlfleet, run, store):
    xlfleet.fail("h1", "xl migrate", "migration sender: libxl_domain_suspend failed (rc=-3)")
    xlfleet.guest("g1", "h1")
    r = run("rmigrate", "g1", "h2")
    assert r.rc == 1
    assert r.out == []
    assert len(r.err) == 1
    assert r.err[0].startswith("g1: Error: migration to h2 failed, still running on h1: ")
    assert "libxl_domain_suspend failed" in r.err[0]
    assert xlfleet.where("g1") == "h1" and vm_host(run, "g1") == "h1"
    [event] = events_of(store, "g1")
    assert (event["eventtype"], event["severity"], event["component"]) == (
        "migrate", "warning", "h1->h2")
    assert event["message"].startswith("migration from h1 to h2 failed, still on h1: ")


def test_a_lost_answer_after_the_guest_moved_is_recorded_on_the_destination(gated, run,
                                                                            store):
    gated.gate.hold = False
    gated.gate.lost_answer["g1"] = "migrate: connection reset by peer"
    gated.hypervisors("h1,h2", 8192)
    gated.guest("g1", "h1", 1024)
    r = run("rmigrate", "g1", "h2")
    assert gated.gate.started == [("g1", "h1", "h2")], r  # the fault did run
    assert (r.rc, r.out, r.err) == (0, ["g1: migrated to h2"], [])
    assert gated.where("g1") == ["h2"]
    assert vm_host(run, "g1") == "h2"
    [event] = events_of(store, "g1")
    assert (event["eventtype"], event["severity"], event["message"]) == (
        "migrate", "informational", "migrated from h1 to h2 (1024 MB)")


def test_a_guest_found_on_neither_host_keeps_its_vm_host_with_a_critical_record(
        gated, run, store):
    gated.gate.hold = False
    gated.gate.vanish["g1"] = "migrate: domain crashed during migration"
    gated.hypervisors("h1,h2", 8192)
    gated.guest("g1", "h1", 1024)
    r = run("rmigrate", "g1", "h2")
    assert (r.rc, r.out) == (1, [])
    assert r.err == ["g1: Error: migration to h2 failed and the guest was found running on "
                     "neither h1 nor h2: migrate: domain crashed during migration"]
    assert vm_host(run, "g1") == "h1"
    [event] = events_of(store, "g1")
    assert (event["eventtype"], event["severity"]) == ("migrate", "critical")
    assert event["message"] == ("migration from h1 to h2 failed and the guest was found "
                                "running on neither host: migrate: domain crashed during "
                                "migration")


def test_the_guest_is_announced_from_its_new_host(xlfleet, run):
    xlfleet.guest("g1", "h1", ip="10.0.0.5", macs=("42:0a:00:00:00:01", "42:0a:00:00:00:02"),
                  bridges=("br0", "br1"))
    r = run("rmigrate", "g1", "h2")
    assert (r.rc, r.out, r.err) == (0, ["g1: migrated to h2"], [])
    arpings = [argv for argv in xlfleet.commands() if argv[0] == "arping"]
    assert [argv for argv in xlfleet.commands("h2") if argv[0] == "arping"] == arpings == [
        ["arping", "-q", "-U", "-c", "1", "-i", "br0", "-S", "10.0.0.5", "-s",
         "42:0a:00:00:00:01", "10.0.0.5"],
        ["arping", "-q", "-U", "-c", "1", "-i", "br1", "-S", "10.0.0.5", "-s",
         "42:0a:00:00:00:02", "10.0.0.5"],
    ]


def test_no_announce_without_an_address(xlfleet, run):
    xlfleet.guest("g1", "h1")
    r = run("rmigrate", "g1", "h2")
    assert (r.rc, r.out, r.err) == (0, ["g1: migrated to h2"], [])
    assert migrated(xlfleet, run, "g1", "h2")
    assert not [argv for argv in xlfleet.commands() if argv[0] == "arping"]


def test_a_failed_announce_is_a_warning_and_the_move_stands(xlfleet, run, store):
    xlfleet.fail("h2", "arping", "arping: libnet_init(LIBNET_LINK, br0): No such device")
    xlfleet.guest("g1", "h1", ip="10.0.0.5")
    r = run("rmigrate", "g1", "h2")
    assert r.rc == 0
    assert r.out == ["g1: migrated to h2"]
    assert r.err == ["g1: Warning: ARP not refreshed on h2: cannot announce 10.0.0.5: arping "
                     "on br0 failed: arping: libnet_init(LIBNET_LINK, br0): No such device"]
    assert migrated(xlfleet, run, "g1", "h2")
    assert [(e["eventtype"], e["severity"]) for e in events_of(store, "g1")] == [
        ("migrate", "informational"), ("warning", "warning")]


# -- the eventlog ------------------------------------------------------------------------------


def test_a_migration_and_a_refusal_are_in_the_eventlog(xlfleet, run, store):
    xlfleet.guest("g1", "h1")
    xlfleet.guest("g2", "h1", vm__migrationdest="h3")
    r = run("rmigrate", "g1,g2", "h2")
    assert r.rc == 1
    rows = [(e["node"], e["application"], e["eventtype"], e["severity"], e["component"],
             e["message"]) for e in migfixtures.eventlog(store)]
    assert rows == [
        ("g2", "rmigrate", "refused", "warning", "h1->h2",
         "not migrated from h1 to h2: not in the guest's vm.migrationdest (h3)"),
        ("g1", "rmigrate", "migrate", "informational", "h1->h2",
         "migrated from h1 to h2 (1024 MB)"),
    ]
    r = run("tabdump", "-w", "node==g1", "eventlog")
    assert len(r.out) == 2 and "migrated from h1 to h2 (1024 MB)" in r.out[1]


# -- bad table values --------------------------------------------------------------------------


@pytest.mark.parametrize("column, value, message", [
    ("maintenance", "maybe", "hypervisor.maintenance must be yes or no, not 'maybe'"),
    ("relocation", "perhaps", "hypervisor.relocation must be yes or no, not 'perhaps'"),
    ("memory", "lots", "hypervisor.memory is not a size: 'lots' (e.g. 512, 512M, 2G)"),
])
def test_an_unreadable_target_row_names_node_and_column(xlfleet, run, column, value, message):
    nodech(run, "h2", f"hypervisor.{column}={value}")
    xlfleet.guest("g1", "h1")
    r = run("rmigrate", "g1", "h2")
    assert (r.rc, r.out) == (1, [])
    assert r.err == [f"Error: rmigrate: h2: {message}"]
    assert no_migrate_ran(xlfleet)
    assert xlfleet.commands("h2") == []  # refused before the target is asked anything


def test_a_bad_maintenance_value_on_the_source_names_node_and_column(xlfleet, run):
    nodech(run, "h1", "hypervisor.maintenance=sometimes")
    xlfleet.guest("g1", "h1")
    r = run("rmigrate", "g1", "h2")
    assert r.rc == 1
    assert r.err == ["g1: Error: h1: hypervisor.maintenance must be yes or no, not "
                     "'sometimes'"]
    assert no_migrate_ran(xlfleet)


def hvstate_flags(xlfleet, host: str) -> list[str]:
    return list(xlfleet.data()["hosts"][host]["cpu_flags"])


def test_a_guest_started_by_rpower_moves_with_its_config_and_rpower_follows(xlfleet, run):
    xlfleet.guest("g1", "h1", 1024, running=False, powerstate=None)
    assert run("rpower", "g1", "on").out == ["g1: on"]
    assert xlfleet.where("g1") == "h1"
    r = run("rmigrate", "g1", "h2")
    assert (r.rc, r.out, r.err) == (0, ["g1: migrated to h2"], [])
    assert xlfleet.file_exists("h2", "/etc/xen/g1.cfg")
    assert not xlfleet.file_exists("h1", "/etc/xen/g1.cfg")
    assert run("nodels", "g1", "vm.powerstate").out == ["g1: on"]
    assert run("rpower", "g1", "stat").out == ["g1: on"]
    assert run("rpower", "g1", "off").out == ["g1: off"]
    assert xlfleet.record("g1")["host"] == "h2"
    assert xlfleet.where("g1") is None


def test_a_config_file_that_does_not_follow_is_a_warning(xlfleet, run, store):
    xlfleet.guest("g1", "h1", 1024, running=False, powerstate=None)
    assert run("rpower", "g1", "on").out == ["g1: on"]
    xlfleet.fail("h2", "tee", "tee: /etc/xen/g1.cfg: Read-only file system")
    r = run("rmigrate", "g1", "h2")
    assert (r.rc, r.out) == (0, ["g1: migrated to h2"])
    [warning] = r.err
    assert warning.startswith("g1: Warning: its config file did not follow it from h1 to h2: ")
    assert "Read-only file system" in warning
    assert migrated(xlfleet, run, "g1", "h2")
    assert xlfleet.file_exists("h1", "/etc/xen/g1.cfg")  # left where it was, and said so
    assert [(e["eventtype"], e["severity"]) for e in events_of(store, "g1")] == [
        ("migrate", "informational"), ("warning", "warning")]
