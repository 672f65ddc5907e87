"""A private network namespace with one tap device: the wire between the test VM and the head.

Everything the e2e test runs on the network (DHCP, xcatd, QEMU, tftp client) runs inside it,
so nothing the test does can reach or disturb the machine's real network.
"""

import itertools
import os
import signal
import subprocess
import time
from pathlib import Path

HEAD_ADDR = "10.99.0.1"
NODE_ADDR = "10.99.0.10"
PREFIX = 24
# iPXE waits ~15 s for IPv6 autoconfiguration unless a router advertises; dnsmasq does (ra-only).
HEAD_ADDR6 = "fd99::1"
PREFIX6 = 64
TAP = "tap0"
_serial = itertools.count(1)


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check,
                          timeout=30)


class Netns:
    """`with Netns() as ns:` makes the namespace and its tap; leaving removes both."""

    def __init__(self, name: str | None = None) -> None:
        self.name = name or f"xcpe2e-{os.getpid()}-{next(_serial)}"
        self.procs: list[subprocess.Popen] = []
        self.ipv6 = False

    def __enter__(self) -> "Netns":
        self.create()
        return self

    def __exit__(self, *exc) -> None:
        self.destroy()

    def create(self) -> None:
        try:
            _ip("netns", "add", self.name)
        except subprocess.CalledProcessError as exc:
            raise RuntimeError(f"ip netns add {self.name}: {exc.stderr.strip()}") from None
        try:
            for args in (["link", "set", "lo", "up"],
                         ["tuntap", "add", "dev", TAP, "mode", "tap"],
                         ["addr", "add", f"{HEAD_ADDR}/{PREFIX}", "dev", TAP],
                         ["link", "set", TAP, "up"]):
                _ip("-n", self.name, *args)
        except subprocess.CalledProcessError as exc:
            self.destroy()
            raise RuntimeError(f"cannot set up namespace {self.name}: {exc.stderr.strip()}"
                               ) from None
        # Optional: where IPv6 is disabled the boot only takes longer.
        self.ipv6 = _ip("-n", self.name, "addr", "add", f"{HEAD_ADDR6}/{PREFIX6}", "dev", TAP,
                        "nodad", check=False).returncode == 0

    def argv(self, *argv: str) -> list[str]:
        """argv run inside the namespace; `ip netns exec` execs it, so the PID stays the same."""
        return ["ip", "netns", "exec", self.name, *argv]

    def run(self, *argv: str, timeout: float = 60, **kw) -> subprocess.CompletedProcess:
        return subprocess.run(self.argv(*argv), capture_output=True, text=True,
                              timeout=timeout, **kw)

    def popen(self, *argv: str, **kw) -> subprocess.Popen:
        """Start a process in the namespace; destroy() stops it by its PID if still running."""
        proc = subprocess.Popen(self.argv(*argv), **kw)
        self.procs.append(proc)
        return proc

    def destroy(self) -> None:
        for proc in reversed(self.procs):
            stop_process(proc)
        self.procs.clear()
        if Path("/run/netns", self.name).exists():
            _ip("-n", self.name, "link", "del", TAP, check=False)
            _ip("netns", "delete", self.name, check=False)


def stop_process(proc: subprocess.Popen, timeout: float = 10) -> int | None:
    """SIGTERM, then SIGKILL after `timeout`: only this PID, never by name."""
    if proc.poll() is not None:
        return proc.returncode
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


def wait_for(predicate, timeout: float, what: str, interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)
