"""A full disk under the state directory: xcatd and bypass-mode CLIs on a small tmpfs.

    CLI --mTLS--> xcatd --> SQLite in <tmpfs>/state      (log: <tmpfs>/xcatd.log)
    tftp-hpa ---> xcatd's TFTP (boot configs rendered from the tables)

Each write fails with one line naming the database and "No space left on device", exits
non-zero and changes nothing; reads and boot files go on; after space is freed the same
commands succeed, against the same daemon.
"""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.integration.clitools import cli, command_path
from tests.integration.xcatd import Xcatd

MAC = "52:54:00:00:00:01"
PXE_CONFIG = "pxelinux.cfg/01-52-54-00-00-00-01"


class Tmpfs:
    """A tmpfs of `size` mounted on a fresh directory; `fill` takes every free byte."""

    def __init__(self, size: str = "16m") -> None:
        self.path = Path(tempfile.mkdtemp(prefix="xcatpy-diskfull-"))
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs",
                               str(self.path)], capture_output=True, text=True)
        if done.returncode != 0:
            self.path.rmdir()
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
        self.filler = self.path / "filler"

    def fill(self) -> None:
        with open(self.filler, "ab") as f:
            block = b"\0" * 65536
            while True:
                try:
                    f.write(block)
                    f.flush()
                except OSError:
                    break
            # A partial block may still fit.
            while True:
                try:
                    os.write(f.fileno(), b"\0" * 512)
                except OSError:
                    break
        assert os.statvfs(self.path).f_bavail == 0

    def free(self) -> None:
        self.filler.unlink()

    def unmount(self) -> None:
        subprocess.run(["umount", str(self.path)], check=True)
        self.path.rmdir()


@pytest.fixture
def tmpfs():
    fs = Tmpfs()
    yield fs
    fs.unmount()


@pytest.fixture
def daemon(tmpfs):
    """xcatd on the tmpfs with 20 nodes (n001 with a MAC, booting locally); its log is on
    the tmpfs too, so it fills with the rest."""
    state = tmpfs.path / "state"
    init(state)
    xcatd = Xcatd(state).start()
    yield xcatd
    xcatd.stop()


def init(state: Path) -> None:
    subprocess.run([*command_path("xcatd"), "--init"], check=True, capture_output=True,
                   env=dict(os.environ, XCATPY_STATE=str(state)))
    for args in (("nodeadd", "n[001-020]", "groups=compute,all"),
                 ("chdef", "n001", f"mac={MAC}", "ip=127.0.0.1"),
                 ("nodeset", "n001", "boot")):
        r = cli(*args, state=state)
        assert r.rc == 0, r.err


def empty_wal(state: Path) -> None:
    """Checkpoint and truncate the write-ahead log: a WAL with room left from earlier writes
    would still take a small one on a full disk, and the point is the write that cannot."""
    conn = sqlite3.connect(state / "xcatdb.sqlite")
    try:
        assert conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0
    finally:
        conn.close()


def integrity(state: Path) -> str:
    conn = sqlite3.connect(state / "xcatdb.sqlite")
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()


def restore_file(tmp_path: Path, nodes: int) -> Path:
    """A nodelist.csv (outside the tmpfs) of many nodes, for tabrestore."""
    work = tmp_path / "restore"
    work.mkdir(exist_ok=True)
    lines = ["#node,groups,status,statustime,appstatus,appstatustime,primarysn,hidden,"
             "updatestatus,updatestatustime,zonename,comments,disable"]
    lines += [f'"r{i:05d}","restored,all",,,,,,,,,,,' for i in range(nodes)]
    (work / "nodelist.csv").write_text("\n".join(lines) + "\n")
    return work


def writes(work: Path) -> list[tuple[tuple[str, ...], dict]]:
    return [(("nodeadd", "m[0001-3000]", "groups=more,all"), {}),
            (("tabrestore", "-a", "nodelist.csv"), {"cwd": work}),
            (("chdef", "n002", "groups=changed,all"), {}),
            (("nodeset", "n001", "offline"), {})]


def assert_disk_full(r, state: Path) -> None:
    db = state / "xcatdb.sqlite"
    errors = r.err.splitlines()
    assert r.rc != 0, r
    assert len(errors) == 1, r.err
    assert re.fullmatch(rf"Error: Cannot write to database {re.escape(str(db))}: No space "
                        r"left on device \(disk full\); nothing was changed\..*", errors[0]), r.err


