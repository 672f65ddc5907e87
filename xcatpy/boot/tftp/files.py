"""What the TFTP server serves: files under one root, and configs generated per request.

`TftpRoot.open(path, client, local)` answers a request path with a Deferred firing a
`TftpFile`, or failing with a `TftpFileError` the server turns into an ERROR packet.

- Paths are normalised once (`normalize`): leading '/' stripped, '\\' taken as a separator
  (Windows PXE), '.' and empty components dropped; '..' and NUL are refused.
- Generators (`add_generator`) are tried first, in registration order, on the normalised
  path. One may answer bytes (served as they are), a `pathlib.Path` (served as a file through
  the same cache; the generator vouches for that path), or None (try the next one, then the
  static files).
- Static files are resolved with symlinks followed and must stay under the root, also after
  opening (checked again through /proc/self/fd, so a swapped symlink cannot escape). Only
  regular files are served.
- Contents are cached in memory, LRU by bytes, keyed on the real path and validated by one
  stat per open (device, inode, size, mtime, ctime), so a replaced file is read again. Reads
  bigger than `inline_read_max` go to a thread, and concurrent misses for the same file share
  one read. Files too big for the cache are not copied: their transfers read blocks with
  pread from an open descriptor.
"""

import os
import re
import stat
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from twisted.internet import defer, threads
from twisted.logger import Logger

from xcatpy.boot.tftp import packets

log = Logger()

Client = tuple[str, int]
Generator = Callable[[re.Match, Client, str], Any]

_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


class TftpFileError(Exception):
    """A request that cannot be served; `code` and `message` go into the ERROR packet."""

    code = packets.ERR_UNDEFINED

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class FileNotFound(TftpFileError):
    code = packets.ERR_NOT_FOUND


class AccessViolation(TftpFileError):
    code = packets.ERR_ACCESS


class GeneratorFailed(TftpFileError):
    """A generator raised or errbacked; the cause is logged, the client sees this."""

    code = packets.ERR_UNDEFINED


class TftpFile:
    """One opened file: in memory (`data`) or, for files too big to cache, a descriptor
    read block by block. Close it when the transfer ends."""

    __slots__ = ("name", "size", "data", "fd")

    def __init__(self, name: str, size: int, data: bytes | None = None,
                 fd: int | None = None) -> None:
        self.name = name
        self.size = size
        self.data = data
        self.fd = fd

    def read(self, offset: int, length: int) -> bytes:
        if self.data is not None:
            return self.data[offset:offset + length]
        return os.pread(self.fd, length, offset)

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def __repr__(self) -> str:
        return f"TftpFile({self.name!r}, {self.size} bytes)"


def normalize(path: str | bytes) -> str:
    """The root-relative form of a request path; AccessViolation for '..' or NUL."""
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if "\0" in path:
        raise AccessViolation("NUL in file name")
    parts = [p for p in path.replace("\\", "/").split("/") if p not in ("", ".")]
    if ".." in parts:
        raise AccessViolation("'..' is not allowed in file names")
    if not parts:
        raise FileNotFound("no file name")
    return "/".join(parts)


