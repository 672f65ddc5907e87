"""The client path must start fast: no server stack behind a command that goes to xcatd."""

import subprocess
import sys

from tests.integration.clitools import REPO

HEAVY = ("twisted", "sqlite_utils", "cryptography", "OpenSSL", "xcatpy.db", "jinja2")


def test_client_path_imports_no_server_stack():
    code = ("import sys, xcatpy.cli.main, xcatpy.cli.client, xcatpy.pki.paths; "
            f"print(','.join(m for m in sys.modules if m.split('.')[0] in {HEAVY!r} "
            f"or m.startswith('xcatpy.db')))")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       cwd=REPO, check=True)
    assert p.stdout.strip() == ""


def test_systemd_unit_runs_xcatd_in_the_foreground():
    unit = (REPO / "share" / "systemd" / "xcatd.service").read_text()
    assert "ExecStart=" in unit and "--foreground" in unit and "KillSignal=SIGTERM" in unit
