"""A private BIND (`named -g`) on loopback, with dynamic zones, for the DDNS tests.

Everything lives in one working directory: named.conf, the zone files and their journals,
the pid file. named listens on 127.0.0.1 only, on a port the test picks; the rndc control
channel is off. `stop()` signals the PID this helper started, nothing else.
"""

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import dns.message
import dns.query
import dns.rcode

NAMED = shutil.which("named") or "/usr/sbin/named"
TSIG_KEYGEN = shutil.which("tsig-keygen") or "/usr/sbin/tsig-keygen"


def have_bind() -> bool:
    return Path(NAMED).exists() and Path(TSIG_KEYGEN).exists() and shutil.which("dig")


def free_port() -> int:
    """A port free for both UDP and TCP on 127.0.0.1 right now."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind(("127.0.0.1", 0))
            port = u.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
                try:
                    t.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no port free for both UDP and TCP")


def keygen(name: str, algorithm: str = "hmac-sha256") -> tuple[str, str]:
    """(key clause for named.conf, base64 secret), made by tsig-keygen."""
    text = subprocess.run([TSIG_KEYGEN, "-a", algorithm, name], check=True,
                          capture_output=True, text=True).stdout
    secret = text.split('secret "', 1)[1].split('"', 1)[0]
    return text, secret


def _zone_file(zone: str) -> str:
    return (f"$TTL 300\n"
            f"@ IN SOA ns.{zone}. hostmaster.{zone}. ( 1 3600 600 86400 300 )\n"
            f"  IN NS ns.{zone}.\n"
            f"ns.{zone}. IN A 127.0.0.1\n")


class Bind:
    def __init__(self, workdir: Path, zones: list[str], key_clause: str, key_name: str,
                 port: int | None = None) -> None:
        self.dir = Path(workdir)
        self.zones = zones
        self.key_clause = key_clause
        self.key_name = key_name
        self.port = port or free_port()
        self.proc: subprocess.Popen | None = None
        self.log = self.dir / "named.log"

    def _conf(self) -> str:
        d = self.dir
        zones = "".join(
            f'zone "{z}" {{ type primary; file "{d}/db.{z}"; '
            f"allow-update {{ key {self.key_name}; }}; }};\n" for z in self.zones)
        return (f'options {{\n'
                f'  directory "{d}";\n'
                f'  pid-file "{d}/named.pid";\n'
                f'  session-keyfile "{d}/session.key";\n'
                f'  managed-keys-directory "{d}";\n'
                f'  listen-on port {self.port} {{ 127.0.0.1; }};\n'
                f'  listen-on-v6 {{ none; }};\n'
                f'  recursion no;\n'
                f'  notify no;\n'
                f'}};\n'
                f'controls {{ }};\n'
                f'{self.key_clause}\n{zones}')

    def start(self, timeout: float = 20.0) -> "Bind":
        self.dir.mkdir(parents=True, exist_ok=True)
        for zone in self.zones:
            (self.dir / f"db.{zone}").write_text(_zone_file(zone))
        conf = self.dir / "named.conf"
        conf.write_text(self._conf())
        check = subprocess.run([shutil.which("named-checkconf") or "named-checkconf",
                                str(conf)], capture_output=True, text=True)
        if check.returncode != 0:
            raise RuntimeError(f"named-checkconf: {check.stdout}{check.stderr}")
        self.proc = subprocess.Popen([NAMED, "-g", "-c", str(conf)],
                                     stdout=subprocess.DEVNULL, stderr=open(self.log, "w"))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"named exited {self.proc.returncode}:\n"
                                   f"{self.log.read_text()[-3000:]}")
            if self._answers():
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"named did not answer in {timeout}s:\n{self.log.read_text()[-3000:]}")

    def _answers(self) -> bool:
        try:
            reply = dns.query.udp(dns.message.make_query(self.zones[0], "SOA"), "127.0.0.1",
                                  port=self.port, timeout=0.3)
        except Exception:
            return False
        return reply.rcode() == dns.rcode.NOERROR and bool(reply.answer)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.kill(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)

    def __enter__(self) -> "Bind":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
