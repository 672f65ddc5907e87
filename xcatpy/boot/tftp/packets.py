"""TFTP wire format: RFC 1350 packets and the RFC 2347 option extension.

Pure functions over bytes; nothing here knows about sockets or files. `parse` turns any
datagram into a packet object or raises `MalformedPacket` (and nothing else); the builders
return bytes ready to send. Filenames stay bytes on the wire: decoding them is the file
layer's business, so a non-UTF-8 name can never crash the codec.

tftpy's codec is not reused: it decodes filenames and option values as ASCII and raises on
anything else, and the server's hot path (one ACK in, one DATA out) wants its own inlined
handling anyway.
"""

import struct
from dataclasses import dataclass, field

RRQ, WRQ, DATA, ACK, ERROR, OACK = 1, 2, 3, 4, 5, 6

# RFC 1350 error codes (8 is RFC 2347's option negotiation failure).
ERR_UNDEFINED = 0
ERR_NOT_FOUND = 1
ERR_ACCESS = 2
ERR_DISK_FULL = 3
ERR_ILLEGAL_OP = 4
ERR_UNKNOWN_TID = 5
ERR_EXISTS = 6
ERR_NO_USER = 7
ERR_OPTIONS = 8

MODES = ("netascii", "octet", "mail")

_HEADER = struct.Struct("!HH")
_OPCODE = struct.Struct("!H")


class MalformedPacket(ValueError):
    """A datagram that is not a valid TFTP packet."""


@dataclass(frozen=True)
class Request:
    """RRQ or WRQ. `options` maps lower-cased option names to their raw values, in
    the order the client sent them (a repeated option keeps its first value)."""

    opcode: int
    filename: bytes
    mode: str
    options: dict[str, bytes] = field(default_factory=dict)


@dataclass(frozen=True)
class Data:
    block: int
    payload: bytes


@dataclass(frozen=True)
class Ack:
    block: int


@dataclass(frozen=True)
class Error:
    code: int
    message: bytes


@dataclass(frozen=True)
class OptionAck:
    options: dict[str, bytes]


Packet = Request | Data | Ack | Error | OptionAck


def parse(datagram: bytes) -> Packet:
    """Decode one datagram; raise MalformedPacket for anything that is not TFTP."""
    if len(datagram) < 2:
        raise MalformedPacket("datagram shorter than an opcode")
    (opcode,) = _OPCODE.unpack_from(datagram)
    if opcode in (RRQ, WRQ):
        return _parse_request(opcode, datagram)
    if opcode == DATA:
        if len(datagram) < 4:
            raise MalformedPacket("DATA without a block number")
        return Data(_HEADER.unpack_from(datagram)[1], bytes(datagram[4:]))
    if opcode == ACK:
        if len(datagram) < 4:
            raise MalformedPacket("ACK without a block number")
        return Ack(_HEADER.unpack_from(datagram)[1])
    if opcode == ERROR:
        if len(datagram) < 4:
            raise MalformedPacket("ERROR without a code")
        message = bytes(datagram[4:])
        return Error(_HEADER.unpack_from(datagram)[1], message.split(b"\0", 1)[0])
    if opcode == OACK:
        fields = _fields(datagram[2:])
        return OptionAck(_options(fields))
    raise MalformedPacket(f"unknown opcode {opcode}")


def _fields(body: bytes) -> list[bytes]:
    # Strings are NUL-terminated. Some clients pad requests with extra NULs or leave
    # the last string unterminated: trailing empty fields are dropped, not fatal.
    fields = bytes(body).split(b"\0")
    while fields and fields[-1] == b"":
        fields.pop()
    return fields


def _options(fields: list[bytes]) -> dict[str, bytes]:
    options: dict[str, bytes] = {}
    # A dangling option name without a value is ignored.
    for i in range(0, len(fields) - 1, 2):
        name = fields[i].decode("ascii", "replace").lower()
        if name and name not in options:
            options[name] = fields[i + 1]
    return options


def _parse_request(opcode: int, datagram: bytes) -> Request:
    fields = _fields(datagram[2:])
    if len(fields) < 2:
        raise MalformedPacket("request without a filename and a mode")
    filename, mode = fields[0], fields[1].decode("ascii", "replace").lower()
    if not filename:
        raise MalformedPacket("request with an empty filename")
    if mode not in MODES:
        raise MalformedPacket(f"unknown transfer mode {mode!r}")
    return Request(opcode, filename, mode, _options(fields[2:]))


def request(filename: bytes | str, mode: str = "octet",
            options: dict[str, object] | None = None, opcode: int = RRQ) -> bytes:
    """Build an RRQ (or WRQ); used by tests and clients."""
    if isinstance(filename, str):
        filename = filename.encode("utf-8", "surrogateescape")
    parts = [_OPCODE.pack(opcode), filename, b"\0", mode.encode("ascii"), b"\0"]
    for name, value in (options or {}).items():
        parts += [name.encode("ascii"), b"\0", _bytes(value), b"\0"]
    return b"".join(parts)


def data(block: int, payload: bytes) -> bytes:
    return _HEADER.pack(DATA, block & 0xFFFF) + bytes(payload)


def ack(block: int) -> bytes:
    return _HEADER.pack(ACK, block & 0xFFFF)


def error(code: int, message: str) -> bytes:
    text = message.encode("utf-8", "replace").replace(b"\0", b" ")
    return _HEADER.pack(ERROR, code) + text + b"\0"


def oack(options: dict[str, object]) -> bytes:
    parts = [_OPCODE.pack(OACK)]
    for name, value in options.items():
        parts += [name.encode("ascii"), b"\0", _bytes(value), b"\0"]
    return b"".join(parts)


def _bytes(value: object) -> bytes:
    if isinstance(value, bytes):
        return value
    return str(value).encode("ascii")


def int_option(value: bytes, low: int, high: int) -> int | None:
    """An option's decimal value if it is one and lies in [low, high], else None."""
    text = value.strip()
    if not text or len(text) > 12 or not text.isdigit():
        return None
    number = int(text)
    return number if low <= number <= high else None


def to_netascii(content: bytes) -> bytes:
    """RFC 764 NVT-ASCII as TFTP's netascii mode sends it: CR -> CR NUL, LF -> CR LF."""
    return bytes(content).replace(b"\r", b"\r\0").replace(b"\n", b"\r\n")
