"""The migration journal (xcatpy/virt/journal.py) and settling it (xcatpy/virt/reconcile.py).

Interrupted rows are written straight into the migrationjournal table (what a killed xcatd
leaves behind, with no live owner) while the simulated Xen hosts h1-h3 (migfixtures.xlfleet,
the real xl driver over LocalShell) hold the guests where the "interrupted" migration left
them; the commands then run in-process. tests/faults/test_kill_revacuate.py does the same
with a real xcatd killed by SIGKILL.
"""

import subprocess
import sys

import pytest

from tests.unit.commands import migfixtures
from tests.unit.commands.migfixtures import events_of, vm_host
from xcatpy.db.store import Store
from xcatpy.virt import journal
from xcatpy.virt.xl import XlHypervisor

xlfleet = migfixtures.xlfleet  # fixture


def journal_rows(store) -> dict[str, dict]:
    store.rollback()  # a fresh snapshot: the command wrote through its own connection
    return {r["node"]: r for r in store.rows(journal.TABLE)}


def interrupted(store, guest, source, dest, state=journal.MOVING, *, application="revacuate",
                hosts="h1", owner=None) -> None:
    """A row as a command that died leaves it."""
    store.write(lambda s: s.upsert_rows(journal.TABLE, [{
        "node": guest, "source": source, "dest": dest, "state": state,
        "statetime": "2026-01-02 03:04:05", "application": application, "hosts": hosts,
        "command": f"{application} {hosts}", "username": "root",
        "started": "2026-01-02 03:04:00", "owner": owner}]))


def move_in_sim(xlfleet, guest, host, state="running"):
    with migfixtures.hvstate.locked(xlfleet.state) as data:
        data["guests"][guest].update(host=host, state=state)


# -- the owner -------------------------------------------------------------------------------


def test_a_row_is_interrupted_only_when_its_process_is_gone():
    assert journal.owner_alive(journal.owner_token())
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    host = journal.owner_token().split(":")[0]
    assert not journal.owner_alive(f"{host}:{gone.pid}:1")
    # The same pid with another start time is another process (the pid was reused).
    mine = journal.owner_token().rsplit(":", 1)[0]
    assert not journal.owner_alive(f"{mine}:999999999")
    assert not journal.owner_alive(None) and not journal.owner_alive("")
    # Another machine's process (a service node sharing the database) cannot be judged.
    assert journal.owner_alive("elsewhere.example:1:1")


# -- while moving ---------------------------------------------------------------------------


def test_each_move_is_journalled_before_it_starts_and_gone_with_its_outcome(
        xlfleet, run, store, monkeypatch):
    xlfleet.guest("g1", "h1", 2048)
    xlfleet.guest("g2", "h1", 1024)
    seen = {}
    real = XlHypervisor.migrate

    def migrate(self, name, dest, *, live=True):
        # What another connection (a crash) would find while xl migrate runs.
        other = Store.open(store.state_dir)
        try:
            seen[name] = {r["node"]: (r["state"], r["source"], r["dest"], r["application"],
                                      r["hosts"], r["command"], r["username"])
                          for r in other.rows(journal.TABLE)}
        finally:
            other.close()
        return real(self, name, dest, live=live)

    monkeypatch.setattr(XlHypervisor, "migrate", migrate)
    r = run("revacuate", "h1", "--per-source", "1")
    assert r.rc == 0, r.err
    # Largest first, one at a time: g2 is planned while g1 moves; g1 is gone when g2 moves.
    assert seen == {
        "g1": {"g1": ("moving", "h1", "h2", "revacuate", "h1", "revacuate h1 --per-source 1",
                      "root"),
               "g2": ("planned", "h1", "h3", "revacuate", "h1", "revacuate h1 --per-source 1",
                      "root")},
        "g2": {"g2": ("moving", "h1", "h3", "revacuate", "h1", "revacuate h1 --per-source 1",
                      "root")}}
    assert journal_rows(store) == {}
    assert (vm_host(run, "g1"), vm_host(run, "g2")) == ("h2", "h3")


def test_rmigrate_journals_its_moves_too(xlfleet, run, store, monkeypatch):
    xlfleet.guest("g1", "h1", 1024)
    seen = []
    real = XlHypervisor.migrate

    def migrate(self, name, dest, *, live=True):
        other = Store.open(store.state_dir)
        try:
            seen.extend((r["node"], r["state"], r["application"], r["hosts"])
                        for r in other.rows(journal.TABLE))
        finally:
            other.close()
        return real(self, name, dest, live=live)

    monkeypatch.setattr(XlHypervisor, "migrate", migrate)
    assert run("rmigrate", "g1", "h2").rc == 0
    assert seen == [("g1", "moving", "rmigrate", "h2")]
    assert journal_rows(store) == {}


# -- after an interruption --------------------------------------------------------------------


