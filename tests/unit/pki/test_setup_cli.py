"""The xcatpy-setup command (xcatpy.pki.setup_cli), run in-process."""

import json
from pathlib import Path

import pytest

from xcatpy.pki.ca import init_pki
from xcatpy.pki.paths import PkiPaths
from xcatpy.pki.revocation import load_crl
from xcatpy.pki.setup_cli import main


def setup(capsys, *args: str) -> tuple[int, str, str]:
    rc = main(list(args))
    out, err = capsys.readouterr()
    return rc, out, err


def test_init_then_reinit(state_dir: Path, home: Path, capsys):
    rc, out, err = setup(capsys, "--state-dir", str(state_dir), "init", "--server-name",
                         "mn1", "--server-name", "10.1.0.1")
    assert (rc, err) == (0, "")
    assert "CA created" in out
    assert PkiPaths(state_dir).root_creds.complete()
    assert not (home / ".xcatpy").exists()  # a private instance leaves ~ alone
    rc, out, _ = setup(capsys, "init", "--state-dir", str(state_dir))
    assert rc == 0 and "CA kept" in out


def test_init_force_says_replaced(state_dir: Path, home: Path, capsys):
    setup(capsys, "--state-dir", str(state_dir), "init")
    rc, out, _ = setup(capsys, "--state-dir", str(state_dir), "init", "--force")
    assert rc == 0 and "CA replaced" in out and "no longer work" in out


def test_state_dir_from_environment(state_dir: Path, home: Path, capsys, monkeypatch):
    monkeypatch.setenv("XCATPY_STATE", str(state_dir))
    assert setup(capsys, "init")[0] == 0
    assert PkiPaths(state_dir).ca_cert.is_file()


def test_init_home_installs_root_credentials(state_dir: Path, home: Path, capsys):
    rc, out, _ = setup(capsys, "--state-dir", str(state_dir), "init", "--home")
    assert rc == 0 and f"installed in {home / '.xcatpy'}" in out
    assert (home / ".xcatpy" / "ca.pem").read_bytes() == \
        PkiPaths(state_dir).ca_cert.read_bytes()


def test_init_home_keeps_another_cas_credentials(state_dir: Path, home: Path, tmp_path,
                                                 capsys):
    setup(capsys, "--state-dir", str(tmp_path / "elsewhere"), "init", "--home")
    theirs = (home / ".xcatpy" / "client-key.pem").read_bytes()
    rc, _, err = setup(capsys, "--state-dir", str(state_dir), "init", "--home")
    assert rc == 0 and err.startswith("Warning:") and "another CA" in err
    assert (home / ".xcatpy" / "client-key.pem").read_bytes() == theirs


def test_issue_revoke_show(state_dir: Path, home: Path, tmp_path: Path, capsys):
    init_pki(state_dir)
    rc, out, _ = setup(capsys, "--state-dir", str(state_dir), "issue", "alice", "--days", "30")
    assert rc == 0 and out.startswith("Issued alice's certificate 0x")
    rc, out, _ = setup(capsys, "--state-dir", str(state_dir), "issue", "bob", "--out",
                       str(tmp_path / "bob"))
    assert rc == 0 and (tmp_path / "bob" / "client-key.pem").is_file()
    rc, out, _ = setup(capsys, "--state-dir", str(state_dir), "revoke", "alice")
    assert rc == 0 and "CN=alice" in out
    assert len(load_crl(state_dir)) == 1
    rc, out, _ = setup(capsys, "--state-dir", str(state_dir), "show")
    assert rc == 0
    assert "SHA256 " in out and "expires" in out and "CRL:" in out and "(1 revoked)" in out
    rc, out, _ = setup(capsys, "--state-dir", str(state_dir), "show", "--json")
    data = json.loads(out)
    assert [c["label"] for c in data["certificates"]] == ["CA", "server", "root client"]
    assert {r["cn"]: bool(r["revoked"]) for r in data["issued"] if r["kind"] == "client"} == \
        {"root": False, "alice": True, "bob": False}


@pytest.mark.parametrize("args,message", [
    (["issue", "bad name"], "Error: invalid user name 'bad name'"),
    (["issue", "alice"], "Error: no PKI in"),
    (["revoke", "alice"], "Error: no PKI in"),
    (["show"], "Error: no CA in"),
    (["bogus"], "Error: argument COMMAND: invalid choice"),
    ([], "Error: the following arguments are required"),
    (["issue", "alice", "--days", "x"], "Error: argument --days: invalid int value"),
])
def test_errors_are_one_line(state_dir: Path, home: Path, capsys, args, message):
    rc, out, err = setup(capsys, "--state-dir", str(state_dir), *args)
    assert rc == 1
    assert err.startswith(message) and err.count("\n") == 1, err


def test_help_exits_zero(capsys):
    rc, out, _ = setup(capsys, "--help")
    assert rc == 0 and "init" in out and "revoke" in out
