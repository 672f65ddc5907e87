"""What each loader is told to boot, for every state: rendered exactly as a node sees it."""

import pytest

from tests.unit.boot.bootfixtures import NB_IMAGE, RH_IMAGE, XS_IMAGE, make_cluster
from xcatpy.boot import bootconfig
from xcatpy.boot.bootspec import BootPlanner, Endpoint
from xcatpy.boot.chainstate import BootState
from xcatpy.db.attrs import NodeAttrs
from xcatpy.errors import XcatError

EP = Endpoint("10.0.0.254", 8080, 3001)


@pytest.fixture
def planner(run, state_dir, store):
    make_cluster(run, state_dir)
    return BootPlanner(NodeAttrs(store), state_dir / "install", state_dir / "tftpboot")


def render(planner, state_dir, loader, node, state):
    spec = planner.spec(node, EP, state)
    return None if spec is None else bootconfig.render(loader, spec, EP, state_dir / "install")


def test_install_pxelinux(planner, state_dir):
    assert render(planner, state_dir, "pxelinux", "node01",
                  BootState("install", RH_IMAGE)) == (
        f"#install {RH_IMAGE}\n"
        "DEFAULT xCAT\n"
        "LABEL xCAT\n"
        f"  KERNEL xcat/osimage/{RH_IMAGE}/vmlinuz\n"
        f"  APPEND initrd=xcat/osimage/{RH_IMAGE}/initrd.img "
        "inst.ks=http://10.0.0.254:8080/install/autoinst/node01 "
        "inst.repo=http://10.0.0.254:8080/install/rhels8/x86_64 ip=dhcp "
        "console=tty0 console=ttyS0,115200\n"
        "  IPAPPEND 2\n")


def test_install_lpxelinux_names_kernel_and_initrd_by_http_url(planner, state_dir):
    text = render(planner, state_dir, "lpxelinux", "node01", BootState("install", RH_IMAGE))
    base = "http://10.0.0.254:8080/install/rhels8/x86_64/images/pxeboot"
    assert f"  KERNEL {base}/vmlinuz\n" in text
    assert f"  APPEND initrd={base}/initrd.img inst.ks=" in text


def test_install_ipxe_fetches_over_http(planner, state_dir):
    text = render(planner, state_dir, "ipxe", "node01", BootState("install", RH_IMAGE))
    assert text.splitlines() == [
        "#!ipxe",
        f"#install {RH_IMAGE}",
        "kernel http://10.0.0.254:8080/install/rhels8/x86_64/images/pxeboot/vmlinuz "
        "initrd=initrd.img inst.ks=http://10.0.0.254:8080/install/autoinst/node01 "
        "inst.repo=http://10.0.0.254:8080/install/rhels8/x86_64 ip=dhcp "
        "console=tty0 console=ttyS0,115200 BOOTIF=01-${netX/mac:hexhyp}",
        "initrd http://10.0.0.254:8080/install/rhels8/x86_64/images/pxeboot/initrd.img",
        "boot",
    ]


def test_install_grub2(planner, state_dir):
    text = render(planner, state_dir, "grub2", "node01", BootState("install", RH_IMAGE))
    assert f"    linux /xcat/osimage/{RH_IMAGE}/vmlinuz inst.ks=" in text
    assert f"    initrd /xcat/osimage/{RH_IMAGE}/initrd.img\n" in text
    assert text.endswith("}\n")


def test_xenserver_install_is_the_handbooks_mboot_entry(planner, state_dir):
    text = render(planner, state_dir, "pxelinux", "xs01", BootState("install", XS_IMAGE))
    base = f"xcat/osimage/{XS_IMAGE}"
    assert text == (
        f"#install {XS_IMAGE}\n"
        "DEFAULT xCAT\n"
        "LABEL xCAT\n"
        "  KERNEL mboot.c32\n"
        f"  APPEND {base}/xen.gz dom0_max_vcpus=1-2 dom0_mem=752M,max:752M "
        f"com1=115200,8n1 console=com1,vga --- {base}/vmlinuz xencons=hvc console=hvc0 "
        "console=tty0 answerfile=http://10.0.0.254:8080/install/autoinst/xs01 "
        f"remotelog=10.0.0.254 install --- {base}/install.img\n")


def test_xenserver_multipath_variant_from_addkcmdline(run, planner, state_dir):
    assert run("chdef", "-t", "osimage", "-o", XS_IMAGE,
               "addkcmdline=device_mapper_multipath=yes").rc == 0
    planner.attrs.invalidate()
    text = render(planner, state_dir, "pxelinux", "xs01", BootState("install", XS_IMAGE))
    assert " install device_mapper_multipath=yes --- " in text


