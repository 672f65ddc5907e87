"""How drivers run commands on a hypervisor: an argv, never a shell string.

A driver builds `["xl", "create", path]`; the transport joins it with `shlex.join`, so every
value that came from a table reaches the remote shell quoted and stays inert, whatever
metacharacters it holds. The SSH transport (`xcatpy.drivers.ssh`) is the real one; tests of
drivers may use a local one with the same interface.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from xcatpy.drivers.base import DriverError


@dataclass(frozen=True)
class Target:
    """Where a hypervisor is reached. `node` names it in messages and in known_hosts."""

    node: str
    address: str
    port: int = 22
    user: str = "root"


@dataclass(frozen=True)
class RemoteResult:
    exit_status: int
    stdout: str
    stderr: str


class RemoteError(DriverError):
    """The command ran and failed. The message is the remote's own last error line."""

    def __init__(self, target: Target, argv: Sequence[str], result: RemoteResult) -> None:
        self.target = target
        self.argv = list(argv)
        self.result = result
        lines = [ln.strip() for ln in (result.stderr or result.stdout).splitlines() if ln.strip()]
        detail = lines[-1] if lines else f"exit status {result.exit_status}"
        super().__init__(f"{target.node}: '{argv[0]}' failed: {detail}")


class UnreachableError(DriverError):
    """No command ran: connection refused or timed out, authentication failed."""


class HostKeyError(UnreachableError):
    """The host's key is unknown or changed; nothing was sent to it."""


class SessionError(DriverError):
    """The command was started but its session ended abnormally (connection lost, no exit
    status): it may or may not have done its work, so it is not an UnreachableError."""


class CommandTimeout(DriverError):
    """The command ran longer than its timeout; the channel was closed."""


class RemoteShell(Protocol):
    def run(self, target: Target, argv: Sequence[str], *, stdin: bytes | None = None,
            timeout: float | None = 60.0, check: bool = True) -> RemoteResult:
        """Run argv on target; with check, a non-zero exit raises RemoteError."""


def command_line(argv: Sequence[str]) -> str:
    """The one place an argv becomes a remote command line."""
    if not argv:
        raise ValueError("empty command")
    return shlex.join(str(a) for a in argv)
