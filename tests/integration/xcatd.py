"""Start a real xcatd on an ephemeral loopback port for a test, and stop it by its PID."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.integration.clitools import REPO


class Xcatd:
    def __init__(self, state: Path, *extra: str) -> None:
        self.state = state
        self.log = state.parent / "xcatd.log"
        self.extra = extra
        self.proc: subprocess.Popen | None = None
        self.port: int | None = None
        self.ports: dict[str, int] = {}

    def start(self, timeout: float = 30) -> "Xcatd":
        env = dict(os.environ, XCATPY_STATE=str(self.state))
        env.pop("XCATBYPASS", None)
        runinfo = self.state / "run" / "xcatd.json"
        runinfo.unlink(missing_ok=True)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "xcatpy.server.daemon", "--foreground", "--port", "0",
             "--listen", "127.0.0.1",
             # Boot services on free loopback ports unless a test says otherwise.
             "--tftp-port", "0", "--http-port", "0", "--monitor-port", "0",
             "--dns-port", "off", "--dhcp-port", "off", *self.extra],
            env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=open(self.log, "w"))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"xcatd exited {self.proc.returncode}: {self.log.read_text()}")
            if runinfo.exists():
                try:
                    info = json.loads(runinfo.read_text())
                    self.port = info["port"]
                    self.ports = {k: v for k, v in info.items() if k.endswith("port")}
                    return self
                except (ValueError, KeyError):
                    pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"xcatd did not start: {self.log.read_text()}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()
