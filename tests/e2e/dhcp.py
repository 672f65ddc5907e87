"""dnsmasq as the DHCP server of the test wire (no DNS: port=0), pointing PXE at the head.

Until xcatd has its own DHCP service, this is the one piece of the boot path that is not
xcatd. It answers one MAC with one fixed address and names pxelinux.0 on the head as the boot
file; TFTP stays off unless a tftp_root is given (the harness self-check uses that).
"""

import subprocess
from pathlib import Path

from tests.e2e.netns import HEAD_ADDR, TAP, Netns, stop_process, wait_for


class Dnsmasq:
    def __init__(self, ns: Netns, workdir: Path, mac: str, ip: str, hostname: str,
                 bootfile: str = "pxelinux.0", tftp_root: Path | None = None) -> None:
        self.ns = ns
        self.workdir = workdir
        self.log = workdir / "dnsmasq.log"
        self.pidfile = workdir / "dnsmasq.pid"
        self.leases = workdir / "dnsmasq.leases"
        self.mac, self.ip, self.hostname = mac, ip, hostname
        self.bootfile = bootfile
        self.tftp_root = tftp_root
        self.proc: subprocess.Popen | None = None

    def argv(self) -> list[str]:
        argv = ["dnsmasq", "--keep-in-foreground", "--port=0", "--conf-file=/dev/null",
                f"--interface={TAP}", "--bind-interfaces", "--user=root", "--group=root",
                f"--dhcp-range={self.ip},{self.ip},255.255.255.0,1h",
                f"--dhcp-host={self.mac},{self.ip},{self.hostname}",
                f"--dhcp-boot={self.bootfile},,{HEAD_ADDR}",
                "--dhcp-authoritative", "--log-dhcp",
                f"--log-facility={self.log}", f"--dhcp-leasefile={self.leases}",
                f"--pid-file={self.pidfile}"]
        if self.ns.ipv6:
            # Router advertisements only (no DHCPv6): iPXE's IPv6 setup then ends at once
            # instead of timing out after ~15 s.
            argv += ["--enable-ra", f"--dhcp-range=::,constructor:{TAP},ra-only"]
        if self.tftp_root is not None:
            argv += ["--enable-tftp", f"--tftp-root={self.tftp_root}"]
        return argv

    def start(self) -> "Dnsmasq":
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.pidfile.unlink(missing_ok=True)
        self.proc = self.ns.popen(*self.argv(), stdout=subprocess.DEVNULL,
                                  stderr=open(self.workdir / "dnsmasq.stderr", "w"))

        def ready() -> bool:
            if self.proc.poll() is not None:
                raise RuntimeError(f"dnsmasq exited {self.proc.returncode}: "
                                   f"{(self.workdir / 'dnsmasq.stderr').read_text()}")
            return self.pidfile.exists()

        wait_for(ready, 30, "dnsmasq to start")
        return self

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