def test_revacuate_settles_an_interrupted_evacuation_then_moves_the_rest(xlfleet, run, store):
    for name in ("g1", "g2", "g3"):
        xlfleet.guest(name, "h1", 1024)
    move_in_sim(xlfleet, "g1", "h2")  # landed after xcatd died; vm.host still says h1
    interrupted(store, "g1", "h1", "h2")
    interrupted(store, "g2", "h1", "h3", journal.PLANNED)

    status = run("revacuate", "--status")
    assert status.rc == 0
    assert status.out[0].startswith(
        "h1: Warning: interrupted revacuate ('revacuate h1' by root at 2026-01-02 03:04:00): "
        "1 migration in flight and 1 planned were never recorded; run 'revacuate h1' or "
        "'revacuate --resume'")
    assert status.out[1:] == [
        "g1: Warning: was migrating from h1 to h2 (since 2026-01-02 03:04:05) when revacuate "
        "was interrupted",
        "g2: Warning: was planned to move from h1 to h3 when revacuate was interrupted"]
    listed = run("lsvm", "h1")
    assert listed.rc == 0 and listed.err[:1] == status.out[:1]

    r = run("revacuate", "h1")
    assert r.rc == 0, r.err
    assert "g1: found on h2 after an interrupted migration; vm.host was h1" in r.out
    assert "g2: on h1 as recorded, after an interrupted evacuation" in r.out
    # The new plan rests on what h1 runs now: g1 is not moved again.
    assert r.out[-1] == "h1: 2 guests moved, 0 stayed"
    assert journal_rows(store) == {}
    for name in ("g1", "g2", "g3"):
        assert xlfleet.where(name) not in (None, "h1")
        assert vm_host(run, name) == xlfleet.where(name)
    fix = events_of(store, "g1", "reconcile")
    assert [(e["severity"], e["message"]) for e in fix] == [
        ("warning", "found on h2 after an interrupted migration; vm.host was h1")]
    assert run("revacuate", "--status").out == [
        "No evacuation or migration is interrupted or running"]


def test_a_guest_running_on_no_host_is_critical_never_dropped(xlfleet, run, store):
    xlfleet.guest("g1", "h1", 1024)
    move_in_sim(xlfleet, "g1", "h2", state="shutoff")  # died during the migration
    config = migfixtures.hvstate.host_file(xlfleet.state, "h2", "/etc/xen/g1.cfg")
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text('name = "g1"\nmemory = 1024\nvcpus = 1\n')
    interrupted(store, "g1", "h1", "h2")
    r = run("revacuate", "--resume")
    assert r.rc == 1
    assert ("g1: Error: running on no host after an interrupted migration from h1 to h2; "
            "defined but not running on h2; vm.host left at h1") in r.err
    [event] = events_of(store, "g1", "reconcile")
    assert event["severity"] == "critical"
    assert vm_host(run, "g1") == "h1"
    assert journal_rows(store) == {}  # recorded in the eventlog instead


def test_a_row_whose_hosts_cannot_be_asked_is_kept(xlfleet, run, store):
    xlfleet.guest("g1", "h1", 1024)
    move_in_sim(xlfleet, "g1", "h2")
    xlfleet.host("h2", down=True)
    interrupted(store, "g1", "h1", "h2")
    r = run("revacuate", "h1")
    assert r.rc == 1
    assert any(line.startswith("g1: Error: not found on any host that answered after an "
                               "interrupted migration from h1 to h2 (h2: did not answer")
               for line in r.err), r.err
    assert set(journal_rows(store)) == {"g1"}
    xlfleet.host("h2", down=False)
    r = run("revacuate", "--resume")
    assert "g1: found on h2 after an interrupted migration; vm.host was h1" in r.out
    assert journal_rows(store) == {} and vm_host(run, "g1") == "h2"


def test_a_command_still_running_is_not_taken_for_an_interrupted_one(xlfleet, run, store):
    xlfleet.guest("g1", "h1", 1024)
    interrupted(store, "g1", "h1", "h2", owner=journal.owner_token())
    for args in (("revacuate", "h1"), ("rmigrate", "g1", "h3")):
        r = run(*args)
        assert r.rc == 1
        assert r.err[0] == ("g1: Error: being moved from h1 to h2 by 'revacuate h1' by root at "
                            "2026-01-02 03:04:00, which is still running")
    assert xlfleet.where("g1") == "h1"
    assert run("revacuate", "--resume").out == ["No interrupted evacuation or migration to "
                                                "resume"]
    assert run("revacuate", "-s").out == [
        "g1: moving h1 -> h2 by 'revacuate h1' by root at 2026-01-02 03:04:00, still running"]


