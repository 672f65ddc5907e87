"""Where an instance keeps its state.

One directory holds the database (and, in later parts, certificates, the tftp root and
the install root). CLIs and the daemon choose it the same way, so a test or a demo runs
a whole private instance in a temporary directory.
"""

import os
from pathlib import Path

DEFAULT_STATE_DIR = "/var/lib/xcatpy"
STATE_ENV = "XCATPY_STATE"
DB_FILENAME = "xcatdb.sqlite"


def state_dir(explicit: str | os.PathLike | None = None) -> Path:
    """The state directory: an explicit --state-dir, else $XCATPY_STATE, else the default."""
    chosen = explicit or os.environ.get(STATE_ENV) or DEFAULT_STATE_DIR
    return Path(chosen)


def db_path(directory: Path) -> Path:
    return directory / DB_FILENAME