def snapshot(run) -> dict[str, str]:
    """What the tables say, read while the disk is full."""
    got = {}
    for table in ("nodelist", "chain"):
        r = run("tabdump", table)
        assert r.rc == 0, r.err
        got[table] = r.out
    return got


def tftp_get(daemon: Xcatd, name: str, dest: Path) -> bytes | None:
    out = dest / "got"
    out.unlink(missing_ok=True)
    p = subprocess.run(["tftp", "127.0.0.1", str(daemon.ports["tftp_port"]), "-m", "binary",
                        "-c", "get", name, str(out)], capture_output=True, text=True, timeout=30)
    return out.read_bytes() if p.returncode == 0 and out.exists() else None


def test_writes_through_xcatd_fail_whole_then_succeed_once_space_is_freed(daemon, tmpfs,
                                                                        tmp_path):
    state = daemon.state
    work = restore_file(tmp_path, 3000)

    def run(*args, **kw):
        return cli(*args, state=state, bypass=False, **kw)

    before = snapshot(run)
    empty_wal(state)
    tmpfs.fill()
    for args, kw in writes(work):
        assert_disk_full(run(*args, **kw), state)
    # Nothing of any of them landed, and the daemon that refused them is still serving.
    assert snapshot(run) == before
    assert run("nodels", "m0001").rc != 0
    assert daemon.proc.poll() is None

    tmpfs.free()
    assert integrity(state) == "ok"
    pid = daemon.proc.pid
    for args, kw in writes(work):
        r = run(*args, **kw)
        assert (r.rc, r.err) == (0, ""), (args, r)
    assert daemon.proc.pid == pid and daemon.proc.poll() is None
    assert run("nodels", "n002", "groups").out == "n002: changed,all\n"
    assert run("nodels", "n001", "chain.currstate").out == "n001: offline\n"
    assert run("nodels", "r02999", "groups").out == "r02999: restored,all\n"
    assert run("nodels", "m3000", "groups").out == "m3000: more,all\n"
    assert integrity(state) == "ok"


def test_reads_and_boot_files_go_on_while_full_and_a_full_log_does_not_stop_xcatd(
        daemon, tmpfs, tmp_path):
    state = daemon.state
    assert b"LOCALBOOT 0" in tftp_get(daemon, PXE_CONFIG, tmp_path)
    empty_wal(state)
    tmpfs.fill()
    log_size = daemon.log.stat().st_size
    # Many requests, each of which xcatd logs: its log (on this filesystem) cannot grow.
    for _ in range(5):
        r = cli("nodels", "compute", state=state, bypass=False)
        assert r.rc == 0 and len(r.out.splitlines()) == 20, r
    r = cli("lsdef", "n001", state=state, bypass=False)
    assert r.rc == 0 and f"mac={MAC}" in r.out, r
    assert b"LOCALBOOT 0" in tftp_get(daemon, PXE_CONFIG, tmp_path)
    assert_disk_full(cli("chdef", "n003", "groups=x", state=state, bypass=False), state)
    assert daemon.log.stat().st_size - log_size < 4096      # the log really was full
    assert daemon.proc.poll() is None

    tmpfs.free()
    r = cli("chdef", "n003", "groups=x", state=state, bypass=False)
    assert (r.rc, r.err) == (0, ""), r
    assert cli("nodels", "n003", "groups", state=state, bypass=False).out == "n003: x\n"


def test_bypass_mode_writes_fail_whole_then_succeed_once_space_is_freed(tmpfs, tmp_path):
    state = tmpfs.path / "state"
    init(state)
    work = restore_file(tmp_path, 3000)
    before = snapshot(lambda *a: cli(*a, state=state))
    empty_wal(state)
    tmpfs.fill()
    for args, kw in writes(work):
        assert_disk_full(cli(*args, state=state, **kw), state)

    tmpfs.free()
    # With no daemon holding the database open, reads in bypass mode need room for
    # SQLite's -wal and -shm files too: checked only now.
    assert snapshot(lambda *a: cli(*a, state=state)) == before
    assert integrity(state) == "ok"
    for args, kw in writes(work):
        r = cli(*args, state=state, **kw)
        assert (r.rc, r.err) == (0, ""), (args, r)
    assert cli("nodels", "n002", "groups", state=state).out == "n002: changed,all\n"
    assert cli("nodels", "r00000", "groups", state=state).out == "r00000: restored,all\n"
    assert cli("nodels", "m0001", "groups", state=state).out == "m0001: more,all\n"
    assert integrity(state) == "ok"
