"""No file outside the TFTP root or the install tree ever leaves xcatd: 0 escapes.

A real xcatd serves <state>/tftpboot over TFTP and <state>/install (plus the TFTP root under
/tftpboot/) over HTTP. Around them lie what an attacker wants: the database with the
passwd table (<state>/xcatdb.sqlite), the CA's private key (<state>/pki/ca/ca-key.pem),
/etc/passwd, and a secret file beside the state directory. Inside the roots, symlinks point
at all of them, directly, relatively, through chains, through /proc/self/root and
/proc/self/fd, and through a link to the state directory.

Every attempt (tftp-hpa and raw UDP for TFTP; curl --path-as-is and raw sockets for HTTP:
'..', absolute paths, backslashes, percent-encodings single, double and overlong, NUL bytes,
very long names, the roots' own absolute prefixes) must end in an error or silence, and no
answer may hold a byte of any secret. The counts are printed (pytest -s) and tallied.
"""

from __future__ import annotations

import os
import shutil
import socket
import struct
import subprocess
from pathlib import Path

import pytest

from tests.security.harness import TALLY, start_daemon

pytestmark = pytest.mark.skipif(not all(shutil.which(c) for c in ("tftp", "curl")),
                                reason="needs tftp-hpa's tftp and curl")

SECRET = b"SECRET-OUTSIDE-EVERY-ROOT-7f3a\n"
# What any leaked file would start with or contain.
MARKERS = (b"SECRET-OUTSIDE-EVERY-ROOT", b"SQLite format 3", b"PRIVATE KEY", b"root:x:0:0:",
           b"XCATPY_STATE=")
INSIDE_TFTP = b"PXE program inside the TFTP root\n"
INSIDE_INSTALL = b"kernel inside the install tree\n"


def plant_links(root: Path, state: Path, secret: Path) -> None:
    """Symlinks inside `root` that lead out of it."""
    (root / "abs-link").symlink_to(secret)
    (root / "rel-link").symlink_to(os.path.relpath(secret, root))
    (root / "etc-dir").symlink_to("/etc")
    (root / "state-dir").symlink_to(os.path.relpath(state, root))
    (root / "chain2").symlink_to(secret)
    (root / "chain1").symlink_to("chain2")
    (root / "loop").symlink_to("loop")
    (root / "sub").mkdir()
    (root / "sub" / "dotdot").symlink_to("../..")
    (root / "proc").symlink_to("/proc/self")
    (root / "fd").symlink_to("/proc/self/fd")
    (root / "db-link").symlink_to(state / "xcatdb.sqlite")
    (root / "key-link").symlink_to(state / "pki" / "ca" / "ca-key.pem")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    base = tmp_path_factory.mktemp("escapes")
    state = base / "state"
    secret = base / "secret.txt"
    secret.write_bytes(SECRET)
    daemon = start_daemon(state)
    try:
        tftp, install = state / "tftpboot", state / "install"
        (tftp / "pxelinux.0").write_bytes(INSIDE_TFTP)
        (install / "rhels8").mkdir(parents=True)
        (install / "rhels8" / "vmlinuz").write_bytes(INSIDE_INSTALL)
        plant_links(tftp, state, secret)
        plant_links(install, state, secret)
        yield daemon
    finally:
        daemon.stop()


def leaked(data: bytes) -> list[bytes]:
    return [m for m in MARKERS if m in data]


# -- the corpus -------------------------------------------------------------------------------


