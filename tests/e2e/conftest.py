"""End-to-end tests: a real VM network-boots from a real xcatd. See share/doc/e2e.md.

Prerequisites (root, /dev/net/tun, QEMU, dnsmasq, busybox, pxelinux, a kernel .deb) are
checked by need(): missing ones skip the test on a workstation and fail it under CI
(CI set in the environment), so CI can never pass by skipping.
"""

import os
import re
import shutil
import signal
import struct
import subprocess
from pathlib import Path

import pytest

from tests.e2e import bootimage
from tests.e2e.netns import Netns

PXELINUX = Path("/usr/lib/PXELINUX/pxelinux.0")
LDLINUX = Path("/usr/lib/syslinux/modules/bios/ldlinux.c32")
E1000_ROMS = [Path(d, "efi-e1000.rom") for d in ("/usr/share/qemu", "/usr/lib/ipxe/qemu")]
ANSI_ESCAPE = re.compile(r"\x1b(\[[0-9;?]*[A-Za-z]|[@-Z\\-_c])")
PROGRAMS = {"qemu-system-x86_64": "qemu-system-x86", "dnsmasq": "dnsmasq-base",
            "ip": "iproute2", "tftp": "tftp-hpa", "apt-get": "apt", "dpkg-deb": "dpkg"}


def pytest_configure(config) -> None:
    config.addinivalue_line(
        "markers", "e2e: boots a QEMU VM from xcatd in a private network namespace "
        "(root, QEMU, dnsmasq; see share/doc/e2e.md)")


def need(ok: bool, reason: str) -> None:
    """Skip when a prerequisite is missing, except under CI, where that is a failure."""
    if ok:
        return
    if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
        pytest.fail(f"e2e prerequisite missing under CI: {reason}", pytrace=False)
    pytest.skip(reason)


def _is_tftp_hpa() -> bool:
    try:
        p = subprocess.run(["tftp", "-V"], capture_output=True, text=True, timeout=10,
                           stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return "tftp-hpa" in p.stdout + p.stderr


def _is_static(path: Path) -> bool:
    """An ELF file with no PT_INTERP program header (no dynamic loader needed)."""
    try:
        data = path.read_bytes()
    except OSError:
        return False
    if data[:4] != b"\x7fELF" or data[4] != 2:  # 64-bit only: the VM is x86_64
        return False
    phoff, = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    return all(struct.unpack_from("<I", data, phoff + i * phentsize)[0] != 3
               for i in range(phnum))


@pytest.fixture(scope="session")
def e2e_host() -> None:
    """The machine can run the e2e test (checked once per session)."""
    need(os.geteuid() == 0, "needs root (network namespaces, tap devices, port 69)")
    need(Path("/dev/net/tun").exists(), "needs /dev/net/tun for the VM's tap device")
    for program, package in PROGRAMS.items():
        need(shutil.which(program) is not None, f"needs {program} (Debian package {package})")
    need(_is_tftp_hpa(), "needs tftp-hpa's tftp client (Debian package tftp-hpa)")
    need(_is_static(bootimage.BUSYBOX),
         f"needs a static {bootimage.BUSYBOX} (Debian package busybox-static)")
    need(PXELINUX.exists(), f"needs {PXELINUX} (Debian package pxelinux)")
    need(LDLINUX.exists(), f"needs {LDLINUX} (Debian package syslinux-common)")
    need(any(rom.exists() for rom in E1000_ROMS),
         "needs QEMU's e1000 boot ROM efi-e1000.rom (Debian package ipxe-qemu)")


@pytest.fixture(scope="session")
def boot_image(e2e_host) -> bootimage.BootImage:
    """The node's kernel and initramfs, from the cache or built now."""
    try:
        return bootimage.build()
    except bootimage.BootImageError as exc:
        need(False, f"cannot make the node's kernel and initramfs: {exc}")


@pytest.fixture
def netns(e2e_host):
    """A fresh namespace with tap0 at 10.99.0.1/24; removed, with its processes, afterwards."""
    ns = Netns()
    try:
        ns.create()
    except (RuntimeError, OSError) as exc:
        need(False, f"cannot create a network namespace: {exc}")
    # A CI job killed by its timeout gets SIGTERM: unwind like Ctrl-C, so the teardown runs.
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield ns
    finally:
        ns.destroy()
        signal.signal(signal.SIGTERM, previous)


def _interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


@pytest.fixture
def e2e_logs(request):
    """Register (title, path) pairs; a failing test shows the tail of each in its report."""
    logs: list[tuple[str, Path]] = []
    request.node.e2e_logs = logs
    return logs


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed:
        return
    for title, path in getattr(item, "e2e_logs", []):
        if path.exists():
            report.sections.append((f"{title} (last 60 lines of {path})", _tail(path, 60)))


def _tail(path: Path, lines: int) -> str:
    try:
        text = path.read_bytes().decode("utf-8", "replace")
    except OSError as exc:
        return f"(cannot read: {exc})"
    text = ANSI_ESCAPE.sub("", text).replace("\r", "")  # firmware screen codes, CRLF
    return "\n".join(text.splitlines()[-lines:]) or "(empty)"
