"""The boot services of a real xcatd, fetched with real clients (curl, tftp-hpa, sockets).

Node `self1` has the address the test's clients come from (127.0.0.1); `other1` has
127.0.0.2, which curl can also send from (--interface), to prove answer files with
secrets go to their own node only.
"""

import hashlib
import os
import socket
import subprocess

import pytest

from tests.integration.clitools import cli, command_path
from tests.integration.xcatd import Xcatd

IMAGE = "rhels8-x86_64-install-compute"
XS_IMAGE = "xenserver7-x86_64-install-xen"
KERNEL = os.urandom(300_000)


def tree(state, rel, data=b"x"):
    path = state / "install" / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


@pytest.fixture(scope="module")
def boot(tmp_path_factory):
    state = tmp_path_factory.mktemp("boot") / "state"
    subprocess.run([*command_path("xcatd"), "--init"], check=True, capture_output=True,
                   env=dict(os.environ, XCATPY_STATE=str(state)))
    tree(state, "rhels8/x86_64/images/pxeboot/vmlinuz", KERNEL)
    tree(state, "rhels8/x86_64/images/pxeboot/initrd.img", b"initrd")
    for rel in ("boot/vmlinuz", "boot/xen.gz", "install.img"):
        tree(state, f"xenserver7/x86_64/{rel}")
    for args in (
        ("mkdef", "-t", "osimage", "-o", IMAGE, "osvers=rhels8", "osarch=x86_64",
         "profile=compute", "provmethod=install", "imagetype=linux", "osname=Linux"),
        ("mkdef", "-t", "osimage", "-o", XS_IMAGE, "osvers=xenserver7", "osarch=x86_64",
         "profile=xen", "provmethod=install", "imagetype=linux", "osname=Linux"),
        ("nodeadd", "xs1", "groups=xen,all", "mac.mac=52:54:00:00:00:04", "hosts.ip=127.0.0.4",
         "hypervisor.type=xen", "hypervisor.dom0mem=752M"),
        ("nodeadd", "self1", "groups=compute,all", "mac.mac=52:54:00:00:00:01",
         "hosts.ip=127.0.0.1"),
        ("nodeadd", "other1", "groups=compute,all", "mac.mac=52:54:00:00:00:02",
         "hosts.ip=127.0.0.2"),
        ("tabch", "key=system,username=root", "passwd.password=cluster"),
    ):
        r = cli(*args, state=state)
        assert r.rc == 0, r.err
    daemon = Xcatd(state).start()
    yield daemon
    daemon.stop()


def nodeset(boot, *args):
    r = cli("nodeset", *args, state=boot.state)
    assert r.rc == 0, r.err
    return r


def curl(boot, path, *opts):
    url = f"http://127.0.0.1:{boot.ports['http_port']}{path}"
    p = subprocess.run(["curl", "-s", "-S", "-o", "-", "-w", "\n%{http_code}", *opts, url],
                       capture_output=True, timeout=30)
    body, _, code = p.stdout.rpartition(b"\n")
    return int(code), body


def tftp_get(boot, name, tmp_path):
    out = tmp_path / "got"
    out.unlink(missing_ok=True)
    p = subprocess.run(["tftp", "127.0.0.1", str(boot.ports["tftp_port"]), "-m", "binary",
                        "-c", "get", name, str(out)], capture_output=True, text=True,
                       timeout=30)
    return out.read_bytes() if out.exists() and p.returncode == 0 and not p.stdout.strip() \
        and not p.stderr.strip() else None


def monitor(boot, line, half_close=False):
    with socket.create_connection(("127.0.0.1", boot.ports["monitor_port"]), timeout=10) as s:
        s.sendall(line.encode() + b"\n")
        if half_close:
            s.shutdown(socket.SHUT_WR)   # as busybox nc does, then waits for the answer
        return s.makefile().readline().strip()


def state_of(boot, node):
    return cli("nodels", node, "chain.currstate", state=boot.state).out.strip()


