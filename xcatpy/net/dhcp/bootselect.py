"""Which boot program (or URL) a PXE / UEFI HTTP / iPXE client is told to fetch.

Pure policy: the client's architecture (RFC 4578 option 93), whether it is already iPXE,
and the node's noderes.netboot go in; a file name or URL and the vendor class to send come
out. File names are the ones copybootloaders puts in the TFTP root, and for grub2 the
layout `grub-mknetdir --subdir=boot/grub2` writes.
"""

from dataclasses import dataclass

from xcatpy.boot import urls

# IANA "Processor Architecture Types" (RFC 4578 2.1 and its registry).
ARCH_BIOS = 0
ARCH_EFI_IA32 = 6
ARCH_EFI_BC = 7           # RFC 4578 named 7 "EFI BC" and 9 "EFI x86-64"; the erratum
ARCH_EFI_X64 = 9          # (EID 4888) swapped them, firmware sends either: both are x64
ARCH_EFI_ARM32 = 10
ARCH_EFI_ARM64 = 11
ARCH_HTTP_IA32 = 15
ARCH_HTTP_X64 = 16
ARCH_HTTP_ARM32 = 18
ARCH_HTTP_ARM64 = 19

# arch -> (platform, boots over HTTP)
ARCHES: dict[int, tuple[str, bool]] = {
    ARCH_BIOS: ("bios", False),
    ARCH_EFI_IA32: ("efi-ia32", False),
    ARCH_EFI_BC: ("efi-x64", False),
    ARCH_EFI_X64: ("efi-x64", False),
    ARCH_EFI_ARM32: ("efi-arm32", False),
    ARCH_EFI_ARM64: ("efi-arm64", False),
    ARCH_HTTP_IA32: ("efi-ia32", True),
    ARCH_HTTP_X64: ("efi-x64", True),
    ARCH_HTTP_ARM32: ("efi-arm32", True),
    ARCH_HTTP_ARM64: ("efi-arm64", True),
}

# platform -> loader family -> file in the TFTP root
LOADER_FILES: dict[str, dict[str, str]] = {
    "bios": {"pxelinux": "pxelinux.0", "lpxelinux": "lpxelinux.0", "ipxe": "undionly.kpxe",
             "grub2": "boot/grub2/i386-pc/core.0"},
    "efi-ia32": {"ipxe": "ipxe-i386.efi", "grub2": "boot/grub2/i386-efi/core.efi"},
    "efi-x64": {"ipxe": "ipxe.efi", "grub2": "boot/grub2/x86_64-efi/core.efi"},
    "efi-arm32": {"ipxe": "ipxe-arm32.efi", "grub2": "boot/grub2/arm-efi/core.efi"},
    "efi-arm64": {"ipxe": "ipxe-arm64.efi", "grub2": "boot/grub2/arm64-efi/core.efi"},
}

# noderes.netboot unset: pxelinux on BIOS, iPXE on x86 UEFI (there is no pxelinux there),
# grub2 on ARM (xCAT's default for aarch64).
DEFAULT_FAMILY = {"bios": "pxelinux", "efi-ia32": "ipxe", "efi-x64": "ipxe",
                  "efi-arm32": "grub2", "efi-arm64": "grub2"}

# noderes.netboot values (xCAT's) -> loader family. Values for other platforms (yaboot,
# petitboot, onie) name no file here: such a node gets an address and no boot file.
# "lpxelinux" is ours: pxelinux's HTTP-capable build, so its config (still over TFTP) names
# the kernel and initrd by HTTP URL.
NETBOOT_FAMILY = {"pxe": "pxelinux", "lpxelinux": "lpxelinux", "xnba": "ipxe", "ipxe": "ipxe",
                  "grub2": "grub2", "grub2-http": "grub2", "grub2-tftp": "grub2"}

TFTPROOT_HTTP_PREFIX = urls.TFTPROOT_PREFIX

PXE_CLIENT = "PXEClient"
HTTP_CLIENT = "HTTPClient"


@dataclass(frozen=True)
class BootTarget:
    file: str                 # a path in the TFTP root, or a full http:// URL
    vendor_class: str | None  # option 60 to send back (PXEClient / HTTPClient), if any
    family: str               # pxelinux / ipxe / grub2, or "script" for the iPXE script
    platform: str


def family_for(platform: str, netboot: str | None) -> str:
    family = NETBOOT_FAMILY.get((netboot or "").strip().lower())
    files = LOADER_FILES[platform]
    if family is None or family not in files:
        family = DEFAULT_FAMILY[platform]
    return family


def choose(arch: int | None, netboot: str | None, *, pxe_client: bool, ipxe_client: bool,
           http_base: str, mac: str) -> BootTarget | None:
    """The boot target for one client, or None when this architecture has no file here.

    arch None (no option 93, e.g. a plain DHCP client or an old BIOS ROM) counts as BIOS.
    A client that is already iPXE gets the per-node script URL instead of the iPXE binary
    (which would chainload itself forever); with pxelinux or grub2 configured, it gets that
    loader, as a firmware PXE ROM would.
    """
    platform, http_boot = ARCHES.get(ARCH_BIOS if arch is None else arch, (None, False))
    if platform is None:
        return None
    family = family_for(platform, netboot)
    if ipxe_client and family == "ipxe":
        return BootTarget(ipxe_script_url(http_base, mac),
                          PXE_CLIENT if pxe_client else None, "script", platform)
    name = LOADER_FILES[platform][family]
    if http_boot:
        return BootTarget(http_base + TFTPROOT_HTTP_PREFIX + name, HTTP_CLIENT, family,
                          platform)
    return BootTarget(name, PXE_CLIENT if pxe_client else None, family, platform)


def ipxe_script_url(http_base: str, mac: str) -> str:
    """The per-node iPXE script; the MAC in the path lets the HTTP service find the node
    even before its address is known there (boot/http.py accepts /ipxe/<mac>)."""
    return f"{http_base}{urls.IPXE_PATH}/{mac.replace(':', '-')}"
