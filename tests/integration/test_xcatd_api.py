"""A real xcatd on an ephemeral loopback port, driven by the real CLI over mutual TLS."""

import http.client
import os
import shutil
import signal
import sqlite3
import ssl
import subprocess
import threading
import time

import pytest

from tests.integration.clitools import cli, command_path
from tests.integration.xcatd import Xcatd
from xcatpy.pki.ca import issue_client
from xcatpy.pki.paths import PkiPaths
from xcatpy.pki.testing import issue_expired_client, issue_from_other_ca
from xcatpy.server.protocol import API_PATH, CommandRequest


@pytest.fixture
def daemon(tmp_path):
    d = Xcatd(tmp_path / "state")
    subprocess.run([*command_path("xcatd"), "--init"], check=True, capture_output=True,
                   env=dict(os.environ, XCATPY_STATE=str(d.state)))
    d.start()
    yield d
    d.stop()


def via(daemon, *args, creds=None, **kw):
    """A command through xcatd, as a user whose credentials are in `creds` (a directory)."""
    env = {"HOME": str(daemon.state.parent)}
    if creds is not None:
        env["XCATPY_CREDS"] = str(creds)
    return cli(args[0], *args[1:], state=daemon.state, bypass=False, extra_env=env, **kw)


def local(daemon, *args):
    return cli(args[0], *args[1:], state=daemon.state, bypass=True)


SCRIPT = [
    ("nodeadd", "node[01-20]", "groups=compute,all", "nodehm.mgt=ipmi"),
    ("nodeadd", "xen1", "groups=vms,all", "vm.host=node01", "vm.storage=/vms/vm_disk",
     "nodehm.mgt=xen", "nodehm.power=xen"),
    ("nodech", "node[01-05]", "groups,=rack1", "nodetype.os=rhels9"),
    ("nodels",),
    ("nodels", "rack1", "groups"),
    ("nodels", "all", "nodehm.mgt", "nodetype.os", "-b"),
    ("nodels", "all", "nodehm.mgt==xen"),
    ("nodels", "ghost,node01"),
    ("nodech", "node01", "nodehm.bogus=1"),
    ("tabdump", "nodehm"),
    ("tabdump", "-w", "mgt==xen", "nodehm"),
    ("noderm", "node20"),
    ("nodels", "compute"),
    ("nodeadd", "-h"),
]


def test_cli_through_daemon_matches_bypass(daemon, tmp_path):
    twin = tmp_path / "twin"
    for args in SCRIPT:
        remote = via(daemon, *args)
        bypass = cli(args[0], *args[1:], state=twin)
        assert (remote.rc, remote.out, remote.err) == (bypass.rc, bypass.out, bypass.err), args


def test_files_travel_between_client_and_daemon(daemon, tmp_path):
    via(daemon, "nodeadd", "n[1-3]", "groups=all", "nodehm.mgt=ipmi")
    work = tmp_path / "work"
    work.mkdir()
    assert via(daemon, "tabdump", "-f", "nodehm.csv", "nodehm", cwd=work).rc == 0
    dumped = (work / "nodehm.csv").read_text()
    assert dumped.startswith("#node,") and dumped.count('"ipmi"') == 3
    (work / "nodehm.csv").write_text(dumped.replace('"ipmi"', '"kvm"'))
    assert via(daemon, "tabrestore", "nodehm.csv", cwd=work).rc == 0
    assert via(daemon, "nodels", "n1", "nodehm.mgt").out == "n1: kvm\n"
    (work / "nodes.txt").write_text("n1\n# a comment\nn3\n")
    assert via(daemon, "nodels", "^nodes.txt", cwd=work).out == "n1\nn3\n"


def _raw_request(port: int, context: ssl.SSLContext) -> str:
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=10)
    try:
        conn.request("POST", API_PATH.decode(),
                     CommandRequest("nodeadd", ["evil1", "groups=all"]).encode())
        return conn.getresponse().read().decode()
    finally:
        conn.close()


def test_no_client_certificate_is_refused(daemon):
    ctx = ssl.create_default_context(cafile=str(PkiPaths(daemon.state).ca_cert))
    with pytest.raises((ssl.SSLError, ConnectionResetError, BrokenPipeError,
                        http.client.RemoteDisconnected)):
        _raw_request(daemon.port, ctx)
    assert local(daemon, "nodels").out == ""


def _creds_with_our_ca(daemon, creds_dir):
    shutil.copy(PkiPaths(daemon.state).ca_cert, creds_dir / "ca.pem")
    return creds_dir


def test_certificate_from_another_ca_is_refused(daemon, tmp_path):
    creds = issue_from_other_ca(tmp_path / "other")
    _creds_with_our_ca(daemon, creds.directory)
    r = via(daemon, "nodeadd", "evil1", "groups=all", creds=creds.directory)
    assert r.rc == 1 and r.err.startswith("Error: ") and "TLS" in r.err
    assert r.err.count("\n") == 1
    assert local(daemon, "nodels").out == ""


