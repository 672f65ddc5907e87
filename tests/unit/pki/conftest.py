"""A private instance with its PKI bootstrapped, shared by the pki tests."""

from pathlib import Path

import pytest

from xcatpy.pki.ca import init_pki
from xcatpy.pki.paths import PkiPaths


@pytest.fixture
def pki(state_dir: Path) -> PkiPaths:
    return init_pki(state_dir, server_names=["localhost", "xcatmn", "127.0.0.1"])
