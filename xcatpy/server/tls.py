"""TLS for the API: our CA is the only trust root, a client certificate is required.

The handshake rejects a missing certificate, one from another CA, and an expired one
before any byte of a request is read. Revocation is checked per request against the
CA's CRL, reloaded whenever the file changes, so `xcatpy-setup revoke` takes effect
without a restart.
"""

import os
from pathlib import Path

from twisted.internet import ssl

from xcatpy.errors import XcatError
from xcatpy.pki.paths import PkiPaths


def server_context(state_dir: Path) -> ssl.CertificateOptions:
    paths = PkiPaths(state_dir)
    missing = [p for p in (paths.ca_cert, paths.server_cert, paths.server_key)
               if not p.is_file()]
    if missing:
        raise XcatError(f"Missing {missing[0]}: run 'xcatpy-setup init' (or xcatd --init) "
                        "to create the CA and certificates")
    ca = ssl.Certificate.loadPEM(paths.ca_cert.read_bytes())
    key_pem = paths.server_key.read_bytes()
    cert = ssl.PrivateCertificate.loadPEM(paths.server_cert.read_bytes() + b"\n" + key_pem)
    return ssl.CertificateOptions(
        privateKey=cert.privateKey.original, certificate=cert.original, verify=True,
        caCerts=[ca.original], requireCertificate=True,
        raiseMinimumTo=ssl.TLSVersion.TLSv1_2)


class RevocationList:
    """Answers 'is this serial revoked?' from the CRL file, reloaded when it changes."""

    def __init__(self, state_dir: Path) -> None:
        self.path = PkiPaths(state_dir).crl
        self._stamp: tuple[int, int] | None = None
        self._serials: frozenset[int] = frozenset()

    def __call__(self, serial: int) -> bool:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return False
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp != self._stamp:
            from cryptography import x509

            crl = x509.load_pem_x509_crl(self.path.read_bytes())
            self._serials = frozenset(r.serial_number for r in crl)
            self._stamp = stamp
        return serial in self._serials
