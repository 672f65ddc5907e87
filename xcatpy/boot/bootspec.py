"""What one node boots next: decided from its chain state, osimage and tables.

The result is protocol-neutral (file names, argument strings); bootconfig turns it into
pxelinux, grub2 or iPXE text, which address files by TFTP path or HTTP URL.
"""

from dataclasses import dataclass, field
from pathlib import Path

from xcatpy.boot import urls
from xcatpy.boot.chainstate import BootState, state_of
from xcatpy.boot.osimage import ImageInfo, image_for_node
from xcatpy.db.attrs import NodeAttrs
from xcatpy.errors import XcatError

GENESIS_KERNEL = "xcat/genesis.kernel.{arch}"
GENESIS_FS = "xcat/genesis.fs.{arch}.gz"


@dataclass(frozen=True)
class BootFile:
    """A file the boot loader fetches: by TFTP path, and where the HTTP service has it."""

    tftp_path: str
    source: Path | None = None     # the real file, for image files


@dataclass(frozen=True)
class BootSpec:
    node: str
    state: str                     # chain.currstate, echoed as the config's first line
    local: bool = False
    kernel: BootFile | None = None
    initrds: tuple[BootFile, ...] = ()
    args: str = ""
    hypervisor: BootFile | None = None   # xen.gz: boot via mboot.c32 / multiboot
    hypervisor_args: str = ""
    bootif: bool = True            # installers want BOOTIF= to pick the boot NIC


@dataclass(frozen=True)
class Endpoint:
    """Where the node reached us: used in every URL the config hands out."""

    master: str
    http_port: int
    api_port: int = 3001


@dataclass
class ImageFiles:
    """The boot files of one image, by the name they have in xcat/osimage/<image>/."""

    image: ImageInfo
    files: dict[str, Path] = field(default_factory=dict)
    kernel: str | None = None
    initrd: str | None = None
    hypervisor: str | None = None


def image_files(image: ImageInfo, installdir: Path) -> ImageFiles:
    result = ImageFiles(image)
    if image.provmethod in ("netboot", "statelite"):
        base = installdir / "netboot" / image.osvers / image.osarch / image.profile
        chosen = {"kernel": base / "kernel",
                  "initrd": base / ("initrd-stateless.gz" if image.provmethod == "netboot"
                                    else "initrd-statelite.gz")}
        if (base / "xen.gz").is_file():
            chosen["hypervisor"] = base / "xen.gz"
    else:
        layout = image.layout
        if layout is None:
            return result
        chosen = {which: image.boot_file(installdir, which)
                  for which in ("kernel", "initrd", "hypervisor")
                  if getattr(layout, which)}
    for which, path in chosen.items():
        result.files[path.name] = path
        setattr(result, which, path.name)
    return result


def _mem(value: str) -> str:
    value = value.strip()
    return value + "M" if value.isdigit() else value


def _dom0_mem_args(attrs: NodeAttrs, node: str) -> list[str]:
    """Xen's dom0_mem pinned (min = max) from hypervisor.dom0mem; none if unset."""
    dom0 = attrs.lookup(node, "hypervisor", "dom0mem")
    return [f"dom0_mem={_mem(dom0)},max:{_mem(dom0)}"] if dom0 else []


def _console_args(attrs: NodeAttrs, node: str) -> list[str]:
    port = attrs.lookup(node, "nodehm", "serialport")
    if port is None or port == "":
        return []
    speed = attrs.lookup(node, "nodehm", "serialspeed") or "115200"
    return ["console=tty0", f"console=ttyS{port},{speed}"]


def _installer_kcmdline(extra: str | None) -> list[str]:
    # xCAT's "R::" prefix marks options for the installed system's boot loader only.
    return [w for w in (extra or "").split() if not w.startswith("R::")]


