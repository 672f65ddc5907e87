"""The certificates in a real TLS handshake: Python's ssl (OpenSSL) on a loopback socket
pair, the server in a thread requiring a client certificate from the instance's CA."""

import socket
import ssl
import threading
from pathlib import Path

import pytest

from xcatpy.pki.ca import issue_client
from xcatpy.pki.paths import ClientCreds, PkiPaths
from xcatpy.pki.revocation import revoke
from xcatpy.pki.testing import issue_expired_client, issue_from_other_ca


def server_context(pki: PkiPaths, *, check_crl: bool = False) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pki.server_cert, pki.server_key)
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(pki.ca_cert)
    if check_crl:
        ctx.load_verify_locations(pki.crl)
        ctx.verify_flags |= ssl.VERIFY_CRL_CHECK_LEAF
    return ctx


def handshake(pki: PkiPaths, creds: ClientCreds | None, *, hostname: str = "localhost",
              check_crl: bool = False) -> dict:
    """Connect; returns {"user": CN the server saw} or {"server_error"/"client_error": ...}."""
    server_ctx = server_context(pki, check_crl=check_crl)
    client_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client_ctx.load_verify_locations(pki.ca_cert)  # the client trusts the real CA
    if creds is not None:
        client_ctx.load_cert_chain(creds.cert, creds.key)
    server_sock, client_sock = socket.socketpair()
    for s in (server_sock, client_sock):
        s.settimeout(10)
    result: dict = {}

    def serve() -> None:
        try:
            with server_ctx.wrap_socket(server_sock, server_side=True) as tls:
                subject = dict(rdn[0] for rdn in tls.getpeercert()["subject"])
                result["user"] = subject["commonName"]
                tls.sendall(b"ok")
        except (ssl.SSLError, OSError) as exc:
            result["server_error"] = str(exc)
        finally:
            server_sock.close()

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        with client_ctx.wrap_socket(client_sock, server_hostname=hostname) as tls:
            # TLS 1.3: the server judges the client certificate after the client's
            # handshake returns, so the verdict arrives with the first read.
            if tls.recv(2) != b"ok":
                result.setdefault("client_error", "connection closed")
    except (ssl.SSLError, OSError) as exc:
        result["client_error"] = str(exc)
    finally:
        client_sock.close()
        thread.join(10)
    assert not thread.is_alive()
    return result


def test_root_credentials_accepted(pki: PkiPaths):
    assert handshake(pki, pki.root_creds) == {"user": "root"}


def test_issued_user_accepted_by_name(pki: PkiPaths):
    assert handshake(pki, issue_client(pki.state_dir, "alice")) == {"user": "alice"}


@pytest.mark.parametrize("hostname", ["xcatmn", "127.0.0.1"])
def test_server_names_verify(pki: PkiPaths, hostname: str):
    assert handshake(pki, pki.root_creds, hostname=hostname) == {"user": "root"}


def test_unlisted_server_name_refused_by_client(pki: PkiPaths):
    result = handshake(pki, pki.root_creds, hostname="elsewhere.example")
    assert "user" not in result
    assert "match" in result["client_error"] or "mismatch" in result["client_error"]


def test_no_client_certificate_refused(pki: PkiPaths):
    result = handshake(pki, None)
    assert "user" not in result
    assert "did not return a certificate" in result["server_error"]


def test_other_ca_refused(pki: PkiPaths, tmp_path: Path):
    result = handshake(pki, issue_from_other_ca(tmp_path / "other", "root"))
    assert "user" not in result
    assert "certificate verify failed" in result["server_error"]


def test_expired_refused(pki: PkiPaths, tmp_path: Path):
    result = handshake(pki, issue_expired_client(pki.state_dir, tmp_path / "old", "root"))
    assert "user" not in result
    assert "certificate has expired" in result["server_error"]


def test_revoked_refused_with_crl_checking(pki: PkiPaths):
    alice = issue_client(pki.state_dir, "alice")
    assert handshake(pki, alice, check_crl=True) == {"user": "alice"}
    revoke(pki.state_dir, "alice")
    result = handshake(pki, alice, check_crl=True)
    assert "user" not in result
    assert "certificate revoked" in result["server_error"]
    assert handshake(pki, pki.root_creds, check_crl=True) == {"user": "root"}
