"""Who may talk to the API: only holders of an unrevoked client certificate of this instance's
CA, over TLS 1.2 or later; and the CLI talks only to a server with this CA's server
certificate for the name it dialled.

Real clients attack a real xcatd: curl and `openssl s_client` (the programs an admin would
try), Python's ssl, and the CLI. Certificates the CA never issued are made here with the
`cryptography` library: expired and not-yet-valid ones signed by the real CA key (as a
careless backup of it would allow), a forged CA with the real CA's name, a certificate an
issued user signs with her own key, the server's certificate used as a client's. Each
attack asks for `nodeadd evil<N>`; at the end no evil node exists, and the daemon still
serves root.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import shutil
import socket
import ssl
import subprocess
import threading
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.security.harness import (
    TALLY,
    api,
    client_context,
    issue,
    local,
    setup_cli,
    snapshot,
    start_daemon,
    via,
)
from xcatpy.pki.paths import ClientCreds, PkiPaths
from xcatpy.server.protocol import API_PATH, CommandRequest

pytestmark = pytest.mark.skipif(not all(shutil.which(c) for c in ("curl", "openssl")),
                                reason="needs curl and openssl")

CATEGORY = "tls: client without valid credentials"
IMPOSTOR = "tls: impostor server or wrong server name"
NOW = dt.datetime.now(dt.UTC)


# -- certificates the CA never issued ---------------------------------------------------------


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "xcatpy"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_cert(cn: str, issuer: x509.Name, signing_key, *, key=None,
              not_before: dt.datetime | None = None, not_after: dt.datetime | None = None,
              eku=ExtendedKeyUsageOID.CLIENT_AUTH, ca: bool = False):
    """(key, certificate) for CN=cn, issued under `issuer` and signed with signing_key."""
    key = key or ec.generate_private_key(ec.SECP256R1())
    builder = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(issuer)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(not_before or NOW - dt.timedelta(days=1))
               .not_valid_after(not_after or NOW + dt.timedelta(days=30))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                   signing_key.public_key()), critical=False))
    if eku is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage([eku]), critical=False)
    return key, builder.sign(signing_key, hashes.SHA256())


def write_creds(directory: Path, ca_pem: bytes, key, *chain: x509.Certificate) -> ClientCreds:
    directory.mkdir(parents=True, exist_ok=True)
    creds = ClientCreds.in_dir(directory)
    creds.ca.write_bytes(ca_pem)
    creds.key.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                            serialization.PrivateFormat.PKCS8,
                                            serialization.NoEncryption()))
    creds.cert.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in chain))
    creds.key.chmod(0o600)
    return creds


def load_ca(state: Path):
    paths = PkiPaths(state)
    cert = x509.load_pem_x509_certificate(paths.ca_cert.read_bytes())
    key = serialization.load_pem_private_key(paths.ca_key.read_bytes(), password=None)
    return cert, key


# -- the instance -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def xcat(tmp_path_factory):
    base = tmp_path_factory.mktemp("tls")
    daemon = start_daemon(base / "state")
    local(daemon.state, "tabch", "priority=5", "policy.name=alice", "policy.rule=allow")
    local(daemon.state, "tabch", "priority=6", "policy.name=carol", "policy.rule=allow")
    local(daemon.state, "tabch", "priority=7", "policy.name=dora", "policy.rule=allow")
    local(daemon.state, "tabch", "priority=8", "policy.name=localhost", "policy.rule=allow")
    yield daemon, base
    daemon.stop()
    evil = [line for line in local(daemon.state, "nodels").out.split() if "evil" in line]
    assert evil == [], f"an attack got through: {evil}"


_counter = iter(range(1, 10_000))


def evil_request() -> bytes:
    return CommandRequest("nodeadd", [f"evil{next(_counter)}", "groups=all"]).encode()


def curl(port: int, creds: ClientCreds | None, *, cacert: Path, url_host: str = "127.0.0.1",
         extra: tuple[str, ...] = ()) -> tuple[int, str, str]:
    """curl POSTs a command request: (curl's exit code, HTTP status, body + stderr)."""
    args = ["curl", "-sS", "--max-time", "20", "--cacert", str(cacert),
            "--data-binary", "@-", "-H", "Content-Type: application/json",
            "-o", "-", "-w", "\n%{http_code}", *extra]
    if creds is not None:
        args += ["--cert", str(creds.cert), "--key", str(creds.key)]
    args.append(f"https://{url_host}:{port}{API_PATH.decode()}")
    p = subprocess.run(args, input=evil_request(), capture_output=True, timeout=60)
    body, _, code = p.stdout.decode(errors="replace").rpartition("\n")
    return p.returncode, code, body + p.stderr.decode(errors="replace")


def s_client(port: int, creds: ClientCreds | None, *, cafile: Path,
             extra: tuple[str, ...] = ()) -> tuple[int, str]:
    """openssl s_client sends one HTTP request by hand: (exit code, everything it printed)."""
    body = evil_request()
    request = (f"POST {API_PATH.decode()} HTTP/1.1\r\nHost: localhost\r\n"
               f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
               "Connection: close\r\n\r\n").encode() + body
    args = ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-CAfile", str(cafile),
            "-quiet", "-verify_return_error", *extra]
    if creds is not None:
        args += ["-cert", str(creds.cert), "-key", str(creds.key)]
    p = subprocess.run(args, input=request, capture_output=True, timeout=60)
    return p.returncode, (p.stdout + p.stderr).decode(errors="replace")


