"""OpenIPMI's ipmi_sim as a BMC on loopback: IPMI 2.0 lanplus, a chassis run by a script.

    with IpmiSim(tmp_path / "bmc", on_power_on="qemu-system-x86_64 ... &") as bmc:
        ipmitool -I lanplus -H bmc.address -p bmc.port -U bmc.username -P bmc.password ...

ipmi_sim answers the protocol (its own RMCP+, cipher suites, sessions: an implementation
independent of pyghmi) and hands chassis operations to its `chassis_control` program, here
a shell script the harness writes. The script keeps the chassis in files of the work
directory, appends every operation to `events`, and runs the hooks it was given:

- `power`: "1" or "0"; `boot`: the boot device ipmi_sim last set (none, pxe, default,
  cdrom, bios: ipmi_sim's names for IPMI selectors 0, 1, 2, 5, 6);
- `events`: one line per set operation, e.g. `power 1`, `reset 1`, `boot pxe`,
  `shutdown 1`;
- hooks, run by /bin/sh in the work directory with IPMISIM_DIR and IPMISIM_BOOT set:
  on_power_on, on_power_off (also for soft-off), on_reset; and `power_query`, a command
  whose exit status says whether the machine is on (0) instead of the `power` file, for a
  hook that starts a process which may end by itself (a VM that halts).

ipmi_sim implements Get System Boot Options parameter 5 partly: it reports the device
selector but never sets the boot flags' valid bit, so ipmitool prints "Boot Flag Invalid"
and a strict reader (xCAT, pyghmi, xcatpy) sees no override even after one was set.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

IPMI_SIM = "ipmi_sim"
BOOT_NAMES = ("none", "pxe", "default", "cdrom", "bios")

# Get Channel Authentication Capabilities, IPMI 1.5 sessionless, for channel 0x0e at
# administrator level: what ipmitool sends first, used here to know ipmi_sim is up.
AUTH_CAP_PROBE = bytes.fromhex("0600ff07" "00" "00000000" "00000000" "09"
                               "2018c8" "81" "00" "38" "8e04" "b5")

CHASSIS_SCRIPT = r"""#!/bin/sh
# chassis_control program for ipmi_sim (see tests/sim/ipmisim.py):
#   chassis <device> get <parm>...        prints parm:value lines
#   chassis <device> set <parm> <value>... changes the chassis and runs the hooks
dir=$(dirname "$0")
export IPMISIM_DIR="$dir"
shift
op=$1
shift
hook() {
    if [ -f "$dir/hook-$1" ]; then
        IPMISIM_BOOT=$(cat "$dir/boot") /bin/sh "$dir/hook-$1" >>"$dir/hooks.log" 2>&1
    fi
}
power() {
    if [ -f "$dir/hook-power_query" ]; then
        if /bin/sh "$dir/hook-power_query" >/dev/null 2>&1; then echo 1; else echo 0; fi
    else
        cat "$dir/power"
    fi
}
case $op in
get)
    for parm in "$@"; do
        case $parm in
        power) echo "power:$(power)" ;;
        boot) echo "boot:$(cat "$dir/boot")" ;;
        *) echo "Invalid parameter: $parm"; exit 1 ;;
        esac
    done
    ;;
set)
    while [ $# -gt 0 ]; do
        parm=$1
        value=$2
        shift 2 || { echo "No value for $parm"; exit 1; }
        echo "$parm $value" >>"$dir/events"
        case $parm in
        power)
            if [ "$value" = 1 ]; then
                [ "$(power)" = 1 ] || { echo 1 >"$dir/power"; hook power_on; }
            else
                [ "$(power)" = 0 ] || { echo 0 >"$dir/power"; hook power_off; }
            fi
            ;;
        reset) hook reset ;;
        shutdown) [ "$(power)" = 0 ] || { echo 0 >"$dir/power"; hook power_off; } ;;
        boot) echo "$value" >"$dir/boot" ;;
        identify) shift ;;
        *) echo "Invalid parameter: $parm"; exit 1 ;;
        esac
    done
    ;;
