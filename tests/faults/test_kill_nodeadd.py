"""kill -9 of xcatd while `nodeadd` writes 10,000 nodes: the database is all or nothing.

Real xcatd, real nodeadd CLI over mTLS. Each round starts the daemon on the same state
directory, starts nodeadd, waits until the daemon holds SQLite's write lock (the command's
transaction has begun; see killlab), waits an offset more and sends SIGKILL to the daemon's
PID. Then, reading the database directly as another process: integrity_check is ok, and
every node-keyed table holds either all 10,000 new nodes or none of them, beside the 50
that were there before. The CLI said what happened and exited non-zero; after a restart the
same nodeadd works.
"""

import os
import subprocess

from tests.faults import killlab
from tests.integration.clitools import cli, command_path
from tests.integration.xcatd import Xcatd
from xcatpy.db.schema import TABLES

OLD = 50
NEW = 10_000
NEW_RANGE = f"new[00001-{NEW}]"
NODEADD = ("nodeadd", NEW_RANGE, "groups=compute,all", "nodehm.mgt=ipmi",
           "nodetype.os=rhels8", "noderes.netboot=xnba", "hosts.ip=|\\D+(\\d+)|10.9.(($1-1)/250)."
           "(($1-1)%250+1)|")
# Seconds after the daemon took the write lock: the command is then somewhere between
# expanding the noderange and its commit (about 0.2 s here), or, late, past the commit.
OFFSETS = (0.0, 0.02, 0.06, 0.12, 0.25)
WRITTEN = ("nodelist", "nodehm", "nodetype", "noderes", "hosts")


def new_rows(db: killlab.Database) -> dict[str, int]:
    """How many of the new nodes each node-keyed table holds."""
    return {t.name: db.count(t.name, "node LIKE 'new%'") for t in TABLES.values()
            if t.node_keyed}


def test_kill_9_during_a_10000_node_nodeadd_leaves_all_or_nothing(tmp_path):
    state = tmp_path / "state"
    subprocess.run([*command_path("xcatd"), "--init"], check=True, capture_output=True,
                   env=dict(os.environ, XCATPY_STATE=str(state)))
    r = cli("nodeadd", f"old[01-{OLD}]", "groups=old,all", "nodehm.mgt=ipmi", state=state)
    assert r.rc == 0, r.err
    db = killlab.Database(state)
    outcomes = []
    for offset in OFFSETS:
        daemon = Xcatd(state).start()
        try:
            rc, _out, err = killlab.kill_during_write(daemon, state, NODEADD, offset)
        finally:
            daemon.stop()

        assert db.integrity() == ["ok"]
        counts = new_rows(db)
        landed = counts["nodelist"]
        assert landed in (0, NEW), (offset, counts)
        assert {counts[t] for t in WRITTEN} == {landed}, (offset, counts)
        assert set(counts.values()) <= {0, landed}, (offset, counts)
        assert db.count("nodelist", "node LIKE 'old%'") == OLD
        if rc == 0:
            assert landed == NEW  # the command finished before the kill
        else:
            killlab.assert_cli_saw_the_daemon_die(rc, err)
        outcomes.append(landed)
        if landed:
            r = cli("noderm", NEW_RANGE, state=state)
            assert r.rc == 0, r.err
            assert new_rows(db)["nodelist"] == 0
    print("landed per offset:", dict(zip(OFFSETS, outcomes, strict=True)))
    # At least one kill landed inside the transaction, and nothing of it remained.
    assert 0 in outcomes, outcomes

    daemon = Xcatd(state).start()
    try:
        r = cli(*NODEADD, state=state, bypass=False)
        assert (r.rc, r.err) == (0, "")
        assert db.integrity() == ["ok"]
        assert set(new_rows(db)[t] for t in WRITTEN) == {NEW}
        listed = cli("nodels", "compute", state=state, bypass=False)
        assert listed.rc == 0 and len(listed.out.split()) == NEW
        assert cli("nodels", "new00251", "hosts.ip", state=state,
                   bypass=False).out == "new00251: 10.9.1.1\n"
    finally:
        daemon.stop()