def test_rmigrate_records_where_an_interrupted_guest_is_before_moving_it(xlfleet, run, store):
    xlfleet.guest("g1", "h1", 1024)
    move_in_sim(xlfleet, "g1", "h2")
    interrupted(store, "g1", "h1", "h2", application="rmigrate", hosts="h2")
    r = run("rmigrate", "g1", "h3")
    assert r.rc == 0, r.err
    assert r.out == ["g1: found on h2 after an interrupted migration; vm.host was h1",
                     "g1: migrated to h3"]
    assert [argv[:3] for argv in xlfleet.commands("h2") if argv[:2] == ["xl", "migrate"]] == [
        ["xl", "migrate", "g1"]]
    assert vm_host(run, "g1") == xlfleet.where("g1") == "h3"


def test_reconcile_sets_vm_host_to_where_each_guest_runs(xlfleet, run, store):
    xlfleet.guest("g1", "h1", 1024)
    xlfleet.guest("g2", "h2", 1024)
    move_in_sim(xlfleet, "g1", "h2")
    r = run("revacuate", "--reconcile", "h1,h2")
    assert r.rc == 0, r.err
    assert r.out == ["g1: found on h2; vm.host was h1", "h1,h2: 1 vm.host correction"]
    assert vm_host(run, "g1") == "h2" and vm_host(run, "g2") == "h2"


def test_xcatd_start_reports_interrupted_commands(xlfleet, store):
    interrupted(store, "g1", "h1", "h2")
    interrupted(store, "g2", "h1", "h3", journal.PLANNED)
    interrupted(store, "g9", "h3", "h2", owner=journal.owner_token())  # still running
    found = journal.report_interrupted(store.state_dir)
    assert [e.guest for e in found] == ["g1", "g2"]
    store.rollback()
    [event] = events_of(store, "h1", "interrupted")
    assert event["severity"] == "critical"
    assert event["message"] == (
        "revacuate 'revacuate h1' by root at 2026-01-02 03:04:00 was interrupted (xcatd "
        "stopped) with 2 moves unrecorded (g1,g2); run 'revacuate h1' or 'revacuate --resume'")


@pytest.mark.parametrize("args", [("--resume", "h1"), ("-s", "--resume"), ("h1", "-f", "-s")])
def test_option_mistakes_are_usage_errors(run, args):
    r = run("revacuate", *args)
    assert r.rc != 0 and r.err[0].startswith("Error: revacuate: ")


def test_an_interrupted_f_never_starts_a_guest_twice(xlfleet, run, store):
    from tests.unit.commands.test_revacuate import dead_h1

    bmc = migfixtures.FakeBmc()
    migfixtures.power.register(migfixtures.BMC_MGT, bmc.factory)
    try:
        dead_h1(xlfleet, run, bmc)  # g1, g2 were on h1, g3 was off; h1 is down, BMC: off
        xlfleet.guest("g1", "h2", 2048, node=False)  # restarted there before xcatd died
        interrupted(store, "g1", "h1", "h2", application="revacuate -f")
        interrupted(store, "g2", "h1", "h3", journal.PLANNED, application="revacuate -f")
        r = run("revacuate", "--resume")
    finally:
        migfixtures.power._FACTORIES.pop(migfixtures.BMC_MGT, None)
    assert r.rc == 0, r.err
    assert "g1: found on h2 after an interrupted migration; vm.host was h1" in r.out
    assert ("g2: not running anywhere after an interrupted restart from h1 (off); left to "
            "revacuate -f") in r.out
    assert "Plan for h1 (down): 1 guest to restart elsewhere, 1 placed, 0 staying down" in r.out
    started = [argv for argv in xlfleet.commands() if argv[:2] == ["xl", "create"]]
    assert [argv for argv in started if "g1" in " ".join(argv)] == []
    assert len([argv for argv in started if "g2" in " ".join(argv)]) == 1
    assert vm_host(run, "g1") == xlfleet.where("g1") == "h2"
    assert vm_host(run, "g2") == xlfleet.where("g2") not in (None, "h1")
    assert journal_rows(store) == {}


def test_a_command_that_fails_mid_way_leaves_its_rows_interrupted_at_once(
        xlfleet, run, store, monkeypatch):
    from xcatpy.virt import migration

    xlfleet.guest("g1", "h1", 1024)

    def broken(*args, **kwargs):
        raise RuntimeError("bug while recording")

    monkeypatch.setattr(migration, "record_outcome", broken)
    with pytest.raises(RuntimeError):
        run("revacuate", "h1")
    store.rollback()
    [entry] = journal.entries(store)  # interrupted at once, though this process lives on
    assert (entry.guest, entry.state, entry.owner) == ("g1", journal.MOVING, None)
    assert xlfleet.where("g1") == "h2" and vm_host(run, "g1") == "h1"
    monkeypatch.undo()
    r = run("revacuate", "--resume")
    assert "g1: found on h2 after an interrupted migration; vm.host was h1" in r.out
    assert vm_host(run, "g1") == "h2" and journal_rows(store) == {}