def still_serves_root(daemon) -> None:
    assert daemon.proc.poll() is None, "xcatd died"
    r = via(daemon, "nodels", "ok1")
    assert (r.rc, r.out) == (0, "ok1\n"), r


# -- credentials xcatd must refuse ----------------------------------------------------------------


def bad_credentials(state: Path, base: Path) -> dict[str, ClientCreds | None]:
    """name -> credentials (None: no certificate at all), each with our CA as ca.pem."""
    ca_pem = PkiPaths(state).ca_cert.read_bytes()
    ca_cert, ca_key = load_ca(state)
    found: dict[str, ClientCreds | None] = {"no client certificate": None}

    other_key = ec.generate_private_key(ec.SECP256R1())
    _, other_ca = make_cert("other CA", _name("other CA"), other_key, key=other_key, ca=True,
                            eku=None)
    key, cert = make_cert("root", other_ca.subject, other_key)
    found["root, from another CA"] = write_creds(base / "other", ca_pem, key, cert, other_ca)

    # A CA that copies our CA's name exactly, so only the signature tells them apart.
    forged_key = ec.generate_private_key(ec.SECP256R1())
    key, cert = make_cert("root", ca_cert.subject, forged_key)
    found["root, from a forged CA with our CA's name"] = write_creds(
        base / "forged", ca_pem, key, cert)

    key, cert = make_cert("root", ca_cert.subject, ca_key,
                          not_before=NOW - dt.timedelta(days=60),
                          not_after=NOW - dt.timedelta(days=1))
    found["root, expired, signed by our CA"] = write_creds(base / "expired", ca_pem, key, cert)

    key, cert = make_cert("root", ca_cert.subject, ca_key,
                          not_before=NOW + dt.timedelta(days=1),
                          not_after=NOW + dt.timedelta(days=60))
    found["root, not yet valid, signed by our CA"] = write_creds(
        base / "future", ca_pem, key, cert)

    # alice holds a real client certificate and its key; she signs herself a "root" one.
    alice = issue(state, "alice", base / "alice")
    alice_key = serialization.load_pem_private_key(alice.key.read_bytes(), password=None)
    alice_cert = x509.load_pem_x509_certificate(alice.cert.read_bytes())
    key, cert = make_cert("root", alice_cert.subject, alice_key)
    found["root, signed by an issued user's key"] = write_creds(
        base / "alice-signed", ca_pem, key, cert, alice_cert)

    # The server's own certificate (serverAuth only), as a client's: CN=localhost has an
    # allow rule here, so only the certificate's purpose stands in the way.
    paths = PkiPaths(state)
    server = base / "server-as-client"
    server.mkdir()
    shutil.copy(paths.server_cert, server / "client-cert.pem")
    shutil.copy(paths.server_key, server / "client-key.pem")
    shutil.copy(paths.ca_cert, server / "ca.pem")
    found["the server certificate, as a client's"] = ClientCreds.in_dir(server)
    return found


