"""The instance's certificate authority: bootstrap, and credentials for users.

``init_pki`` is safe to run again: it keeps a CA that exists (replacing it would lock out
every client it ever issued) and re-issues only what is missing, broken, expired, revoked,
or a server certificate lacking a requested name. ``force=True`` replaces everything, setting
the old files aside under ``pki/replaced/<time>/`` rather than deleting the old CA key.
"""

import socket
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

from xcatpy.errors import XcatError
from xcatpy.pki.certs import (
    Key,
    build_ca,
    build_leaf,
    cert_pem,
    common_name,
    fingerprint,
    issued_by,
    key_matches,
    load_ca,
    load_cert,
    load_key,
    new_key,
    sans,
    serial_text,
    utcnow,
    write_key_and_cert,
)
from xcatpy.pki.files import (
    PRIVATE,
    PRIVATE_DIR,
    PUBLIC,
    chown_to_user,
    locked,
    make_dir,
    write_file,
)
from xcatpy.pki.index import Index, Record, load_index, save_index
from xcatpy.pki.paths import ClientCreds, PkiPaths, check_user_name
from xcatpy.pki.revocation import load_crl, write_crl

ADMIN_USER = "root"


def default_server_names() -> list[str]:
    """Names a local CLI may dial xcatd by. No FQDN lookup: that can wait on DNS."""
    return list(dict.fromkeys(["localhost", socket.gethostname(), "127.0.0.1", "::1"]))


def _record(index: Index, cert: x509.Certificate, kind: str) -> None:
    index.add(Record(serial_text(cert.serial_number), common_name(cert), kind,
                     cert.not_valid_after_utc.isoformat()))


def _usable(cert_path: Path, key_path: Path, ca_cert: x509.Certificate,
            what: str) -> x509.Certificate | None:
    """The certificate at cert_path if it, with its key, is still good under ca_cert."""
    if not (cert_path.is_file() and key_path.is_file()):
        return None
    try:
        cert = load_cert(cert_path, what)
        key = load_key(key_path, what + " key")
    except XcatError:
        return None
    if not (issued_by(cert, ca_cert) and key_matches(cert, key)):
        return None
    return cert if cert.not_valid_after_utc > utcnow() else None


def _revoked(index: Index, cert: x509.Certificate) -> bool:
    record = index.by_serial(cert.serial_number)
    return record is not None and record.revoked is not None


def _ensure_ca(paths: PkiPaths, days: int) -> tuple[x509.Certificate, Key, bool]:
    have_key, have_cert = paths.ca_key.exists(), paths.ca_cert.exists()
    if have_key and have_cert:
        cert, key = load_ca(paths)
        return cert, key, False
    if have_key or have_cert:
        present = paths.ca_key if have_key else paths.ca_cert
        raise XcatError(f"the CA in {paths.ca_dir} is incomplete (only {present.name}); "
                        "restore the missing file, or re-create the CA with "
                        "'xcatpy-setup init --force' (every issued credential stops working)")
    make_dir(paths.ca_dir)
    key = new_key()
    cn = f"xcatpy CA {socket.gethostname()} {utcnow():%Y%m%d%H%M%S}"
    cert = build_ca(key, cn, days)
    write_key_and_cert(key, cert, paths.ca_key, paths.ca_cert)
    return cert, key, True


def _server_names(cert: x509.Certificate) -> set[x509.GeneralName]:
    try:
        return set(cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value)
    except x509.ExtensionNotFound:
        return set()


def _ensure_server(paths: PkiPaths, ca_cert: x509.Certificate, ca_key: Key,
                   names: list[str], days: int, index: Index) -> None:
    wanted = set(sans(names))
    cert = _usable(paths.server_cert, paths.server_key, ca_cert, "server certificate")
    if cert is not None and not _revoked(index, cert) and wanted <= _server_names(cert):
        return
    make_dir(paths.server_dir)
    cn = next((n for n in names if not n[:1].isdigit() and ":" not in n), "xcatd")
    key = new_key()
    cert = build_leaf(key, cn, ca_cert, ca_key, days=days, server_names=names)
    write_key_and_cert(key, cert, paths.server_key, paths.server_cert)
    _record(index, cert, "server")


def _write_client(creds: ClientCreds, user: str, ca_cert: x509.Certificate, ca_key: Key,
                  days: int, index: Index) -> x509.Certificate:
    key = new_key()
    cert = build_leaf(key, user, ca_cert, ca_key, days=days)
    # Record first: a certificate the index forgets could never be revoked by user name.
    _record(index, cert, "client")
    write_file(creds.ca, cert_pem(ca_cert), PUBLIC)
    write_key_and_cert(key, cert, creds.key, creds.cert)
    return cert


def _ensure_client(creds: ClientCreds, user: str, ca_cert: x509.Certificate, ca_key: Key,
                   days: int, index: Index) -> None:
    cert = _usable(creds.cert, creds.key, ca_cert, f"{user}'s client certificate")
    if cert is None or _revoked(index, cert):
        make_dir(creds.directory, PRIVATE_DIR)
        _write_client(creds, user, ca_cert, ca_key, days, index)
    elif not creds.ca.is_file() or creds.ca.read_bytes() != cert_pem(ca_cert):
        write_file(creds.ca, cert_pem(ca_cert), PUBLIC)


