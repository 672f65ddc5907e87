"""Log lines a client can provoke at will (malformed packets, an exhausted pool, DECLINEs),
limited so that a misbehaving or hostile client cannot flood the log."""

import time

from twisted.logger import Logger

log = Logger()


class RateLimitedLog:
    """At most `burst` lines per `period` seconds for one kind of trouble, then a count."""

    def __init__(self, what: str, burst: int = 5, period: float = 60.0,
                 clock=time.monotonic) -> None:
        self.what, self.burst, self.period, self.clock = what, burst, period, clock
        self.window_start = -period
        self.sent = 0
        self.suppressed = 0

    def warn(self, fmt: str, **kw) -> None:
        now = self.clock()
        if now - self.window_start >= self.period:
            if self.suppressed:
                log.warn("{count} more {what} in the last {period:.0f} s",
                         count=self.suppressed, what=self.what, period=self.period)
            self.window_start, self.sent, self.suppressed = now, 0, 0
        if self.sent < self.burst:
            self.sent += 1
            log.warn(fmt, **kw)
        else:
            self.suppressed += 1