@pytest.fixture(scope="module")
def bad(xcat):
    daemon, base = xcat
    local(daemon.state, "nodeadd", "ok1", "groups=all")
    return bad_credentials(daemon.state, base / "bad")


BAD = ["no client certificate", "root, from another CA",
       "root, from a forged CA with our CA's name", "root, expired, signed by our CA",
       "root, not yet valid, signed by our CA", "root, signed by an issued user's key",
       "the server certificate, as a client's"]


@pytest.mark.parametrize("which", BAD)
def test_refused_by_curl(xcat, bad, which):
    daemon, _ = xcat
    before = snapshot(daemon.state)
    code, status, text = curl(daemon.port, bad[which], cacert=PkiPaths(daemon.state).ca_cert)
    refused = code != 0 and status == "000" and snapshot(daemon.state) == before
    TALLY.record(CATEGORY, refused)
    assert code in (35, 56), (which, code, text)  # TLS handshake refused / alert on read
    assert status == "000" and "alert" in text, (which, text)
    assert snapshot(daemon.state) == before
    still_serves_root(daemon)


@pytest.mark.parametrize("which", BAD)
def test_refused_by_openssl_s_client(xcat, bad, which):
    daemon, _ = xcat
    before = snapshot(daemon.state)
    code, text = s_client(daemon.port, bad[which], cafile=PkiPaths(daemon.state).ca_cert)
    refused = '"exit"' not in text and snapshot(daemon.state) == before
    TALLY.record(CATEGORY, refused)
    assert code != 0 and "alert" in text, (which, text)
    assert "HTTP/1.1" not in text and '"exit"' not in text, (which, text)
    assert snapshot(daemon.state) == before
    still_serves_root(daemon)


@pytest.mark.parametrize("which", [b for b in BAD if b != "no client certificate"])
def test_refused_through_the_cli(xcat, bad, which):
    daemon, _ = xcat
    before = snapshot(daemon.state)
    r = via(daemon, "nodeadd", "evil-cli", "groups=all", creds=bad[which].directory)
    TALLY.record(CATEGORY, r.rc == 1 and snapshot(daemon.state) == before)
    assert r.rc == 1 and r.out == "", (which, r)
    assert r.err.startswith("Error: xcatd at ") and "refused the TLS connection" in r.err, r.err
    assert r.err.count("\n") == 1
    assert snapshot(daemon.state) == before
    still_serves_root(daemon)


@pytest.mark.parametrize("version", ["-tls1", "-tls1_1"])
def test_old_tls_versions_are_refused(xcat, version):
    daemon, _ = xcat
    root = PkiPaths(daemon.state).root_creds
    before = snapshot(daemon.state)
    code, text = s_client(daemon.port, root, cafile=root.ca,
                          extra=(version, "-cipher", "DEFAULT@SECLEVEL=0"))
    TALLY.record(CATEGORY, code != 0 and snapshot(daemon.state) == before)
    assert code != 0 and "alert protocol version" in text, text
    assert '"exit"' not in text
    assert snapshot(daemon.state) == before


