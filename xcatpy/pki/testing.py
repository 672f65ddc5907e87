"""Certificates xcatd must refuse. TEST-ONLY: nothing outside tests/ may import this.

The integration tests show that a certificate from another CA and an expired certificate
of the real CA are refused; these build them. Neither is recorded in the instance's
index: they are not credentials anyone was given.
"""

import datetime as dt
from pathlib import Path

from xcatpy.pki.certs import (
    build_ca,
    build_leaf,
    cert_pem,
    load_ca,
    new_key,
    utcnow,
    write_key_and_cert,
)
from xcatpy.pki.files import PRIVATE_DIR, PUBLIC, make_dir, write_file
from xcatpy.pki.paths import ClientCreds, PkiPaths, check_user_name


def _write(out_dir: Path, ca_pem: bytes, key, cert) -> ClientCreds:
    creds = ClientCreds.in_dir(Path(out_dir))
    make_dir(creds.directory, PRIVATE_DIR)
    write_file(creds.ca, ca_pem, PUBLIC)
    write_key_and_cert(key, cert, creds.key, creds.cert)
    return creds


def issue_from_other_ca(out_dir: Path, user: str = "root", *, days: int = 365) -> ClientCreds:
    """Credentials for user (CN=user, clientAuth) from a throwaway CA that is not this
    instance's; ca.pem in out_dir is that foreign CA."""
    check_user_name(user)
    ca_key = new_key()
    ca_cert = build_ca(ca_key, "other CA", days + 1)
    key = new_key()
    cert = build_leaf(key, user, ca_cert, ca_key, days=days)
    return _write(out_dir, cert_pem(ca_cert), key, cert)


def issue_expired_client(state_dir: Path, out_dir: Path, user: str = "root", *,
                         expired_for: dt.timedelta = dt.timedelta(days=1)) -> ClientCreds:
    """Credentials for user signed by the instance's real CA whose certificate's
    not_valid_after lies expired_for in the past."""
    check_user_name(user)
    ca_cert, ca_key = load_ca(PkiPaths(Path(state_dir)))
    key = new_key()
    cert = build_leaf(key, user, ca_cert, ca_key, days=30,
                      not_after=utcnow() - expired_for)
    return _write(out_dir, cert_pem(ca_cert), key, cert)
