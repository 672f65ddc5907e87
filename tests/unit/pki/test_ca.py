"""CA bootstrap and client issuance (xcatpy.pki.ca), checked with cryptography's own
verification rather than by re-reading what we wrote."""

import datetime as dt
import ipaddress
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from xcatpy.errors import XcatError
from xcatpy.pki.ca import (
    default_server_names,
    describe,
    init_pki,
    install_client_creds,
    issue_client,
)
from xcatpy.pki.certs import fingerprint
from xcatpy.pki.index import load_index
from xcatpy.pki.paths import PkiPaths


def cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def cn(c: x509.Certificate) -> str:
    return c.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value


def ekus(c: x509.Certificate) -> list:
    return list(c.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)


def test_init_creates_files_with_modes(pki: PkiPaths):
    assert mode(pki.ca_key) == 0o600
    assert mode(pki.server_key) == 0o600
    assert mode(pki.root_creds.key) == 0o600
    assert mode(pki.root_creds.directory) == 0o700
    for public in (pki.ca_cert, pki.server_cert, pki.crl, pki.root_creds.ca,
                   pki.root_creds.cert):
        assert mode(public) == 0o644, public
    assert mode(pki.ca_dir) == 0o755
    assert pki.root_creds.ca.read_bytes() == pki.ca_cert.read_bytes()


def test_init_modes_ignore_umask(state_dir: Path):
    import os

    old = os.umask(0o077)
    try:
        paths = init_pki(state_dir)
    finally:
        os.umask(old)
    assert mode(paths.ca_cert) == 0o644
    assert mode(paths.ca_dir) == 0o755


def test_ca_is_a_self_signed_ca(pki: PkiPaths):
    ca = cert(pki.ca_cert)
    ca.verify_directly_issued_by(ca)
    bc = ca.extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical and bc.value.ca
    assert ca.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign


def test_server_cert_sans_and_eku(pki: PkiPaths):
    ca, server = cert(pki.ca_cert), cert(pki.server_cert)
    server.verify_directly_issued_by(ca)
    san = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost", "xcatmn"]
    assert san.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    assert ekus(server) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert not server.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_root_client_cert(pki: PkiPaths):
    root = cert(pki.root_creds.cert)
    root.verify_directly_issued_by(cert(pki.ca_cert))
    assert cn(root) == "root"
    assert ekus(root) == [ExtendedKeyUsageOID.CLIENT_AUTH]


def test_default_server_names_cover_local_access(state_dir: Path):
    import socket

    names = default_server_names()
    assert {"localhost", socket.gethostname(), "127.0.0.1"} <= set(names)
    san = cert(init_pki(state_dir).server_cert).extensions.get_extension_for_class(
        x509.SubjectAlternativeName).value
    assert "localhost" in san.get_values_for_type(x509.DNSName)


def test_reinit_keeps_everything(pki: PkiPaths):
    before = {p: p.read_bytes() for p in (pki.ca_key, pki.ca_cert, pki.server_cert,
                                          pki.root_creds.cert, pki.crl)}
    init_pki(pki.state_dir, server_names=["localhost"])  # a subset: nothing to add
    assert {p: p.read_bytes() for p in before} == before
    assert len(load_index(pki.index).records) == 3


def test_reinit_with_new_server_name_reissues_only_the_server(pki: PkiPaths):
    ca_fp = fingerprint(cert(pki.ca_cert))
    root = pki.root_creds.cert.read_bytes()
    init_pki(pki.state_dir, server_names=["localhost", "xcatmn", "127.0.0.1", "10.0.0.1"])
    assert fingerprint(cert(pki.ca_cert)) == ca_fp
    assert pki.root_creds.cert.read_bytes() == root
    san = cert(pki.server_cert).extensions.get_extension_for_class(
        x509.SubjectAlternativeName).value
    assert ipaddress.ip_address("10.0.0.1") in san.get_values_for_type(x509.IPAddress)


def test_reinit_repairs_missing_root_credentials(pki: PkiPaths):
    ca_fp = fingerprint(cert(pki.ca_cert))
    pki.root_creds.key.unlink()
    init_pki(pki.state_dir)
    assert fingerprint(cert(pki.ca_cert)) == ca_fp
    assert pki.root_creds.complete()
    cert(pki.root_creds.cert).verify_directly_issued_by(cert(pki.ca_cert))


def test_force_replaces_ca_and_sets_old_aside(pki: PkiPaths):
    old_fp = fingerprint(cert(pki.ca_cert))
    old_key = pki.ca_key.read_bytes()
    init_pki(pki.state_dir, force=True)
    ca = cert(pki.ca_cert)
    assert fingerprint(ca) != old_fp
    cert(pki.server_cert).verify_directly_issued_by(ca)
    cert(pki.root_creds.cert).verify_directly_issued_by(ca)
    kept = list((pki.root / "replaced").glob("*/ca/ca-key.pem"))
    assert [k.read_bytes() for k in kept] == [old_key]
    assert len(load_index(pki.index).records) == 3  # a fresh index for the fresh CA


