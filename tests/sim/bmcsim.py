"""Simulated BMCs: pyghmi's IPMI 2.0 server with a chassis, many to a process, with faults.

    python -m tests.sim.bmcsim --count 20 --dead 3,7 --wrong-password 5 --power on

prints one `index address port state` line per BMC and serves until interrupted; ipmitool
(`-I lanplus -U USERID -P PASSW0RD`) and xcatpy's driver both talk to them.

What differs from pyghmi's own `Bmc`:
- Each BMC owns its socket and one selector loop in the process reads them all. pyghmi's
  server shares the client's IO thread and routes packets by (client address, local port),
  so two BMCs on one port (127.0.0.2:623 and 127.0.0.3:623) in one process would mix up
  their sessions; here the socket itself says which BMC a packet is for.
- pyghmi's server answers every RMCP+ open-session request with cipher suite 3, even when
  the client proposed suite 17 (SHA-256), as pyghmi's own client does first; both ends then
  derive keys with different hashes and the login fails as a "wrong password". We refuse
  the proposal with "no cipher suite match", and the client retries with suite 3, as it
  does against a real BMC without suite 17.
- An unknown user gets RAKP2 status "unauthorized name" (pyghmi's server stays silent, which
  a client can only report as a timeout).
- Boot flags follow the spec (valid bit, device selector, persistence), so "no override"
  and "override to PXE" can be told apart, and the power state can be preset.

Faults: `dead` binds the port and swallows every packet (a BMC that is off the network but
whose address still routes); `password` differing from what the client uses makes RAKP2 fail;
`silent_after` N answers the first N packets it receives, then swallows every later one, as
a BMC that hangs in the middle of a command (N=8 with pyghmi's client: a login, one
command answered, and silence from the next request on).
"""

from __future__ import annotations

import argparse
import json
import os
import select
import selectors
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import traceback
import uuid
from collections import deque
from dataclasses import asdict, dataclass, field
from pathlib import Path

from pyghmi.ipmi import bmc as pyghmi_bmc
from pyghmi.ipmi.private import constants, serversession
from pyghmi.ipmi.private import session as pyghmi_session

REPO_ROOT = Path(__file__).resolve().parents[2]

# RMCP+ status codes (IPMI 2.0 table 13-15) the simulator answers with.
RMCP_UNAUTHORIZED_NAME = 0x0D
RMCP_NO_CIPHER_SUITE_MATCH = 0x11
# Algorithms of cipher suite 3, the only one pyghmi's server implements.
RAKP_HMAC_SHA1, HMAC_SHA1_96, AES_CBC_128 = 1, 1, 1
PARAM_NOT_SUPPORTED = 0x80


@dataclass
class BmcSpec:
    """One simulated BMC. port 0 picks a free port; `start` reports the one bound."""

    address: str = "127.0.0.1"
    port: int = 0
    username: str = "USERID"
    password: str = "PASSW0RD"
    power: str = "off"
    dead: bool = False
    silent_after: int | None = None
    # Boot flags parameter (IPMI 2.0 table 28-14) data 1 and 2: no override by default.
    boot_flags: int = 0
    boot_device: int = 0


@dataclass
class Endpoint:
    address: str
    port: int
    spec: BmcSpec = field(repr=False)


class SimServerSession(serversession.ServerSession):
    def create_open_session_response(self, request):
        # request: RMCP+ Open Session Request; the proposed algorithms sit in bytes 12, 20
        # and 28 of its three 8-byte payloads. Only suite 3 is implemented, so say so.
        auth, integrity, confidentiality = request[12], request[20], request[28]
        if (auth, integrity, confidentiality) != (RAKP_HMAC_SHA1, HMAC_SHA1_96, AES_CBC_128):
            self.clientsessionid = request[4:8]
            return bytearray([request[0], RMCP_NO_CIPHER_SUITE_MATCH, 0, 0]) + request[4:8]
        return super().create_open_session_response(request)

    def _got_rakp1(self, data):
        # data[27]: user name length; a real BMC refuses an unknown name in RAKP2.
        username = bytes(data[28:]).decode("utf-8", "replace")
        if data[27] and self.authdata.get(username) is None:
            reply = bytearray([data[0], RMCP_UNAUTHORIZED_NAME, 0, 0]) + self.clientsessionid
            self.send_payload(reply, constants.payload_types["rakp2"], retry=False)
            return
        super()._got_rakp1(data)

    def close_server_session(self):
        self.bmc.forget_session(self)


