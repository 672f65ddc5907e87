"""Revoking certificates and the CRL xcatd reads.

``pki/ca/crl.pem`` always exists once the CA does (``init`` writes an empty one): OpenSSL
with CRL checking on refuses every client when its issuer has no CRL at all. Its
nextUpdate is the CA's own expiry, because the list is rewritten on each revocation
rather than on a schedule, and an OpenSSL that finds nextUpdate in the past refuses
every client ("CRL has expired").

xcatd can hand the file to OpenSSL (``load_verify_locations(crl)`` plus
``VERIFY_CRL_CHECK_LEAF``) or check a peer itself with ``load_crl`` and ``is_revoked``.
"""

import datetime as dt
import re
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding

from xcatpy.errors import XcatError
from xcatpy.pki.certs import Key, common_name, load_ca, load_cert, serial_text, utcnow
from xcatpy.pki.files import PUBLIC, locked, read_file, write_file
from xcatpy.pki.index import Index, Record, load_index, save_index
from xcatpy.pki.paths import PkiPaths, check_user_name

_SERIAL = re.compile(r"(0x[0-9a-fA-F]+|[0-9]+|[0-9a-fA-F]{2}(:[0-9a-fA-F]{2})+)")


def parse_serial(text: str) -> int | None:
    """A serial as decimal, ``0x`` hex, or colon-separated hex bytes (openssl's way);
    None when text is not a serial (and so names a user)."""
    if not _SERIAL.fullmatch(text):
        return None
    if text.lower().startswith("0x"):
        return int(text, 16)
    if ":" in text:
        return int(text.replace(":", ""), 16)
    return int(text)


def write_crl(paths: PkiPaths, ca_cert: x509.Certificate, ca_key: Key, index: Index) -> None:
    """Sign a new CRL listing every revoked record; bumps index.crl_number (save it after)."""
    index.crl_number += 1
    now = utcnow()
    builder = (x509.CertificateRevocationListBuilder()
               .issuer_name(ca_cert.subject)
               .last_update(now)
               .next_update(max(ca_cert.not_valid_after_utc, now))
               .add_extension(x509.CRLNumber(index.crl_number), critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                   ca_key.public_key()), critical=False))
    for record in index.revoked():
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(record.serial_int)
            .revocation_date(dt.datetime.fromisoformat(record.revoked))
            .build())
    crl = builder.sign(ca_key, hashes.SHA256())
    write_file(paths.crl, crl.public_bytes(Encoding.PEM), PUBLIC)


def _targets(index: Index, serial_or_user: str) -> list[Record]:
    serial = parse_serial(serial_or_user)
    if serial is not None:
        record = index.by_serial(serial)
        if record is None:
            raise XcatError(f"no certificate with serial {serial_text(serial)} was issued by "
                            "this CA ('xcatpy-setup show' lists them)")
        if record.kind == "ca":
            raise XcatError("the CA cannot revoke itself; re-create it with "
                            "'xcatpy-setup init --force'")
        if record.revoked:
            raise XcatError(f"certificate {record.serial} (CN={record.cn}) is already revoked")
        return [record]
    user = check_user_name(serial_or_user)
    records = [r for r in index.records if r.cn == user and r.kind == "client"]
    if not records:
        raise XcatError(f"no client certificate was issued to user {user}")
    live = [r for r in records if not r.revoked]
    if not live:
        raise XcatError(f"every certificate of user {user} is already revoked")
    return live


def revoke(state_dir: Path, serial_or_user: str) -> list[Record]:
    """Revoke one certificate by serial, or every unrevoked client certificate of a user,
    and rewrite the CRL. Returns the records revoked."""
    paths = PkiPaths(Path(state_dir))
    with locked(paths.lock):
        ca_cert, ca_key = load_ca(paths)
        index = load_index(paths.index)
        targets = _targets(index, serial_or_user.strip())
        when = utcnow().replace(microsecond=0).isoformat()
        for record in targets:
            record.revoked = when
        write_crl(paths, ca_cert, ca_key, index)
        save_index(paths.index, index)
    return targets


def load_crl(state_dir: Path) -> x509.CertificateRevocationList:
    """This instance's CRL, its signature checked against the instance's CA."""
    paths = PkiPaths(Path(state_dir))
    data = read_file(paths.crl, "revocation list")
    try:
        crl = x509.load_pem_x509_crl(data)
    except ValueError as exc:
        raise XcatError(f"revocation list {paths.crl} is not a PEM CRL: {exc}") from exc
    ca_cert = load_cert(paths.ca_cert, "CA certificate")
    if crl.issuer != ca_cert.subject or not crl.is_signature_valid(ca_cert.public_key()):
        raise XcatError(f"revocation list {paths.crl} is not signed by this instance's CA "
                        f"({common_name(ca_cert)})")
    return crl


def is_revoked(cert: x509.Certificate | int, crl: x509.CertificateRevocationList) -> bool:
    """Whether crl lists cert (a certificate of crl's issuer, or its serial number)."""
    if isinstance(cert, x509.Certificate):
        if cert.issuer != crl.issuer:
            return False
        cert = cert.serial_number
    return crl.get_revoked_certificate_by_serial_number(cert) is not None
