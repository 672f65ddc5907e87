"""kill -9 of xcatd while revacuate has a live migration in flight, then resuming it.

Real xcatd, real revacuate CLI over mTLS, simulated Xen hosts behind real OpenSSH
(tests/integration/simhv.py). h1's migrations take a few seconds (hvstate's migrate_seconds
fault) and, like a real toolstack's, complete even though the daemon that asked for them
is gone: the guests in flight land on their destinations while vm.host still says h1. The
test kills the daemon by its PID as soon as the simulator shows a migration in flight, then
checks every side: the migration journal kept the moves, the restarted daemon logs and
records the interruption, `revacuate --status` and `lsvm` show it, `revacuate` (or
`--resume`) records where each guest landed and empties the host, and at the end every
guest's vm.host is where the simulator runs it, each guest running exactly once.
"""

import re
import time
from collections import Counter

import pytest

from tests.faults import killlab
from tests.integration.simhv import HypervisorLab
from tests.integration.xcatd import Xcatd
from tests.sim import hvstate

GUESTS = ("xen1", "xen2", "xen3", "xen4")
MIGRATE_SECONDS = 3


@pytest.fixture
def lab(tmp_path):
    lab = HypervisorLab(tmp_path, {
        "h1": {"memory_mb": 8192, "faults": {"migrate_seconds": MIGRATE_SECONDS}},
        "h2": {"memory_mb": 8192}, "h3": {"memory_mb": 8192}}, shared=["/shared"]).start()
    try:
        for i, name in enumerate(GUESTS, start=1):
            lab.add_guest(name, "h1", 1024, ip=f"10.10.10.{20 + i}")
        lab.ok("rpower", ",".join(GUESTS), "on")
        assert lab.running_on("h1") == set(GUESTS)
        yield lab
    finally:
        lab.stop()


def in_flight(lab) -> list[str]:
    return sorted(n for n, g in lab.sim_state()["guests"].items() if g.get("migrating_to"))


def kill_mid_migration(lab) -> set[str]:
    """Starts `revacuate h1`, kills xcatd once a migration is in flight, lets the simulated
    migrations finish, and returns the guests that landed elsewhere unrecorded."""
    proc = killlab.start_cli(lab.state, "revacuate", "h1")
    try:
        killlab.wait_until(lambda: in_flight(lab) or proc.poll() is not None, 60,
                           "a migration to start")
        assert proc.poll() is None, killlab.finish(proc)
        # Output is batched for at most 50 ms: give the "migrating" line time to reach the
        # CLI (a migration takes MIGRATE_SECONDS), then kill.
        time.sleep(0.3)
        killlab.kill9(lab.xcatd)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    rc, out, err = killlab.finish(proc)
    killlab.assert_cli_saw_the_daemon_die(rc, err)
    # The admin saw the plan and the migration under way before the daemon died.
    assert "Plan for h1: 4 running guests" in out, out
    assert re.search(r"^xen\d: migrating from h1 to h\d \(1 of 4\)$", out, re.M), out
    # The hypervisors finish what they were asked to do; the daemon is not there to see it.
    # (A migration whose command was still on its way to h1 may start a moment later.)
    time.sleep(1)
    killlab.wait_until(lambda: not in_flight(lab), MIGRATE_SECONDS * 10,
                       "the migrations in flight to finish", interval=0.1)
    with hvstate.locked(lab.sim) as state:
        state["hosts"]["h1"]["faults"] = {}
    landed = {n for n, g in lab.sim_state()["guests"].items() if g["host"] != "h1"}
    assert landed, "no migration was in flight at the kill"
    db = killlab.Database(lab.state)
    assert db.integrity() == ["ok"]
    journalled = dict(db.rows("SELECT node, state FROM migrationjournal"))
    # Every planned move is there, the ones started as moving (a move whose command the
    # kill cut off before it reached h1 is moving too, and still on h1); vm.host lags.
    assert set(journalled) == set(GUESTS), journalled
    assert landed <= {n for n, s in journalled.items() if s == "moving"}, journalled
    assert dict(db.rows("SELECT node, host FROM vm WHERE node LIKE 'xen%'")) == {
        n: "h1" for n in GUESTS}
    return landed


