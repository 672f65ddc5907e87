"""Secrets never reach a log: not xcatd's log, not the eventlog or auditlog tables.

The secrets xcatd handles: passwd table passwords (root's install password, the IPMI
default, the DNS TSIG key), BMC passwords (ipmi.password, chdef's bmcpassword), and the
crypted root password inside answer files. They arrive on command lines (tabch, nodech,
chdef), on stdin (mkdef -z), in shipped files (tabrestore), leave in answers to authorised
clients (tabdump passwd, as xCAT shows it to root), travel to BMCs (rpower), and to
installing nodes (answer files). After each, neither the daemon's log (its stderr, as run
by tests/integration/xcatd.py) nor an eventlog/auditlog row may hold the secret.

Every secret is a unique random string, so finding it anywhere is proof of a leak.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import sqlite3
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.integration.clitools import command_path
from tests.security.harness import TALLY, local, start_daemon, via
from tests.sim.bmcsim import BmcFleet, BmcSpec

IMAGE = "rhels8-x86_64-install-compute"
CATEGORY = "secrets: kept out of the daemon log and the event tables"


def secret(label: str) -> str:
    return f"{label}-{secrets.token_hex(8)}"


@pytest.fixture(scope="module")
def xcat(tmp_path_factory):
    base = tmp_path_factory.mktemp("secrets")
    state = base / "state"
    bmc_password = secret("BmcPw")
    fleet = BmcFleet([BmcSpec(power="on", password=bmc_password)])
    (endpoint,) = fleet.start()
    daemon = start_daemon(state)
    try:
        for rel in ("rhels8/x86_64/images/pxeboot/vmlinuz",
                    "rhels8/x86_64/images/pxeboot/initrd.img"):
            path = state / "install" / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"x")
        local(state, "mkdef", "-t", "osimage", "-o", IMAGE, "osvers=rhels8", "osarch=x86_64",
              "profile=compute", "provmethod=install", "imagetype=linux", "osname=Linux")
        local(state, "nodeadd", "n1", "groups=compute,all", "nodehm.mgt=ipmi",
              f"ipmi.bmc={endpoint.address}:{endpoint.port}", "hosts.ip=127.0.0.1",
              "mac.mac=52:54:00:00:01:01")
        local(state, "nodeadd", "n2", "groups=compute,all", "nodehm.mgt=ipmi",
              f"ipmi.bmc={endpoint.address}:{endpoint.port}", "hosts.ip=127.0.0.2")
        local(state, "tabch", "key=ipmitimeout", "site.value=0.5")
        local(state, "tabch", "key=ipmiretries", "site.value=2")
        yield daemon, base, bmc_password
    finally:
        daemon.stop()
        fleet.stop()


def logged(daemon) -> str:
    return daemon.log.read_text(errors="replace")


def event_rows(state: Path) -> str:
    conn = sqlite3.connect(f"file:{state / 'xcatdb.sqlite'}?mode=ro", uri=True)
    try:
        tables = {t for (t,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert "eventlog" in tables
        # xcatpy keeps no auditlog table (xCAT's per-command audit); read it if it ever comes.
        rows = [repr(r) for table in ("eventlog", "auditlog") if table in tables
                for r in conn.execute(f"SELECT * FROM [{table}]")]
    finally:
        conn.close()
    return "\n".join(rows)


def assert_not_leaked(daemon, *values: str) -> None:
    log, events = logged(daemon), event_rows(daemon.state)
    for value in values:
        kept = value not in log and value not in events
        TALLY.record(CATEGORY, kept)
        assert value not in log, f"{value} is in the daemon log"
        assert value not in events, f"{value} is in the eventlog/auditlog"


def test_passwd_password_set_with_tabch(xcat):
    daemon, _, _ = xcat
    value = secret("RootPw")
    r = via(daemon, "tabch", "key=system,username=root", f"passwd.password={value}")
    assert r.rc == 0, r.err
    assert_not_leaked(daemon, value)


def test_ipmi_password_set_with_nodech(xcat):
    daemon, _, _ = xcat
    value = secret("NodechPw")
    r = via(daemon, "nodech", "n2", "ipmi.username=USERID", f"ipmi.password={value}")
    assert r.rc == 0, r.err
    assert_not_leaked(daemon, value)


def test_bmcpassword_set_with_chdef(xcat):
    daemon, _, _ = xcat
    value = secret("ChdefPw")
    r = via(daemon, "chdef", "-t", "node", "-o", "n2", f"bmcpassword={value}")
    assert r.rc == 0, r.err
    assert_not_leaked(daemon, value)


def test_password_in_a_denied_request(xcat, tmp_path):
    """Even a request the policy refuses has its arguments logged."""
    daemon, _, _ = xcat
    from xcatpy.pki.ca import issue_client

    creds = issue_client(daemon.state, "intruder", out_dir=tmp_path / "intruder").directory
    value = secret("GuessedPw")
    r = via(daemon, "tabch", "key=system,username=root", f"passwd.password={value}",
            creds=creds)
    assert r.rc == 1 and "Permission denied" in r.err
    assert_not_leaked(daemon, value)


def test_passwords_from_a_stanza_on_stdin(xcat):
    daemon, _, _ = xcat
    value = secret("StanzaPw")
    stanza = (f"n3:\n    objtype=node\n    groups=all\n    mgt=ipmi\n"
              f"    bmcpassword={value}\n")
    r = via(daemon, "mkdef", "-z", stdin=stanza)
    assert r.rc == 0, (r.out, r.err)
    assert local(daemon.state, "nodels", "n3", "ipmi.password").out.strip() == f"n3: {value}"
    assert_not_leaked(daemon, value)


def test_passwords_from_a_restored_table_file(xcat, tmp_path):
    daemon, _, _ = xcat
    root, ipmi = secret("RestoredRootPw"), secret("RestoredIpmiPw")
    work = tmp_path / "work"
    work.mkdir()
    (work / "passwd.csv").write_text(
        "#key,username,password,cryptmethod,authdomain,comments,disable\n"
        f'"system","root","{root}",,,,\n"ipmi","USERID","{ipmi}",,,,\n')
    r = via(daemon, "tabrestore", "passwd.csv", cwd=work)
    assert r.rc == 0, r.err
    dumped = via(daemon, "tabdump", "passwd")   # xCAT shows the passwd table to root
    assert dumped.rc == 0 and root in dumped.out and ipmi in dumped.out
    shown = via(daemon, "tabdump", "-f", "out.csv", "passwd", cwd=work)
    assert shown.rc == 0 and root in (work / "out.csv").read_text()
    assert_not_leaked(daemon, root, ipmi)


def test_bmc_passwords_used_by_rpower(xcat):
    daemon, _, bmc_password = xcat
    local(daemon.state, "nodech", "n1", "ipmi.username=USERID",
          f"ipmi.password={bmc_password}")
    wrong = secret("WrongBmcPw")
    local(daemon.state, "nodech", "n2", "ipmi.username=USERID", f"ipmi.password={wrong}")
    r = via(daemon, "rpower", "n1,n2", "stat")
    assert r.out == "n1: on\n", (r.out, r.err)
    assert r.err.startswith("n2: Error: BMC ") and "rejected the credentials" in r.err, r.err
    # The refusal names the user, never the password, to the client either.
    assert wrong not in r.err and bmc_password not in r.out + r.err
    assert_not_leaked(daemon, bmc_password, wrong)


def test_answer_files_with_the_root_password(xcat):
    daemon, _, _ = xcat
    value = secret("InstallRootPw")
    local(daemon.state, "tabch", "key=system,username=root", f"passwd.password={value}")
    local(daemon.state, "nodeset", "n1,n2", f"osimage={IMAGE}")
    port = daemon.ports["http_port"]

    def fetch(node, source):
        p = subprocess.run(["curl", "-s", "--interface", source, "-w", "\n%{http_code}",
                            f"http://127.0.0.1:{port}/install/autoinst/{node}"],
                           capture_output=True, text=True, timeout=60)
        body, _, code = p.stdout.rpartition("\n")
        return code, body

    code, body = fetch("n1", "127.0.0.1")
    assert code == "200", body
    hashed = re.search(r"rootpw --iscrypted (\S+)", body).group(1)
    assert value not in body
    code, body = fetch("n2", "127.0.0.1")   # refused: logged as refused, nothing more
    assert code == "403"
    assert "answer file for n2 refused to 127.0.0.1" in logged(daemon)
    assert_not_leaked(daemon, value, hashed)


def test_event_tables_hold_no_secret_at_all(xcat):
    """Whatever ran above, the eventlog and auditlog hold none of the passwd or ipmi
    table's values (read straight from the database)."""
    daemon, _, _ = xcat
    conn = sqlite3.connect(f"file:{daemon.state / 'xcatdb.sqlite'}?mode=ro", uri=True)
    try:
        values = [v for (v,) in conn.execute(
            "SELECT password FROM passwd UNION SELECT password FROM ipmi") if v]
    finally:
        conn.close()
    assert values
    events = event_rows(daemon.state)
    for value in values:
        TALLY.record(CATEGORY, value not in events)
        assert value not in events


