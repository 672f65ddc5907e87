"""Where certificates live, and how a CLI finds its client credentials.

Layout under the state directory (xCAT's /etc/xcat/ca and ~/.xcat, moved into one place
so a private instance in a temporary directory carries its own PKI):

    pki/ca/ca-key.pem         CA private key (0600)
    pki/ca/ca-cert.pem        CA certificate (0644)
    pki/ca/crl.pem            revocation list, rewritten on every revocation (0644)
    pki/ca/index.json         every certificate the CA issued, and which are revoked
    pki/server/server-key.pem xcatd's key (0600) and certificate
    pki/server/server-cert.pem
    pki/users/<name>/         ca.pem, client-cert.pem, client-key.pem (0600) for <name>;
                              the directory is 0700 and, when root issues, owned by <name>

Directories other than a user's are 0755: the CA certificate and the CRL are public, and
every private key is 0600 on its own.

A user's own copy lives in ``~/.xcatpy/`` with the same three file names, as xCAT's
``~/.xcat/``. This module is on every CLI command's path: it must not import
``cryptography`` (or anything heavier than the standard library's basics).
"""

import os
import re
from dataclasses import dataclass
from pathlib import Path

from xcatpy.errors import XcatError

CREDS_ENV = "XCATPY_CREDS"
HOME_CREDS_DIRNAME = ".xcatpy"
CA_FILENAME = "ca.pem"
CERT_FILENAME = "client-cert.pem"
KEY_FILENAME = "client-key.pem"

# A user name becomes a certificate CN, a directory name and a policy-table key: the
# portable POSIX user-name set plus '@' (for realm-style names), never '.' or '-' first.
_USER_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.@-]{0,63}")


def check_user_name(name: str) -> str:
    """The name, or XcatError if it cannot be a certificate's user name."""
    if not name or not name.strip():
        raise XcatError("user name is empty")
    if not _USER_NAME.fullmatch(name):
        raise XcatError(
            f"invalid user name {name!r}: use letters, digits, '_', '.', '@' or '-', "
            "starting with a letter or '_', at most 64 characters")
    return name


@dataclass(frozen=True)
class ClientCreds:
    """One user's client credentials: the CA to trust, a certificate and its key."""

    directory: Path
    ca: Path
    cert: Path
    key: Path

    @classmethod
    def in_dir(cls, directory: Path) -> "ClientCreds":
        directory = Path(directory)
        return cls(directory, directory / CA_FILENAME, directory / CERT_FILENAME,
                   directory / KEY_FILENAME)

    def missing(self) -> list[str]:
        """Names of the three files that are absent."""
        return [p.name for p in (self.ca, self.cert, self.key) if not p.is_file()]

    def complete(self) -> bool:
        return not self.missing()

    def readable(self) -> bool:
        return self.complete() and all(os.access(p, os.R_OK) for p in (self.ca, self.cert,
                                                                       self.key))


@dataclass(frozen=True)
class PkiPaths:
    """Every PKI file of one instance, derived from its state directory."""

    state_dir: Path

    @property
    def root(self) -> Path:
        return self.state_dir / "pki"

    @property
    def ca_dir(self) -> Path:
        return self.root / "ca"

    @property
    def ca_key(self) -> Path:
        return self.ca_dir / "ca-key.pem"

    @property
    def ca_cert(self) -> Path:
        return self.ca_dir / "ca-cert.pem"

    @property
    def crl(self) -> Path:
        return self.ca_dir / "crl.pem"

    @property
    def index(self) -> Path:
        return self.ca_dir / "index.json"

    @property
    def server_dir(self) -> Path:
        return self.root / "server"

    @property
    def server_key(self) -> Path:
        return self.server_dir / "server-key.pem"

    @property
    def server_cert(self) -> Path:
        return self.server_dir / "server-cert.pem"

    @property
    def users_dir(self) -> Path:
        return self.root / "users"

    @property
    def lock(self) -> Path:
        return self.root / ".lock"

    def user_creds(self, user: str) -> ClientCreds:
        return ClientCreds.in_dir(self.users_dir / check_user_name(user))

    @property
    def root_creds(self) -> ClientCreds:
        return self.user_creds("root")


def home_creds() -> ClientCreds:
    """The current user's ``~/.xcatpy/`` (which may not exist)."""
    return ClientCreds.in_dir(Path.home() / HOME_CREDS_DIRNAME)


def current_user() -> str:
    """The effective user's login name (what the credentials of a private instance use)."""
    try:
        import pwd

        return pwd.getpwuid(os.geteuid()).pw_name
    except (ImportError, KeyError):
        import getpass

        return getpass.getuser()


def _pem_text(path: Path) -> str | None:
    try:
        return "".join(path.read_text(encoding="ascii", errors="replace").split())
    except OSError:
        return None


def _same_ca(creds: ClientCreds, paths: PkiPaths) -> bool:
    """Whether creds trust this instance's CA; True when the instance's CA is not here to
    compare with (a CLI on another host than xcatd has only its own ~/.xcatpy)."""
    ours = _pem_text(paths.ca_cert)
    if ours is None:
        return True
    return _pem_text(creds.ca) == ours


def client_credentials(state_dir: Path, user: str | None = None) -> ClientCreds | None:
    """The client credentials a CLI presents to this instance's xcatd, or None.

    For the current user (``user=None``), in order:
      1. ``$XCATPY_CREDS`` (a directory with the three files); set but incomplete is an error;
      2. ``~/.xcatpy/`` when its ca.pem is this instance's CA (or the CA is not on this host);
      3. ``<state>/pki/users/<current user>/``;
      4. ``<state>/pki/users/root/`` when the current user can read its key: on a private
         instance whoever ran ``xcatpy-setup init`` owns root's credentials; on the system
         instance the key is root's alone and this step finds nothing for other users.
    With ``user`` given, only ``<state>/pki/users/<user>/``: the personal places (1, 2) and
    the fallback (4) belong to the person running the command, not to ``user``.
    """
    paths = PkiPaths(Path(state_dir))
    if user is not None:
        creds = paths.user_creds(user)
        return creds if creds.complete() else None

    env_dir = os.environ.get(CREDS_ENV)
    if env_dir:
        creds = ClientCreds.in_dir(Path(env_dir))
        missing = creds.missing()
        if missing:
            raise XcatError(f"{CREDS_ENV}={env_dir}: missing {', '.join(missing)}")
        return creds

    home = home_creds()
    if home.complete() and _same_ca(home, paths):
        return home

    name = current_user()
    if _USER_NAME.fullmatch(name):
        mine = paths.user_creds(name)
        if mine.complete():
            return mine
    root = paths.root_creds
    if root.readable():
        return root
    return None
