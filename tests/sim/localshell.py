"""A RemoteShell that runs commands on a simulated host without SSH, for driver unit tests.

It goes through the same `hvshell` as the sshd harness, so a driver sees the same quoting,
commands and outputs; only the transport differs.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from xcatpy.drivers.remote import (
    CommandTimeout,
    RemoteError,
    RemoteResult,
    Target,
    command_line,
)

SIM_DIR = Path(__file__).resolve().parent
REPO_ROOT = SIM_DIR.parent.parent


def sim_environment(host: str, state: Path) -> dict[str, str]:
    """The environment a simulated host's commands run with."""
    return {
        "XCATSIM_HOST": host,
        "XCATSIM_STATE": str(state),
        "XCATSIM_LOG": str(state.parent / "commands.log"),
        "XCATSIM_PYTHON": sys.executable,
        "PYTHONPATH": str(REPO_ROOT),
        "LANG": "C.UTF-8",
    }


class LocalShell:
    """Target.node is the simulated host's name."""

    def __init__(self, state: Path) -> None:
        self.state = state
        self.lines: list[tuple[str, str]] = []  # (host, command line) as sent

    def run(self, target: Target, argv: Sequence[str], *, stdin: bytes | None = None,
            timeout: float | None = 60.0, check: bool = True) -> RemoteResult:
        line = command_line(argv)
        self.lines.append((target.node, line))
        env = {**sim_environment(target.node, self.state), "SSH_ORIGINAL_COMMAND": line,
               "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        # Its own process group: dash forks the simulated command rather than exec'ing it,
        # so a timeout must kill the group, not just the shell, or a hung command lingers.
        proc = subprocess.Popen([str(SIM_DIR / "hvshell")], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                                start_new_session=True)
        try:
            out, err = proc.communicate(stdin or b"", timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise CommandTimeout(f"{target.node}: '{argv[0]}' did not finish within "
                                 f"{timeout:g}s") from exc
        result = RemoteResult(proc.returncode, out.decode(errors="replace"),
                              err.decode(errors="replace"))
        if check and result.exit_status != 0:
            raise RemoteError(target, argv, result)
        return result


def simulated_processes(state: Path) -> list[int]:
    """Processes still running a command of the simulated hosts of this state file: after
    a test, there should be none (a timeout kills the command's whole process group)."""
    marker = f"XCATSIM_STATE={state}".encode()
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if marker in (proc / "environ").read_bytes().split(b"\0"):
                pids.append(int(proc.name))
        except OSError:
            continue  # gone, or not ours to read
    return pids
