"""copybootloaders: put the network boot programs into the tftp root.

They are not ours to ship: Debian packages them (pxelinux, syslinux-common, ipxe), as do
other distributions. This copies them from where those packages install them (or from
--source directories) into site.tftpdir, atomically, so a node never fetches half a file.
"""

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from xcatpy.boot.nodeset import site_paths
from xcatpy.commands.base import Context
from xcatpy.commands.options import CommandParser
from xcatpy.errors import XcatError

USAGE = """Usage:
  copybootloaders [-s|--source DIR]... [-n|--dry-run]
  copybootloaders [-?|-h|--help]"""


@dataclass(frozen=True)
class Loader:
    name: str            # its name in the tftp root
    family: str
    package: str         # the Debian package that ships it
    required: bool       # the family cannot boot without it
    candidates: tuple[str, ...]


LOADERS = (
    Loader("pxelinux.0", "pxelinux", "pxelinux", True,
           ("/usr/lib/PXELINUX/pxelinux.0", "/usr/share/syslinux/pxelinux.0")),
    Loader("lpxelinux.0", "pxelinux", "pxelinux", False,
           ("/usr/lib/PXELINUX/lpxelinux.0", "/usr/share/syslinux/lpxelinux.0")),
    Loader("ldlinux.c32", "pxelinux", "syslinux-common", True,
           ("/usr/lib/syslinux/modules/bios/ldlinux.c32", "/usr/share/syslinux/ldlinux.c32")),
    # mboot.c32 boots Xen (and XenServer's installer); it needs libcom32.
    Loader("mboot.c32", "pxelinux", "syslinux-common", False,
           ("/usr/lib/syslinux/modules/bios/mboot.c32", "/usr/share/syslinux/mboot.c32")),
    Loader("libcom32.c32", "pxelinux", "syslinux-common", False,
           ("/usr/lib/syslinux/modules/bios/libcom32.c32",
            "/usr/share/syslinux/libcom32.c32")),
    Loader("libutil.c32", "pxelinux", "syslinux-common", False,
           ("/usr/lib/syslinux/modules/bios/libutil.c32", "/usr/share/syslinux/libutil.c32")),
    Loader("undionly.kpxe", "ipxe", "ipxe", True,
           ("/usr/lib/ipxe/undionly.kpxe", "/usr/share/ipxe/undionly.kpxe")),
    Loader("ipxe.efi", "ipxe", "ipxe", True,
           ("/usr/lib/ipxe/ipxe.efi", "/usr/share/ipxe/ipxe-x86_64.efi")),
)

_parser = CommandParser("copybootloaders", USAGE)
_parser.add_argument("-s", "--source", action="append", default=[])
_parser.add_argument("-n", "--dry-run", dest="dry_run", action="store_true")


def _find(loader: Loader, sources: list[str]) -> Path | None:
    for directory in sources:
        path = Path(directory) / loader.name
        if path.is_file():
            return path
    for candidate in loader.candidates:
        if Path(candidate).is_file():
            return Path(candidate)
    return None


def _copy(src: Path, dest: Path) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as out, open(src, "rb") as inp:
            shutil.copyfileobj(inp, out)
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def run(ctx: Context) -> int:
    opts = _parser.parse(ctx.args)
    for directory in opts.source:
        if not Path(directory).is_dir():
            raise XcatError(f"copybootloaders: source {directory} is not a directory")
    tftpdir = site_paths(ctx.attrs, ctx.store.state_dir).tftpdir
    missing = set()
    for loader in LOADERS:
        src = _find(loader, opts.source)
        if src is None:
            missing.add(loader)
            ctx.out.error(f"copybootloaders: {loader.name} not found (Debian package "
                          f"{loader.package})")
            continue
        dest = tftpdir / loader.name
        if not opts.dry_run:
            try:
                tftpdir.mkdir(parents=True, exist_ok=True)
                _copy(src, dest)
            except OSError as exc:
                raise XcatError(f"copybootloaders: cannot write {dest}: {exc}") from None
        ctx.out.data(f"{loader.name}: {src} -> {dest}")
    families = {loader.family for loader in LOADERS}
    incomplete = {loader.family for loader in missing if loader.required}
    if not families - incomplete:
        raise XcatError("copybootloaders: no complete set of boot loaders found; install "
                        "Debian's pxelinux and syslinux-common, or ipxe, or give --source")
    return 0
