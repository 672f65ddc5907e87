"""Which OS image a node boots, and where that image's boot files sit in the install tree.

xCAT keeps the image name in nodetype.provmethod; the older style leaves provmethod as
`install`/`netboot` and names the image by nodetype os, arch and profile instead. Both are
understood here. The install tree is copycds' layout: <installdir>/<osvers>/<osarch>/...
"""

import re
from dataclasses import dataclass
from pathlib import Path

from xcatpy.errors import XcatError

PROVMETHODS = ("install", "netboot", "statelite")


@dataclass(frozen=True)
class DistroLayout:
    """Where a distribution's installer keeps its boot files, relative to the tree root."""

    platform: str                 # template directory name, as xCAT's install/<platform>
    kernel: str
    initrd: str
    hypervisor: str | None = None  # xen.gz, for installers that boot under Xen


_LAYOUTS = [
    (re.compile(r"^(rhel|rhels|rhelc|rhas|centos|rocky|alma|ol|fedora|SL)", re.I),
     DistroLayout("rh", "images/pxeboot/vmlinuz", "images/pxeboot/initrd.img")),
    # XenServer's media: boot/vmlinuz and boot/xen.gz, the installer root is install.img.
    (re.compile(r"^(xenserver|xs|citrixhypervisor|xcp)", re.I),
     DistroLayout("xenserver", "boot/vmlinuz", "install.img", "boot/xen.gz")),
]


def layout_for(osvers: str) -> DistroLayout | None:
    for pattern, layout in _LAYOUTS:
        if pattern.match(osvers or ""):
            return layout
    return None


@dataclass(frozen=True)
class ImageInfo:
    name: str
    osvers: str
    osarch: str
    profile: str
    provmethod: str               # install | netboot | statelite
    template: str | None = None   # linuximage.template
    addkcmdline: str | None = None
    pkgdir: str | None = None

    @property
    def layout(self) -> DistroLayout | None:
        return layout_for(self.osvers)

    def tree(self, installdir: Path) -> Path:
        """The install tree (first linuximage.pkgdir, else <installdir>/<osvers>/<osarch>)."""
        if self.pkgdir:
            return Path(self.pkgdir.split(",")[0].strip())
        return installdir / self.osvers / self.osarch

    def boot_file(self, installdir: Path, which: str) -> Path | None:
        """Path of 'kernel', 'initrd' or 'hypervisor' inside the install tree."""
        layout = self.layout
        rel = getattr(layout, which, None) if layout else None
        return self.tree(installdir) / rel if rel else None


def old_style_name(os_: str, arch: str, provmethod: str, profile: str) -> str:
    return f"{os_}-{arch}-{provmethod}-{profile}"


def load_image(attrs, name: str) -> ImageInfo | None:
    """The osimage row joined with its linuximage row, or None if there is no such image."""
    row = attrs.table("osimage").get(name)
    if row is None:
        return None
    linux = attrs.table("linuximage").get(name) or {}
    return ImageInfo(
        name=name,
        osvers=row.get("osvers") or "",
        osarch=row.get("osarch") or "",
        profile=row.get("profile") or "",
        provmethod=row.get("provmethod") or "install",
        template=linux.get("template") or None,
        addkcmdline=linux.get("addkcmdline") or None,
        pkgdir=linux.get("pkgdir") or None,
    )


def image_for_node(attrs, node: str, name: str | None = None) -> ImageInfo:
    """The image `node` installs: `name` if given, else nodetype.provmethod (an image
    name), else the old style nodetype os/arch/profile. Errors name the node."""
    provmethod = name or attrs.lookup(node, "nodetype", "provmethod")
    if provmethod and provmethod not in PROVMETHODS:
        image = load_image(attrs, provmethod)
        if image is None:
            raise XcatError(f"{node}: osimage '{provmethod}' is not defined "
                            "(see lsdef -t osimage)")
        return _checked(node, image)
    method = provmethod or "install"
    values = {col: attrs.lookup(node, "nodetype", col) for col in ("os", "arch", "profile")}
    missing = [f"nodetype.{col}" for col, v in values.items() if not v]
    if missing:
        raise XcatError(f"{node}: no osimage: set nodetype.provmethod to an osimage name "
                        f"or set {', '.join(missing)}")
    image_name = old_style_name(values["os"], values["arch"], method, values["profile"])
    image = load_image(attrs, image_name) or ImageInfo(
        image_name, values["os"], values["arch"], values["profile"], method)
    return _checked(node, image)


def _checked(node: str, image: ImageInfo) -> ImageInfo:
    missing = [f"osimage.{col}" for col in ("osvers", "osarch") if not getattr(image, col)]
    if missing:
        raise XcatError(f"{node}: osimage '{image.name}' has no {', '.join(missing)}")
    return image
