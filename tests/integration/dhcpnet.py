"""Two private network namespaces joined by a veth pair, for DHCP servers and clients.

    server namespace: SERVER_IF (SERVER_ADDR/24)  <--veth-->  client namespace: CLIENT_IF

Nothing in them can reach the machine's real network. `DhcpHarness` runs
tests/integration/dhcpserver_harness.py in the server namespace; the clients (busybox
udhcpc, dhclient, perfdhcp) run in the client namespace.
"""

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

# One way to stop a process this suite started: by its PID, TERM then KILL.
from tests.e2e.netns import stop_process  # noqa: F401  (re-exported for the DHCP tests)

REPO = Path(__file__).resolve().parents[2]
HARNESS = REPO / "tests" / "integration" / "dhcpserver_harness.py"
SERVER_IF = "dhs0"
CLIENT_IF = "dhc0"
SERVER_ADDR = "10.77.0.1"
PREFIX = 24
_serial = itertools.count(1)


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check,
                          timeout=30)


def netns_permitted() -> str | None:
    """None if namespaces can be made here, else the reason they cannot."""
    name = f"xcpdhcp-probe-{os.getpid()}"
    try:
        result = ip("netns", "add", name, check=False)
    except OSError as exc:
        return f"cannot run ip: {exc}"
    if result.returncode != 0:
        return f"'ip netns add' is not permitted here: {result.stderr.strip()}"
    ip("netns", "delete", name, check=False)
    return None


class VethNamespaces:
    def __init__(self, prefix: str = "xcpdhcp", netmask_bits: int = PREFIX) -> None:
        tag = f"{os.getpid()}-{next(_serial)}"
        self.netmask_bits = netmask_bits
        self.server = f"{prefix}-s-{tag}"
        self.client = f"{prefix}-c-{tag}"
        self.procs: list[subprocess.Popen] = []

    def __enter__(self) -> "VethNamespaces":
        self.create()
        return self

    def __exit__(self, *exc) -> None:
        self.destroy()

    def create(self) -> None:
        ip("netns", "add", self.server)
        try:
            ip("netns", "add", self.client)
            ip("-n", self.server, "link", "add", SERVER_IF, "type", "veth", "peer", "name",
               CLIENT_IF, "netns", self.client)
            for ns, dev in ((self.server, SERVER_IF), (self.client, CLIENT_IF)):
                ip("-n", ns, "link", "set", "lo", "up")
                ip("-n", ns, "link", "set", dev, "up")
            ip("-n", self.server, "addr", "add", f"{SERVER_ADDR}/{self.netmask_bits}", "dev",
               SERVER_IF)
        except subprocess.CalledProcessError as exc:
            self.destroy()
            raise RuntimeError(f"cannot set up namespaces: {exc.stderr.strip()}") from None

    def set_client_mac(self, mac: str) -> None:
        ip("-n", self.client, "link", "set", CLIENT_IF, "address", mac)

    def argv(self, ns: str, *argv: str) -> list[str]:
        return ["ip", "netns", "exec", ns, *argv]

    def run(self, ns: str, *argv: str, timeout: float = 60, **kw) -> subprocess.CompletedProcess:
        return subprocess.run(self.argv(ns, *argv), capture_output=True, text=True,
                              timeout=timeout, **kw)

    def popen(self, ns: str, *argv: str, **kw) -> subprocess.Popen:
        """Start a process in `ns`; destroy() stops it by its PID if still running."""
        proc = subprocess.Popen(self.argv(ns, *argv), **kw)
        self.procs.append(proc)
        return proc

    def in_server(self, *argv: str, **kw) -> subprocess.Popen:
        return self.popen(self.server, *argv, **kw)

    def destroy(self) -> None:
        for proc in reversed(self.procs):
            stop_process(proc)
        self.procs.clear()
        for ns in (self.client, self.server):
            if Path("/run/netns", ns).exists():
                ip("netns", "delete", ns, check=False)


class DhcpHarness:
    """The DHCP service alone, in the server namespace, on a prepared state directory."""

    def __init__(self, popen, state: Path, workdir: Path,
                 interfaces: list[str] | None = (SERVER_IF,), http_port: int = 8080,
                 log: bool = True) -> None:
        """`popen(*argv, **kw)` starts a process in the server's namespace; `log` writes
        the service's log lines to <workdir>/dhcpd.log."""
        self.popen, self.state, self.workdir = popen, state, workdir
        self.write_log = log
        self.interfaces = interfaces
        self.http_port = http_port
        self.log = workdir / "dhcpd.log"
        self.portfile = workdir / "dhcpd.port"
        self.statsfile = workdir / "dhcpd.stats"
        self.proc: subprocess.Popen | None = None
        self.info: dict = {}

    def start(self, timeout: float = 30) -> "DhcpHarness":
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.portfile.unlink(missing_ok=True)
        argv = [sys.executable, str(HARNESS), "--state", str(self.state),
                "--portfile", str(self.portfile), "--statsfile", str(self.statsfile),
                "--http-port", str(self.http_port)]
        if self.write_log:
            argv += ["--log", str(self.log)]
        for name in self.interfaces or ():
            argv += ["--interface", name]
        self.proc = self.popen(*argv, cwd=REPO, stdout=subprocess.DEVNULL,
                               stderr=open(self.workdir / "dhcpd.stderr", "w"))
        deadline = time.monotonic() + timeout
        while not self.portfile.exists():
            if self.proc.poll() is not None:
                raise RuntimeError(f"DHCP harness exited {self.proc.returncode}: "
                                   f"{(self.workdir / 'dhcpd.stderr').read_text()}")
            if time.monotonic() > deadline:
                raise TimeoutError("DHCP harness did not start")
            time.sleep(0.05)
        self.info = json.loads(self.portfile.read_text())
        return self

    def stats(self) -> dict:
        self.statsfile.unlink(missing_ok=True)
        self.proc.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + 10
        while not self.statsfile.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        return json.loads(self.statsfile.read_text())

    def log_text(self) -> str:
        return self.log.read_text() if self.log.exists() else ""

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)


ENV_DUMP_SCRIPT = """#!/bin/sh
# Record what the DHCP client was told; configure nothing.
env > "{out}.${{1:-$reason}}"
exit 0
"""


def env_script(workdir: Path, name: str) -> tuple[Path, Path]:
    """A client hook script that writes its environment to <out>.<reason>."""
    out = workdir / f"{name}.env"
    script = workdir / f"{name}.sh"
    script.write_text(ENV_DUMP_SCRIPT.format(out=out))
    script.chmod(0o755)
    return script, out


def read_env(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    found = {}
    for line in path.read_text().splitlines():
        key, eq, value = line.partition("=")
        if eq:
            found[key] = value
    return found
