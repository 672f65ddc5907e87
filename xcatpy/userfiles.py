"""Files on the user's side of a command: read as they are, written whole or not at all.

Bypass mode (commands/base.py) and the daemon's client (cli/client.py) both touch the
user's files; this module keeps them identical and imports only the standard library.
"""

import os
from pathlib import Path

from xcatpy.errors import XcatError


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
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        with open(tmp, "w", newline="") as f:
            f.write(text)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise XcatError(f"Cannot write file {name}: {exc.strerror or exc}") from None