def _crl_current(paths: PkiPaths) -> bool:
    try:
        load_crl(paths.state_dir)
    except XcatError:
        return False
    return True


def _set_aside(paths: PkiPaths) -> None:
    """Move the current CA, server and user credentials under pki/replaced/<time>/."""
    present = [d for d in (paths.ca_dir, paths.server_dir, paths.users_dir) if d.exists()]
    if not present:
        return
    dest = make_dir(paths.root / "replaced" / f"{utcnow():%Y%m%dT%H%M%S.%fZ}", PRIVATE_DIR)
    for d in present:
        try:
            d.rename(dest / d.name)
        except OSError as exc:
            raise XcatError(f"cannot move {d} aside to {dest}: {exc.strerror}") from exc


def init_pki(state_dir: Path, *, server_names: list[str] | None = None, days: int = 3650,
             force: bool = False) -> PkiPaths:
    """Create (or complete) the CA, xcatd's server certificate and root's credentials.

    server_names defaults to localhost, this host's name, 127.0.0.1 and ::1. Root's
    credentials go to ``pki/users/root/``; copying them into ``~/.xcatpy`` is
    ``install_client_creds``'s job (``xcatpy-setup init`` does it for the system instance).
    """
    paths = PkiPaths(Path(state_dir))
    names = list(server_names) if server_names else default_server_names()
    sans(names)  # refuse a bad name before anything is written
    if days < 1:
        raise XcatError(f"certificate lifetime must be at least 1 day, not {days}")
    try:
        paths.state_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise XcatError(f"cannot create state directory {paths.state_dir}: "
                        f"{exc.strerror}") from exc
    make_dir(paths.root)
    with locked(paths.lock):
        if force:
            _set_aside(paths)
        ca_cert, ca_key, created = _ensure_ca(paths, days)
        index = Index(0, []) if created else load_index(paths.index)
        if created:
            _record(index, ca_cert, "ca")
        _ensure_server(paths, ca_cert, ca_key, names, days, index)
        make_dir(paths.users_dir)
        _ensure_client(paths.root_creds, ADMIN_USER, ca_cert, ca_key, days, index)
        if created or not _crl_current(paths):
            write_crl(paths, ca_cert, ca_key, index)
        save_index(paths.index, index)
    return paths


def issue_client(state_dir: Path, user: str, *, days: int = 365,
                 out_dir: Path | None = None) -> ClientCreds:
    """New client credentials for user (CN=user, clientAuth), by default in
    ``pki/users/<user>/``, else in out_dir; as root, handed to the user's account."""
    check_user_name(user)
    paths = PkiPaths(Path(state_dir))
    creds = ClientCreds.in_dir(Path(out_dir)) if out_dir else paths.user_creds(user)
    created_dir = not creds.directory.exists()
    with locked(paths.lock):
        ca_cert, ca_key = load_ca(paths)
        index = load_index(paths.index)
        if out_dir is None or created_dir:
            make_dir(creds.directory, PRIVATE_DIR)
        _write_client(creds, user, ca_cert, ca_key, days, index)
        save_index(paths.index, index)
    owned = [creds.ca, creds.cert, creds.key]
    chown_to_user(owned + ([creds.directory] if out_dir is None or created_dir else []), user)
    return creds


def install_client_creds(source: ClientCreds, dest_dir: Path, *, replace: bool = False) -> str:
    """Copy credentials into dest_dir (``~/.xcatpy``). Returns "installed", "kept" (already
    there) or "conflict" (dest_dir holds credentials for another CA; replace=True
    overwrites them: they may be a user's key for another cluster's xcatd)."""
    dest = ClientCreds.in_dir(Path(dest_dir))
    files = [(source.ca, dest.ca, PUBLIC), (source.cert, dest.cert, PUBLIC),
             (source.key, dest.key, PRIVATE)]
    if dest.complete():
        if all(s.read_bytes() == d.read_bytes() for s, d, _ in files):
            return "kept"
        if dest.ca.read_bytes() != source.ca.read_bytes() and not replace:
            return "conflict"
    if not dest.directory.exists():
        make_dir(dest.directory, PRIVATE_DIR)
    for src, dst, mode in files:
        write_file(dst, src.read_bytes(), mode)
    return "installed"


@dataclass
class CertInfo:
    label: str
    path: Path
    cn: str
    serial: str
    fingerprint: str
    not_after: str
    names: list[str]


def _info(label: str, path: Path) -> CertInfo | None:
    try:
        if not path.is_file():
            return None
    except OSError:  # another user's 0700 directory
        return None
    cert = load_cert(path, label)
    names = [str(n.value) for n in sorted(_server_names(cert), key=str)]
    return CertInfo(label, path, common_name(cert), serial_text(cert.serial_number),
                    fingerprint(cert), cert.not_valid_after_utc.isoformat(), names)


def describe(state_dir: Path) -> tuple[PkiPaths, list[CertInfo], Index]:
    """What ``xcatpy-setup show`` prints: the CA, server and root certificates, and the
    index of everything issued. Reads only public files."""
    paths = PkiPaths(Path(state_dir))
    if not paths.ca_cert.is_file():
        raise XcatError(f"no CA in {paths.ca_dir}; run 'xcatpy-setup init' first")
    infos = [_info("CA", paths.ca_cert), _info("server", paths.server_cert),
             _info("root client", paths.root_creds.cert)]
    return paths, [i for i in infos if i is not None], load_index(paths.index)