class SimBmc(pyghmi_bmc.Bmc):
    """A BMC with a chassis: power state and the boot flags parameter."""

    def __init__(self, spec: BmcSpec) -> None:
        # Not IpmiServer.__init__: it binds through pyghmi's shared client socket pool and
        # starts pyghmi's IO thread, which would then read this BMC's socket too.
        self.revision = 0
        self.deviceid = 0x20
        self.firmwaremajor = 1
        self.firmwareminor = 0
        self.ipmiversion = 2
        self.additionaldevices = 0
        self.mfgid = 0
        self.prodid = 0
        self.pktqueue = deque()
        self.uuid = uuid.uuid4()
        self.authdata = {spec.username: spec.password}
        # Get Channel Authentication Capabilities answer as IpmiServer builds it: channel 1,
        # IPMI 2.0 only, per-user authentication.
        self.authcap = struct.pack("9B", 0, 1, 0b10000000, 0b00000100, 0b00000010, 0, 0, 0, 0)
        self.kg = None
        self.timeout = 60
        family = socket.AF_INET6 if ":" in spec.address else socket.AF_INET
        self.serversocket = socket.socket(family, socket.SOCK_DGRAM)
        self.serversocket.bind((spec.address, spec.port))
        self.port = self.serversocket.getsockname()[1]
        self.spec = spec
        self.sessions: dict[tuple, SimServerSession] = {}
        self.power = spec.power
        self.boot_flags = spec.boot_flags
        self.boot_device = spec.boot_device
        self.valid_bit_clearing = 0
        self.packets = 0

    # -- packets ---------------------------------------------------------------------------

    def handle_datagram(self, data: bytes, client) -> None:
        if self.spec.dead or len(data) < 16 or data[0] != 6 or data[2:4] != b"\xff\x07":
            return
        self.packets += 1
        if self.spec.silent_after is not None and self.packets > self.spec.silent_after:
            return
        if data[4] == 6:  # RMCP+ (IPMI 2.0) framing
            payload_type = data[5] & 0x3F
            if payload_type == constants.payload_types["rmcpplusopenreq"]:
                self.sessions[client] = SimServerSession(
                    self.authdata, self.kg, client, self.serversocket, bytearray(data[16:]),
                    self.uuid, bmc=self)
                return
            session_id = struct.unpack("<I", data[6:10])[0]
            session = self.sessions.get(client)
            if session is not None and (session_id or payload_type != 0):
                session._handle_ipmi_packet(bytearray(data), sockaddr=client)
                return
        self.sessionless_data(data, client)

    def forget_session(self, session) -> None:
        if self.sessions.get(session.sockaddr) is session:
            del self.sessions[session.sockaddr]
        handlers = pyghmi_session.Session.bmc_handlers.get(session.sockaddr)
        if handlers and handlers.get(self.port) is session:
            del handlers[self.port]
            if not handlers:
                del pyghmi_session.Session.bmc_handlers[session.sockaddr]

    # -- chassis ---------------------------------------------------------------------------

    def get_power_state(self):
        return self.power

    def power_on(self):
        self.power = "on"

    def power_off(self):
        self.power = "off"

    def power_shutdown(self):
        self.power = "off"

    def power_cycle(self):
        self.power = "on"

    def power_reset(self):
        self.power = "on"

    def pulse_diag(self):
        return None

    def get_system_guid(self):
        return self.uuid

    def get_system_boot_options(self, request, session):
        parameter = request["data"][0] & 0x7F
        if parameter == 5:
            data = [1, 5, self.boot_flags, self.boot_device, 0, 0, 0]
        elif parameter == 3:
            data = [1, 3, self.valid_bit_clearing]
        else:
            return session.send_ipmi_response(code=PARAM_NOT_SUPPORTED)
        session.send_ipmi_response(data=data)

    def set_system_boot_options(self, request, session):
        data = request["data"]
        parameter = data[0] & 0x7F
        if parameter == 5 and len(data) >= 3:
            self.boot_flags, self.boot_device = data[1], data[2]
        elif parameter == 3 and len(data) >= 2:
            self.valid_bit_clearing = data[1]
        elif parameter not in (0, 4):
            return session.send_ipmi_response(code=PARAM_NOT_SUPPORTED)
        session.send_ipmi_response()


def serve(bmcs: list[SimBmc], parent_pipe=None) -> None:
    """Answer every BMC's packets until killed, or until parent_pipe (a file the parent
    holds open) reaches end of file: one thread, one selector."""
    selector = selectors.DefaultSelector()
    for bmc in bmcs:
        selector.register(bmc.serversocket, selectors.EVENT_READ, bmc)
    if parent_pipe is not None:
        selector.register(parent_pipe, selectors.EVENT_READ, None)
    while True:
        for key, _ in selector.select():
            if key.data is None:
                if not os.read(parent_pipe.fileno(), 4096):
                    return  # the harness is gone; do not outlive it
                continue
            bmc, sock = key.data, key.fileobj
            while True:
                try:
                    # pyghmi's sendto helper makes the socket blocking each time it answers,
                    # so the read says for itself that it must not block.
                    data, client = sock.recvfrom(3000, socket.MSG_DONTWAIT)
                except OSError:  # BlockingIOError: drained
                    break
                try:
                    bmc.handle_datagram(data, client)
                except Exception:
                    traceback.print_exc()


