"""TFTP conformance with real clients: tftp-hpa `tftp`, `curl tftp://`, `atftp`, tftpy.

Most tests run against a real xcatd (`--tftp-port 0`, its root <state>/tftpboot). What needs
a knob the daemon does not have (a small session cap, sample generators, a wildcard listener
in a network namespace, an interface with a small MTU) runs the same TftpService through
tests/integration/tftpserver_harness.py. Content is compared by sha256.
"""

import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import tftpy

from tests.e2e.netns import stop_process
from tests.integration.clitools import REPO
from tests.integration.xcatd import Xcatd
from xcatpy.boot.tftp import packets

HARNESS = REPO / "tests" / "integration" / "tftpserver_harness.py"
HANG_GUARD = 120        # seconds a client may take before the test calls it hung

pytestmark = pytest.mark.skipif(
    not all(shutil.which(c) for c in ("tftp", "curl", "atftp")),
    reason="needs tftp-hpa's tftp, curl and atftp")


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


FILES = {
    "empty": b"",
    "one": b"x",
    "exact512": os.urandom(512),
    "blocks4": os.urandom(512 * 4),
    "odd": os.urandom(1000),
    "exact1468x3": os.urandom(1468 * 3),
    "big": os.urandom(5 << 20),
    "pxelinux.cfg/default": b"DEFAULT local\nLABEL local\n  LOCALBOOT 0\n",
    "sub dir/file.bin": os.urandom(3000),
}
SECRET = b"root:outside-the-tftp-root\n"


def populate(root: Path) -> None:
    for name, content in FILES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    (root.parent / "secret").write_bytes(SECRET)
    (root / "abs-escape").symlink_to(root.parent / "secret")
    (root / "rel-escape").symlink_to("../secret")
    (root / "etc").symlink_to("/etc")
    (root / "inside-link").symlink_to("big")
    (root / os.fsdecode(b"caf\xe9.bin")).write_bytes(b"latin-1 named file")
    os.mkfifo(root / "fifo")


class Served:
    def __init__(self, port: int, root: Path, host: str = "127.0.0.1") -> None:
        self.port, self.root, self.host = port, root, host


@pytest.fixture(scope="module")
def xcatd(tmp_path_factory):
    state = tmp_path_factory.mktemp("tftp-xcatd") / "state"
    daemon = Xcatd(state, "--tftp-port", "0").start()
    try:
        if "tftp_port" not in daemon.ports:
            pytest.fail(f"xcatd did not report a tftp_port: {daemon.ports}")
        root = state / "tftpboot"
        populate(root)
        yield Served(daemon.ports["tftp_port"], root)
    finally:
        daemon.stop()


class Harness:
    """TftpService alone in a subprocess (optionally inside a network namespace)."""

    def __init__(self, tmp: Path, *args: str, netns: str | None = None) -> None:
        self.root = tmp / "tftpboot"
        self.root.mkdir(parents=True, exist_ok=True)
        self.portfile = tmp / "port"
        self.statsfile = tmp / "stats"
        self.log = tmp / "harness.log"
        prefix = ["ip", "netns", "exec", netns] if netns else []
        self.proc = subprocess.Popen(
            [*prefix, sys.executable, str(HARNESS), "--root", str(self.root), "--port", "0",
             "--portfile", str(self.portfile), "--statsfile", str(self.statsfile),
             "--verbose", *args],
            cwd=REPO, stdout=subprocess.DEVNULL, stderr=open(self.log, "w"))
        deadline = time.monotonic() + 30
        while not self.portfile.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"harness did not start: {self.log.read_text()}")
            time.sleep(0.05)
        self.port = int(self.portfile.read_text())

    def stats(self) -> dict[str, int]:
        self.statsfile.unlink(missing_ok=True)
        self.proc.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + 10
        while not self.statsfile.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        text = self.statsfile.read_text()
        return {k: int(v) for k, v in (item.split("=") for item in text.split())}

    def stop(self) -> None:
        stop_process(self.proc)


