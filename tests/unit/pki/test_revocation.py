"""Revocation and the CRL (xcatpy.pki.revocation)."""

from pathlib import Path

import pytest
from cryptography import x509

from xcatpy.errors import XcatError
from xcatpy.pki.ca import init_pki, issue_client
from xcatpy.pki.certs import serial_text
from xcatpy.pki.index import load_index
from xcatpy.pki.paths import PkiPaths
from xcatpy.pki.revocation import is_revoked, load_crl, parse_serial, revoke


def cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_init_writes_an_empty_signed_crl(pki: PkiPaths):
    crl = load_crl(pki.state_dir)
    assert len(crl) == 0
    assert crl.is_signature_valid(cert(pki.ca_cert).public_key())
    assert crl.next_update_utc >= cert(pki.ca_cert).not_valid_after_utc


def test_revoke_user(pki: PkiPaths):
    alice = cert(issue_client(pki.state_dir, "alice").cert)
    bob = cert(issue_client(pki.state_dir, "bob").cert)
    done = revoke(pki.state_dir, "alice")
    assert [r.serial_int for r in done] == [alice.serial_number]
    crl = load_crl(pki.state_dir)
    assert crl.get_revoked_certificate_by_serial_number(alice.serial_number) is not None
    assert is_revoked(alice, crl)
    assert not is_revoked(bob, crl)
    assert not is_revoked(cert(pki.root_creds.cert), crl)


def test_revoke_user_takes_every_live_certificate(pki: PkiPaths, tmp_path: Path):
    first = cert(issue_client(pki.state_dir, "alice").cert)
    second = cert(issue_client(pki.state_dir, "alice", out_dir=tmp_path / "laptop").cert)
    assert len(revoke(pki.state_dir, "alice")) == 2
    crl = load_crl(pki.state_dir)
    assert is_revoked(first, crl) and is_revoked(second, crl)


@pytest.mark.parametrize("form", ["hex", "decimal", "colons"])
def test_revoke_by_serial(pki: PkiPaths, form: str):
    c = cert(issue_client(pki.state_dir, "alice").cert)
    n = c.serial_number
    text = {"hex": serial_text(n), "decimal": str(n),
            "colons": ":".join(f"{b:02X}" for b in n.to_bytes((n.bit_length() + 7) // 8))}[form]
    revoke(pki.state_dir, text)
    assert is_revoked(c, load_crl(pki.state_dir))
    assert is_revoked(n, load_crl(pki.state_dir))


def test_crl_number_grows_and_records_persist(pki: PkiPaths):
    issue_client(pki.state_dir, "alice")
    issue_client(pki.state_dir, "bob")
    number = lambda: load_crl(pki.state_dir).extensions.get_extension_for_class(  # noqa: E731
        x509.CRLNumber).value.crl_number
    first = number()
    revoke(pki.state_dir, "alice")
    revoke(pki.state_dir, "bob")
    assert number() == first + 2
    assert len(load_crl(pki.state_dir)) == 2
    assert {r.cn for r in load_index(pki.index).revoked()} == {"alice", "bob"}


def test_revoke_errors(pki: PkiPaths):
    issue_client(pki.state_dir, "alice")
    with pytest.raises(XcatError, match="no client certificate was issued to user zed"):
        revoke(pki.state_dir, "zed")
    with pytest.raises(XcatError, match="no certificate with serial 0x1 "):
        revoke(pki.state_dir, "0x1")
    ca_serial = serial_text(cert(pki.ca_cert).serial_number)
    with pytest.raises(XcatError, match="CA cannot revoke itself"):
        revoke(pki.state_dir, ca_serial)
    with pytest.raises(XcatError, match="user name"):
        revoke(pki.state_dir, "bad name")
    revoke(pki.state_dir, "alice")
    with pytest.raises(XcatError, match="already revoked"):
        revoke(pki.state_dir, "alice")


def test_reinit_reissues_revoked_root(pki: PkiPaths):
    old = cert(pki.root_creds.cert)
    revoke(pki.state_dir, "root")
    init_pki(pki.state_dir)
    new = cert(pki.root_creds.cert)
    assert new.serial_number != old.serial_number
    crl = load_crl(pki.state_dir)
    assert is_revoked(old, crl) and not is_revoked(new, crl)


def test_crl_of_another_ca_is_refused(pki: PkiPaths, tmp_path: Path):
    other = init_pki(tmp_path / "other")
    pki.crl.write_bytes(other.crl.read_bytes())
    with pytest.raises(XcatError, match="not signed by this instance's CA"):
        load_crl(pki.state_dir)


def test_is_revoked_ignores_other_issuers(pki: PkiPaths, tmp_path: Path):
    other = init_pki(tmp_path / "other")
    stranger = cert(other.root_creds.cert)
    assert not is_revoked(stranger, load_crl(pki.state_dir))


@pytest.mark.parametrize("text,value", [("0x1f", 31), ("31", 31), ("1F:00", 0x1F00),
                                        ("alice", None), ("deadbeef", None), ("0x", None)])
def test_parse_serial(text: str, value):
    assert parse_serial(text) == value


def test_reinit_reissues_revoked_server(pki: PkiPaths):
    old = cert(pki.server_cert)
    revoke(pki.state_dir, serial_text(old.serial_number))
    init_pki(pki.state_dir)
    assert cert(pki.server_cert).serial_number != old.serial_number