def test_incomplete_ca_is_refused_not_replaced(pki: PkiPaths):
    pki.ca_cert.unlink()
    key = pki.ca_key.read_bytes()
    with pytest.raises(XcatError, match="incomplete.*--force"):
        init_pki(pki.state_dir)
    assert pki.ca_key.read_bytes() == key


def test_mismatched_ca_pair_is_refused(pki: PkiPaths, tmp_path: Path):
    other = init_pki(tmp_path / "other")
    pki.ca_key.write_bytes(other.ca_key.read_bytes())
    with pytest.raises(XcatError, match="does not match"):
        init_pki(pki.state_dir)


def test_bad_server_name_refused_before_writing(state_dir: Path):
    with pytest.raises(XcatError, match="invalid server name"):
        init_pki(state_dir, server_names=["good", "bad name"])
    assert not (state_dir / "pki").exists()


def test_issue_client(pki: PkiPaths):
    creds = issue_client(pki.state_dir, "alice")
    assert creds.directory == pki.users_dir / "alice"
    c = cert(creds.cert)
    c.verify_directly_issued_by(cert(pki.ca_cert))
    assert cn(c) == "alice"
    assert ekus(c) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert mode(creds.key) == 0o600 and mode(creds.directory) == 0o700
    life = c.not_valid_after_utc - c.not_valid_before_utc
    assert dt.timedelta(days=365) <= life <= dt.timedelta(days=365, minutes=6)
    assert load_index(pki.index).by_serial(c.serial_number).cn == "alice"


def test_issue_client_out_dir(pki: PkiPaths, tmp_path: Path):
    creds = issue_client(pki.state_dir, "bob", days=7, out_dir=tmp_path / "bob-creds")
    assert creds.complete()
    assert cn(cert(creds.cert)) == "bob"
    assert not (pki.users_dir / "bob").exists()


def test_client_cert_does_not_outlive_ca(state_dir: Path):
    paths = init_pki(state_dir, days=30)
    creds = issue_client(state_dir, "carol", days=365)
    assert cert(creds.cert).not_valid_after_utc <= cert(paths.ca_cert).not_valid_after_utc


@pytest.mark.parametrize("name", ["", " ", "a b", "../x", "a/b", "-rf", ".hidden", "x" * 65,
                                  "tab\there", "caf\u00e9", "semi;colon"])
def test_malformed_user_names_refused(pki: PkiPaths, name: str):
    with pytest.raises(XcatError, match="user name"):
        issue_client(pki.state_dir, name)


@pytest.mark.parametrize("name", ["alice", "_svc", "first.last", "a-b", "ops@REALM", "x" * 64])
def test_ordinary_user_names_accepted(pki: PkiPaths, name: str):
    assert cn(cert(issue_client(pki.state_dir, name).cert)) == name


def test_issue_without_ca(state_dir: Path):
    with pytest.raises(XcatError, match="xcatpy-setup init"):
        issue_client(state_dir, "alice")
    assert not (state_dir / "pki").exists()
    init_pki(state_dir)
    (state_dir / "pki" / "ca" / "ca-key.pem").unlink()
    with pytest.raises(XcatError, match="no CA key at .*xcatpy-setup init"):
        issue_client(state_dir, "alice")


def test_concurrent_issues_keep_every_record(pki: PkiPaths):
    from concurrent.futures import ThreadPoolExecutor

    names = [f"user{i}" for i in range(12)]
    with ThreadPoolExecutor(6) as pool:
        list(pool.map(lambda n: issue_client(pki.state_dir, n), names))
    issued = {r.cn for r in load_index(pki.index).records if r.kind == "client"}
    assert issued == {"root", *names}


def test_zero_days_refused(pki: PkiPaths):
    with pytest.raises(XcatError, match="at least 1 day"):
        issue_client(pki.state_dir, "alice", days=0)


def test_install_client_creds(pki: PkiPaths, tmp_path: Path):
    home = tmp_path / "home" / ".xcatpy"
    assert install_client_creds(pki.root_creds, home) == "installed"
    assert mode(home / "client-key.pem") == 0o600
    assert install_client_creds(pki.root_creds, home) == "kept"
    other = init_pki(tmp_path / "other")
    assert install_client_creds(other.root_creds, home) == "conflict"
    assert (home / "ca.pem").read_bytes() == pki.ca_cert.read_bytes()
    assert install_client_creds(other.root_creds, home, replace=True) == "installed"
    assert (home / "ca.pem").read_bytes() == other.ca_cert.read_bytes()


def test_describe(pki: PkiPaths):
    paths, infos, index = describe(pki.state_dir)
    assert [i.label for i in infos] == ["CA", "server", "root client"]
    assert infos[0].fingerprint == fingerprint(cert(pki.ca_cert))
    assert "xcatmn" in infos[1].names
    assert [r.kind for r in index.records] == ["ca", "server", "client"]
