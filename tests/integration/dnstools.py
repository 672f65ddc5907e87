"""dig as a test client, and the embedded DNS service run alone (dnsserver_harness.py)."""

import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.integration.clitools import REPO

HARNESS = REPO / "tests" / "integration" / "dnsserver_harness.py"


@dataclass
class Dig:
    status: str
    flags: set[str]
    answer: list[str] = field(default_factory=list)       # "name ttl IN type data"
    authority: list[str] = field(default_factory=list)
    text: str = ""

    def data(self) -> list[str]:
        """The answer records' data fields, in order."""
        return [line.split(None, 4)[4] for line in self.answer]


def dig(port: int, name: str, rtype: str = "A", *opts: str, server: str = "127.0.0.1") -> Dig:
    args = ["dig", f"@{server}", "-p", str(port), "+norec", "+time=3", "+tries=2",
            "+noall", "+comments", "+answer", "+authority", *opts]
    args += ["-x", name] if rtype == "-x" else [name, rtype]
    out = subprocess.run(args, capture_output=True, text=True, timeout=30).stdout
    status = re.search(r"status: (\w+)", out)
    flags = re.search(r"flags: ([a-z ]*);", out)
    section, sections = None, {"ANSWER": [], "AUTHORITY": []}
    for line in out.splitlines():
        head = re.match(r";; (\w+) SECTION:", line)
        if head:
            section = head.group(1)
        elif line and not line.startswith(";") and section in sections:
            sections[section].append(" ".join(line.split()))
    return Dig(status.group(1) if status else "NO-ANSWER",
               set(flags.group(1).split()) if flags else set(),
               sections["ANSWER"], sections["AUTHORITY"], out)


def soa_serial(port: int, zone: str, server: str = "127.0.0.1") -> int:
    return int(dig(port, zone, "SOA", server=server).data()[0].split()[2])


class DnsHarness:
    def __init__(self, state: Path, workdir: Path, *extra: str) -> None:
        self.state, self.dir, self.extra = state, workdir, extra
        self.portfile = workdir / "dns.port"
        self.statsfile = workdir / "dns.stats"
        self.log = workdir / "dns-harness.log"
        self.proc: subprocess.Popen | None = None
        self.port: int | None = None

    def start(self, timeout: float = 30) -> "DnsHarness":
        self.portfile.unlink(missing_ok=True)
        self.proc = subprocess.Popen(
            [sys.executable, str(HARNESS), "--state", str(self.state), "--portfile",
             str(self.portfile), "--statsfile", str(self.statsfile), "--verbose",
             *self.extra],
            stdout=subprocess.DEVNULL, stderr=open(self.log, "w"),
            env={k: v for k, v in os.environ.items() if k != "XCATBYPASS"})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"harness exited: {self.log.read_text()}")
            if self.portfile.exists():
                self.port = int(self.portfile.read_text())
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"harness did not start: {self.log.read_text()}")

    def stats(self) -> dict[str, int]:
        self.statsfile.unlink(missing_ok=True)
        os.kill(self.proc.pid, signal.SIGUSR1)
        deadline = time.monotonic() + 10
        while not self.statsfile.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        return {k: int(v) for k, v in
                (item.split("=") for item in self.statsfile.read_text().split())}

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def eventually(check, timeout: float = 15.0, interval: float = 0.2):
    """Poll `check()` until it returns something truthy (a change made by another process
    reaches the server on a query after the next data_version check)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(interval)
