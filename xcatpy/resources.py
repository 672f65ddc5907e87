"""Where the files shipped beside the package live: the checkout, or the installed share.

A checkout (and an editable install) reads the repository's own templates/; a regular
install gets them as data files under <prefix>/share/xcatpy/ (setup.cfg data_files).
"""

import sys
from pathlib import Path

_CHECKOUT = Path(__file__).resolve().parents[1]


def share_dir() -> Path:
    if (_CHECKOUT / "templates").is_dir() and (_CHECKOUT / "setup.cfg").is_file():
        return _CHECKOUT
    return Path(sys.prefix) / "share" / "xcatpy"


def template_dir() -> Path:
    return share_dir() / "templates"
