"""TftpRoot: path confinement, the cache, big files, and generators."""

import os
import re
from pathlib import Path

import pytest
from twisted.internet import defer
from twisted.python.failure import Failure

from xcatpy.boot.tftp.files import (
    AccessViolation,
    ByteLRU,
    FileNotFound,
    GeneratorFailed,
    TftpFile,
    TftpRoot,
    normalize,
)

CLIENT = ("192.0.2.10", 2070)
LOCAL = "192.0.2.1"


def result_of(d: defer.Deferred):
    """The value a Deferred has already fired with (raises its failure)."""
    box: list = []
    d.addBoth(box.append)
    assert box, "Deferred has not fired"
    if isinstance(box[0], Failure):
        box[0].raiseException()
    return box[0]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "tftpboot"
    (root / "pxelinux.cfg").mkdir(parents=True)
    (root / "pxelinux.0").write_bytes(b"PXE" * 100)
    (root / "pxelinux.cfg" / "default").write_text("DEFAULT local\n")
    (tmp_path / "secret").write_text("outside the root\n")
    return root


def opened(root: TftpRoot, path) -> TftpFile:
    return result_of(root.open(path, CLIENT, LOCAL))


@pytest.mark.parametrize("path, expected", [
    ("pxelinux.0", "pxelinux.0"),
    ("/pxelinux.0", "pxelinux.0"),
    ("//pxelinux.cfg//default", "pxelinux.cfg/default"),
    ("\\pxelinux.cfg\\default", "pxelinux.cfg/default"),
    ("./pxelinux.cfg/./default", "pxelinux.cfg/default"),
    (b"/boot/\xff\xfe", "boot/" + os.fsdecode(b"\xff\xfe")),
])
def test_normalize(path, expected):
    assert normalize(path) == expected


@pytest.mark.parametrize("path", [
    "../etc/passwd", "/../etc/passwd", "pxelinux.cfg/../../secret", "..\\secret",
    "a/..", "..", "file\0.txt",
])
def test_normalize_refuses_escapes(path):
    with pytest.raises(AccessViolation):
        normalize(path)


@pytest.mark.parametrize("path", ["", "/", "./", "\\"])
def test_normalize_empty_is_not_found(path):
    with pytest.raises(FileNotFound):
        normalize(path)


def test_serves_files_by_any_spelling(tree):
    root = TftpRoot(tree)
    for spelling in ("pxelinux.0", "/pxelinux.0", "\\pxelinux.0"):
        f = opened(root, spelling)
        assert f.size == 300 and bytes(f.data) == b"PXE" * 100
    assert opened(root, "\\pxelinux.cfg\\default").data == b"DEFAULT local\n"


def test_escape_attempts(tree):
    root = TftpRoot(tree)
    with pytest.raises(AccessViolation):
        opened(root, "../secret")
    with pytest.raises(AccessViolation):
        opened(root, "pxelinux.cfg/../../secret")


def test_symlink_out_of_the_root_is_refused(tree, tmp_path):
    (tree / "abs").symlink_to(tmp_path / "secret")
    (tree / "rel").symlink_to("../secret")
    (tree / "etc").symlink_to("/etc")
    (tree / "dangling").symlink_to("/nonexistent/file")
    root = TftpRoot(tree)
    for name in ("abs", "rel", "etc/passwd", "dangling"):
        with pytest.raises(AccessViolation):
            opened(root, name)


def test_symlink_inside_the_root_is_followed(tree):
    (tree / "boot.0").symlink_to("pxelinux.0")
    (tree / "cfg").symlink_to(tree / "pxelinux.cfg")
    root = TftpRoot(tree)
    assert opened(root, "boot.0").data == b"PXE" * 100
    assert opened(root, "cfg/default").data == b"DEFAULT local\n"


def test_root_itself_through_a_symlink(tmp_path, tree):
    link = tmp_path / "link-to-root"
    link.symlink_to(tree)
    assert opened(TftpRoot(link), "pxelinux.0").size == 300


def test_only_regular_files(tree):
    os.mkfifo(tree / "fifo")
    root = TftpRoot(tree)
    for name in ("pxelinux.cfg", "fifo", "missing", "pxelinux.0/child"):
        with pytest.raises(FileNotFound):
            opened(root, name)