@dataclass(frozen=True)
class _Ident:
    dev: int
    ino: int
    size: int
    mtime_ns: int
    ctime_ns: int

    @classmethod
    def of(cls, st: os.stat_result) -> "_Ident":
        return cls(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


class ByteLRU:
    """An LRU of bytes values bounded by their total length."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.used = 0
        self._items: OrderedDict[str, tuple[_Ident, bytes]] = OrderedDict()

    def get(self, key: str, ident: _Ident) -> bytes | None:
        item = self._items.get(key)
        if item is None:
            return None
        if item[0] != ident:
            self._drop(key)
            return None
        self._items.move_to_end(key)
        return item[1]

    def put(self, key: str, ident: _Ident, content: bytes) -> None:
        if len(content) > self.capacity:
            return
        self._drop(key)
        self._items[key] = (ident, content)
        self.used += len(content)
        while self.used > self.capacity:
            oldest = next(iter(self._items))
            self._drop(oldest)

    def _drop(self, key: str) -> None:
        item = self._items.pop(key, None)
        if item is not None:
            self.used -= len(item[1])

    def __len__(self) -> int:
        return len(self._items)


class TftpRoot:
    def __init__(self, root: Path, cache_bytes: int = 256 << 20, *,
                 inline_read_max: int = 64 << 10, max_cached_file: int | None = None,
                 reactor=None) -> None:
        self.root = Path(root)
        self._root_real = os.path.realpath(self.root)
        self.cache = ByteLRU(cache_bytes)
        self.inline_read_max = inline_read_max
        self.max_cached_file = cache_bytes // 2 if max_cached_file is None else max_cached_file
        self._reactor = reactor
        self._generators: list[tuple[re.Pattern, Generator]] = []
        self._reading: dict[tuple[str, _Ident], list[defer.Deferred]] = {}

    def add_generator(self, pattern: re.Pattern | str, fn: Generator) -> None:
        """Serve paths that `pattern` matches in full (re.fullmatch on the normalised path)
        with fn(match, client, local) -> bytes | Path | None, or a Deferred of one."""
        self._generators.append((re.compile(pattern), fn))

    def open(self, path: str | bytes, client: Client, local: str) -> defer.Deferred:
        try:
            name = normalize(path)
        except TftpFileError as exc:
            return defer.fail(exc)
        return self._try_generators(name, client, local, 0)

    # -- generators ------------------------------------------------------------------

    def _try_generators(self, name: str, client: Client, local: str,
                        start: int) -> defer.Deferred:
        for index in range(start, len(self._generators)):
            pattern, fn = self._generators[index]
            match = pattern.fullmatch(name)
            if match is None:
                continue
            d = defer.maybeDeferred(fn, match, client, local)
            d.addCallbacks(self._generated, self._generator_failed,
                           callbackArgs=(name, client, local, index),
                           errbackArgs=(name, client, fn))
            return d
        return self._open_static(name)

    def _generated(self, result: Any, name: str, client: Client, local: str,
                   index: int) -> Any:
        if result is None:
            return self._try_generators(name, client, local, index + 1)
        if isinstance(result, bytes | bytearray | memoryview):
            content = bytes(result)
            return TftpFile(name, len(content), content)
        if isinstance(result, Path):
            full = result if result.is_absolute() else self.root / result
            return self._open_real(name, os.path.realpath(full), confine=False)
        raise TypeError(f"TFTP generator for {name!r} returned {type(result).__name__}, "
                        "expected bytes, pathlib.Path or None")

    def _generator_failed(self, failure, name: str, client: Client, fn: Generator):
        if failure.check(TftpFileError):
            return failure
        log.failure("TFTP: generating {name} for {client} with {fn} failed", failure,
                    name=name, client=f"{client[0]}:{client[1]}",
                    fn=getattr(fn, "__qualname__", repr(fn)))
        raise GeneratorFailed("internal error")

    # -- static files ----------------------------------------------------------------

    def _inside(self, real: str) -> bool:
        root = self._root_real
        return real == root or real.startswith(root.rstrip("/") + "/")

    def _open_static(self, name: str) -> defer.Deferred:
        real = os.path.realpath(os.path.join(self._root_real, name))
        if not self._inside(real):
            return defer.fail(AccessViolation(f"{name} resolves outside the TFTP root"))
        try:
            result = self._open_real(name, real, confine=True)
        except TftpFileError as exc:
            return defer.fail(exc)
        except Exception:
            return defer.fail()
        return result if isinstance(result, defer.Deferred) else defer.succeed(result)

    def _open_real(self, name: str, real: str, confine: bool) -> TftpFile | defer.Deferred:
        try:
            st = os.stat(real)
        except PermissionError:
            raise AccessViolation(f"{name}: permission denied") from None
        except (OSError, ValueError):
            raise FileNotFound(f"{name} not found") from None
        if not stat.S_ISREG(st.st_mode):
            raise FileNotFound(f"{name} not found")
        ident = _Ident.of(st)
        cached = self.cache.get(real, ident)
        if cached is not None:
            return TftpFile(name, len(cached), cached)
        if st.st_size > self.max_cached_file:
            fd, ident = self._open_fd(name, real, confine)
            return TftpFile(name, ident.size, fd=fd)
        if st.st_size <= self.inline_read_max:
            ident, content = self._read(name, real, confine)
            self.cache.put(real, ident, content)
            return TftpFile(name, len(content), content)
        return self._read_in_thread(name, real, ident, confine)

    def _read_in_thread(self, name: str, real: str, ident: _Ident,
                        confine: bool) -> defer.Deferred:
        key = (real, ident)
        waiting = self._reading.get(key)
        mine = defer.Deferred()
        if waiting is not None:
            waiting.append(mine)
            return mine
        self._reading[key] = waiting = [mine]
        reactor = self._reactor
        if reactor is None:
            from twisted.internet import reactor
        d = threads.deferToThreadPool(reactor, reactor.getThreadPool(), self._read, name,
                                      real, confine)

        def done(result):
            del self._reading[key]
            if isinstance(result, tuple):
                read_ident, content = result
                self.cache.put(real, read_ident, content)
                for w in waiting:
                    w.callback(TftpFile(name, len(content), content))
            else:
                for w in waiting:
                    w.errback(result)

        d.addBoth(done)
        return mine

    def _open_fd(self, name: str, real: str, confine: bool) -> tuple[int, _Ident]:
        try:
            fd = os.open(real, _OPEN_FLAGS)
        except PermissionError:
            raise AccessViolation(f"{name}: permission denied") from None
        except OSError:
            raise FileNotFound(f"{name} not found") from None
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise FileNotFound(f"{name} not found")
            if confine:
                self._check_opened(name, fd)
            return fd, _Ident.of(st)
        except BaseException:
            os.close(fd)
            raise

    def _check_opened(self, name: str, fd: int) -> None:
        # realpath() and open() are two steps; what was really opened must also be inside.
        try:
            opened = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            return
        if not self._inside(opened):
            raise AccessViolation(f"{name} resolves outside the TFTP root")

    def _read(self, name: str, real: str, confine: bool) -> tuple[_Ident, bytes]:
        fd, ident = self._open_fd(name, real, confine)
        try:
            chunks = []
            remaining = ident.size
            while remaining > 0:
                chunk = os.read(fd, min(remaining, 1 << 20))
                if not chunk:
                    break
                chunks.append(chunk)
                remaining -= len(chunk)
        finally:
            os.close(fd)
        content = b"".join(chunks)
        if len(content) != ident.size:
            ident = _Ident(ident.dev, ident.ino, len(content), ident.mtime_ns, -1)
        return ident, content
