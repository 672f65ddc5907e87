"""A private instance with its PKI bootstrapped, shared by the pki tests."""

from pathlib import Path

import pytest

from xcatpy.pki.ca import init_pki
from xcatpy.pki.paths import CREDS_ENV, PkiPaths


@pytest.fixture
def pki(state_dir: Path) -> PkiPaths:
    return init_pki(state_dir, server_names=["localhost", "xcatmn", "127.0.0.1"])


@pytest.fixture
def home(tmp_path: Path, monkeypatch) -> Path:
    """A private HOME, with no XCATPY_CREDS to short-circuit the credential lookup."""
    h = tmp_path / "home"
    h.mkdir()
    monkeypatch.setenv("HOME", str(h))
    monkeypatch.delenv(CREDS_ENV, raising=False)
    return h
