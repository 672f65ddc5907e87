"""The zones' SOA serial: it moves up when the records change, and only then.

The serial is the Unix time of the change (BIND's `serial-update-method unixtime`), or the
last serial plus one when changes come faster than once a second or the clock stepped
back. The last serial and a digest of the zone content are kept in a small file in the
state directory, so a restart with unchanged records keeps the serial, and one with
changed records never goes below the serial resolvers and secondaries last saw.
"""

import os
import time
from collections.abc import Callable
from pathlib import Path

from twisted.logger import Logger

log = Logger()

MAX_SERIAL = 2**32 - 1


class SerialKeeper:
    def __init__(self, path: Path | None, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self.clock = clock
        self._serial: int | None = None
        self._digest: str | None = None
        self._loaded = False

    def _load(self) -> None:
        self._loaded = True
        if self.path is None:
            return
        try:
            serial, digest = self.path.read_text().split()
            self._serial, self._digest = int(serial), digest
        except FileNotFoundError:
            pass
        except (OSError, ValueError) as exc:
            log.warn("DNS serial file {path} unreadable ({error}); starting from the clock",
                     path=str(self.path), error=exc)

    def _save(self) -> None:
        if self.path is None:
            return
        tmp = self.path.with_name(self.path.name + ".tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(f"{self._serial} {self._digest}\n")
            os.replace(tmp, self.path)
        except OSError as exc:
            # Serving stays correct for this run; only a restart could reuse a serial.
            log.warn("cannot record the DNS serial in {path}: {error}", path=str(self.path),
                     error=exc)

    def serial_for(self, digest: str) -> int:
        """The serial for zone content with this digest."""
        if not self._loaded:
            self._load()
        if self._serial is not None and digest == self._digest:
            return self._serial
        now = int(self.clock()) & MAX_SERIAL
        serial = now if self._serial is None else max(now, self._serial + 1)
        # RFC 1982 arithmetic would wrap; unixtime reaches 2**32 only in 2106.
        self._serial, self._digest = min(serial, MAX_SERIAL), digest
        self._save()
        return self._serial