@pytest.mark.may_skip
def test_unreadable_file_is_an_access_violation(tree):
    if os.geteuid() == 0:
        pytest.skip("root reads everything")
    (tree / "pxelinux.0").chmod(0)
    with pytest.raises(AccessViolation):
        opened(TftpRoot(tree), "pxelinux.0")


def test_non_utf8_name(tree):
    (tree / os.fsdecode(b"caf\xe9")).write_bytes(b"latin-1 name")
    root = TftpRoot(tree)
    assert opened(root, b"caf\xe9").data == b"latin-1 name"
    assert opened(root, os.fsdecode(b"caf\xe9")).data == b"latin-1 name"
    with pytest.raises(FileNotFound):
        opened(root, b"\xff\xfe\xfd")


def test_cache_hits_and_revalidates(tree):
    root = TftpRoot(tree)
    first = opened(root, "pxelinux.0")
    assert opened(root, "pxelinux.0").data is first.data          # served from memory
    path = tree / "pxelinux.0"
    path.write_bytes(b"NEW" * 100)                                  # same size
    os.utime(path, ns=(1, 1))
    assert opened(root, "pxelinux.0").data == b"NEW" * 100
    path.write_bytes(b"shorter")
    assert opened(root, "pxelinux.0").data == b"shorter"
    replacement = tree / "new.0"
    replacement.write_bytes(b"renamed over")
    replacement.rename(path)
    assert opened(root, "pxelinux.0").data == b"renamed over"


def test_cache_is_bounded_by_bytes(tree):
    root = TftpRoot(tree, cache_bytes=1000, max_cached_file=1000)
    for i in range(10):
        (tree / f"f{i}").write_bytes(bytes([i]) * 300)
        assert opened(root, f"f{i}").data == bytes([i]) * 300
        assert root.cache.used <= 1000
    assert len(root.cache) == 3


def test_byte_lru_order():
    lru = ByteLRU(10)
    from xcatpy.boot.tftp.files import _Ident
    ident = _Ident(0, 0, 4, 0, 0)
    lru.put("a", ident, b"aaaa")
    lru.put("b", ident, b"bbbb")
    assert lru.get("a", ident) == b"aaaa"          # a is now the most recent
    lru.put("c", ident, b"cccc")                    # evicts b
    assert lru.get("b", ident) is None and lru.get("a", ident) == b"aaaa"
    lru.put("huge", ident, b"x" * 11)               # bigger than the whole cache: not kept
    assert lru.get("huge", ident) is None and lru.used == 8


def test_big_files_are_read_by_block_not_cached(tree):
    content = os.urandom(5000)
    (tree / "kernel").write_bytes(content)
    root = TftpRoot(tree, cache_bytes=4000)
    f = opened(root, "kernel")
    try:
        assert f.data is None and f.fd is not None and f.size == 5000
        assert f.read(0, 512) == content[:512]
        assert f.read(4608, 512) == content[4608:]
        assert f.read(5000, 512) == b""
    finally:
        f.close()
    assert f.fd is None and len(root.cache) == 0


class ManualPool:
    """A thread pool stand-in whose jobs run when the test says so."""

    def __init__(self) -> None:
        self.jobs: list = []

    def callInThreadWithCallback(self, on_result, fn, *args, **kwargs):
        self.jobs.append((on_result, fn, args, kwargs))

    def run_all(self) -> None:
        jobs, self.jobs = self.jobs, []
        for on_result, fn, args, kwargs in jobs:
            try:
                on_result(True, fn(*args, **kwargs))
            except BaseException:
                on_result(False, Failure())


class ThreadReactor:
    def __init__(self) -> None:
        self.pool = ManualPool()

    def getThreadPool(self):
        return self.pool

    def callFromThread(self, fn, *args, **kwargs):
        fn(*args, **kwargs)


def test_mid_sized_files_are_read_in_a_thread_once_for_all_waiters(tree):
    content = os.urandom(3000)
    (tree / "initrd").write_bytes(content)
    reactor = ThreadReactor()
    root = TftpRoot(tree, inline_read_max=1000, reactor=reactor)
    waiting = [root.open("initrd", CLIENT, LOCAL) for _ in range(5)]
    assert len(reactor.pool.jobs) == 1                   # one read for five requests
    got: list = []
    for d in waiting:
        d.addCallback(got.append)
    assert got == []
    reactor.pool.run_all()
    assert [f.data for f in got] == [content] * 5
    assert opened(root, "initrd").data is got[0].data     # and now it is cached