def tftp_names(state: Path) -> list[bytes]:
    """RRQ file names, as bytes on the wire."""
    tftp = state / "tftpboot"
    names = [
        "../secret.txt", "../../secret.txt", "../xcatdb.sqlite", "/../xcatdb.sqlite",
        "../pki/ca/ca-key.pem", "../../../../../../../etc/passwd", "..",
        "..\\xcatdb.sqlite", "..\\..\\secret.txt", "pxelinux.cfg\\..\\..\\xcatdb.sqlite",
        "\\..\\xcatdb.sqlite", "/etc/passwd", "/etc/shadow", "//etc/passwd", "\\etc\\passwd",
        "./../xcatdb.sqlite", "pxelinux.cfg/../../xcatdb.sqlite", "pxelinux.0/../../secret.txt",
        "xcat/osimage/../../xcatdb.sqlite", "xcat/osimage/x/../../../../xcatdb.sqlite",
        "sub/../../xcatdb.sqlite", "%2e%2e/xcatdb.sqlite", "%2e%2e%2fxcatdb.sqlite",
        "..%2fxcatdb.sqlite", "%252e%252e/xcatdb.sqlite", "..%5cxcatdb.sqlite",
        "....//xcatdb.sqlite", ".../xcatdb.sqlite", "..../xcatdb.sqlite",
        "\u2025/xcatdb.sqlite", "\uff0e\uff0e/xcatdb.sqlite", "\u2024\u2024/xcatdb.sqlite",
        # the roots' own absolute spellings
        f"{state}/xcatdb.sqlite", f"{tftp}/../xcatdb.sqlite", f"{state}/pki/ca/ca-key.pem",
        "/tftpboot/../xcatdb.sqlite", "/var/lib/xcatpy/xcatdb.sqlite",
        f"/proc/self/root{state}/xcatdb.sqlite", "/proc/self/environ",
        # symlinks planted inside the root
        "abs-link", "rel-link", "etc-dir/passwd", "etc-dir/shadow", "state-dir/xcatdb.sqlite",
        "state-dir/pki/ca/ca-key.pem", "chain1", "loop", "sub/dotdot/secret.txt",
        "sub/dotdot/state/xcatdb.sqlite", "proc/root/etc/passwd", "proc/environ",
        f"proc/root{state}/xcatdb.sqlite", "db-link", "key-link", "/abs-link", "\\rel-link",
        "./chain1", "etc-dir/../etc-dir/passwd",
        *[f"fd/{n}" for n in range(0, 24)],
        # long names: a deep '..' walk that still fits in one datagram
        "../" * 120 + "etc/passwd", "a/" * 200 + "../" * 201 + "secret.txt",
    ]
    raw = [os.fsencode(n) if isinstance(n, str) else n for n in names]
    # not UTF-8: overlong '.' and '/' encodings, latin-1
    raw += [b"\xc0\xae\xc0\xae/xcatdb.sqlite", b"..\xc0\xafxcatdb.sqlite",
            b"\xc0\xae\xc0\xae\xc0\xafsecret.txt", b"\xe0\x80\xae\xe0\x80\xae/xcatdb.sqlite"]
    return raw


def raw_only_requests() -> list[bytes]:
    """Whole RRQ datagrams only a raw socket can send: NULs inside, bad modes, huge names."""
    rrq = b"\x00\x01"
    return [
        rrq + b"pxelinux.0\x00../../secret.txt\x00octet\x00",
        rrq + b"../secret.txt\x00octet\x00",
        rrq + b"abs-link\x00netascii\x00",
        rrq + b"../xcatdb.sqlite\x00netascii\x00blksize\x001468\x00tsize\x000\x00",
        rrq + b"db-link\x00octet\x00blksize\x0065464\x00windowsize\x0064\x00",
        rrq + b"..\x00/xcatdb.sqlite\x00octet\x00",
        rrq + b"\x00../xcatdb.sqlite\x00octet\x00",
        rrq + b"key-link\x00mail\x00",
        rrq + b"../" * 1300 + b"secret.txt\x00octet\x00",   # about 3.9 KB
        rrq + b"../" * 1700 + b"secret.txt\x00octet\x00",   # over the 4 KB request buffer
        rrq + b"A" * 60000 + b"\x00octet\x00",
        b"\x00\x02" + b"../evil-written\x00octet\x00",       # WRQ out of the root
        b"\x00\x02" + b"abs-link\x00octet\x00",              # WRQ onto a link to the secret
    ]


def http_paths(state: Path) -> list[str]:
    """Request targets, exactly as sent (curl --path-as-is, or a raw socket)."""
    inner = [
        "../xcatdb.sqlite", "../../secret.txt", "../pki/ca/ca-key.pem", "..",
        "%2e%2e/xcatdb.sqlite", "%2E%2E/xcatdb.sqlite", ".%2e/xcatdb.sqlite",
        "%2e./xcatdb.sqlite", "..%2fxcatdb.sqlite", "%2e%2e%2fxcatdb.sqlite",
        "%2e%2e%2f%2e%2e%2fsecret.txt", "..%5cxcatdb.sqlite", "%2e%2e%5cxcatdb.sqlite",
        "%252e%252e/xcatdb.sqlite", "%252e%252e%252fxcatdb.sqlite",
        "%25252e%25252e/xcatdb.sqlite", "..%00/xcatdb.sqlite", "%00../xcatdb.sqlite",
        "abs-link%00", "..%c0%afxcatdb.sqlite", "%c0%ae%c0%ae/xcatdb.sqlite",
        "%e0%80%ae%e0%80%ae/xcatdb.sqlite", "%ef%bc%8e%ef%bc%8e/xcatdb.sqlite",
        "%e2%80%a5/xcatdb.sqlite", "....//xcatdb.sqlite", ".../xcatdb.sqlite",
        "./../xcatdb.sqlite", "..;/xcatdb.sqlite", "rhels8/../../xcatdb.sqlite",
        "rhels8/..%2f..%2fxcatdb.sqlite", "rhels8/%2e%2e/%2e%2e/xcatdb.sqlite",
        "%2fetc%2fpasswd", "%2Fetc/passwd", "/etc/passwd", "//etc/passwd",
        f"{state}/xcatdb.sqlite".lstrip("/"), "%2f" + f"{state}/xcatdb.sqlite".lstrip("/"),
        "abs-link", "rel-link", "etc-dir/passwd", "etc-dir/shadow", "state-dir/xcatdb.sqlite",
        "state-dir/pki/ca/ca-key.pem", "chain1", "loop", "sub/dotdot/secret.txt",
        "proc/root/etc/passwd", "proc/environ", f"proc/root{state}/xcatdb.sqlite",
        "db-link", "key-link", "etc-dir", "state-dir/", "sub/dotdot/",
        *[f"fd/{n}" for n in range(0, 24)],
    ]
    paths = [prefix + p for prefix in ("/install/", "/tftpboot/") for p in inner]
    paths += [
        "/../xcatdb.sqlite", "/%2e%2e/xcatdb.sqlite", "/install/../../secret.txt",
        "/install/autoinst/../../xcatdb.sqlite", "/install/autoinst/..%2f..%2fxcatdb.sqlite",
        "/install/autoinst/%2e%2e", "/install/autoinst/..",
        "/xcatpy/v1/boot/ipxe/../../../../install/../xcatdb.sqlite",
        "/xcatpy/v1/boot/ipxe/..%2f..%2f..%2fxcatdb.sqlite",
        "/install" + "/.." * 40 + "/etc/passwd", "/install/" + "a/" * 400 + "../" * 401
        + "xcatdb.sqlite",
    ]
    return paths