class BootPlanner:
    """Decides BootSpecs; one per request, cheap to build (attrs caches the tables)."""

    def __init__(self, attrs: NodeAttrs, installdir: Path, tftpdir: Path) -> None:
        self.attrs = attrs
        self.installdir = installdir
        self.tftpdir = tftpdir

    def spec(self, node: str, endpoint: Endpoint,
             state: BootState | None = None) -> BootSpec | None:
        """None when the node has no config to serve (never nodeset, or offline)."""
        state = state or state_of(self.attrs, node)
        if state is None or state.action == "offline":
            return None
        if state.action == "boot":
            return BootSpec(node, str(state), local=True)
        if state.action == "shell":
            return self._shell(node, state, endpoint)
        if not state.uses_image:
            raise XcatError(f"{node}: unknown chain.currstate '{state}'")
        return self._image(node, state, endpoint)

    def _shell(self, node: str, state: BootState, ep: Endpoint) -> BootSpec:
        arch = self.attrs.lookup(node, "nodetype", "arch") or "x86_64"
        kernel = GENESIS_KERNEL.format(arch=arch)
        initrd = GENESIS_FS.format(arch=arch)
        for rel in (kernel, initrd):
            if not (self.tftpdir / rel).is_file():
                raise XcatError(f"{node}: shell needs the genesis image {self.tftpdir / rel}, "
                                "which is missing")
        args = ["quiet", f"xcatd={ep.master}:{ep.api_port}", "destiny=shell",
                *_console_args(self.attrs, node)]
        return BootSpec(node, str(state), kernel=BootFile(kernel),
                        initrds=(BootFile(initrd),), args=" ".join(args))

    def _image(self, node: str, state: BootState, ep: Endpoint) -> BootSpec:
        image = image_for_node(self.attrs, node, state.image)
        override = self._bootparams(node, state, ep)
        if override is not None:
            return override
        files = image_files(image, self.installdir)
        if files.kernel is None:
            raise XcatError(f"{node}: osimage '{image.name}' (osvers {image.osvers}) has no "
                            "known boot file layout")

        def bootfile(name: str) -> BootFile:
            return BootFile(urls.tftp_image_path(image.name, name), files.files[name])

        master, port = ep.master, ep.http_port
        console = _console_args(self.attrs, node)
        extra = _installer_kcmdline(self._addkcmdline(node, image))
        if state.action == "install" and files.hypervisor:
            # XenServer's unattended install: Xen first, the installer kernel as dom0,
            # install.img as its root (the handbook's pxelinux entry).
            speed = self.attrs.lookup(node, "nodehm", "serialspeed") or "115200"
            hv_args = ["dom0_max_vcpus=1-2", *_dom0_mem_args(self.attrs, node),
                       f"com1={speed},8n1", "console=com1,vga"]
            syslog = self.attrs.lookup(node, "noderes", "syslog") or master
            args = ["xencons=hvc", "console=hvc0", "console=tty0",
                    f"answerfile={urls.answer_url(master, port, node)}",
                    f"remotelog={syslog}", "install", *extra]
            return BootSpec(node, str(state), kernel=bootfile(files.kernel),
                            initrds=(bootfile(files.initrd),), args=" ".join(args),
                            hypervisor=bootfile(files.hypervisor),
                            hypervisor_args=" ".join(hv_args), bootif=False)
        if state.action == "install":
            args = [f"inst.ks={urls.answer_url(master, port, node)}",
                    f"inst.repo={urls.install_url(master, port, image.osvers, image.osarch)}",
                    "ip=dhcp", *console, *extra]
        else:
            rootimg = urls.install_url(master, port, "netboot", image.osvers, image.osarch,
                                       image.profile, "rootimg.cpio.gz")
            args = [f"imgurl={rootimg}", f"XCAT={master}:{ep.api_port}", f"NODE={node}",
                    "FC=0", *console, *extra]
        hypervisor = None
        hv_args = ""
        if files.hypervisor and self._is_xen_host(node):
            hypervisor = bootfile(files.hypervisor)
            hv_args = " ".join(_dom0_mem_args(self.attrs, node))
        return BootSpec(node, str(state), kernel=bootfile(files.kernel),
                        initrds=(bootfile(files.initrd),), args=" ".join(args),
                        hypervisor=hypervisor, hypervisor_args=hv_args)

    def _is_xen_host(self, node: str) -> bool:
        return (self.attrs.lookup(node, "hypervisor", "type") or "").lower() in ("xen", "")

    def _addkcmdline(self, node: str, image: ImageInfo) -> str:
        words = [image.addkcmdline or "", self.attrs.lookup(node, "bootparams", "addkcmdline")
                 or ""]
        return " ".join(w for w in words if w)

    def _bootparams(self, node: str, state: BootState, ep: Endpoint) -> BootSpec | None:
        """An admin's bootparams.kernel wins over the image's files (xCAT semantics:
        paths relative to the tftp root)."""
        kernel = self.attrs.lookup(node, "bootparams", "kernel")
        if not kernel:
            return None
        initrd = self.attrs.lookup(node, "bootparams", "initrd")
        args = [self.attrs.lookup(node, "bootparams", "kcmdline") or "",
                self.attrs.lookup(node, "bootparams", "addkcmdline") or ""]
        return BootSpec(node, str(state), kernel=BootFile(kernel),
                        initrds=(BootFile(initrd),) if initrd else (),
                        args=" ".join(a for a in args if a))
