"""The full PXE path: a QEMU node installs from xcatd and is then told to boot locally.

    QEMU (TCG, e1000, iPXE ROM) --DHCP--> xcatd: the lease makedhcp published, pxelinux.0
        --TFTP--> xcatd: pxelinux.0, ldlinux.c32, pxelinux.cfg/01-<mac>,
                         xcat/osimage/<image>/vmlinuz and initrd.img
        --HTTP--> xcatd: /install/autoinst/pxe01 (the kickstart)
        --TCP---> xcatd's install monitor: installstatus installing
        --HTTP--> xcatd: the kickstart's /xcatpy/v1/boot/done callback
    then poweroff; the node's chain.currstate is now `boot`, its config LOCALBOOT.

Nothing else in the namespace serves DHCP, TFTP or HTTP, so the node's address and every
file it got came from xcatd (dnsmasq only sends IPv6 router advertisements, see dhcp.py).
xcatd's DNS answers the node's name, published by makedns. The initramfs is the installer
(see bootimage.py); it logs to the serial console.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.bootimage import MARKER
from tests.e2e.dhcp import RouterAdvertiser
from tests.e2e.netns import HEAD_ADDR, NODE_ADDR, TAP, Netns, stop_process, wait_for
from tests.e2e.qemu import Qemu
from tests.integration.clitools import REPO, cli

pytestmark = pytest.mark.e2e

NODE = "pxe01"
MAC = "52:54:00:12:34:56"
IMAGE = "rhels8-x86_64-install-compute"
HTTP_PORT = 8080
MONITOR_PORT = 3002
DOMAIN = "e2e.test"
PXE_CONFIG = "pxelinux.cfg/01-" + MAC.replace(":", "-")
# A hang guard for slow CI runners, not a performance target (a run takes ~15-30 s here).
VM_TIMEOUT = float(os.environ.get("XCATPY_E2E_VM_TIMEOUT", "900"))


class XcatdInNetns:
    """xcatd with its boot services on the namespace's tap address; API on loopback."""

    def __init__(self, ns: Netns, state: Path, log: Path) -> None:
        self.ns, self.state, self.log = ns, state, log
        self.proc: subprocess.Popen | None = None
        self.info: dict = {}

    def start(self, timeout: float = 60) -> "XcatdInNetns":
        runinfo = self.state / "run" / "xcatd.json"
        runinfo.unlink(missing_ok=True)
        env = {k: v for k, v in os.environ.items() if k not in ("XCATBYPASS", "XCATHOST")}
        env["XCATPY_STATE"] = str(self.state)
        self.proc = self.ns.popen(
            sys.executable, "-m", "xcatpy.server.daemon", "--foreground",
            "--port", "0", "--listen", "127.0.0.1", "--boot-listen", HEAD_ADDR,
            "--tftp-port", "69", "--http-port", str(HTTP_PORT),
            "--monitor-port", str(MONITOR_PORT),
            "--dhcp-interfaces", TAP, "--dhcp-port", "67", "--dns-port", "53",
            env=env, cwd=REPO, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=open(self.log, "w"))

        def ready() -> bool:
            if self.proc.poll() is not None:
                raise RuntimeError(f"xcatd exited {self.proc.returncode}:\n"
                                   f"{self.log.read_text()}")
            try:
                self.info = json.loads(runinfo.read_text())
            except (OSError, ValueError):
                return False
            return True

        wait_for(ready, timeout, "xcatd to write run/xcatd.json")
        return self

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc, timeout=30)


def tftp_get(ns: Netns, remote: str, local: Path) -> str:
    """Fetch `remote` from the head with tftp-hpa's client, inside the namespace."""
    local.unlink(missing_ok=True)
    p = ns.run("tftp", "-m", "binary", HEAD_ADDR, "69", "-c", "get", remote, str(local),
               timeout=60)
    # tftp-hpa's exit status does not tell a missing file apart; the local file does.
    assert local.exists() and local.stat().st_size > 0, (
        f"tftp get {remote} from {HEAD_ADDR} failed: {p.stdout}{p.stderr}")
    return local.read_text()


def ok(result, what: str) -> str:
    assert result.rc == 0, f"{what} failed (rc {result.rc}):\n{result.out}{result.err}"
    return result.out


