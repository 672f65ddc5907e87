"""Files on the user's side of a command: read as they are, written whole or not at all.

Bypass mode (commands/base.py) and the daemon's client (cli/client.py) both touch the
user's files; this module keeps them identical and imports only the standard library.
"""

import contextlib
import errno
import os
from pathlib import Path

from xcatpy.errors import XcatError

MAX_TEMP_STEM = 200     # bytes of the file's name kept in its temporary name


def read_user_file(path: Path, name: str) -> str:
    try:
        # newline="": a CR inside a quoted CSV value is data, not a line ending.
        with open(path, newline="") as f:
            return f.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise XcatError(f"Cannot read file {name}: {getattr(exc, 'strerror', None) or exc}") \
            from None


def write_user_file(path: Path, text: str, name: str) -> None:
    """Replace `path` atomically, so an interrupted dump never leaves half a file."""
    if not isinstance(text, str):
        raise XcatError(f"Cannot write file {name}: its content is not text")
    tmp = None
    try:
        if path.is_dir():
            # "" or "." names the directory itself: the temporary file would land in
            # its parent, and no file could replace the directory anyway.
            raise IsADirectoryError(errno.EISDIR, "Is a directory")
        tmp = _temporary(path)
        with open(tmp, "w", newline="") as f:
            f.write(text)
        os.replace(tmp, path)
    # ValueError: a NUL in the name (open refuses it) or text the file's encoding cannot
    # hold (a lone surrogate): the user's input, not a crash.
    except (OSError, ValueError) as exc:
        # The cleanup fails the same way when the name itself was the problem (too long,
        # a NUL); the first error is the one to report.
        if tmp is not None:
            with contextlib.suppress(OSError, ValueError):
                tmp.unlink(missing_ok=True)
        raise XcatError(f"Cannot write file {name}: {getattr(exc, 'strerror', None) or exc}") \
            from None


def _temporary(path: Path) -> Path:
    # Beside the file, so os.replace is atomic; a name near the 255-byte limit gets a
    # short temporary name, which would otherwise be too long where the file's is not.
    try:
        short = len(os.fsencode(path.name)) <= MAX_TEMP_STEM
    except UnicodeError:
        short = True            # open() refuses the name and says why
    return path.with_name(f".{path.name if short else 'xcatpy'}.tmp{os.getpid()}")
