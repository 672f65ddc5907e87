"""The daemon's known_hosts file, in OpenSSH's format, so `ssh -o UserKnownHostsFile=` agrees.

A host is looked up by the names OpenSSH would use: its node name and its address, each as
`[name]:port` when the port is not 22. Entries may be plain (`hv1,10.0.0.5`), hashed
(`|1|salt|hmac`, as `ssh-keyscan -H` writes them) or wildcard patterns with `!` negation.
Lines this module does not understand (comments, `@cert-authority`) are kept as they are.

Writes take a lock file, so two makeknownhosts never lose each other's entries, and land by
rename, so a connecting reader never sees half a file.
"""

from __future__ import annotations

import base64
import binascii
import enum
import fcntl
import hashlib
import hmac
import os
import re
import struct
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

FILE_MODE = 0o644
DIR_MODE = 0o700


class KnownHostsSyntaxError(ValueError):
    pass


@dataclass(frozen=True)
class HostKey:
    """A public host key: its type name (`ssh-ed25519`) and its SSH wire-format blob."""

    keytype: str
    blob: bytes

    @classmethod
    def from_blob(cls, blob: bytes) -> HostKey:
        if len(blob) < 4:
            raise ValueError("host key blob too short")
        (length,) = struct.unpack(">I", blob[:4])
        keytype = blob[4:4 + length]
        if len(keytype) != length or not keytype:
            raise ValueError("host key blob has no key type")
        return cls(keytype.decode("ascii", "replace"), blob)

    @classmethod
    def from_base64(cls, text: str) -> HostKey:
        try:
            return cls.from_blob(base64.b64decode(text, validate=True))
        except (binascii.Error, ValueError) as exc:
            raise KnownHostsSyntaxError(f"not a base64 key: {exc}") from None

    @property
    def base64(self) -> str:
        return base64.b64encode(self.blob).decode("ascii")

    @property
    def fingerprint(self) -> str:
        """As `ssh-keygen -l` and OpenSSH's messages print it."""
        digest = hashlib.sha256(self.blob).digest()
        return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")

    def openssh(self) -> str:
        return f"{self.keytype} {self.base64}"


def host_name(name: str, port: int) -> str:
    """The name OpenSSH looks up for a host on a port."""
    return name if port == 22 else f"[{name}]:{port}"


def _bare(pattern: str) -> str:
    """`[name]:port` -> name; anything else unchanged."""
    if pattern.startswith("[") and "]:" in pattern:
        return pattern[1:pattern.index("]:")]
    return pattern


def _hashed_match(pattern: str, name: str) -> bool:
    parts = pattern.split("|")
    if len(parts) != 4 or parts[1] != "1":
        return False
    try:
        salt, wanted = base64.b64decode(parts[2]), base64.b64decode(parts[3])
    except binascii.Error:
        return False
    return hmac.compare_digest(hmac.new(salt, name.encode(), hashlib.sha1).digest(), wanted)


def _pattern_match(pattern: str, name: str) -> bool:
    if pattern.startswith("|"):
        return _hashed_match(pattern, name)
    if "*" not in pattern and "?" not in pattern:
        return pattern.lower() == name.lower()
    # Only * and ? are special in OpenSSH's patterns; `[host]:port` brackets are literal.
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, name, re.IGNORECASE | re.DOTALL) is not None


def patterns_match(patterns: Sequence[str], name: str) -> bool:
    """OpenSSH's rule: some positive pattern matches and no negated one does."""
    matched = False
    for pattern in patterns:
        if pattern.startswith("!"):
            if _pattern_match(pattern[1:], name):
                return False
        elif _pattern_match(pattern, name):
            matched = True
    return matched


@dataclass
class _Line:
    """One line of the file; `key` is None for lines kept verbatim (comments, blanks, ...)."""

    text: str
    marker: str = ""
    patterns: tuple[str, ...] = ()
    key: HostKey | None = None
    comment: str = ""

    @classmethod
    def parse(cls, text: str) -> _Line:
        fields = text.split()
        if not fields or fields[0].startswith("#"):
            return cls(text)
        marker = ""
        if fields[0].startswith("@"):
            marker, fields = fields[0], fields[1:]
        if len(fields) < 3:
            return cls(text)
        try:
            key = HostKey.from_base64(fields[2])
        except KnownHostsSyntaxError:
            return cls(text)
        if key.keytype != fields[1]:
            return cls(text)
        return cls(text, marker, tuple(fields[0].split(",")), key, " ".join(fields[3:]))

    def render(self) -> str:
        if self.key is None:
            return self.text
        parts = [self.marker] if self.marker else []
        parts += [",".join(self.patterns), self.key.keytype, self.key.base64]
        if self.comment:
            parts.append(self.comment)
        return " ".join(parts)