def test_expired_certificate_is_refused(daemon, tmp_path):
    creds = issue_expired_client(daemon.state, tmp_path / "expired")
    r = via(daemon, "nodeadd", "evil1", "groups=all", creds=creds.directory)
    assert r.rc == 1 and "TLS" in r.err and "expired" in r.err.lower()
    assert local(daemon, "nodels").out == ""


def test_revoked_certificate_is_refused_without_restart(daemon, tmp_path):
    creds = issue_client(daemon.state, "carol", out_dir=tmp_path / "carol")
    local(daemon, "tabch", "priority=6", "policy.name=carol", "policy.rule=allow")
    assert via(daemon, "nodels", creds=creds.directory).rc == 0
    subprocess.run([*command_path("xcatpy-setup"), "--state-dir", str(daemon.state),
                    "revoke", "carol"], check=True, capture_output=True)
    r = via(daemon, "nodeadd", "evil1", "groups=all", creds=creds.directory)
    assert r.rc == 1 and "revoked" in r.err
    assert local(daemon, "nodels").out == ""


def test_policy_denies_an_unlisted_user(daemon, tmp_path):
    creds = issue_client(daemon.state, "alice", out_dir=tmp_path / "alice")
    r = via(daemon, "nodeadd", "evil1", "groups=all", creds=creds.directory)
    assert r.rc == 1
    assert r.err == "Error: Permission denied for request: no policy rule allows alice " \
                    "to run nodeadd\n"
    assert local(daemon, "nodels").out == ""


def test_policy_rule_limited_to_a_command_and_noderange(daemon, tmp_path):
    local(daemon, "nodeadd", "r1n[1-3]", "groups=rack1,all")
    local(daemon, "nodeadd", "r2n[1-3]", "groups=rack2,all")
    local(daemon, "tabch", "priority=5", "policy.name=bob", "policy.commands=nodels",
          "policy.noderange=rack1", "policy.rule=allow")
    local(daemon, "tabch", "priority=5.5", "policy.name=bob", "policy.rule=deny")
    creds = issue_client(daemon.state, "bob", out_dir=tmp_path / "bob")
    assert via(daemon, "nodels", "rack1", creds=creds.directory).out == "r1n1\nr1n2\nr1n3\n"
    r = via(daemon, "nodels", "r2n1", creds=creds.directory)
    assert r.rc == 1 and "policy 5.5 denies bob" in r.err
    r = via(daemon, "nodech", "r1n1", "nodehm.mgt=ipmi", creds=creds.directory)
    assert r.rc == 1 and "Permission denied" in r.err
    assert local(daemon, "nodels", "r1n1", "nodehm.mgt").out == "r1n1: \n"


def test_fifty_concurrent_appends_lose_nothing(daemon):
    via(daemon, "nodeadd", "target", "groups=all")
    results = [None] * 50

    def append(i):
        results[i] = via(daemon, "nodech", "target", f"groups,=g{i:02d}")

    threads = [threading.Thread(target=append, args=(i,)) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r.rc == 0 for r in results), [r.err for r in results if r.rc]
    groups = via(daemon, "nodels", "target", "groups").out.strip().split(": ", 1)[1]
    assert sorted(groups.split(",")) == sorted(["all"] + [f"g{i:02d}" for i in range(50)])


def _node_count(state) -> int:
    conn = sqlite3.connect(state / "xcatdb.sqlite")
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return conn.execute("SELECT count(*) FROM nodelist").fetchone()[0]
    finally:
        conn.close()


def test_sigterm_mid_request_leaves_the_database_consistent(daemon):
    env = dict(os.environ, XCATPY_STATE=str(daemon.state), HOME=str(daemon.state.parent))
    env.pop("XCATBYPASS", None)
    client = subprocess.Popen([*command_path("nodeadd"), "big[00001-30000]", "groups=all",
                               "nodehm.mgt=ipmi", "nodetype.os=rhels9"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(0.5)
    assert daemon.stop(signal.SIGTERM) == 0
    client.wait(30)
    assert _node_count(daemon.state) in (0, 30000)
    assert not (daemon.state / "run" / "xcatd.pid").exists()


def test_client_interrupt_rolls_back_and_daemon_keeps_serving(daemon):
    env = dict(os.environ, XCATPY_STATE=str(daemon.state), HOME=str(daemon.state.parent))
    env.pop("XCATBYPASS", None)
    client = subprocess.Popen([*command_path("nodeadd"), "big[00001-30000]", "groups=all"],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(0.4)
    client.send_signal(signal.SIGINT)
    client.wait(30)
    assert _node_count(daemon.state) in (0, 30000)
    assert via(daemon, "nodeadd", "after", "groups=all").rc == 0
    assert "after" in via(daemon, "nodels", "after").out