def test_plain_http_on_the_api_port_runs_nothing(xcat):
    daemon, _ = xcat
    before = snapshot(daemon.state)
    body = evil_request()
    with socket.create_connection(("127.0.0.1", daemon.port), timeout=10) as s:
        s.sendall(f"POST {API_PATH.decode()} HTTP/1.1\r\nHost: x\r\nContent-Length: "
                  f"{len(body)}\r\n\r\n".encode() + body)
        try:
            answer = s.recv(4096)
        except (ConnectionResetError, TimeoutError):
            answer = b""
    TALLY.record(CATEGORY, b'"exit"' not in answer and snapshot(daemon.state) == before)
    assert b'"exit"' not in answer and b"HTTP/1.1 200" not in answer
    assert snapshot(daemon.state) == before
    still_serves_root(daemon)


# -- revocation ---------------------------------------------------------------------------------


def test_revoked_user_is_refused_at_once_even_on_an_open_connection(xcat):
    daemon, base = xcat
    carol = issue(daemon.state, "carol", base / "carol")
    ctx = client_context(carol)
    conn = http.client.HTTPSConnection("127.0.0.1", daemon.port, context=ctx, timeout=30)
    try:
        first = api(daemon.port, ctx, "nodels", "ok1", conn=conn)
        assert (first.status, first.rc, first.out) == (200, 0, "ok1\n")
        r = setup_cli(daemon.state, "revoke", "carol")
        assert r.rc == 0 and "Revoked" in r.out, r
        before = snapshot(daemon.state)
        # The same kept-alive TLS connection: revocation is checked per request.
        again = api(daemon.port, ctx, "nodeadd", "evil-kept", "groups=all", conn=conn)
    finally:
        conn.close()
    TALLY.record(CATEGORY, again.status == 403 and snapshot(daemon.state) == before)
    assert (again.status, again.rc) == (403, 1)
    assert again.err == "Error: the certificate of carol is revoked\n"
    # A new connection, with curl.
    code, status, text = curl(daemon.port, carol, cacert=carol.ca)
    TALLY.record(CATEGORY, status == "403" and snapshot(daemon.state) == before)
    assert (code, status) == (0, "403") and "revoked" in text, text
    assert snapshot(daemon.state) == before
    still_serves_root(daemon)


def test_revoking_one_serial_leaves_the_users_new_certificate_working(xcat):
    daemon, base = xcat
    old = issue(daemon.state, "dora", base / "dora-old")
    new = issue(daemon.state, "dora", base / "dora-new")
    serial = x509.load_pem_x509_certificate(old.cert.read_bytes()).serial_number
    r = setup_cli(daemon.state, "revoke", f"0x{serial:x}")
    assert r.rc == 0, r
    before = snapshot(daemon.state)
    refused = via(daemon, "nodeadd", "evil-dora", "groups=all", creds=old.directory)
    TALLY.record(CATEGORY, refused.rc == 1 and snapshot(daemon.state) == before)
    assert refused.rc == 1 and "revoked" in refused.err, refused
    assert snapshot(daemon.state) == before
    ok = via(daemon, "nodels", "ok1", creds=new.directory)
    assert (ok.rc, ok.out) == (0, "ok1\n"), ok


# -- the client side: only the real xcatd, by a name its certificate holds ------------------------


def test_a_name_the_server_certificate_does_not_hold_is_refused_by_curl(xcat):
    daemon, _ = xcat
    root = PkiPaths(daemon.state).root_creds
    before = snapshot(daemon.state)
    code, status, text = curl(daemon.port, root, cacert=root.ca, url_host="elsewhere.example",
                              extra=("--resolve", f"elsewhere.example:{daemon.port}:127.0.0.1"))
    TALLY.record(IMPOSTOR, code == 60 and snapshot(daemon.state) == before)
    assert (code, status) == (60, "000"), text  # peer certificate cannot be authenticated
    assert "no alternative certificate subject name matches" in text, text
    assert snapshot(daemon.state) == before


