"""The test node: a QEMU PC under TCG that network-boots from an e1000 on the namespace's tap.

TCG, never KVM, so the run behaves the same on every CI machine. The firmware's text console
(SeaBIOS, the iPXE ROM, pxelinux) and the kernel's ttyS0 both go to one serial log file, which
is what a failing test shows.
"""

import subprocess
from pathlib import Path

from tests.e2e.netns import TAP, Netns, stop_process

QEMU = "qemu-system-x86_64"


class Qemu:
    def __init__(self, ns: Netns, workdir: Path, mac: str, memory_mb: int = 256) -> None:
        self.ns = ns
        self.serial_log = workdir / "serial.log"
        self.stderr_log = workdir / "qemu.stderr"
        self.sercon = workdir / "sercon-port"
        self.mac = mac
        self.memory_mb = memory_mb
        self.proc: subprocess.Popen | None = None

    def argv(self) -> list[str]:
        return [QEMU, "-machine", "pc", "-accel", "tcg", "-m", str(self.memory_mb),
                "-nodefaults", "-display", "none", "-vga", "none", "-no-reboot",
                # If the network boot fails, SeaBIOS reboots after 1 s, which -no-reboot
                # turns into an exit: a broken boot fails at once instead of idling.
                "-boot", "order=n,reboot-timeout=1000",
                # SeaBIOS copies the BIOS text console (iPXE, pxelinux) to the serial port
                # named in this file; QEMU warns that the name lacks "opt/": SeaBIOS wants it so.
                "-fw_cfg", f"name=etc/sercon-port,file={self.sercon}",
                "-netdev", f"tap,id=n0,ifname={TAP},script=no,downscript=no",
                "-device", f"e1000,netdev=n0,mac={self.mac}",
                "-serial", f"file:{self.serial_log}", "-monitor", "none"]

    def start(self) -> "Qemu":
        self.sercon.write_bytes((0x3F8).to_bytes(2, "little"))  # COM1, read as an integer
        self.proc = self.ns.popen(*self.argv(), stdin=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL, stderr=open(self.stderr_log, "w"))
        return self

    def wait(self, timeout: float) -> int | None:
        """QEMU's exit code once the guest powers off; None (VM killed) after `timeout`."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            stop_process(self.proc)
            return None

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)

    def serial(self) -> str:
        if not self.serial_log.exists():
            return ""
        return self.serial_log.read_bytes().decode("utf-8", "replace")

    def stderr(self) -> str:
        return self.stderr_log.read_text() if self.stderr_log.exists() else ""