*) exit 1 ;;
esac
"""


def free_udp_port(address: str) -> int:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.bind((address, 0))
        return sock.getsockname()[1]


class IpmiSim:
    """One ipmi_sim process. `start` returns when it answers; `stop` kills it by PID."""

    def __init__(self, workdir: Path, *, address: str = "127.0.0.1", port: int = 0,
                 username: str = "USERID", password: str = "PASSW0RD", power: str = "off",
                 boot: str = "default", on_power_on: str | None = None,
                 on_power_off: str | None = None, on_reset: str | None = None,
                 power_query: str | None = None) -> None:
        if boot not in BOOT_NAMES:
            raise ValueError(f"boot must be one of {BOOT_NAMES}")
        self.workdir = Path(workdir)
        self.address = address
        self.port = port
        self.username = username
        self.password = password
        self.initial_power = power
        self.initial_boot = boot
        self.hooks = {"power_on": on_power_on, "power_off": on_power_off,
                      "reset": on_reset, "power_query": power_query}
        self.process: subprocess.Popen | None = None

    # -- files ---------------------------------------------------------------------------

    def _write_config(self) -> list[str]:
        d = self.workdir
        (d / "state").mkdir(parents=True, exist_ok=True)
        (d / "power").write_text("1\n" if self.initial_power == "on" else "0\n")
        (d / "boot").write_text(self.initial_boot + "\n")
        (d / "events").write_text("")
        script = d / "chassis"
        script.write_text(CHASSIS_SCRIPT)
        script.chmod(0o755)
        for name, command in self.hooks.items():
            if command:
                (d / f"hook-{name}").write_text(command + "\n")
        auths = "none md2 md5 straight"
        (d / "lan.conf").write_text("\n".join([
            'name "xcatpy-ipmisim"',
            "set_working_mc 0x20",
            "  startlan 1",
            f"    addr {self.address} {self.port}",
            "    priv_limit admin",
            *(f"    allowed_auths_{level} {auths}"
              for level in ("callback", "user", "operator", "admin")),
            "    guid a123456789abcdefa123456789abcdef",
            "  endlan",
            f"  chassis_control {_conf_quote(f'{script} 0x20')}",
            f"  user 2 true {_conf_quote(self.username)} {_conf_quote(self.password)} "
            f"admin 10 {auths}",
            "",
        ]))
        (d / "bmc.emu").write_text("mc_setbmc 0x20\n"
                                   "mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02\n"
                                   "mc_enable 0x20\n")
        return [IPMI_SIM, "-c", str(d / "lan.conf"), "-f", str(d / "bmc.emu"),
                "-s", str(d / "state"), "-n"]

    # -- process -------------------------------------------------------------------------

    def start(self, timeout: float = 15.0) -> IpmiSim:
        if shutil.which(IPMI_SIM) is None:
            raise FileNotFoundError(f"{IPMI_SIM} not found: install the openipmi package")
        self.workdir.mkdir(parents=True, exist_ok=True)
        if not self.port:
            self.port = free_udp_port(self.address)
        argv = self._write_config()
        self._log = open(self.workdir / "ipmi_sim.log", "wb")
        self.process = subprocess.Popen(argv, cwd=self.workdir, stdin=subprocess.DEVNULL,
                                        stdout=self._log, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        try:
            self._wait_until_answering(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_until_answering(self, timeout: float) -> None:
        family = socket.AF_INET6 if ":" in self.address else socket.AF_INET
        deadline = time.monotonic() + timeout
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.settimeout(0.2)
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"ipmi_sim exited with {self.process.returncode}: "
                                       + self.log_text()[-2000:])
                try:
                    probe.sendto(AUTH_CAP_PROBE, (self.address, self.port))
                    if probe.recv(512):
                        return
                except (TimeoutError, ConnectionRefusedError):
                    continue
        raise TimeoutError(f"ipmi_sim on {self.address}:{self.port} did not answer within "
                           f"{timeout:g}s: " + self.log_text()[-2000:])

    def stop(self) -> None:
        if self.process is not None:
            if self.process.poll() is None:
                self.process.terminate()
                try:
                    self.process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
            self.process = None
            self._log.close()

    def __enter__(self) -> IpmiSim:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- what the chassis went through ---------------------------------------------------

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    @property
    def bmc(self) -> str:
        """The value for ipmi.bmc."""
        return f"[{self.address}]:{self.port}" if ":" in self.address else \
            f"{self.address}:{self.port}"

    def power(self) -> str:
        return "on" if (self.workdir / "power").read_text().strip() == "1" else "off"

    def boot_device(self) -> str:
        return (self.workdir / "boot").read_text().strip()

    def events(self) -> list[str]:
        return (self.workdir / "events").read_text().splitlines()

    def log_text(self) -> str:
        path = self.workdir / "ipmi_sim.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def ipmitool(self, *args: str) -> subprocess.CompletedProcess:
        """ipmitool against this BMC, as an admin would run it. `-C 3`: ipmi_sim does not
        answer Get Channel Cipher Suites, which ipmitool otherwise waits 10 s for."""
        argv = ["ipmitool", "-I", "lanplus", "-C", "3", "-H", self.address, "-p",
                str(self.port), "-U", self.username, "-P", self.password, *args]
        return subprocess.run(argv, capture_output=True, text=True, timeout=30,
                              env={**os.environ, "LANG": "C"})


def _conf_quote(text: str) -> str:
    # lan.conf takes double-quoted strings; nothing here needs more than that.
    if '"' in text or "\n" in text:
        raise ValueError(f"cannot write {text!r} into lan.conf")
    return f'"{text}"'


__all__ = ["IpmiSim", "free_udp_port"]