@pytest.fixture(scope="module")
def harness(tmp_path_factory):
    h = Harness(tmp_path_factory.mktemp("tftp-harness"), "--generators", "--max-sessions",
                "3")
    populate(h.root)
    yield Served(h.port, h.root), h
    h.stop()


# -- clients -----------------------------------------------------------------------------


def run(*cmd: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, timeout=HANG_GUARD, **kw)


def tftp_hpa(srv: Served, name: str, out: Path) -> subprocess.CompletedProcess:
    return run("tftp", "-m", "binary", srv.host, str(srv.port), "-c", "get", name, str(out))


def curl(srv: Served, name: str, out: Path, blksize: int | None) -> subprocess.CompletedProcess:
    """blksize None: no options at all (curl 7.88 rejects an OACK saying tsize 0, from
    tftpd-hpa as from us, so an empty file is fetched that way)."""
    from urllib.parse import quote

    options = ["--tftp-no-options"] if blksize is None else ["--tftp-blksize", str(blksize)]
    return run("curl", "-sS", "-o", str(out), *options,
               f"tftp://{srv.host}:{srv.port}/{quote(name)}")


def atftp(srv: Served, name: str, out: Path, blksize: int,
          window: int) -> subprocess.CompletedProcess:
    options = ["--option", f"blksize {blksize}", "--option", "tsize 0"]
    if window > 1:
        options += ["--option", f"windowsize {window}"]
    return run("atftp", "--get", "-r", name, "-l", str(out), *options, "--trace", srv.host,
               str(srv.port))


def tftpy_get(srv: Served, name: str, out: Path, **options) -> None:
    tftpy.TftpClient(srv.host, srv.port, options).download(name, str(out), timeout=5)


def read(out: Path) -> bytes:
    return out.read_bytes() if out.exists() else b"<no output file>"


# -- transfers with every client ---------------------------------------------------------

TRANSFER_FILES = ["empty", "one", "exact512", "blocks4", "odd", "exact1468x3", "big",
                  "pxelinux.cfg/default", "sub dir/file.bin"]


@pytest.mark.parametrize("name", TRANSFER_FILES)
def test_tftp_hpa(xcatd, tmp_path, name):
    out = tmp_path / "out"
    p = tftp_hpa(xcatd, name, out)
    assert b"Error" not in p.stdout + p.stderr, p
    assert sha(read(out)) == sha(FILES[name])


@pytest.mark.parametrize("name, blksize", [
    (name, blksize) for name in ["exact512", "blocks4", "exact1468x3", "big", "sub dir/file.bin"]
    for blksize in [None, 512, 1468, 8192]] + [("empty", None)])
def test_curl(xcatd, tmp_path, name, blksize):
    # curl 7.88 refuses an OACK with tsize 0 (tftpd-hpa's too): the empty file without options
    out = tmp_path / "out"
    p = curl(xcatd, name, out, blksize)
    assert p.returncode == 0, p
    assert sha(read(out)) == sha(FILES[name])


