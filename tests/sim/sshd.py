"""Simulated hypervisor hosts behind real OpenSSH servers, one sshd per host, on loopback.

Each SimHost is `/usr/sbin/sshd -D -e -f <config>` with its own host key, the client's
public key as the only authorized key, and `ForceCommand tests/sim/hvshell`: whatever a
client asks to run arrives in SSH_ORIGINAL_COMMAND and goes through a real /bin/sh with only
the simulator's commands on PATH (see hvshell). A host that is "down" is one whose sshd is
stopped; stopping also kills its open connections and any command still running there, as a
real host going down would.

    hosts = SimHosts(["hv1", "hv2"], state, tmp_path, client_pubkey=pub_text)
    with hosts:                      # hv1 on 127.0.0.2, hv2 on 127.0.0.3, one shared port
        hosts["hv1"].address, hosts.port

Hosts of one SimHosts share a port, because site.sshport is one value for the whole site.
Needs root (sshd's privilege separation) and /run/sshd, which start() creates.
"""

from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from tests.sim.localshell import SIM_DIR, sim_environment

SSHD = "/usr/sbin/sshd"
SSH_KEYGEN = "ssh-keygen"
PRIVSEP_DIR = Path("/run/sshd")
_READY_TIMEOUT = 20.0
# Set in every session's environment, so commands left running by a host can be found and
# killed when it stops, even after sshd has let go of them.
MARKER_ENV = "XCATSIM_SSHD"


def free_port(addresses: Iterable[str]) -> int:
    """A TCP port nothing listens on at any of these addresses."""
    addresses = list(addresses)
    for _ in range(100):
        with socket.socket(_family(addresses[0])) as s:
            s.bind((addresses[0], 0))
            port = s.getsockname()[1]
        if all(_can_bind(a, port) for a in addresses):
            return port
    raise RuntimeError(f"no port free on all of {addresses}")


def _family(address: str) -> int:
    return socket.AF_INET6 if ":" in address else socket.AF_INET


def _can_bind(address: str, port: int) -> bool:
    with socket.socket(_family(address)) as s:
        try:
            s.bind((address, port))
        except OSError:
            return False
    return True


def _config_value(value: str) -> str:
    if '"' in value or "\n" in value:
        raise ValueError(f"cannot put {value!r} into sshd_config")
    return f'"{value}"' if any(c.isspace() for c in value) else value


