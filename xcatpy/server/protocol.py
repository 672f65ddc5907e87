"""The API's wire format, shared by the CLI and xcatd: JSON over HTTPS.

A request is one JSON object POSTed to /xcatpy/v1/command:
    {"command": "nodels", "args": [...], "cwd": "/root", "stdin": "...",
     "files": {"nodes.txt": "..."}}
Files named on the command line live on the client; it ships the ones that exist, and
the handler reads them from here instead of the daemon's disk.

The response is a stream of JSON lines, one per event, as results arrive:
    {"out": "node1: on"}   a stdout line
    {"err": "node2: Error: timed out"}   a stderr line
    {"file": "site.csv", "content": "..."}   a file the client writes (tabdump -f)
    {"exit": 0}   always last
This module imports only the standard library: the CLI loads it on every command.
"""

import json
from dataclasses import dataclass, field

API_PATH = b"/xcatpy/v1/command"
MAX_REQUEST_BYTES = 64 * 1024 * 1024
_STR_FIELDS = ("command", "cwd", "stdin")


class ProtocolError(ValueError):
    """A request that is not a valid command request; the message says what is wrong."""


@dataclass
class CommandRequest:
    command: str
    args: list[str]
    cwd: str = "/"
    stdin: str = ""
    files: dict[str, str] = field(default_factory=dict)

    def encode(self) -> bytes:
        return json.dumps({"command": self.command, "args": self.args, "cwd": self.cwd,
                           "stdin": self.stdin, "files": self.files}).encode()


def _loads(data: bytes):
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError(str(exc)) from None
    except RecursionError:
        # json's C scanner recurses once per nesting level; no request or event nests
        # deeper than a few levels, so this one is malformed, not a crash.
        raise ProtocolError("nested too deeply") from None


def decode_request(body: bytes) -> CommandRequest:
    """Parse and validate a request body; anything malformed raises ProtocolError."""
    if len(body) > MAX_REQUEST_BYTES:
        raise ProtocolError(f"request larger than {MAX_REQUEST_BYTES} bytes")
    try:
        data = _loads(body)
    except ProtocolError as exc:
        raise ProtocolError(f"request is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ProtocolError("request must be a JSON object")
    for name in _STR_FIELDS:
        if name in data and not isinstance(data[name], str):
            raise ProtocolError(f"'{name}' must be a string")
    command = data.get("command")
    if not command:
        raise ProtocolError("'command' is required")
    args = data.get("args", [])
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        raise ProtocolError("'args' must be a list of strings")
    files = data.get("files", {})
    if not isinstance(files, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in files.items()):
        raise ProtocolError("'files' must map names to strings")
    return CommandRequest(command, args, data.get("cwd") or "/", data.get("stdin") or "", files)


def encode_event(**event) -> bytes:
    return json.dumps(event).encode() + b"\n"


def decode_event(line: bytes) -> dict:
    try:
        event = _loads(line)
    except ProtocolError as exc:
        raise ProtocolError(f"bad response line from xcatd: {exc}") from None
    if not isinstance(event, dict):
        raise ProtocolError("bad response line from xcatd: not an object")
    return event