class Verdict(enum.Enum):
    KNOWN = "known"
    UNKNOWN = "unknown"
    CHANGED = "changed"
    REVOKED = "revoked"


@dataclass(frozen=True)
class KnownKeys:
    """What the file says about one host's names: the input to host key verification."""

    names: tuple[str, ...]
    keys: tuple[HostKey, ...]
    revoked: tuple[HostKey, ...] = ()

    @property
    def keytypes(self) -> list[str]:
        return list(dict.fromkeys(k.keytype for k in self.keys))

    def check(self, offered: HostKey) -> tuple[Verdict, HostKey | None]:
        """(verdict, the recorded key it differs from when CHANGED).

        Any recorded key of the offered type that differs makes it CHANGED, even if another
        name has it right: an address now answering with another key is what a reinstalled
        or impostor host looks like, and OpenSSH's CheckHostIP warns the same way.
        """
        if offered in self.revoked:
            return Verdict.REVOKED, None
        same_type = [k for k in self.keys if k.keytype == offered.keytype]
        for key in same_type:
            if key != offered:
                return Verdict.CHANGED, key
        if offered in same_type:
            return Verdict.KNOWN, None
        return Verdict.UNKNOWN, None


class KnownHostsFile:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._cache: tuple[tuple[int, int, int], list[_Line]] | None = None

    def _read_lines(self) -> list[_Line]:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return []
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        cached = self._cache
        if cached is not None and cached[0] == stamp:
            return cached[1]
        lines = [_Line.parse(t) for t in self.path.read_text(errors="replace").splitlines()]
        self._cache = (stamp, lines)
        return lines

    def lookup(self, names: Iterable[str]) -> KnownKeys:
        names = tuple(dict.fromkeys(names))
        keys: list[HostKey] = []
        revoked: list[HostKey] = []
        for line in self._read_lines():
            if line.key is None or not any(patterns_match(line.patterns, n) for n in names):
                continue
            if line.marker == "@revoked":
                revoked.append(line.key)
            elif not line.marker:
                keys.append(line.key)
        return KnownKeys(names, tuple(keys), tuple(revoked))

    def replace(self, entries: Sequence[tuple[Sequence[str], HostKey]],
                comment: str = "") -> None:
        """For each (names, key): drop what the file says about those names, then add one
        line `name,name type key`. One locked read-modify-write for all entries."""
        with self._locked() as lines:
            for names, _key in entries:
                lines[:] = _without(lines, set(names), any_port=False)
            for names, key in entries:
                lines.append(_Line("", "", tuple(names), key, comment))

    def remove(self, names: Iterable[str]) -> int:
        """Drop every entry for these names, on any port. Returns how many names went."""
        with self._locked() as lines:
            before = sum(len(line.patterns) for line in lines if line.key is not None)
            lines[:] = _without(lines, set(names), any_port=True)
            after = sum(len(line.patterns) for line in lines if line.key is not None)
        return before - after

    def _locked(self):
        return _LockedEdit(self)


def _without(lines: list[_Line], names: set[str], *, any_port: bool) -> list[_Line]:
    """The lines with those names taken out: a plain pattern naming one is dropped from its
    line, a hashed or wildcard line matching one goes entirely (it cannot be split)."""
    plain_names = {n.lower() for n in names}
    bare_names = {_bare(n).lower() for n in names}

    def names_it(pattern: str) -> bool:
        lowered = pattern.lower()
        return lowered in plain_names or (any_port and _bare(lowered) in bare_names)

    kept = []
    for line in lines:
        if line.key is None or line.marker:
            kept.append(line)
            continue
        plain = [p for p in line.patterns if not p.startswith("|") and not set(p) & set("*?!")]
        if len(plain) != len(line.patterns):
            if any(patterns_match(line.patterns, n) for n in names):
                continue
            kept.append(line)
            continue
        remaining = tuple(p for p in line.patterns if not names_it(p))
        if remaining == line.patterns:
            kept.append(line)
        elif remaining:
            kept.append(_Line("", "", remaining, line.key, line.comment))
    return kept


class _LockedEdit:
    """`with` block over the file's lines; written back atomically when the block ends."""

    def __init__(self, owner: KnownHostsFile) -> None:
        self.owner = owner
        self.path = owner.path

    def __enter__(self) -> list[_Line]:
        self.path.parent.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        self._lock = open(self.path.with_name(self.path.name + ".lock"), "a")
        fcntl.flock(self._lock, fcntl.LOCK_EX)
        self.owner._cache = None
        self.lines = list(self.owner._read_lines())
        return self.lines

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                text = "".join(line.render() + "\n" for line in self.lines)
                _atomic_write(self.path, text)
                self.owner._cache = None
        finally:
            self._lock.close()


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