def test_xenserver_ipxe_uses_kernel_and_modules(planner, state_dir):
    lines = render(planner, state_dir, "ipxe", "xs01",
                   BootState("install", XS_IMAGE)).splitlines()
    assert lines[2].startswith("kernel http://10.0.0.254:8080/install/xenserver7/x86_64/boot/"
                               "xen.gz dom0_max_vcpus=1-2 dom0_mem=752M,max:752M")
    assert lines[3].startswith("module http://10.0.0.254:8080/install/xenserver7/x86_64/boot/"
                               "vmlinuz xencons=hvc")
    assert lines[4] == "module http://10.0.0.254:8080/install/xenserver7/x86_64/install.img"
    assert lines[5] == "boot"


def test_netbooted_xen_host_boots_xen_with_dom0_mem(planner, state_dir):
    text = render(planner, state_dir, "pxelinux", "xh01", BootState("netboot", NB_IMAGE))
    base = f"xcat/osimage/{NB_IMAGE}"
    assert "  KERNEL mboot.c32\n" in text
    assert (f"  APPEND {base}/xen.gz dom0_mem=2048M,max:2048M --- {base}/kernel "
            "imgurl=http://10.0.0.254:8080/install/netboot/rhels8/x86_64/xenhost/"
            f"rootimg.cpio.gz XCAT=10.0.0.254:3001 NODE=xh01 FC=0 --- "
            f"{base}/initrd-stateless.gz\n") in text


def test_kvm_host_with_xen_image_files_boots_plain_kernel(run, planner, state_dir):
    assert run("nodech", "xh01", "hypervisor.type=kvm").rc == 0
    planner.attrs.invalidate()
    text = render(planner, state_dir, "pxelinux", "xh01", BootState("netboot", NB_IMAGE))
    assert "mboot.c32" not in text and f"KERNEL xcat/osimage/{NB_IMAGE}/kernel" in text


@pytest.mark.parametrize("loader, expected", [
    ("pxelinux", "  LOCALBOOT 0\n"), ("grub2", "    exit\n"),
    ("ipxe", "sanboot --no-describe --drive 0x80 || exit\n")])
def test_boot_state_boots_the_local_disk(planner, state_dir, loader, expected):
    text = render(planner, state_dir, loader, "node01", BootState("boot"))
    assert expected in text and "vmlinuz" not in text


def test_offline_and_never_set_serve_nothing(planner, state_dir):
    assert render(planner, state_dir, "pxelinux", "node01", BootState("offline")) is None
    assert planner.spec("node01", EP) is None


def test_shell_needs_the_genesis_image(planner, state_dir):
    with pytest.raises(XcatError, match=r"node01: shell needs the genesis image .*"
                       r"genesis\.kernel\.x86_64"):
        planner.spec("node01", EP, BootState("shell"))
    for rel in ("xcat/genesis.kernel.x86_64", "xcat/genesis.fs.x86_64.gz"):
        (state_dir / "tftpboot" / rel).parent.mkdir(parents=True, exist_ok=True)
        (state_dir / "tftpboot" / rel).write_bytes(b"g")
    text = render(planner, state_dir, "pxelinux", "node01", BootState("shell"))
    assert "KERNEL xcat/genesis.kernel.x86_64" in text
    assert "xcatd=10.0.0.254:3001 destiny=shell" in text


def test_bootparams_kernel_overrides_the_image(run, planner, state_dir):
    assert run("nodech", "node01", "bootparams.kernel=custom/vmlinuz",
               "bootparams.initrd=custom/initrd", "bootparams.kcmdline=quiet",
               "bootparams.addkcmdline=debug").rc == 0
    planner.attrs.invalidate()
    text = render(planner, state_dir, "pxelinux", "node01", BootState("install", RH_IMAGE))
    assert "  KERNEL custom/vmlinuz\n  APPEND initrd=custom/initrd quiet debug\n" in text


def test_addkcmdline_persistent_options_stay_off_the_installer(run, planner, state_dir):
    assert run("chdef", "-t", "osimage", "-o", RH_IMAGE,
               "addkcmdline=rd.debug R::crashkernel=256M").rc == 0
    planner.attrs.invalidate()
    text = render(planner, state_dir, "pxelinux", "node01", BootState("install", RH_IMAGE))
    assert " rd.debug\n" in text and "crashkernel" not in text


def test_undefined_image_names_the_node(planner):
    with pytest.raises(XcatError, match="node01: osimage 'nosuch' is not defined"):
        planner.spec("node01", EP, BootState("install", "nosuch"))
