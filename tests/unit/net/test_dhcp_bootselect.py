"""Boot program per client architecture (RFC 4578 option 93), iPXE and noderes.netboot."""

import pytest

from xcatpy.commands.copybootloaders import LOADERS
from xcatpy.net.dhcp import bootselect as b

BASE = "http://10.0.0.1:8080"
MAC = "52:54:00:aa:00:01"
SCRIPT = f"{BASE}/xcatpy/v1/boot/ipxe/52-54-00-aa-00-01"


def choose(arch, netboot=None, *, pxe=True, ipxe=False):
    return b.choose(arch, netboot, pxe_client=pxe, ipxe_client=ipxe, http_base=BASE, mac=MAC)


@pytest.mark.parametrize("arch, netboot, ipxe, file, vendor", [
    # BIOS: pxelinux by default, undionly.kpxe for xnba/ipxe, grub2's core.0
    (0, None, False, "pxelinux.0", "PXEClient"),
    (0, "pxe", False, "pxelinux.0", "PXEClient"),
    (0, "xnba", False, "undionly.kpxe", "PXEClient"),
    (0, "ipxe", False, "undionly.kpxe", "PXEClient"),
    (0, "grub2", False, "boot/grub2/i386-pc/core.0", "PXEClient"),
    (0, "lpxelinux", False, "lpxelinux.0", "PXEClient"),
    (9, "lpxelinux", False, "ipxe.efi", "PXEClient"),   # BIOS-only, as pxelinux
    # no option 93 at all counts as BIOS
    (None, None, False, "pxelinux.0", "PXEClient"),
    # x64 UEFI under both numbers the RFC 4578 erratum swapped
    (7, None, False, "ipxe.efi", "PXEClient"),
    (9, None, False, "ipxe.efi", "PXEClient"),
    (9, "pxe", False, "ipxe.efi", "PXEClient"),     # no pxelinux on UEFI: iPXE
    (7, "grub2", False, "boot/grub2/x86_64-efi/core.efi", "PXEClient"),
    (6, None, False, "ipxe-i386.efi", "PXEClient"),
    (10, None, False, "boot/grub2/arm-efi/core.efi", "PXEClient"),
    (11, None, False, "boot/grub2/arm64-efi/core.efi", "PXEClient"),
    (11, "ipxe", False, "ipxe-arm64.efi", "PXEClient"),
    # UEFI HTTP boot: a full URL of the program, vendor class HTTPClient
    (16, None, False, f"{BASE}/tftpboot/ipxe.efi", "HTTPClient"),
    (15, None, False, f"{BASE}/tftpboot/ipxe-i386.efi", "HTTPClient"),
    (19, None, False, f"{BASE}/tftpboot/boot/grub2/arm64-efi/core.efi", "HTTPClient"),
    (19, "xnba", False, f"{BASE}/tftpboot/ipxe-arm64.efi", "HTTPClient"),
    # iPXE asking: the script, never the iPXE binary again
    (0, "xnba", True, SCRIPT, "PXEClient"),
    (7, None, True, SCRIPT, "PXEClient"),
    (16, None, True, SCRIPT, "PXEClient"),
    # iPXE ROM on a node configured for pxelinux or grub2 loads that loader
    (0, "pxe", True, "pxelinux.0", "PXEClient"),
    (9, "grub2", True, "boot/grub2/x86_64-efi/core.efi", "PXEClient"),
])
def test_boot_target_table(arch, netboot, ipxe, file, vendor):
    target = choose(arch, netboot, ipxe=ipxe)
    assert (target.file, target.vendor_class) == (file, vendor)


def test_plain_dhcp_client_gets_the_file_but_no_vendor_class():
    target = choose(None, pxe=False)
    assert target.file == "pxelinux.0" and target.vendor_class is None


def test_architectures_without_a_loader_here_get_nothing():
    assert choose(12) is None          # PowerPC Open Firmware
    assert choose(0xFFFF) is None


def test_unknown_netboot_value_falls_back_to_the_platform_default():
    assert choose(0, "petitboot").file == "pxelinux.0"
    assert choose(9, "yaboot").file == "ipxe.efi"


def test_the_x86_defaults_are_files_copybootloaders_installs():
    installed = {loader.name for loader in LOADERS}
    for arch in (0, 7, 9):
        for netboot in (None, "xnba"):
            assert choose(arch, netboot).file in installed


def test_script_url_is_the_http_services_ipxe_path_with_the_mac():
    from xcatpy.boot import urls
    assert b.ipxe_script_url(BASE, MAC) == BASE + urls.IPXE_PATH + "/52-54-00-aa-00-01"
