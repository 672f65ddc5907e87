"""dnsmasq as the test wire's IPv6 router: router advertisements only (no DHCP, no DNS).

xcatd answers DHCP itself; but iPXE waits ~15 s for IPv6 autoconfiguration unless a router
advertises, and advertising is not xcatd's job. Where IPv6 is off this is not started.
"""

import subprocess
from pathlib import Path

from tests.e2e.netns import TAP, Netns, stop_process, wait_for


class RouterAdvertiser:
    def __init__(self, ns: Netns, workdir: Path) -> None:
        self.ns = ns
        self.workdir = workdir
        self.log = workdir / "dnsmasq.log"
        self.pidfile = workdir / "dnsmasq.pid"
        self.proc: subprocess.Popen | None = None

    def argv(self) -> list[str]:
        return ["dnsmasq", "--keep-in-foreground", "--port=0", "--conf-file=/dev/null",
                f"--interface={TAP}", "--bind-interfaces", "--user=root", "--group=root",
                "--enable-ra", f"--dhcp-range=::,constructor:{TAP},ra-only",
                f"--log-facility={self.log}", f"--pid-file={self.pidfile}",
                f"--dhcp-leasefile={self.workdir / 'dnsmasq.leases'}"]

    def start(self) -> "RouterAdvertiser":
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