def restart(lab) -> None:
    lab.xcatd = Xcatd(lab.state).start()


def assert_every_guest_recorded_where_it_runs(lab) -> None:
    state = lab.sim_state()
    running = Counter(n for n, g in state["guests"].items() if g["state"] == hvstate.RUNNING)
    assert running == Counter(GUESTS)  # each guest runs, once
    assert lab.running_on("h1") == set()
    assert lab.vm_hosts(GUESTS) == {n: state["guests"][n]["host"] for n in GUESTS}
    assert killlab.Database(lab.state).count("migrationjournal") == 0
    assert lab.ok("revacuate", "--status").out == (
        "No evacuation or migration is interrupted or running\n")


def test_kill_9_mid_evacuation_is_reported_and_revacuate_resumes_it(lab):
    landed = kill_mid_migration(lab)
    restart(lab)

    log = lab.xcatd.log.read_text()
    assert "h1: Warning: interrupted revacuate ('revacuate h1' by " in log, log
    [event] = [e for e in lab.events() if e["eventtype"] == "interrupted"]
    assert (event["node"], event["application"], event["severity"]) == (
        "h1", "revacuate", "critical")
    assert event["message"].endswith("run 'revacuate h1' or 'revacuate --resume'")
    status = lab.ok("revacuate", "--status").out.splitlines()
    assert status[0].startswith("h1: Warning: interrupted revacuate")
    for name in landed:
        assert any(line.startswith(f"{name}: Warning: was migrating from h1 to ")
                   for line in status), status
    shown = lab.run("lsvm", "h1")
    assert shown.rc == 0 and shown.err.splitlines()[0] == status[0]

    r = lab.run("revacuate", "h1")
    assert r.rc == 0, (r.out, r.err)
    for name in landed:
        host = lab.sim_guest(name)["host"]
        assert f"{name}: found on {host} after an interrupted migration; vm.host was h1" \
            in r.out.splitlines(), r.out
    left = len(GUESTS) - len(landed)
    assert f"h1: {left} guest{'' if left == 1 else 's'} moved, 0 stayed" in r.out
    assert_every_guest_recorded_where_it_runs(lab)
    fixes = [e for e in lab.events() if e["eventtype"] == "reconcile"
             and e["severity"] == "warning"]
    assert sorted(e["node"] for e in fixes) == sorted(landed)


def test_resume_without_a_noderange_and_a_guest_lost_in_flight_is_critical(lab):
    landed = kill_mid_migration(lab)
    lost = sorted(landed)[0]
    with hvstate.locked(lab.sim) as state:  # it crashed on arrival: runs nowhere now
        state["guests"][lost]["state"] = hvstate.SHUTOFF
    restart(lab)

    r = lab.run("revacuate", "--resume")
    assert r.rc == 1, (r.out, r.err)
    dest = lab.sim_guest(lost)["host"]
    assert (f"{lost}: Error: running on no host after an interrupted migration from h1 to "
            f"{dest}") in r.err, r.err
    [event] = [e for e in lab.events() if e["eventtype"] == "reconcile" and e["node"] == lost]
    assert event["severity"] == "critical"
    assert lab.vm_host(lost) == "h1"  # not silently moved, nor forgotten
    others = [n for n in GUESTS if n != lost]
    state = lab.sim_state()
    assert lab.running_on("h1") == set()
    assert lab.vm_hosts(others) == {n: state["guests"][n]["host"] for n in others}
    assert all(state["guests"][n]["state"] == hvstate.RUNNING for n in others)
    assert killlab.Database(lab.state).count("migrationjournal") == 0

    # The admin starts it again where it is defined; the tables then agree everywhere.
    assert lab.ok("revacuate", "--reconcile", "h1,h2,h3")
    lab.ok("nodech", lost, f"vm.host={dest}")
    lab.ok("rpower", lost, "on")
    assert_every_guest_recorded_where_it_runs(lab)