# -- at rest ----------------------------------------------------------------------------------


def _as_nobody(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                           *argv], capture_output=True, timeout=60)


@pytest.mark.may_skip
@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"),
                    reason="needs root and setpriv to act as another local user")
def test_another_local_user_cannot_read_the_passwords():
    base = Path(tempfile.mkdtemp(prefix="xcatpy-sec-", dir="/tmp"))
    try:
        base.chmod(0o755)   # like /var/lib: anyone may traverse it
        state = base / "state"
        value = secret("AtRestPw")
        env = {k: v for k, v in os.environ.items() if k not in ("XCATPY_STATE", "XCATBYPASS")}
        old = os.umask(0o022)
        try:
            subprocess.run([*command_path("xcatd"), "--init"], check=True,
                           capture_output=True, env={**env, "XCATPY_STATE": str(state)})
            local(state, "tabch", "key=system,username=root", f"passwd.password={value}")
        finally:
            os.umask(old)
        readable = []
        for path in sorted(state.rglob("*")):
            if path.is_file():
                p = _as_nobody("cat", str(path))
                if p.returncode == 0 and value.encode() in p.stdout:
                    readable.append(path.name)
        key = _as_nobody("cat", str(state / "pki" / "ca" / "ca-key.pem"))
        assert key.returncode != 0   # the careful part: private keys are root's alone
        TALLY.record("secrets: unreadable by other local users", readable == [])
        assert readable == [], f"nobody read the password from {readable}"
    finally:
        shutil.rmtree(base)