def test_a_name_the_server_certificate_does_not_hold_is_refused_by_python_ssl(xcat):
    daemon, _ = xcat
    ctx = client_context(PkiPaths(daemon.state).root_creds)
    before = snapshot(daemon.state)
    sock = socket.create_connection(("127.0.0.1", daemon.port), timeout=30)
    try:
        with pytest.raises(ssl.SSLCertVerificationError, match="mismatch|match"):
            ctx.wrap_socket(sock, server_hostname="elsewhere.example")
    finally:
        sock.close()
    TALLY.record(IMPOSTOR, snapshot(daemon.state) == before)
    assert snapshot(daemon.state) == before


class Impostor:
    """A TLS server on loopback pretending to be xcatd; records every byte it is sent."""

    def __init__(self, cert: Path, key: Path) -> None:
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(str(cert), str(key))
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(30)
        self.port = self.sock.getsockname()[1]
        self.received = b""
        self.handshakes = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        try:
            raw, _ = self.sock.accept()
        except OSError:
            return
        with raw:
            raw.settimeout(10)
            try:
                with self.ctx.wrap_socket(raw, server_side=True) as tls:
                    self.handshakes += 1
                    while chunk := tls.recv(65536):
                        self.received += chunk
                        tls.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n'
                                    + json.dumps({"exit": 0}).encode() + b"\n")
            except (ssl.SSLError, OSError):
                pass

    def close(self) -> None:
        self.sock.close()
        self.thread.join(15)


def _impostor_credentials(state: Path, base: Path) -> dict[str, tuple[Path, Path]]:
    ca_cert, _ = load_ca(state)
    found = {}
    other_key = ec.generate_private_key(ec.SECP256R1())
    key, cert = make_cert("localhost", _name("other CA"), other_key,
                          eku=ExtendedKeyUsageOID.SERVER_AUTH)
    found["a server certificate from another CA"] = write_creds(base / "imp-other", b"", key,
                                                                cert)
    forged_key = ec.generate_private_key(ec.SECP256R1())
    key, cert = make_cert("localhost", ca_cert.subject, forged_key,
                          eku=ExtendedKeyUsageOID.SERVER_AUTH)
    found["a server certificate from a forged CA with our CA's name"] = write_creds(
        base / "imp-forged", b"", key, cert)
    # An issued user's client certificate (clientAuth only): no SAN, and the wrong purpose.
    found["an issued user's client certificate"] = issue(state, "mallory", base / "mallory")
    return {name: (c.cert, c.key) for name, c in found.items()}


@pytest.mark.parametrize("which", ["a server certificate from another CA",
                                   "a server certificate from a forged CA with our CA's name",
                                   "an issued user's client certificate"])
def test_the_cli_never_sends_a_command_to_an_impostor(xcat, tmp_path, which):
    daemon, base = xcat
    creds = _impostor_credentials(daemon.state, tmp_path)
    impostor = Impostor(*creds[which])
    try:
        env_host = f"127.0.0.1:{impostor.port}"
        r = via_host(daemon, env_host, "tabch", "key=system,username=root",
                     "passwd.password=do-not-send-me")
    finally:
        impostor.close()
    refused = r.rc == 1 and b"do-not-send-me" not in impostor.received
    TALLY.record(IMPOSTOR, refused)
    # The CLI refused the server, and says so (not that the server refused it).
    assert r.rc == 1 and r.err.startswith(
        f"Error: the server at {env_host} is not this instance's xcatd: its certificate "
        "failed verification ("), r
    assert r.err.count("\n") == 1
    assert impostor.received == b"", impostor.received


def via_host(daemon, host: str, *args: str):
    from tests.integration.clitools import cli

    return cli(args[0], *args[1:], state=daemon.state, bypass=False,
               extra_env={"HOME": str(daemon.state.parent), "XCATHOST": host})


def test_daemon_keeps_serving_after_every_attack(xcat):
    daemon, _ = xcat
    still_serves_root(daemon)
    assert "evil" not in local(daemon.state, "nodels").out  # every attack was refused
