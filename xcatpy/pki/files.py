"""Writing PKI files safely: exact modes, whole files or none, one writer at a time."""

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from xcatpy.errors import XcatError

PRIVATE = 0o600
PUBLIC = 0o644
PRIVATE_DIR = 0o700
PUBLIC_DIR = 0o755


def _os_error(action: str, path: Path, exc: OSError) -> XcatError:
    hint = " (run as the instance's owner, usually root)" if isinstance(
        exc, PermissionError) else ""
    return XcatError(f"cannot {action} {path}: {exc.strerror or exc}{hint}")


def make_dir(path: Path, mode: int = PUBLIC_DIR) -> Path:
    """Create path (and parents) with exactly mode, whatever the umask says."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        os.chmod(path, mode)
    except OSError as exc:
        raise _os_error("create directory", path, exc) from exc
    return path


def write_file(path: Path, data: bytes, mode: int) -> None:
    """Replace path with data atomically; the file has mode from its first byte, so a key
    is never readable by others even for an instant, and a crash leaves the old file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        try:
            os.fchmod(fd, mode)
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise _os_error("write", path, exc) from exc


def read_file(path: Path, what: str) -> bytes:
    """The bytes of path, or XcatError naming what is missing and how to create it."""
    try:
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise XcatError(f"no {what} at {path}; run 'xcatpy-setup init' first") from exc
    except OSError as exc:
        raise _os_error("read", path, exc) from exc


@contextlib.contextmanager
def locked(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive lock: two concurrent issue/revoke runs must not lose a record.
    The PKI directory must exist (``init`` makes it): issue or revoke on a state directory
    without one must not leave an empty one behind."""
    if not lock_path.parent.is_dir():
        raise XcatError(f"no PKI in {lock_path.parent}; run 'xcatpy-setup init' first")
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, PRIVATE)
    except OSError as exc:
        raise _os_error("lock", lock_path, exc) from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def chown_to_user(paths: list[Path], user: str) -> None:
    """As root, hand a user's credential files to that user (as xCAT's setup does for
    ~/.xcat); a name without a local account keeps root's ownership."""
    if os.geteuid() != 0:
        return
    try:
        import pwd

        entry = pwd.getpwnam(user)
    except (ImportError, KeyError):
        return
    for p in paths:
        try:
            os.chown(p, entry.pw_uid, entry.pw_gid)
        except OSError as exc:
            raise _os_error("change owner of", p, exc) from exc
