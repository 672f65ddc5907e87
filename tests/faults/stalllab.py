"""For tests of peers that stop answering: CLIs run in the background, hosts frozen.

    with Background("rpower", "bmcs", "off", state=state) as slow:
        ...                       # other commands meanwhile
    slow.result                   # Completed, once it has exited; slow.seconds

`freeze(host)` stops a simulated hypervisor's sshd and everything under it with SIGSTOP:
its listening socket still accepts TCP connections (the kernel does that) and its open
connections stay up, but nothing answers, as a host hung in the middle of a session.
Only the processes of a SimHost the test started are signalled.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from tests.integration.clitools import Completed, command_path
from tests.sim.sshd import SimHost, _descendants

# Longest any stalled command may take in these tests: far beyond the short timeouts they
# set, far below "forever".
BOUND_S = 60


class Background:
    def __init__(self, name: str, *args: str, state: Path) -> None:
        env = {k: v for k, v in os.environ.items() if k not in ("XCATBYPASS", "XCATPY_STATE")}
        env["XCATPY_STATE"] = str(state)
        self.started = time.monotonic()
        self.proc = subprocess.Popen(command_path(name) + list(args), env=env, text=True,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     stdin=subprocess.DEVNULL)
        self.result: Completed | None = None
        self.seconds: float | None = None

    @property
    def running(self) -> bool:
        return self.proc.poll() is None

    def wait(self) -> Completed:
        try:
            out, err = self.proc.communicate(timeout=BOUND_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
            raise AssertionError(f"still running after {BOUND_S}s: {out} {err}") from None
        self.seconds = time.monotonic() - self.started
        self.result = Completed(self.proc.returncode, out, err)
        return self.result

    def __enter__(self) -> Background:
        return self

    def __exit__(self, *exc) -> None:
        if self.result is None:
            self.wait()


def host_processes(host: SimHost) -> list[int]:
    proc = host._proc
    assert proc is not None and proc.poll() is None, f"{host.name} is not running"
    return [proc.pid, *_descendants(proc.pid)]


@contextlib.contextmanager
def frozen(host: SimHost) -> Iterator[list[int]]:
    """The host's sshd (listener, connections, commands) stopped for the block."""
    pids = host_processes(host)
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield pids
    finally:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