@pytest.mark.parametrize("window", [1, 16])
@pytest.mark.parametrize("blksize", [512, 1468, 8192])
@pytest.mark.parametrize("name", ["empty", "exact512", "exact1468x3", "big"])
def test_atftp(xcatd, tmp_path, name, blksize, window):
    out = tmp_path / "out"
    p = atftp(xcatd, name, out, blksize, window)
    assert p.returncode == 0, p
    assert sha(read(out)) == sha(FILES[name])
    trace = (p.stdout + p.stderr).decode()
    oack = [line for line in trace.splitlines() if "received OACK" in line]
    assert oack and f"tsize: {len(FILES[name])}" in oack[0] and \
        f"blksize: {blksize}" in oack[0], oack
    if window > 1:
        granted = max(1, min(window, (64 << 10) // blksize))
        assert f"windowsize: {granted}" in oack[0], oack
    # a window lost in the client's receive buffer would show as "wrong block" retries
    assert "got wrong block" not in trace


@pytest.mark.parametrize("options", [{}, {"blksize": 512, "tsize": 0},
                                     {"blksize": 1468, "tsize": 0}, {"blksize": 8192}])
@pytest.mark.parametrize("name", ["empty", "exact512", "odd", "big"])
def test_tftpy(xcatd, tmp_path, name, options):
    out = tmp_path / "out"
    tftpy_get(xcatd, name, out, **options)
    assert sha(read(out)) == sha(FILES[name])


def test_symlink_inside_the_root_is_served(xcatd, tmp_path):
    out = tmp_path / "out"
    assert curl(xcatd, "inside-link", out, 1468).returncode == 0
    assert sha(read(out)) == sha(FILES["big"])


# -- refusals ----------------------------------------------------------------------------


def test_missing_file(xcatd, tmp_path):
    out = tmp_path / "out"
    assert b"Error code 1" in tftp_hpa(xcatd, "no-such-file", out).stdout
    assert curl(xcatd, "no-such-file", out, 512).returncode == 68      # TFTP not found
    assert atftp(xcatd, "no-such-file", out, 512, 1).returncode != 0
    with pytest.raises(tftpy.TftpException, match="File not found|not found"):
        tftpy_get(xcatd, "no-such-file", out)


@pytest.mark.parametrize("name", ["../secret", "/../secret", "pxelinux.cfg/../../secret",
                                  "..\\secret", "abs-escape", "rel-escape", "etc/passwd",
                                  "/etc/passwd", "fifo", "pxelinux.cfg"])
def test_nothing_outside_the_root_and_only_regular_files(xcatd, tmp_path, name):
    out = tmp_path / "out"
    p = tftp_hpa(xcatd, name, out)
    assert b"Error code" in p.stdout, p
    assert read(out) in (b"", b"<no output file>")
    reply = raw_request(xcatd, packets.request(name))
    assert isinstance(reply, packets.Error) and reply.code in (1, 2), reply


def test_wrq_is_refused(xcatd, tmp_path):
    local = tmp_path / "upload.bin"
    local.write_bytes(b"not welcome")
    p = run("tftp", "-m", "binary", xcatd.host, str(xcatd.port), "-c", "put", str(local),
            "uploaded.bin")
    assert b"Error code 2" in p.stdout + p.stderr, p
    assert not (xcatd.root / "uploaded.bin").exists()
    with pytest.raises(tftpy.TftpException):
        tftpy.TftpClient(xcatd.host, xcatd.port).upload("uploaded2.bin", str(local),
                                                          timeout=5)
    assert not (xcatd.root / "uploaded2.bin").exists()


def test_non_ascii_and_non_utf8_names(xcatd):
    reply = raw_request(xcatd, packets.request(b"\xff\xfe\xfd-missing"))
    assert isinstance(reply, packets.Error) and reply.code == 1, reply
    reply = raw_request(xcatd, packets.request(b"caf\xe9.bin"))
    assert reply == packets.Data(1, b"latin-1 named file")


@pytest.mark.parametrize("options", [
    {"blksize": "abc"}, {"blksize": "0"}, {"blksize": "99999"}, {"tsize": "x"},
    {"windowsize": "0"}, {"timeout": "1000"}, {"bogus": "1"}])
def test_invalid_options_are_ignored_not_fatal(xcatd, options):
    reply = raw_request(xcatd, packets.request("odd", "octet", options))
    assert reply == packets.Data(1, FILES["odd"][:512])


def test_options_are_case_insensitive(xcatd):
    reply = raw_request(xcatd, b"\0\1odd\0OCTET\0BLKSIZE\0001000\0TSize\0000\0")
    assert reply == packets.OptionAck({"blksize": b"1000", "tsize": b"1000"})


# -- raw-socket behaviour ----------------------------------------------------------------


def udp(timeout: float = 5.0) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(timeout)
    return sock


def raw_request(srv: Served, datagram: bytes):
    sock = udp()
    try:
        sock.sendto(datagram, (srv.host, srv.port))
        data, _ = sock.recvfrom(70000)
        return packets.parse(data)
    finally:
        sock.close()


def closed(tid: tuple[str, int]) -> bool:
    """True if nothing listens on `tid` any more (an ACK there meets ICMP unreachable)."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.settimeout(5)
    try:
        probe.connect(tid)
        probe.send(packets.ack(0))
        probe.recv(100)
    except ConnectionRefusedError:
        return True
    except TimeoutError:
        return False
    finally:
        probe.close()
    return False


def test_tsize_is_the_real_size(xcatd):
    for name in ("empty", "exact512", "big"):
        reply = raw_request(xcatd, packets.request(name, "octet", {"tsize": 0}))
        assert reply == packets.OptionAck({"tsize": str(len(FILES[name])).encode()})


def test_a_vanished_client_is_reaped(xcatd):
    sock = udp(timeout=4)
    try:
        sock.sendto(packets.request("big", "octet", {"timeout": 1}), (xcatd.host, xcatd.port))
        oack, tid = sock.recvfrom(100)
        assert packets.parse(oack) == packets.OptionAck({"timeout": b"1"})
        sock.sendto(packets.ack(0), tid)
        copies = 0
        while True:         # now vanish: never ACK block 1, count its retransmissions
            try:
                data, sender = sock.recvfrom(1000)
            except TimeoutError:
                break
            assert sender == tid and packets.parse(data).block == 1
            copies += 1
        assert copies == 1 + 5          # the original and five retries, then silence
        assert closed(tid)              # the session and its socket are gone
    finally:
        sock.close()


def test_a_new_request_from_the_same_port_replaces_the_session(xcatd):
    sock = udp()
    try:
        # a PXE ROM's tsize probe, abandoned without an ERROR...
        sock.sendto(packets.request("big", "octet", {"tsize": 0, "blksize": 1468}),
                    (xcatd.host, xcatd.port))
        probe, old_tid = sock.recvfrom(100)
        assert packets.parse(probe).options["tsize"] == str(len(FILES["big"])).encode()
        # ...and the real request from the same port
        sock.sendto(packets.request("big", "octet", {"blksize": 1468}),
                    (xcatd.host, xcatd.port))
        oack, tid = sock.recvfrom(100)
        assert tid != old_tid and packets.parse(oack) == packets.OptionAck(
            {"blksize": b"1468"})
        assert closed(old_tid)
        received, block = [], 0
        sock.sendto(packets.ack(0), tid)
        while True:
            data, sender = sock.recvfrom(2000)
            packet = packets.parse(data)
            if sender != tid or packet.block != (block + 1) & 0xFFFF:
                continue
            block += 1
            received.append(packet.payload)
            sock.sendto(packets.ack(block), tid)
            if len(packet.payload) < 1468:
                break
        assert sha(b"".join(received)) == sha(FILES["big"])
    finally:
        sock.close()


def test_tftp_hpa_gets_many_files_from_one_port(xcatd, tmp_path):
    # `get a b c ...` sends every RRQ from the same port (tftpy's server dropped these for
    # seconds each); here all twenty come back, each one correct.
    contents = {f"many{i:02}": os.urandom(100 + 700 * i) for i in range(20)}
    for name, content in contents.items():
        (xcatd.root / name).write_bytes(content)
    p = run("tftp", "-m", "binary", xcatd.host, str(xcatd.port), "-c", "get", *contents,
            cwd=tmp_path)
    assert b"Error" not in p.stdout + p.stderr, p
    for name, content in contents.items():
        assert sha(read(tmp_path / name)) == sha(content)


def test_malformed_datagrams_are_ignored(xcatd, tmp_path):
    sock = udp(timeout=0.5)
    try:
        for junk in (b"", b"\0", b"\0\1", b"\0\1\0\0", b"\0\1f\0nomode\0", b"\0\3\0\1data",
                     b"\0\4\0\1", b"\0\5\0\1oops\0", b"\0\6x\0", b"\x42" * 1400,
                     b"\0\1" + b"A" * 5000, os.urandom(300)):
            sock.sendto(junk, (xcatd.host, xcatd.port))
        with pytest.raises(TimeoutError):
            sock.recvfrom(1000)         # no answers to garbage
        # garbage sent to a transfer's own port does not derail it
        sock.settimeout(5)
        sock.sendto(packets.request("blocks4"), (xcatd.host, xcatd.port))
        data, tid = sock.recvfrom(1000)
        for junk in (b"", b"\0\4", b"\0\3\0\1zz", b"\0\4\0\7", os.urandom(64)):
            sock.sendto(junk, tid)
        received = [packets.parse(data).payload]
        for block in range(1, 5):
            sock.sendto(packets.ack(block), tid)
            data, _ = sock.recvfrom(1000)
            packet = packets.parse(data)
            assert packet.block == block + 1
            received.append(packet.payload)
        sock.sendto(packets.ack(5), tid)
        assert b"".join(received) == FILES["blocks4"]
    finally:
        sock.close()
    out = tmp_path / "out"
    assert curl(xcatd, "odd", out, 512).returncode == 0 and read(out) == FILES["odd"]


# -- through the harness: session cap and generators ------------------------------------


def test_session_cap(harness):
    srv, h = harness
    socks = [udp() for _ in range(4)]
    try:
        tids = []
        for sock in socks[:3]:
            sock.sendto(packets.request("big"), (srv.host, srv.port))
            data, tid = sock.recvfrom(1000)
            assert packets.parse(data).block == 1
            tids.append(tid)
        socks[3].sendto(packets.request("big"), (srv.host, srv.port))
        data, _ = socks[3].recvfrom(1000)
        assert packets.parse(data) == packets.Error(0, b"server busy")
        assert h.stats()["sessions"] == 3
        socks[0].sendto(packets.error(0, "done"), tids[0])     # one client gives up
        deadline = time.monotonic() + 10
        while h.stats()["sessions"] != 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        socks[3].sendto(packets.request("big"), (srv.host, srv.port))
        data, tid = socks[3].recvfrom(1000)
        assert packets.parse(data).block == 1
        tids[0] = tid
        for sock, tid in zip([socks[3], *socks[1:3]], tids, strict=True):
            sock.sendto(packets.error(0, "done"), tid)
        deadline = time.monotonic() + 10
        while h.stats()["sessions"] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert h.stats()["sessions"] == 0
    finally:
        for sock in socks:
            sock.close()


def test_generated_files(harness, tmp_path):
    srv, h = harness
    out = tmp_path / "out"
    assert curl(srv, "gen/hello-world", out, 1468).returncode == 0
    assert read(out) == b"hello world from 127.0.0.1 via 127.0.0.1\n"
    tftpy_get(srv, "\\gen\\hello-tftpy", out, tsize=0)
    assert read(out) == b"hello tftpy from 127.0.0.1 via 127.0.0.1\n"
    assert curl(srv, "gen/alias-big", out, 8192).returncode == 0        # a Path result
    assert sha(read(out)) == sha(FILES["big"])
    (srv.root / "gen" / "none").mkdir(parents=True, exist_ok=True)
    (srv.root / "gen" / "none" / "static").write_bytes(b"fell through")
    p = tftp_hpa(srv, "gen/none/static", out)                           # None: static
    assert read(out) == b"fell through", p


def test_a_failing_generator_is_an_error_not_a_crash(harness, tmp_path):
    srv, h = harness
    reply = raw_request(srv, packets.request("gen/fail"))
    assert reply == packets.Error(0, b"internal error")
    assert "generator exploded on purpose" in h.log.read_text()
    out = tmp_path / "out"
    assert curl(srv, "odd", out, 512).returncode == 0 and read(out) == FILES["odd"]


# -- network namespaces: a wildcard listener, two local addresses, a small MTU -----------


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


NETNS_CLIENT = r"""
import socket, sys, json
server, port, name, blksize = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
rrq = b"\0\1" + name.encode() + b"\0octet\0blksize\0" + blksize.encode() + b"\0"
s.sendto(rrq, (server, int(port)))
data, tid = s.recvfrom(70000)
oack = data
s.sendto(b"\0\4\0\0", tid)
content, block, senders = b"", 0, set()
while True:
    data, sender = s.recvfrom(70000)
    senders.add(sender[0])
    if data[:2] != b"\0\3" or int.from_bytes(data[2:4], "big") != (block + 1) & 0xFFFF:
        continue
    block += 1
    content += data[4:]
    s.sendto(b"\0\4" + data[2:4], tid)
    if len(data) - 4 < int(oack.split(b"\0")[2]):
        break
import hashlib
print(json.dumps({"tid": tid[0], "oack": oack.decode(), "senders": sorted(senders),
                  "sha": hashlib.sha256(content).hexdigest()}))
"""


@pytest.fixture(scope="module")
def namespaces(tmp_path_factory):
    """Server namespace `srv` (lo, and veth 10.231.0.1 with MTU 1000) and client namespace
    `cli` (veth 10.231.0.2); a harness listening on 0.0.0.0 in `srv`."""
    if os.geteuid() != 0 or not shutil.which("ip"):
        pytest.skip("needs root and iproute2 to make network namespaces")
    tag = f"xtftp{os.getpid()}"
    srv_ns, cli_ns = f"{tag}s", f"{tag}c"
    made = []
    try:
        for ns in (srv_ns, cli_ns):
            ip("netns", "add", ns)
            made.append(ns)
            ip("-n", ns, "link", "set", "lo", "up")
        ip("link", "add", f"{tag}a", "netns", srv_ns, "type", "veth", "peer", "name",
           f"{tag}b", "netns", cli_ns)
        for ns, dev, addr in ((srv_ns, f"{tag}a", "10.231.0.1/24"),
                              (cli_ns, f"{tag}b", "10.231.0.2/24")):
            ip("-n", ns, "addr", "add", addr, "dev", dev)
            ip("-n", ns, "link", "set", dev, "mtu", "1000", "up")
        h = Harness(tmp_path_factory.mktemp("tftp-netns"), "--address", "0.0.0.0",
                    netns=srv_ns)
        populate(h.root)
        yield srv_ns, cli_ns, h
        h.stop()
    finally:
        for ns in made:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def netns_fetch(ns: str, server: str, port: int, name: str, blksize: int) -> dict:
    import json

    p = run("ip", "netns", "exec", ns, sys.executable, "-c", NETNS_CLIENT, server, str(port),
            name, str(blksize))
    assert p.returncode == 0, p
    return json.loads(p.stdout)


@pytest.mark.parametrize("address", ["127.0.0.1", "127.0.0.2", "10.231.0.1"])
def test_wildcard_listener_answers_from_the_address_asked(namespaces, address):
    srv_ns, _, h = namespaces
    got = netns_fetch(srv_ns, address, h.port, "blocks4", 1468)
    assert got["tid"] == address and got["senders"] == [address]
    assert got["sha"] == sha(FILES["blocks4"])


def test_blksize_is_capped_to_the_path_mtu(namespaces):
    srv_ns, cli_ns, h = namespaces
    # over the veth (MTU 1000): 1000 - 20 IP - 8 UDP - 4 TFTP
    got = netns_fetch(cli_ns, "10.231.0.1", h.port, "big", 8192)
    assert "blksize\x00968" in got["oack"] and got["senders"] == ["10.231.0.1"]
    assert got["sha"] == sha(FILES["big"])
    # on loopback the same request gets what it asked for
    got = netns_fetch(srv_ns, "127.0.0.1", h.port, "big", 8192)
    assert "blksize\x008192" in got["oack"] and got["sha"] == sha(FILES["big"])


def test_real_clients_across_the_veth(namespaces, tmp_path):
    _, cli_ns, h = namespaces
    out = tmp_path / "out"
    p = run("ip", "netns", "exec", cli_ns, "curl", "-sS", "-o", str(out), "--tftp-blksize",
            "1468", f"tftp://10.231.0.1:{h.port}/big")
    assert p.returncode == 0, p
    assert sha(read(out)) == sha(FILES["big"])
    p = run("ip", "netns", "exec", cli_ns, "atftp", "--get", "-r", "big", "-l", str(out),
            "--option", "blksize 1468", "--option", "windowsize 16", "10.231.0.1",
            str(h.port))
    assert p.returncode == 0, p
    assert sha(read(out)) == sha(FILES["big"])
