"""Where a CLI finds its client credentials (xcatpy.pki.paths)."""

import subprocess
import sys
from pathlib import Path

import pytest

from xcatpy.errors import XcatError
from xcatpy.pki import paths as pathsmod
from xcatpy.pki.ca import init_pki, install_client_creds, issue_client
from xcatpy.pki.paths import CREDS_ENV, ClientCreds, PkiPaths, client_credentials


@pytest.fixture
def home(home: Path, monkeypatch) -> Path:
    monkeypatch.setattr(pathsmod, "current_user", lambda: "alice")
    return home


def test_paths_module_does_not_import_cryptography():
    code = ("import sys, xcatpy.pki.paths; "
            "sys.exit(any(m.startswith('cryptography') for m in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_env_dir_comes_first(pki: PkiPaths, home: Path, tmp_path: Path, monkeypatch):
    install_client_creds(pki.root_creds, home / ".xcatpy")
    chosen = issue_client(pki.state_dir, "bob", out_dir=tmp_path / "bob")
    monkeypatch.setenv(CREDS_ENV, str(chosen.directory))
    assert client_credentials(pki.state_dir) == chosen


def test_incomplete_env_dir_is_an_error(pki: PkiPaths, home: Path, tmp_path: Path,
                                        monkeypatch):
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv(CREDS_ENV, str(tmp_path / "empty"))
    with pytest.raises(XcatError, match="missing ca.pem, client-cert.pem, client-key.pem"):
        client_credentials(pki.state_dir)


def test_home_when_it_matches_this_ca(pki: PkiPaths, home: Path):
    issue_client(pki.state_dir, "alice")
    install_client_creds(pki.root_creds, home / ".xcatpy")
    assert client_credentials(pki.state_dir) == ClientCreds.in_dir(home / ".xcatpy")


def test_home_of_another_ca_is_skipped(pki: PkiPaths, home: Path, tmp_path: Path):
    other = init_pki(tmp_path / "other")
    install_client_creds(other.root_creds, home / ".xcatpy")
    mine = issue_client(pki.state_dir, "alice")
    assert client_credentials(pki.state_dir) == mine


def test_home_used_when_no_local_ca(home: Path, tmp_path: Path):
    # A CLI on another host than xcatd: nothing to compare with, ~/.xcatpy is the answer.
    other = init_pki(tmp_path / "server-host")
    install_client_creds(other.root_creds, home / ".xcatpy")
    assert client_credentials(tmp_path / "no-instance") == ClientCreds.in_dir(
        home / ".xcatpy")


def test_current_users_dir_before_root(pki: PkiPaths, home: Path):
    mine = issue_client(pki.state_dir, "alice")
    assert client_credentials(pki.state_dir) == mine


def test_root_fallback_when_readable(pki: PkiPaths, home: Path, monkeypatch):
    assert client_credentials(pki.state_dir) == pki.root_creds
    monkeypatch.setattr(pathsmod.os, "access", lambda *a, **k: False)
    assert client_credentials(pki.state_dir) is None


def test_explicit_user(pki: PkiPaths, home: Path, monkeypatch, tmp_path: Path):
    monkeypatch.setenv(CREDS_ENV, str(tmp_path / "ignored"))
    assert client_credentials(pki.state_dir, "bob") is None
    bob = issue_client(pki.state_dir, "bob")
    assert client_credentials(pki.state_dir, "bob") == bob
    with pytest.raises(XcatError, match="user name"):
        client_credentials(pki.state_dir, "../bob")


def test_nothing_found(home: Path, tmp_path: Path):
    assert client_credentials(tmp_path / "no-instance") is None
