"""Errors users read.

Every failure a user can cause ends as one line naming what was wrong (node, table,
column, file) and a non-zero exit code. Raising XcatError anywhere below a command
handler gets exactly that; nothing else should reach the user as a traceback.
"""


class XcatError(Exception):
    """A failure caused by input or state, printed as ``Error: <message>``."""

    exit_code = 1

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code

    @property
    def message(self) -> str:
        return str(self.args[0])


class UsageError(XcatError):
    """Bad options or arguments: the command's usage follows the message."""


class NoderangeError(XcatError):
    """A noderange that names unknown nodes or does not parse."""