def raw_http_targets(state: Path, port: int) -> list[bytes]:
    """Request lines curl cannot send as they are."""
    return [
        b"/install/..\\xcatdb.sqlite", b"/install/rhels8\\..\\..\\xcatdb.sqlite",
        b"/tftpboot/..\\..\\secret.txt", b"/install/\xc0\xae\xc0\xae/xcatdb.sqlite",
        f"http://127.0.0.1:{port}/install/../xcatdb.sqlite".encode(),
        f"http://127.0.0.1:{port}/install/%2e%2e/xcatdb.sqlite".encode(),
        b"*", b"../install/../xcatdb.sqlite", b"install/../xcatdb.sqlite",
    ]


# -- clients ------------------------------------------------------------------------------------


def tftp_hpa(port: int, name: bytes, out: Path) -> tuple[bool, bytes, str]:
    """(refused, what was received, what tftp said)."""
    out.unlink(missing_ok=True)
    p = subprocess.run([b"tftp", b"127.0.0.1", str(port).encode(), b"-m", b"binary",
                        b"-c", b"get", name, os.fsencode(out)], capture_output=True, timeout=60)
    said = (p.stdout + p.stderr).decode(errors="replace")
    got = out.read_bytes() if out.exists() else b""
    refused = "Error code" in said and got == b""
    return refused, got + p.stdout + p.stderr, said