class SimHost:
    def __init__(self, name: str, state_path: Path, workdir: Path, *, client_pubkey: str,
                 address: str = "127.0.0.1", port: int | None = None) -> None:
        self.name = name
        self.state_path = Path(state_path)
        self.dir = Path(workdir) / f"sshd-{name}"
        self.address = address
        self.port = port or free_port([address])
        self.client_pubkey = client_pubkey
        self.host_key_path = self.dir / "ssh_host_ed25519_key"
        self.log_path = self.dir / "sshd.log"
        self._proc: subprocess.Popen | None = None
        self._log_offset = 0

    # files

    def _write_files(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        if not self.host_key_path.exists():
            self._new_host_key()
        (self.dir / "authorized_keys").write_text(self.client_pubkey.strip() + "\n")
        env = {**sim_environment(self.name, self.state_path), MARKER_ENV: str(self.dir),
               # sshd runs ForceCommand through root's bash, which sources ~/.bashrc when it
               # sees it was started by sshd at shell level 1; this machine's .bashrc is
               # slow, and a real hypervisor's would be no part of the test.
               "SHLVL": "1"}
        listen = f"[{self.address}]" if ":" in self.address else self.address
        lines = [
            f"ListenAddress {listen}:{self.port}",
            f"HostKey {self.host_key_path}",
            "PidFile none",
            f"AuthorizedKeysFile {self.dir / 'authorized_keys'}",
            "PermitRootLogin prohibit-password",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "HostbasedAuthentication no",
            "UsePAM no",
            "StrictModes no",
            "UseDNS no",
            "PrintMotd no",
            "PrintLastLog no",
            "PermitTTY no",
            "X11Forwarding no",
            "AllowTcpForwarding no",
            "AllowAgentForwarding no",
            "MaxSessions 10",
            "MaxStartups 100:30:200",
            "LoginGraceTime 30",
            "LogLevel VERBOSE",  # logs "Connection from": tests count connections with it
            "SetEnv " + " ".join(_config_value(f"{k}={v}") for k, v in env.items()),
            "ForceCommand " + shlex.quote(str(SIM_DIR / "hvshell")),
        ]
        (self.dir / "sshd_config").write_text("\n".join(lines) + "\n")

    def _new_host_key(self) -> None:
        for path in (self.host_key_path, Path(f"{self.host_key_path}.pub")):
            path.unlink(missing_ok=True)
        subprocess.run([SSH_KEYGEN, "-q", "-t", "ed25519", "-N", "", "-C", self.name, "-f",
                        str(self.host_key_path)], check=True, capture_output=True)

    @property
    def host_public_key(self) -> str:
        """`ssh-ed25519 AAAA...`, without the comment."""
        return " ".join(Path(f"{self.host_key_path}.pub").read_text().split()[:2])

    # running

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> SimHost:
        if self.running:
            return self
        PRIVSEP_DIR.mkdir(mode=0o755, exist_ok=True)
        self._write_files()
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with open(self.log_path, "ab") as log:
            self._proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(self.dir / "sshd_config")],
                                          stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                          start_new_session=True)
        self._wait_listening()
        return self

    def _wait_listening(self) -> None:
        deadline = time.monotonic() + _READY_TIMEOUT
        while time.monotonic() < deadline:
            if "Server listening on" in self._log_since_start():
                return
            if self._proc.poll() is not None:
                break
            time.sleep(0.02)
        log = self._log_since_start()
        self.stop()
        raise RuntimeError(f"sshd for {self.name} on {self.address}:{self.port} did not start:"
                           f"\n{log}")

    def _log_since_start(self) -> str:
        with open(self.log_path, "rb") as f:
            f.seek(self._log_offset)
            return f.read().decode(errors="replace")

    def stop(self) -> None:
        """Down: the listener, its connections and whatever commands they left running."""
        proc, self._proc = self._proc, None
        if proc is not None:
            victims = [proc.pid] + _descendants(proc.pid)
            for pid in victims:
                _kill(pid)
            proc.wait()
        # Commands sshd has let go of (their connection closed while they hung) are found by
        # the marker in their environment. Wait until they are gone, so a stopped host has
        # really stopped everything.
        deadline = time.monotonic() + _READY_TIMEOUT
        while (leftovers := _marked_processes(str(self.dir))) and time.monotonic() < deadline:
            for pid in leftovers:
                _kill(pid)
            time.sleep(0.01)

    def restart(self) -> None:
        self.stop()
        self.start()

    def rotate_host_key(self) -> None:
        """A reinstalled host: same address and port, new host key."""
        self.stop()
        self._new_host_key()
        self.start()

    # what the tests look at

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def connections(self) -> int:
        """TCP connections this host's sshd has accepted, over all its runs."""
        return self.log().count("Connection from ")

    def __repr__(self) -> str:
        return f"SimHost({self.name!r}, {self.address}:{self.port})"


class SimHosts:
    """Several hosts on 127.0.0.<first_octet>, .<first_octet + 1>, ..., sharing one port."""

    def __init__(self, names: Iterable[str], state_path: Path, workdir: Path, *,
                 client_pubkey: str, first_octet: int = 2, port: int | None = None) -> None:
        names = list(names)
        addresses = [f"127.0.0.{first_octet + i}" for i in range(len(names))]
        self.port = port or free_port(addresses)
        self.hosts = {name: SimHost(name, state_path, workdir, client_pubkey=client_pubkey,
                                    address=addr, port=self.port)
                      for name, addr in zip(names, addresses, strict=True)}

    def start(self) -> SimHosts:
        try:
            for host in self.hosts.values():
                host.start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for host in self.hosts.values():
            host.stop()

    def __getitem__(self, name: str) -> SimHost:
        return self.hosts[name]

    def __iter__(self) -> Iterator[SimHost]:
        return iter(self.hosts.values())

    def __enter__(self) -> SimHosts:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _parents() -> dict[int, int]:
    table = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
        table[int(entry.name)] = int(stat[stat.rindex(")") + 2:].split()[1])
    return table


def _descendants(pid: int) -> list[int]:
    parents = _parents()
    found, frontier = [], [pid]
    while frontier:
        children = [p for p, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


def _marked_processes(marker: str) -> list[int]:
    """Live processes with MARKER_ENV=marker (a zombie's environment reads empty)."""
    needle = f"{MARKER_ENV}={marker}".encode() + b"\0"
    pids = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            environ = Path(entry.path, "environ").read_bytes()
        except OSError:
            continue
        if needle in environ:
            pids.append(int(entry.name))
    return pids
