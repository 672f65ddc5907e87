"""Building, reading and checking keys and certificates (the only place that knows X.509).

Keys are EC P-256 (ECDSA with SHA-256): 128-bit security like RSA 3072, but a key is
made in well under a millisecond instead of about a second (tests and ``init`` issue many),
certificates are a fraction of the size, and the server's handshake signature, paid on
every CLI command, costs far less than an RSA 3072 one. OpenSSL, Python's ssl and
every current TLS client accept it.
"""

import datetime as dt
import hashlib
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from xcatpy.errors import XcatError
from xcatpy.pki.files import PRIVATE, PUBLIC, read_file, write_file
from xcatpy.pki.paths import PkiPaths

# Certificates start a little in the past: a node or client whose clock lags the CA's
# by a few minutes must not reject a certificate issued just now.
CLOCK_SKEW = dt.timedelta(minutes=5)
ORGANIZATION = "xcatpy"

Key = ec.EllipticCurvePrivateKey


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def new_key() -> Key:
    return ec.generate_private_key(ec.SECP256R1())


def key_pem(key: Key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 fingerprint as ``openssl x509 -fingerprint -sha256`` prints it."""
    digest = hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2)).upper()


def serial_text(serial: int) -> str:
    return f"0x{serial:x}"


def common_name(cert: x509.Certificate | x509.CertificateRevocationList) -> str:
    subject = cert.subject if isinstance(cert, x509.Certificate) else cert.issuer
    attrs = subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(attrs[0].value) if attrs else ""


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _validity(builder: x509.CertificateBuilder, days: int,
              not_after_cap: dt.datetime | None) -> x509.CertificateBuilder:
    if days < 1:
        raise XcatError(f"certificate lifetime must be at least 1 day, not {days}")
    now = utcnow()
    not_after = now + dt.timedelta(days=days)
    if not_after_cap is not None:
        # A certificate cannot outlive the CA that vouches for it.
        not_after = min(not_after, not_after_cap)
    return builder.not_valid_before(now - CLOCK_SKEW).not_valid_after(not_after)


def build_ca(key: Key, cn: str, days: int) -> x509.Certificate:
    builder = (x509.CertificateBuilder()
               .subject_name(_name(cn)).issuer_name(_name(cn))
               .public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
               .add_extension(x509.KeyUsage(
                   digital_signature=True, content_commitment=False, key_encipherment=False,
                   data_encipherment=False, key_agreement=False, key_cert_sign=True,
                   crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                              critical=False))
    return _validity(builder, days, None).sign(key, hashes.SHA256())


def sans(names: list[str]) -> list[x509.GeneralName]:
    """DNS names and IP addresses for subjectAltName; an IP literal becomes an IP entry."""
    out: list[x509.GeneralName] = []
    for name in names:
        name = name.strip()
        if not name or any(c.isspace() for c in name) or "/" in name:
            raise XcatError(f"invalid server name {name!r}: give a host name or an IP address")
        try:
            out.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            out.append(x509.DNSName(name.lower()))
    return list(dict.fromkeys(out))


def build_leaf(key: Key, cn: str, ca_cert: x509.Certificate, ca_key: Key, *, days: int,
               server_names: list[str] | None = None,
               not_after: dt.datetime | None = None) -> x509.Certificate:
    """A server certificate (server_names given: SANs and serverAuth) or a client one
    (clientAuth, CN = the user name xcatd will see). not_after overrides days (tests)."""
    server = server_names is not None
    eku = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
    builder = (x509.CertificateBuilder()
               .subject_name(_name(cn)).issuer_name(ca_cert.subject)
               .public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(
                   digital_signature=True, content_commitment=False, key_encipherment=False,
                   data_encipherment=False, key_agreement=False, key_cert_sign=False,
                   crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
               .add_extension(x509.ExtendedKeyUsage([eku]), critical=False)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                              critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                   ca_key.public_key()), critical=False))
    if server:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans(server_names)),
                                        critical=False)
    if not_after is not None:
        builder = builder.not_valid_before(not_after - dt.timedelta(days=days)) \
            .not_valid_after(not_after)
        return builder.sign(ca_key, hashes.SHA256())
    return _validity(builder, days, ca_cert.not_valid_after_utc).sign(ca_key, hashes.SHA256())


def load_cert(path: Path, what: str) -> x509.Certificate:
    data = read_file(path, what)
    try:
        return x509.load_pem_x509_certificate(data)
    except ValueError as exc:
        raise XcatError(f"{what} {path} is not a PEM certificate: {exc}") from exc


def load_key(path: Path, what: str) -> Key:
    data = read_file(path, what)
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise XcatError(f"{what} {path} is not an unencrypted PEM private key") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise XcatError(f"{what} {path} is not an EC key")
    return key


def key_matches(cert: x509.Certificate, key: Key) -> bool:
    fmt = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return cert.public_key().public_bytes(*fmt) == key.public_key().public_bytes(*fmt)


def issued_by(cert: x509.Certificate, ca_cert: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(ca_cert)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def load_ca(paths: PkiPaths) -> tuple[x509.Certificate, Key]:
    """The instance's CA certificate and key, checked to belong together."""
    cert = load_cert(paths.ca_cert, "CA certificate")
    key = load_key(paths.ca_key, "CA key")
    if not key_matches(cert, key):
        raise XcatError(f"CA key {paths.ca_key} does not match {paths.ca_cert}; "
                        "restore the pair, or re-create the CA with 'xcatpy-setup init --force'")
    return cert, key


def write_key_and_cert(key: Key, cert: x509.Certificate, key_path: Path,
                       cert_path: Path) -> None:
    write_file(key_path, key_pem(key), PRIVATE)
    write_file(cert_path, cert_pem(cert), PUBLIC)
