"""Plain commands a driver runs on a hypervisor host itself, beside its toolstack.

Whether a destination can open a guest's disks, and telling the network where a guest now
is, take the same commands on every Linux hypervisor: one `ls -d` for all the disks, one
`arping` (Thomas Habets' arping, Debian package `arping`) per NIC. The commands and the
reading of their answers live here once. These functions raise ValueError saying what was
wrong; each driver re-raises it as its own error, naming its host.
"""

from __future__ import annotations

import ipaddress
import re
import shlex
from collections.abc import Callable, Sequence

from xcatpy.drivers.remote import RemoteResult
from xcatpy.virt.model import Nic

_LS_MISSING = re.compile(r"ls: cannot access (.+): No such file or directory")
_MAC = re.compile(r"[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}")
# A Linux interface name (15 characters). No ':' because arping -i refuses alias names, and
# no leading '-' so that it can never be read as an option.
_INTERFACE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}")

Run = Callable[[list[str]], RemoteResult]  # runs argv on the host, whatever its exit status


def ls_argv(paths: Sequence[str]) -> list[str]:
    # -d: a directory is reported, not listed; --: no path is taken for an option.
    return ["ls", "-d", "--", *dict.fromkeys(paths)]


def missing_paths(paths: Sequence[str], result: RemoteResult) -> set[str]:
    """Which of `paths` the `ls_argv(paths)` run that gave `result` could not find.

    ls exits 2 when an operand is missing, with one line per missing path on stderr. Any
    other failure (ssh's 255, a permission or I/O error, a line naming a path not asked
    about) says nothing about the disks, so it is a ValueError, not a path reported missing.
    """
    if result.exit_status == 0:
        return set()
    lines = [line.strip() for line in result.stderr.splitlines() if line.strip()]
    if result.exit_status != 2 or not lines:
        raise ValueError(f"'ls' failed: {_last_line(result)}")
    asked, missing = set(paths), set()
    for line in lines:
        match = _LS_MISSING.fullmatch(line)
        path = _ls_path(match.group(1), asked) if match else None
        if path is None:
            raise ValueError(f"'ls' failed: {line}")
        missing.add(path)
    return missing


def _ls_path(text: str, asked: set[str]) -> str | None:
    """The asked path ls names in `text`. coreutils 8.25 and later quote it as a shell word
    ('/a b', "/it's"); older ones, still on Xen 3 hosts, print it bare."""
    try:
        words = shlex.split(text)
    except ValueError:
        words = []
    for candidate in ([words[0]] if len(words) == 1 else []) + [text]:
        if candidate in asked:
            return candidate
    return None


def announce(run: Run, nics: Sequence[Nic], address: str,
             interface: Callable[[str], str] = str) -> None:
    """One unsolicited ARP per NIC, from its MAC and `address`, on the host interface
    `interface(nic.bridge)` (by default the bridge itself).

    Nothing is sent for an IPv6 address (neighbours learn those from the guest's own
    traffic). Every value is checked before the first arping runs; a failed arping does not
    stop the others, and the failures are reported together."""
    if not nics or not is_ipv4(address):
        return
    argvs = [arping_argv(interface(nic.bridge), nic.mac, address) for nic in nics]
    failures: dict[str, list[str]] = {}
    for argv in argvs:
        result = run(argv)
        # arping exits 1 when nothing answered, which is what an unsolicited ARP expects;
        # it fails loudly (a message even with -q) when it could not send.
        if result.exit_status not in (0, 1) or result.stderr.strip():
            failures.setdefault(_last_line(result), []).append(argv[argv.index("-i") + 1])
    if failures:
        raise ValueError("; ".join(f"arping on {', '.join(interfaces)} failed: {detail}"
                                   for detail, interfaces in failures.items()))


def is_ipv4(address: str) -> bool:
    """True for an IPv4 host address, False for an IPv6 one; ValueError for anything else."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        raise ValueError(f"'{address}' is not an IP address") from None
    if ip.version == 6:
        return False
    if ip.is_unspecified or ip.is_multicast or ip == ipaddress.IPv4Address("255.255.255.255"):
        raise ValueError(f"{address} is not a host address")
    return True


def arping_argv(interface: str, mac: str, address: str) -> list[str]:
    if not _INTERFACE.fullmatch(interface):
        raise ValueError(f"'{interface}' is not a network interface name")
    if not _MAC.fullmatch(mac):
        raise ValueError(f"'{mac}' is not a MAC address")
    is_ipv4(address)
    return ["arping", "-q", "-U", "-c", "1", "-i", interface, "-S", address, "-s", mac.lower(),
            address]


def _last_line(result: RemoteResult) -> str:
    lines = [ln.strip() for ln in (result.stderr or result.stdout).splitlines() if ln.strip()]
    return lines[-1] if lines else f"exit status {result.exit_status}"


class PosixHostFiles:
    """missing_storage and announce for drivers whose disks are paths on the host (xl, xm,
    libvirt). The driver supplies `_run(argv, check=...)`, `_disk_path(path)` (its own
    path check) and `host_error` (its error class)."""

    host_error: type[Exception]

    def missing_storage(self, disks: Sequence) -> set[str]:
        paths = [self._disk_path(disk.path) for disk in disks]
        if not paths:
            return set()
        result = self._run(ls_argv(paths), check=False)
        try:
            return missing_paths(paths, result)
        except ValueError as exc:
            raise self.host_error(f"{self.target.node}: cannot tell which disks it can open: "
                                  f"{exc}") from None

    def announce(self, nics: Sequence[Nic], address: str) -> None:
        try:
            announce(lambda argv: self._run(argv, check=False), nics, address)
        except ValueError as exc:
            raise self.host_error(f"{self.target.node}: cannot announce {address}: {exc}") \
                from None