def test_config_is_rendered_from_the_current_state(boot, tmp_path):
    nodeset(boot, "self1", "boot")
    assert b"LOCALBOOT 0" in tftp_get(boot, "pxelinux.cfg/01-52-54-00-00-00-01", tmp_path)
    nodeset(boot, "self1", f"osimage={IMAGE}")
    text = tftp_get(boot, "pxelinux.cfg/01-52-54-00-00-00-01", tmp_path).decode()
    assert f"KERNEL xcat/osimage/{IMAGE}/vmlinuz" in text
    port = boot.ports["http_port"]
    assert f"inst.ks=http://127.0.0.1:{port}/install/autoinst/self1" in text


def test_hex_ip_prefix_and_default_names(boot, tmp_path):
    nodeset(boot, "self1", "boot")
    for name in ("pxelinux.cfg/7F000001", "pxelinux.cfg/7F0000", "pxelinux.cfg/7F",
                 "pxelinux.cfg/default"):
        assert b"LOCALBOOT" in tftp_get(boot, name, tmp_path), name
    # A prefix that is not the asking node's own address names nobody.
    assert tftp_get(boot, "pxelinux.cfg/0A", tmp_path) is None
    assert b"grub" not in tftp_get(boot, "boot/grub2/grub.cfg-01-52-54-00-00-00-01", tmp_path)


def test_unknown_mac_falls_through_to_missing(boot, tmp_path):
    assert tftp_get(boot, "pxelinux.cfg/01-52-54-00-99-99-99", tmp_path) is None


def test_image_boot_files_over_tftp(boot, tmp_path):
    got = tftp_get(boot, f"xcat/osimage/{IMAGE}/vmlinuz", tmp_path)
    assert got is not None and hashlib.sha256(got).digest() == hashlib.sha256(KERNEL).digest()
    assert tftp_get(boot, f"xcat/osimage/{IMAGE}/passwd", tmp_path) is None
    assert tftp_get(boot, "xcat/osimage/nosuch/vmlinuz", tmp_path) is None


def test_install_tree_supports_range_requests(boot):
    code, body = curl(boot, "/install/rhels8/x86_64/images/pxeboot/vmlinuz", "-r", "100-199")
    assert (code, body) == (206, KERNEL[100:200])
    code, body = curl(boot, "/install/rhels8/x86_64/images/pxeboot/vmlinuz")
    assert code == 200 and body == KERNEL


@pytest.mark.parametrize("path", ["/install/../xcatdb.sqlite", "/install/%2e%2e/xcatdb.sqlite",
                                  "/install/rhels8/..%2f..%2fxcatdb.sqlite",
                                  "/install/escape/passwd", "/install/rhels8"])
def test_install_tree_never_escapes(boot, path):
    link = boot.state / "install" / "escape"
    if not link.exists():
        link.mkdir()
        (link / "passwd").symlink_to("/etc/passwd")
    code, body = curl(boot, path, "--path-as-is")
    assert code == 404 and b"root:" not in body and b"SQLite" not in body


def test_tftp_root_boot_programs_over_http_for_uefi_http_boot(boot):
    program = boot.state / "tftpboot" / "ipxe.efi"
    program.write_bytes(b"MZ-efi-program")
    assert curl(boot, "/tftpboot/ipxe.efi") == (200, b"MZ-efi-program")
    link = boot.state / "tftpboot" / "escape"
    link.symlink_to("/etc/passwd")
    for path in ("/tftpboot/escape", "/tftpboot/../xcatdb.sqlite", "/tftpboot/%2e%2e/pki"):
        code, body = curl(boot, path, "--path-as-is")
        assert code == 404 and b"root:" not in body, path
    # The TFTP root holds no answer files: autoinst/ under it is an ordinary (missing) path.
    assert curl(boot, "/tftpboot/autoinst/self1")[0] == 404


