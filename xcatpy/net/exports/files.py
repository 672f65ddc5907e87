"""Files other programs read while we rewrite them: replaced whole, never seen half written.

dhcpd, kea-dhcp4, dnsmasq and every resolver reading /etc/hosts may open a file at any
moment. Each write goes to a temporary file in the same directory (so the rename cannot
cross file systems), is flushed to disk, then renamed over the old name; the directory is
flushed too, so after a crash the name points at the old or the new content, never at an
empty file. The temporary name starts with a dot: dnsmasq ignores dotfiles in a watched
directory, so it never reads one.
"""

import os
import tempfile
from pathlib import Path

from xcatpy.errors import XcatError

DEFAULT_MODE = 0o644


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems cannot sync a directory; the rename is still atomic
    finally:
        os.close(fd)


def read_text(path: Path) -> str | None:
    """The file's text, or None if there is none."""
    try:
        return path.read_text()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise XcatError(f"Cannot read {path}: {getattr(exc, 'strerror', None) or exc}") \
            from None


def atomic_write(path: Path, text: str, *, mode: int | None = None) -> None:
    """Replace `path` with `text`. The file keeps its mode and owner if it exists (an
    /etc/hosts made 0644 by the admin stays 0644); a new one gets `mode` or 0644."""
    path = Path(path)
    try:
        old = path.stat()
    except FileNotFoundError:
        old = None
    except OSError as exc:
        raise XcatError(f"Cannot write {path}: {exc.strerror or exc}") from None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise XcatError(f"Cannot write {path}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fchmod(f.fileno(), (old.st_mode & 0o7777) if old else (mode or DEFAULT_MODE))
            if old is not None and os.geteuid() == 0:
                os.fchown(f.fileno(), old.st_uid, old.st_gid)
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise XcatError(f"Cannot write {path}: {exc.strerror or exc}") from None
    _fsync_dir(path.parent)


def write_if_changed(path: Path, text: str, *, mode: int | None = None) -> bool:
    """atomic_write unless the file already holds exactly `text`; True if it wrote.

    An unchanged file keeps its mtime, so a watcher (dnsmasq's inotify, a config
    management run) sees no event for a regeneration that changed nothing.
    """
    if read_text(path) == text:
        return False
    atomic_write(path, text, mode=mode)
    return True


def remove(path: Path) -> bool:
    """Delete `path` if it exists; True if it did."""
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise XcatError(f"Cannot remove {path}: {exc.strerror or exc}") from None
    _fsync_dir(path.parent)
    return True