def tftp_raw(port: int, datagram: bytes, wait: float = 3.0) -> tuple[str, bytes]:
    """Sends one request datagram and follows the transfer: ("error", message),
    ("silent", b"") when nothing comes within `wait` seconds, or ("data", every byte
    received). A slow answer can only turn an error into silence, both refusals."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.settimeout(wait)
        try:
            s.sendto(datagram, ("127.0.0.1", port))
        except OSError:   # larger than a UDP datagram can be
            return "silent", b""
        received = b""
        expected = 1
        while True:
            try:
                packet, peer = s.recvfrom(70000)
            except TimeoutError:
                return ("data", received) if received else ("silent", b"")
            opcode = struct.unpack("!H", packet[:2])[0]
            if opcode == 5:
                return "error", packet[4:]
            if opcode == 6:   # OACK: accept what was granted
                s.sendto(struct.pack("!HH", 4, 0), peer)
                continue
            if opcode == 3:
                block = struct.unpack("!H", packet[2:4])[0]
                if block == expected:
                    received += packet[4:]
                    expected += 1
                s.sendto(struct.pack("!HH", 4, block), peer)
                if len(packet) - 4 < 512:
                    return "data", received
                continue
            if opcode == 4:   # an ACK: a WRQ would have been accepted
                return "data", b"(WRQ accepted)"
            return "data", packet


def curl(port: int, path: str, *opts: str) -> tuple[int, bytes]:
    p = subprocess.run(["curl", "-s", "-S", "--path-as-is", "-g", "-o", "-", "-w",
                        "\n%{http_code}", "--max-time", "20", *opts,
                        f"http://127.0.0.1:{port}{path}"], capture_output=True, timeout=60)
    body, _, code = p.stdout.rpartition(b"\n")
    return int(code or b"0"), body + p.stderr


def http_raw(port: int, target: bytes, method: bytes = b"GET") -> tuple[int, bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
        s.sendall(method + b" " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                  b"Connection: close\r\n\r\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else 0
    return status, data


# -- the checks ---------------------------------------------------------------------------------


def test_the_roots_do_serve_what_is_inside(served, tmp_path):
    """The corpus is meaningful: these clients do fetch files that are inside."""
    ports = served.ports
    assert tftp_raw(ports["tftp_port"], b"\x00\x01pxelinux.0\x00octet\x00", wait=30) == \
        ("data", INSIDE_TFTP)
    assert tftp_hpa(ports["tftp_port"], b"pxelinux.0", tmp_path / "got")[1].startswith(
        INSIDE_TFTP)
    assert curl(ports["http_port"], "/install/rhels8/vmlinuz") == (200, INSIDE_INSTALL)
    assert curl(ports["http_port"], "/tftpboot/pxelinux.0") == (200, INSIDE_TFTP)


def test_tftp_hpa_escapes(served, tmp_path):
    port = served.ports["tftp_port"]
    escapes = []
    names = tftp_names(served.state)
    for name in names:
        refused, got, said = tftp_hpa(port, name, tmp_path / "got")
        TALLY.record("tftp: path escape (tftp-hpa)", refused and not leaked(got))
        if not refused or leaked(got):
            escapes.append((name, said, got[:80]))
    print(f"\nTFTP via tftp-hpa: {len(names)} attempts, {len(escapes)} escapes")
    assert escapes == []


def test_tftp_raw_udp_escapes(served):
    port = served.ports["tftp_port"]
    datagrams = [b"\x00\x01" + n + b"\x00octet\x00" for n in tftp_names(served.state)]
    datagrams += [b"\x00\x01" + n + b"\x00netascii\x00" for n in tftp_names(served.state)[:8]]
    datagrams += raw_only_requests()
    escapes, outcomes = [], {"error": 0, "silent": 0, "data": 0}
    for datagram in datagrams:
        kind, data = tftp_raw(port, datagram)
        outcomes[kind] += 1
        TALLY.record("tftp: path escape (raw UDP)", kind != "data" and not leaked(data))
        if kind == "data" or leaked(data):
            escapes.append((datagram[:80], kind, data[:80]))
    print(f"\nTFTP via raw UDP: {len(datagrams)} attempts, {outcomes['error']} errors, "
          f"{outcomes['silent']} dropped, {len(escapes)} escapes")
    assert escapes == []
    assert not (served.state / "evil-written").exists()
    assert (served.state.parent / "secret.txt").read_bytes() == SECRET
    # The server is still there and serving.
    assert tftp_raw(port, b"\x00\x01pxelinux.0\x00octet\x00", wait=30) == ("data", INSIDE_TFTP)


def test_http_escapes_with_curl(served):
    port = served.ports["http_port"]
    paths = http_paths(served.state)
    escapes = []
    for path in paths:
        for method in (("-X", "GET"), ("-I",)):
            code, body = curl(port, path, *method)
            refused = code >= 400 and not leaked(body)
            TALLY.record("http: path escape (curl --path-as-is)", refused)
            if not refused:
                escapes.append((path, method, code, body[:80]))
    print(f"\nHTTP via curl: {2 * len(paths)} attempts, {len(escapes)} escapes")
    assert escapes == []


def test_http_escapes_with_raw_requests(served):
    port = served.ports["http_port"]
    targets = raw_http_targets(served.state, port)
    targets += [p.encode() for p in http_paths(served.state)[:40]]
    escapes = []
    for target in targets:
        code, data = http_raw(port, target)
        refused = code >= 400 and not leaked(data)
        TALLY.record("http: path escape (raw socket)", refused)
        if not refused:
            escapes.append((target, code, data[:120]))
    print(f"\nHTTP via raw requests: {len(targets)} attempts, {len(escapes)} escapes")
    assert escapes == []


@pytest.mark.parametrize("method", [b"PUT", b"POST", b"DELETE", b"PATCH", b"MKCOL"])
def test_http_never_writes_the_trees(served, method):
    port = served.ports["http_port"]
    install = served.state / "install"
    attempts = [b"/install/evil-new", b"/install/rhels8/vmlinuz", b"/install/../evil-new",
                b"/install/abs-link", b"/tftpboot/pxelinux.0", b"/tftpboot/evil-new"]
    for target in attempts:
        code, data = http_raw(port, target, method)
        TALLY.record("http: write into or out of the trees", code in (404, 405))
        assert code in (404, 405), (method, target, code, data[:200])
    assert (install / "rhels8" / "vmlinuz").read_bytes() == INSIDE_INSTALL
    assert (served.state / "tftpboot" / "pxelinux.0").read_bytes() == INSIDE_TFTP
    assert not (install / "evil-new").exists() and not (served.state / "evil-new").exists()
    assert (served.state.parent / "secret.txt").read_bytes() == SECRET