def test_thread_read_failure_reaches_every_waiter(tree):
    (tree / "initrd").write_bytes(b"x" * 3000)
    reactor = ThreadReactor()
    root = TftpRoot(tree, inline_read_max=1000, reactor=reactor)
    waiting = [root.open("initrd", CLIENT, LOCAL) for _ in range(2)]
    (tree / "initrd").unlink()
    reactor.pool.run_all()
    for d in waiting:
        with pytest.raises(FileNotFound):
            result_of(d)


# -- generators --------------------------------------------------------------------------


def test_generators_come_before_static_files_in_order(tree):
    root = TftpRoot(tree)
    calls = []

    def first(match, client, local):
        calls.append(("first", match[0], client, local))
        return None

    def second(match, client, local):
        calls.append(("second", match["mac"]))
        return f"config for {match['mac']}\n".encode()

    root.add_generator(re.compile(r"pxelinux\.cfg/.*"), first)
    root.add_generator(re.compile(r"pxelinux\.cfg/01-(?P<mac>[0-9a-f-]+)"), second)
    f = opened(root, "/pxelinux.cfg/01-52-54-00-12-34-56")
    assert f.data == b"config for 52-54-00-12-34-56\n" and f.size == len(f.data)
    assert calls == [("first", "pxelinux.cfg/01-52-54-00-12-34-56", CLIENT, LOCAL),
                     ("second", "52-54-00-12-34-56")]
    # both decline: the static file is served
    assert opened(root, "pxelinux.cfg/default").data == b"DEFAULT local\n"


def test_generator_patterns_match_the_whole_path(tree):
    root = TftpRoot(tree)
    root.add_generator(re.compile(r"pxelinux\.cfg/default"), lambda m, c, local: b"generated")
    assert opened(root, "pxelinux.cfg/default").data == b"generated"
    with pytest.raises(FileNotFound):
        opened(root, "pxelinux.cfg/default.bak")


def test_generator_deferred_and_path_results(tree):
    root = TftpRoot(tree)
    pending = defer.Deferred()
    root.add_generator(re.compile(r"slow"), lambda m, c, local: pending)
    root.add_generator(re.compile(r"xcat/osimage/img/(.+)"), lambda m, c, local: Path(m[1]))
    d = root.open("slow", CLIENT, LOCAL)
    got: list = []
    d.addCallback(got.append)
    assert got == []
    pending.callback(b"at last")
    assert got[0].data == b"at last"
    assert opened(root, "xcat/osimage/img/pxelinux.0").data == b"PXE" * 100


def test_generator_path_may_point_anywhere_the_generator_chooses(tree, tmp_path):
    root = TftpRoot(tree)
    root.add_generator(re.compile(r"outside"), lambda m, c, local: tmp_path / "secret")
    root.add_generator(re.compile(r"gone"), lambda m, c, local: tmp_path / "missing")
    assert opened(root, "outside").data == b"outside the root\n"
    with pytest.raises(FileNotFound):
        opened(root, "gone")


def test_generator_failures(tree):
    root = TftpRoot(tree)

    def raises(m, c, local):
        raise RuntimeError("template exploded")

    root.add_generator(re.compile(r"raise"), raises)
    root.add_generator(re.compile(r"errback"), lambda m, c, local: defer.fail(KeyError("node")))
    root.add_generator(re.compile(r"denied"),
                       lambda m, c, local: defer.fail(AccessViolation("not your file")))
    root.add_generator(re.compile(r"wrongtype"), lambda m, c, local: 42)
    for name in ("raise", "errback"):
        with pytest.raises(GeneratorFailed):
            opened(root, name)
    with pytest.raises(AccessViolation, match="not your file"):
        opened(root, "denied")
    with pytest.raises(TypeError):
        opened(root, "wrongtype")
    assert opened(root, "pxelinux.0").size == 300      # and the root still serves


def test_generators_do_not_see_escapes(tree):
    root = TftpRoot(tree)
    seen = []
    root.add_generator(re.compile(r".*"), lambda m, c, local: seen.append(m[0]))
    with pytest.raises(AccessViolation):
        opened(root, "../secret")
    assert seen == []