def _serve_json() -> None:
    """Child process: BmcSpec list as JSON on stdin; one JSON line of ports on stdout."""
    specs = [BmcSpec(**s) for s in json.loads(sys.stdin.readline())]
    bmcs = [SimBmc(spec) for spec in specs]
    sys.stdout.write(json.dumps([b.port for b in bmcs]) + "\n")
    sys.stdout.flush()
    serve(bmcs, parent_pipe=sys.stdin)


class BmcFleet:
    """Runs BMCs in `processes` child processes; stop() (or leaving `with`) kills them.

    The children are separate processes so that a client measured against them does not
    share their CPU time or interpreter lock.
    """

    def __init__(self, specs: list[BmcSpec], processes: int = 1) -> None:
        self.specs = specs
        self.processes = max(1, min(processes, len(specs) or 1))
        self.endpoints: list[Endpoint] = []
        self._children: list[subprocess.Popen] = []
        self._logs: list = []

    def start(self, timeout: float = 30.0) -> list[Endpoint]:
        shards = [list(range(i, len(self.specs), self.processes))
                  for i in range(self.processes)]
        env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
        for shard in shards:
            log = tempfile.TemporaryFile()
            child = subprocess.Popen([sys.executable, "-m", "tests.sim.bmcsim", "--serve-json"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
                                     env=env, cwd=str(REPO_ROOT))
            self._children.append(child)
            self._logs.append(log)
            child.stdin.write((json.dumps([asdict(self.specs[i]) for i in shard]) + "\n").encode())
            child.stdin.flush()
        ports: dict[int, int] = {}
        try:
            for shard, child, log in zip(shards, self._children, self._logs, strict=True):
                line = _read_line(child, timeout)
                if not line:
                    log.seek(0)
                    raise RuntimeError("bmcsim child exited before binding: "
                                       + log.read().decode(errors="replace")[-2000:])
                ports.update(zip(shard, json.loads(line), strict=True))
        except BaseException:
            self.stop()
            raise
        self.endpoints = [Endpoint(s.address, ports[i], s) for i, s in enumerate(self.specs)]
        return self.endpoints

    @property
    def pids(self) -> list[int]:
        return [c.pid for c in self._children]

    def stop(self) -> None:
        for child in self._children:
            if child.poll() is None:
                child.terminate()
        for child in self._children:
            try:
                child.wait(timeout=5)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
            for stream in (child.stdin, child.stdout):
                if stream is not None:
                    stream.close()
        for log in self._logs:
            log.close()
        self._children, self._logs = [], []

    def __enter__(self) -> BmcFleet:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def _read_line(child: subprocess.Popen, timeout: float) -> bytes:
    deadline = time.monotonic() + timeout
    buffered = b""
    fd = child.stdout.fileno()
    while not buffered.endswith(b"\n"):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"bmcsim child {child.pid} did not report its ports")
        ready, _, _ = select.select([fd], [], [], remaining)
        if ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                return b""
            buffered += chunk
    return buffered


def _indexes(text: str) -> set[int]:
    return {int(i) for i in text.split(",") if i.strip()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.sim.bmcsim", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--serve-json", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, default=1)
    parser.add_argument("--address", default="127.0.0.1",
                        help="bind address; with --spread, BMC i gets 127.1.x.y instead")
    parser.add_argument("--spread", action="store_true",
                        help="one loopback address per BMC (127.1.0.1, ...), all on --port")
    parser.add_argument("--port", type=int, default=0, help="first port (0: any free port)")
    parser.add_argument("--username", default="USERID")
    parser.add_argument("--password", default="PASSW0RD")
    parser.add_argument("--power", choices=("on", "off"), default="off")
    parser.add_argument("--dead", default="", help="comma-separated indexes that never answer")
    parser.add_argument("--wrong-password", default="",
                        help="comma-separated indexes whose password is not --password")
    parser.add_argument("--processes", type=int, default=1)
    args = parser.parse_args(argv)
    if args.serve_json:
        _serve_json()
        return 0
    dead, wrong = _indexes(args.dead), _indexes(args.wrong_password)
    specs = []
    for i in range(args.count):
        if args.spread:
            address, port = f"127.1.{(i + 1) // 256}.{(i + 1) % 256}", args.port
        else:
            address, port = args.address, (args.port + i if args.port else 0)
        specs.append(BmcSpec(address=address, port=port, username=args.username,
                             password=args.password + ("-not" if i in wrong else ""),
                             power=args.power, dead=i in dead))
    fleet = BmcFleet(specs, processes=args.processes)
    fleet.start()
    try:
        for i, ep in enumerate(fleet.endpoints):
            state = "dead" if ep.spec.dead else ("wrong-password" if i in wrong else ep.spec.power)
            print(f"{i} {ep.address} {ep.port} {state}", flush=True)
        signals = {signal.SIGINT, signal.SIGTERM}
        signal.pthread_sigmask(signal.SIG_BLOCK, signals)
        signal.sigwait(signals)
    finally:
        fleet.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
