"""A command Output that keeps when each line came, for the benchmarks that drive commands
through run_command and report when the first and last nodes answered."""

import time


class TimedOutput:
    """The command's lines, each with when it came (seconds since the command started)."""

    def __init__(self) -> None:
        self.start = time.monotonic()
        self.ok: list[tuple[float, str]] = []
        self.failed: list[tuple[float, str]] = []

    def data(self, text: str) -> None:
        self.ok.append((time.monotonic() - self.start, text))

    def error(self, text: str) -> None:
        self.failed.append((time.monotonic() - self.start, text))
