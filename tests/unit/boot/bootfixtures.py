"""A small cluster with images whose boot files exist, shared by the boot unit tests."""

from pathlib import Path

RH_IMAGE = "rhels8-x86_64-install-compute"
XS_IMAGE = "xenserver7-x86_64-install-xen"
NB_IMAGE = "rhels8-x86_64-netboot-xenhost"


def tree_file(state_dir: Path, rel: str, data: bytes = b"x") -> Path:
    path = state_dir / "install" / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def make_cluster(run, state_dir: Path) -> None:
    """node01 (compute), xs01 (XenServer host), xh01 (netbooted Xen host)."""
    for rel in ("rhels8/x86_64/images/pxeboot/vmlinuz", "rhels8/x86_64/images/pxeboot/initrd.img",
                "xenserver7/x86_64/boot/vmlinuz", "xenserver7/x86_64/boot/xen.gz",
                "xenserver7/x86_64/install.img",
                "netboot/rhels8/x86_64/xenhost/kernel",
                "netboot/rhels8/x86_64/xenhost/initrd-stateless.gz",
                "netboot/rhels8/x86_64/xenhost/xen.gz"):
        tree_file(state_dir, rel)
    for args in (
        ("-t", "osimage", "-o", RH_IMAGE, "osvers=rhels8", "osarch=x86_64", "profile=compute",
         "provmethod=install", "imagetype=linux", "osname=Linux"),
        ("-t", "osimage", "-o", XS_IMAGE, "osvers=xenserver7", "osarch=x86_64", "profile=xen",
         "provmethod=install", "imagetype=linux", "osname=Linux"),
        ("-t", "osimage", "-o", NB_IMAGE, "osvers=rhels8", "osarch=x86_64", "profile=xenhost",
         "provmethod=netboot", "imagetype=linux", "osname=Linux"),
    ):
        assert run("mkdef", *args).rc == 0
    assert run("tabch", "key=system,username=root", "passwd.password=cluster").rc == 0
    assert run("nodeadd", "node01", "groups=compute,all", "mac.mac=52:54:00:aa:bb:01",
               "hosts.ip=10.0.0.1", "nodehm.serialport=0", "nodehm.serialspeed=115200",
               "noderes.xcatmaster=10.0.0.254").rc == 0
    assert run("nodeadd", "xs01", "groups=xen,all", "mac.mac=52:54:00:aa:bb:02",
               "hosts.ip=10.0.0.2", "hypervisor.type=xen", "hypervisor.dom0mem=752M",
               "noderes.xcatmaster=10.0.0.254").rc == 0
    assert run("nodeadd", "xh01", "groups=xen,all", "mac.mac=52:54:00:aa:bb:03",
               "hosts.ip=10.0.0.3", "hypervisor.type=xen", "hypervisor.dom0mem=2048",
               "noderes.xcatmaster=10.0.0.254").rc == 0