def test_answer_file_served_to_its_own_node_only(boot):
    nodeset(boot, "self1,other1", f"osimage={IMAGE}")
    code, body = curl(boot, "/install/autoinst/self1")
    assert code == 200 and b"rootpw --iscrypted" in body
    code, body = curl(boot, "/install/autoinst/other1")
    assert code == 403
    assert body == (b"Error: the answer file of other1 carries secrets and is served only to "
                    b"other1's own address\n")
    code, body = curl(boot, "/install/autoinst/other1", "--interface", "127.0.0.2")
    assert code == 200 and b"rootpw --iscrypted" in body
    assert curl(boot, "/install/autoinst/nosuch")[0] == 404


def test_ipxe_script_by_mac_and_by_address(boot):
    nodeset(boot, "self1", f"osimage={IMAGE}")
    code, body = curl(boot, "/xcatpy/v1/boot/ipxe/52:54:00:00:00:01")
    assert code == 200 and body.startswith(b"#!ipxe\n")
    assert b"/install/rhels8/x86_64/images/pxeboot/vmlinuz" in body
    assert curl(boot, "/xcatpy/v1/boot/ipxe?mac=52-54-00-00-00-01")[1] == body
    assert curl(boot, "/xcatpy/v1/boot/ipxe")[1] == body
    assert curl(boot, "/xcatpy/v1/boot/ipxe/52:54:00:00:99:99")[0] == 404
    assert curl(boot, "/xcatpy/v1/boot/ipxe/not-a-mac")[0] == 400


def test_callback_moves_install_to_local_boot(boot, tmp_path):
    nodeset(boot, "self1", f"osimage={IMAGE}")
    code, body = curl(boot, "/xcatpy/v1/boot/done")
    assert (code, body) == (200, b"self1: boot\n")
    assert state_of(boot, "self1") == "self1: boot"
    assert cli("nodels", "self1", "nodelist.status", state=boot.state).out.strip() == \
        "self1: booting"
    assert b"LOCALBOOT" in tftp_get(boot, "pxelinux.cfg/01-52-54-00-00-00-01", tmp_path)
    # Replayed: a booted node stays booted.
    assert curl(boot, "/xcatpy/v1/boot/done")[1] == b"self1: boot\n"


def test_callback_from_an_unknown_address_changes_nothing(boot):
    nodeset(boot, "other1", f"osimage={IMAGE}")
    code, body = curl(boot, "/xcatpy/v1/boot/done", "--interface", "127.0.0.3")
    assert code == 404 and body == b"Error: 127.0.0.3 is not the address of any node\n"
    assert state_of(boot, "other1") == f"other1: install {IMAGE}"


def test_install_monitor(boot):
    nodeset(boot, "self1", f"osimage={IMAGE}")
    assert monitor(boot, "installstatus installing") == "ok self1 installing"
    assert cli("nodels", "self1", "nodelist.status", state=boot.state).out.strip() == \
        "self1: installing"
    assert monitor(boot, "installstatus a;rm") == \
        "error expected 'installstatus <status>' or 'next'"
    assert monitor(boot, "installstatus partitioning", half_close=True) == \
        "ok self1 partitioning"
    assert monitor(boot, "next") == "ok self1 boot"
    assert state_of(boot, "self1") == "self1: boot"


def test_xenserver_answerfile_and_its_post_script(boot, tmp_path):
    nodeset(boot, "xs1", f"osimage={XS_IMAGE}")
    port = boot.ports["http_port"]
    code, body = curl(boot, "/install/autoinst/xs1", "--interface", "127.0.0.4",
                      "-H", "Accept: */*")
    assert code == 200 and body.startswith(b"<?xml")
    assert b'<installation mode="fresh"' in body
    assert f"http://127.0.0.1:{port}/install/autoinst/xs1?part=post".encode() in body
    code, post = curl(boot, "/install/autoinst/xs1?part=post", "--interface", "127.0.0.4")
    assert code == 200
    assert f"http://127.0.0.1:{port}/xcatpy/v1/boot/done".encode() in post
    assert curl(boot, "/install/autoinst/xs1?part=nosuch", "--interface", "127.0.0.4")[0] == 404
    text = tftp_get(boot, "pxelinux.cfg/01-52-54-00-00-00-04", tmp_path).decode()
    assert "KERNEL mboot.c32" in text and "dom0_mem=752M,max:752M" in text
