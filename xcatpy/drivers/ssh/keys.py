"""The daemon's SSH client key and where its SSH files live under the state directory.

`<state>/ssh/id_ed25519` (OpenSSH format, mode 0600) and `id_ed25519.pub` are made on first
use, so a fresh instance can reach hypervisors as soon as the admin has put the .pub line
into root's authorized_keys on them. The files are ordinary OpenSSH ones: `ssh -i` takes them.
"""

from __future__ import annotations

import os
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from twisted.conch.ssh.keys import Key

from xcatpy.drivers.ssh.knownhosts import DIR_MODE

SSH_DIRNAME = "ssh"
KEY_FILENAME = "id_ed25519"
KNOWN_HOSTS_FILENAME = "known_hosts"


def ssh_dir(state_dir: Path) -> Path:
    path = Path(state_dir) / SSH_DIRNAME
    if not path.is_dir():
        path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        os.chmod(path, DIR_MODE)  # mkdir's mode is filtered by the umask
    return path


def known_hosts_path(state_dir: Path) -> Path:
    return Path(state_dir) / SSH_DIRNAME / KNOWN_HOSTS_FILENAME


@dataclass(frozen=True)
class ClientKey:
    path: Path
    private: Key
    public: Key

    @property
    def public_line(self) -> str:
        """The authorized_keys line for hypervisors."""
        return Path(str(self.path) + ".pub").read_text().strip()


def client_key(state_dir: Path) -> ClientKey:
    """The key, generated now if there is none yet."""
    path = ssh_dir(state_dir) / KEY_FILENAME
    if not path.exists():
        _generate(path)
    pub = Path(str(path) + ".pub")
    private = _load_private(path)
    if not pub.exists():
        _write_public(pub, private)
    return ClientKey(path, Key(private), Key(private.public_key()))


def _load_private(path: Path) -> ed25519.Ed25519PrivateKey:
    try:
        key = serialization.load_ssh_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError) as exc:
        raise OSError(f"{path}: not an unencrypted OpenSSH private key: {exc}") from None
    return key


def _generate(path: Path) -> None:
    """Create the key file whole or not at all; if another process got there first, its key
    stands (a link never replaces an existing file, so both end up using the same key)."""
    private = ed25519.Ed25519PrivateKey.generate()
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                serialization.NoEncryption())
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mode 0600
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return
        _write_public(Path(str(path) + ".pub"), private)
    finally:
        tmp.unlink(missing_ok=True)


def _write_public(pub: Path, private: ed25519.Ed25519PrivateKey) -> None:
    line = private.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                             serialization.PublicFormat.OpenSSH)
    comment = f"xcatpy@{socket.gethostname()}".encode()
    fd, name = tempfile.mkstemp(dir=pub.parent, prefix=f".{pub.name}.")
    with os.fdopen(fd, "wb") as f:
        f.write(line + b" " + comment + b"\n")
    os.chmod(name, 0o644)
    os.replace(name, pub)
