"""The CA's record of what it issued: serial, user, kind, expiry, revocation time.

``revoke alice`` needs to know alice's serials, and the CRL is rebuilt from this record;
it plays the part of OpenSSL's ``index.txt``. JSON, serials as hex strings (a 159-bit
serial does not survive a trip through tools that read numbers as doubles).
"""

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from xcatpy.errors import XcatError
from xcatpy.pki.files import PUBLIC, write_file


@dataclass
class Record:
    serial: str  # "0x..." hex
    cn: str
    kind: str  # "ca", "server" or "client"
    not_after: str  # ISO 8601, UTC
    revoked: str | None = None  # ISO 8601 revocation time, or None

    @property
    def serial_int(self) -> int:
        return int(self.serial, 16)


@dataclass
class Index:
    crl_number: int
    records: list[Record]

    def add(self, record: Record) -> None:
        self.records.append(record)

    def by_serial(self, serial: int) -> Record | None:
        for r in self.records:
            if r.serial_int == serial:
                return r
        return None

    def revoked(self) -> list[Record]:
        return [r for r in self.records if r.revoked]


def load_index(path: Path) -> Index:
    """The record at path; an absent file is an empty record."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Index(0, [])
    except (OSError, ValueError) as exc:
        raise XcatError(f"cannot read the certificate index {path}: {exc}") from exc
    try:
        return Index(int(data["crl_number"]),
                     [Record(**r) for r in data["certificates"]])
    except (KeyError, TypeError, ValueError) as exc:
        raise XcatError(f"certificate index {path} is malformed: {exc}") from exc


def save_index(path: Path, index: Index) -> None:
    data = {"crl_number": index.crl_number,
            "certificates": [asdict(r) for r in index.records]}
    write_file(path, (json.dumps(data, indent=1) + "\n").encode(), PUBLIC)