def configure(state: Path, boot_image) -> None:
    """The admin's side, with the real CLIs in bypass mode: node, image, files, nodeset."""
    ok(cli("nodeadd", NODE, "groups=all,compute", f"mac.mac={MAC}", f"hosts.ip={NODE_ADDR}",
           "nodehm.serialport=0", "nodehm.serialspeed=115200", state=state), "nodeadd")
    # What the kickstart needs besides the node: its network and a root password.
    ok(cli("mkdef", "-t", "network", "-o", "e2enet", "net=10.99.0.0", "mask=255.255.255.0",
           f"gateway={HEAD_ADDR}", state=state), "mkdef network")
    ok(cli("tabch", "key=system,username=root", "passwd.password=e2e-root", state=state),
       "tabch passwd")
    ok(cli("mkdef", "-t", "osimage", "-o", IMAGE, "osvers=rhels8", "osarch=x86_64",
           "profile=compute", "provmethod=install", "imagetype=linux", "osname=Linux",
           state=state), "mkdef osimage")
    pxeboot = state / "install" / "rhels8" / "x86_64" / "images" / "pxeboot"
    pxeboot.mkdir(parents=True)
    shutil.copyfile(boot_image.kernel, pxeboot / "vmlinuz")
    shutil.copyfile(boot_image.initrd, pxeboot / "initrd.img")
    ok(cli("copybootloaders", state=state), "copybootloaders")  # pxelinux.0, ldlinux.c32...
    ok(cli("nodeset", NODE, f"osimage={IMAGE}", state=state), "nodeset")
    ok(cli("tabch", "key=domain", f"site.value={DOMAIN}", state=state), "tabch domain")
    ok(cli("makedhcp", NODE, state=state), "makedhcp")
    ok(cli("makedns", NODE, state=state), "makedns")


def nodels(state: Path, attr: str) -> str:
    return ok(cli("nodels", NODE, attr, state=state), f"nodels {NODE} {attr}").strip()


def test_pxe_install_then_local_boot(tmp_path, netns, boot_image, e2e_logs):
    state = tmp_path / "state"
    work = tmp_path / "run"
    work.mkdir()
    xcatd = XcatdInNetns(netns, state, tmp_path / "xcatd.log")
    vm = Qemu(netns, work, MAC)
    e2e_logs += [("VM serial console", vm.serial_log), ("xcatd log", xcatd.log),
                 ("dnsmasq log", work / "dnsmasq.log"), ("QEMU stderr", vm.stderr_log)]

    configure(state, boot_image)
    assert nodels(state, "chain.currstate") == f"{NODE}: install {IMAGE}"

    xcatd.start()
    assert xcatd.info.get("tftp_port") == 69 and xcatd.info.get("http_port") == HTTP_PORT
    assert xcatd.info.get("dhcp_port") == 67 and xcatd.info.get("dns_port") == 53
    if netns.ipv6:
        RouterAdvertiser(netns, work).start()
    answer = netns.run("dig", "+short", f"@{HEAD_ADDR}", f"{NODE}.{DOMAIN}", "A")
    assert answer.stdout.split() == [NODE_ADDR], answer.stdout + answer.stderr

    before = tftp_get(netns, PXE_CONFIG, work / "config-before")
    assert f"xcat/osimage/{IMAGE}/vmlinuz" in before, before
    assert "localboot" not in before.lower(), before

    vm.start()
    rc = vm.wait(VM_TIMEOUT)
    # The installer's progress lines; short enough for pytest to show in full.
    steps = "\n".join(line.strip() for line in vm.serial().splitlines() if MARKER in line)
    assert rc is not None, f"the VM did not power off within {VM_TIMEOUT} s (killed)"
    assert rc == 0, f"QEMU exited {rc}: {vm.stderr()}"
    assert steps, "the node's initramfs never ran (the network boot failed: see the serial log)"
    assert f"{MARKER} FAILED" not in steps, "the node's installer reported a failure"
    assert f"{MARKER} ks fetched" in steps, "the node never got its kickstart"
    assert f"reply: ok {NODE} installing" in steps, "the install monitor did not record it"
    assert f"{MARKER} callback http://{HEAD_ADDR}:{HTTP_PORT}/xcatpy/v1/boot/done" in steps
    assert f"{MARKER} done" in steps

    # The daemon saw it all; bypass-mode CLIs read the same database.
    assert nodels(state, "chain.currstate") == f"{NODE}: boot"
    status = nodels(state, "nodelist.status")
    assert status == f"{NODE}: booting", status  # the callback's; the monitor set installing
    after = tftp_get(netns, PXE_CONFIG, work / "config-after")
    assert "localboot" in after.lower(), after
    assert "vmlinuz" not in after, after

    xcatd.stop()
