"""The xm toolstack (hypervisor.type 'xm'): Xen 3 hosts run by xend, as in xCAT's Xen howto.

xm is the command set xl copied, so this is XlHypervisor with xm's differences:

- A guest's config is /etc/xen/<name>, without suffix (the howto's location), in the same
  syntax read as Python. /etc/xen also holds xend's own files and the examples shipped
  with Xen, so those names are never taken for guests.
- `xm list` has no UUID column; running guests are reported without one.
- Migration goes to xend's relocation server on the destination (port 8002, enabled in
  xend-config.sxp as the howto shows), not over SSH; `--live` keeps the guest running
  while its memory is copied.
- A PV guest is told from an HVM one by the image in `xm list --long` (SXP).
"""

from __future__ import annotations

import re
from typing import ClassVar

from xcatpy.drivers.remote import Target
from xcatpy.virt import xenconfig
from xcatpy.virt.hypervisor import register
from xcatpy.virt.model import GuestStatus
from xcatpy.virt.xl import (
    AUTOSTART_DIR,
    CONFIG_DIR,
    XlHypervisor,
    checked_address,
    name_or_none,
    parse_domain_list,
)

# What a Xen 3 /etc/xen holds besides guest configs.
_NOT_GUESTS = {"auto", "scripts", "qemu-ifup", "README", "README.incompatibilities",
               "xend-config.sxp", "xend-pci-permissive.sxp", "xend-pci-quirks.sxp",
               "xm-config.xml", "xl.conf", "cpupool", "oxenstored.conf"}
_NOT_GUEST_PREFIXES = ("xmexample", "xlexample", "xend-", ".")
_NOT_GUEST_SUFFIXES = (".sxp", ".xml", ".conf", ".cfg", ".rpmsave", ".rpmnew", ".orig",
                       ".dpkg-old", ".dpkg-dist", "~")
_HVM_IMAGE = re.compile(r"\(image\s+\(hvm\b")


class XmHypervisor(XlHypervisor):
    toolstack: ClassVar[str] = "xm"
    tool: ClassVar[str] = "xm"
    dialect: ClassVar[str] = xenconfig.XM

    def config_path(self, name: str) -> str:
        return f"{CONFIG_DIR}/{name}"

    def autostart_path(self, name: str) -> str:
        return f"{AUTOSTART_DIR}/{name}"

    def guest_name_of(self, filename: str) -> str | None:
        if (filename in _NOT_GUESTS or filename.startswith(_NOT_GUEST_PREFIXES)
                or filename.endswith(_NOT_GUEST_SUFFIXES)):
            return None
        return name_or_none(filename)

    def list_args(self) -> list[str]:
        return ["list"]

    def _running(self) -> dict[str, GuestStatus]:
        output = self._tool(*self.list_args()).stdout
        return parse_domain_list(self.target.node, output, with_uuid=False)

    def shutdown_args(self, name: str) -> list[str]:
        return ["shutdown", "-w", name]

    def guest_is_hvm(self, name: str) -> bool:
        result = self._guest_command(f"inspect {name}", ["list", "--long", name])
        return bool(_HVM_IMAGE.search(result.stdout))

    def migrate_args(self, name: str, dest: Target, *, live: bool) -> list[str]:
        # xend's relocation port is its own (8002), not dest's SSH port.
        return ["migrate", *(["--live"] if live else []), name, checked_address(dest)]


register("xm", XmHypervisor)
