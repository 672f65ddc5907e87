"""Answer files that carry secrets (the root password hash) go to their own node's address
only, and what a node reports about its install (the HTTP callback, the install monitor)
changes that node only. The node is always the peer address of the connection, never a
name, parameter or header the caller sends.

Nodes: self1 at 127.0.0.1 (where these clients come from by default), other1 at 127.0.0.2,
xs1 (XenServer) at 127.0.0.4, noaddr1 with no address; 127.0.0.3 is no node's. curl binds
its source with --interface, sockets with bind(); loopback accepts any 127/8 source.
TFTP, pxelinux configs and iPXE scripts are served to anyone, so they must hold no secret.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess

import pytest

from tests.security.harness import TALLY, column, init_state, local, snapshot, start_daemon

pytestmark = pytest.mark.skipif(not all(shutil.which(c) for c in ("curl", "tftp")),
                                reason="needs curl and tftp-hpa")

IMAGE = "rhels8-x86_64-install-compute"
XS_IMAGE = "xenserver7-x86_64-install-xen"
BROKEN_IMAGE = "rhels8-x86_64-install-broken"
PASSWORD = "Cluster-Root-Pw-31337"
# A crypt(3) hash as the templates write it ($1$, $5$, $6$ ...), or the password itself.
SECRET = re.compile(rb"\$[156]\$[^\s<]+|" + re.escape(PASSWORD.encode()) + rb"|rootpw|"
                    rb"root-password")
MACS = {"self1": "52:54:00:00:00:01", "other1": "52:54:00:00:00:02",
        "xs1": "52:54:00:00:00:04", "noaddr1": "52:54:00:00:00:05"}


def tree(state, rel, data=b"x"):
    path = state / "install" / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


@pytest.fixture(scope="module")
def boot(tmp_path_factory):
    state = tmp_path_factory.mktemp("answers") / "state"
    init_state(state)
    tree(state, "rhels8/x86_64/images/pxeboot/vmlinuz")
    tree(state, "rhels8/x86_64/images/pxeboot/initrd.img")
    for rel in ("boot/vmlinuz", "boot/xen.gz", "install.img"):
        tree(state, f"xenserver7/x86_64/{rel}")
    local(state, "mkdef", "-t", "osimage", "-o", IMAGE, "osvers=rhels8", "osarch=x86_64",
          "profile=compute", "provmethod=install", "imagetype=linux", "osname=Linux")
    local(state, "mkdef", "-t", "osimage", "-o", XS_IMAGE, "osvers=xenserver7",
          "osarch=x86_64", "profile=xen", "provmethod=install", "imagetype=linux",
          "osname=Linux")
    local(state, "nodeadd", "self1", "groups=compute,all", f"mac.mac={MACS['self1']}",
          "hosts.ip=127.0.0.1")
    local(state, "nodeadd", "other1", "groups=compute,all", f"mac.mac={MACS['other1']}",
          "hosts.ip=127.0.0.2")
    local(state, "nodeadd", "noaddr1", "groups=compute,all", f"mac.mac={MACS['noaddr1']}")
    local(state, "nodeadd", "xs1", "groups=xen,all", f"mac.mac={MACS['xs1']}",
          "hosts.ip=127.0.0.4", "hypervisor.type=xen", "hypervisor.dom0mem=752M")
    local(state, "tabch", "key=system,username=root", f"passwd.password={PASSWORD}")
    local(state, "nodeset", "self1,other1,noaddr1", f"osimage={IMAGE}")
    local(state, "nodeset", "xs1", f"osimage={XS_IMAGE}")
    # An image whose template goes missing after nodeset: its answer file cannot render.
    local(state, "mkdef", "-t", "osimage", "-o", BROKEN_IMAGE, "osvers=rhels8",
          "osarch=x86_64", "profile=compute", "provmethod=install", "imagetype=linux",
          "osname=Linux")
    local(state, "nodeadd", "broken1", "groups=compute,all", "mac.mac=52:54:00:00:00:06",
          "hosts.ip=127.0.0.6")
    local(state, "nodeset", "broken1", f"osimage={BROKEN_IMAGE}")
    local(state, "chdef", "-t", "osimage", "-o", BROKEN_IMAGE,
          f"template={state}/no-such-dir/compute.tmpl")
    daemon = start_daemon(state)
    yield daemon
    daemon.stop()


def curl(boot, path, *opts, source="127.0.0.1"):
    url = f"http://127.0.0.1:{boot.ports['http_port']}{path}"
    p = subprocess.run(["curl", "-s", "-S", "--path-as-is", "-g", "--interface", source,
                        "-o", "-", "-w", "\n%{http_code}", "--max-time", "20", *opts, url],
                       capture_output=True, timeout=60)
    body, _, code = p.stdout.rpartition(b"\n")
    return int(code or b"0"), body


def raw_http(boot, request: bytes, source="127.0.0.1") -> tuple[int, bytes]:
    with socket.socket() as s:
        s.bind((source, 0))
        s.settimeout(20)
        s.connect(("127.0.0.1", boot.ports["http_port"]))
        s.sendall(request)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return (int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else 0), data


def monitor(boot, line: bytes, source="127.0.0.1") -> str:
    with socket.socket() as s:
        s.bind((source, 0))
        s.settimeout(20)
        s.connect(("127.0.0.1", boot.ports["monitor_port"]))
        s.sendall(line + b"\n")
        s.shutdown(socket.SHUT_WR)
        data = b""
        while chunk := s.recv(4096):
            data += chunk
    return data.decode(errors="replace").strip()


def other1_rows(state) -> dict:
    snap = snapshot(state)
    return {t: [r for r in rows if "other1" in r] for t, rows in snap.items()}


# -- answer files ------------------------------------------------------------------------------


def test_own_address_gets_its_answer_file_with_the_hash(boot):
    for node, source in (("self1", "127.0.0.1"), ("other1", "127.0.0.2")):
        code, body = curl(boot, f"/install/autoinst/{node}", source=source)
        assert code == 200 and re.search(rb"rootpw --iscrypted \$[156]\$", body), (node, body)
        assert PASSWORD.encode() not in body  # only the hash travels, never the password
    code, body = curl(boot, "/install/autoinst/xs1", source="127.0.0.4")
    assert code == 200 and b'<root-password type="hash">$' in body


ATTEMPTS = [
    "/install/autoinst/other1", "/install/autoinst/other%31", "/install/autoinst/%6fther1",
    "/install/autoinst/other1?part=", "/install/autoinst/other1?node=self1",
    "/install/autoinst/other1?part=post&part=", "/install//autoinst/other1",
    "/install/./autoinst/other1", "/install/autoinst/./other1", "/install/autoinst/other1/",
    "/install/autoinst//other1", "/install/autoinst/other1%00", "/install/autoinst/other1%2f",
    "/install/autoinst/OTHER1", "/install/autoinst/other1.", "/install/autoinst/%20other1",
    "/install/autoinst/self1/../other1", "/install/autoinst/self1%2f..%2fother1",
    "/tftpboot/autoinst/other1", "/install/autoinst/noaddr1", "/install/autoinst/xs1",
    "/install/autoinst/xs1?part=", "/xcatpy/v1/boot/../../install/autoinst/other1",
]
HEADERS = [(), ("-H", "X-Forwarded-For: 127.0.0.2"), ("-H", "X-Real-IP: 127.0.0.2"),
           ("-H", "Forwarded: for=127.0.0.2"), ("-H", "Host: 127.0.0.2"),
           ("-H", "Client-IP: 127.0.0.2"), ("-I",)]


@pytest.mark.parametrize("source", ["127.0.0.1", "127.0.0.3"])
def test_answer_files_with_secrets_from_another_address_are_refused(boot, source):
    refused_codes = []
    for path in ATTEMPTS:
        for opts in HEADERS:
            code, body = curl(boot, path, *opts, source=source)
            refused = code >= 400 and not SECRET.search(body)
            TALLY.record("answer file: secrets asked from another address", refused)
            assert refused, (source, path, opts, code, body[:300])
            refused_codes.append(code)
    # The plain ask names the rule, and says nothing of the content.
    code, body = curl(boot, "/install/autoinst/other1", source=source)
    assert (code, body) == (403, b"Error: the answer file of other1 carries secrets and is "
                                 b"served only to other1's own address\n")
    print(f"\nanswer files from {source}: {len(refused_codes)} attempts refused "
          f"({refused_codes.count(403)} x 403, {refused_codes.count(404)} x 404)")


def test_raw_requests_cannot_claim_another_address(boot):
    requests = [
        b"GET http://127.0.0.2/install/autoinst/other1 HTTP/1.1\r\nHost: 127.0.0.2\r\n"
        b"Connection: close\r\n\r\n",
        b"GET /install/autoinst/other1 HTTP/1.0\r\nX-Forwarded-For: 127.0.0.2\r\n\r\n",
        b"GET /install/autoinst/other1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        b"Forwarded: for=\"127.0.0.2\"\r\n\r\n",
        b"GET /install/autoinst/other1\r\n\r\n",
        b"POST /install/autoinst/other1 HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
        b"Connection: close\r\n\r\nnode",
    ]
    for request in requests:
        for source in ("127.0.0.1", "127.0.0.3"):
            code, data = raw_http(boot, request, source)
            refused = not SECRET.search(data)
            TALLY.record("answer file: secrets asked from another address", refused)
            assert refused, (request, source, data[:300])
            assert code in (0, 400, 403, 404, 405), (request, code, data[:200])


def test_a_node_without_an_address_gets_its_secret_answer_file_nowhere(boot):
    for source in ("127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.5"):
        code, body = curl(boot, "/install/autoinst/noaddr1", source=source)
        TALLY.record("answer file: secrets asked from another address",
                     code == 403 and not SECRET.search(body))
        assert code == 403 and not SECRET.search(body), (source, code, body)


def test_what_anyone_may_fetch_holds_no_secret(boot, tmp_path):
    """iPXE scripts, pxelinux configs and the XenServer post script are per node but not
    secret: any address may fetch another node's, so none may print the hash."""
    fetched = []
    for node, mac in MACS.items():
        fetched.append(curl(boot, f"/xcatpy/v1/boot/ipxe/{mac}", source="127.0.0.3"))
        fetched.append(curl(boot, f"/xcatpy/v1/boot/ipxe?mac={mac}", source="127.0.0.3"))
        out = tmp_path / node
        p = subprocess.run(["tftp", "127.0.0.1", str(boot.ports["tftp_port"]), "-m", "binary",
                            "-c", "get", f"pxelinux.cfg/01-{mac.replace(':', '-')}",
                            str(out)], capture_output=True, timeout=60)
        fetched.append((p.returncode, out.read_bytes() if out.exists() else b""))
    fetched.append(curl(boot, "/install/autoinst/xs1?part=post", source="127.0.0.3"))
    for name in ("autoinst/other1", "install/autoinst/other1", "/install/autoinst/other1"):
        out = tmp_path / "tftp-answer"
        out.unlink(missing_ok=True)
        p = subprocess.run(["tftp", "127.0.0.1", str(boot.ports["tftp_port"]), "-m", "binary",
                            "-c", "get", name, str(out)], capture_output=True, timeout=60)
        got = out.read_bytes() if out.exists() else b""
        TALLY.record("answer file: secrets asked from another address", got == b"")
        assert b"Error code 1" in p.stdout + p.stderr and got == b"", name
    assert any(b"#!ipxe" in body for _, body in fetched)
    for _, body in fetched:
        assert not SECRET.search(body), body[:400]


# -- the install callback and the install monitor ---------------------------------------------


def test_callback_and_monitor_cannot_act_for_another_node(boot):
    state = boot.state
    local(state, "nodeset", "other1", f"osimage={IMAGE}")
    before_other = other1_rows(state)
    attempts = 0

    def unchanged(label):
        nonlocal attempts
        attempts += 1
        ok = other1_rows(state) == before_other
        TALLY.record("install callback/monitor for another node", ok)
        assert ok, label

    # From an address that is no node's: nothing at all may change.
    before = snapshot(state)
    for opts in ((), ("-X", "POST"), ("-X", "POST", "--data", "node=other1"),
                 ("-H", "X-Forwarded-For: 127.0.0.2"), ("-H", "Host: 127.0.0.2")):
        for path in ("/xcatpy/v1/boot/done", "/xcatpy/v1/boot/done?node=other1",
                     "/xcatpy/v1/boot/done/other1"):
            code, body = curl(boot, path, *opts, source="127.0.0.3")
            assert code == 404 and b"other1" not in body, (path, opts, code, body)
            unchanged((path, opts))
    for line in (b"next", b"installstatus installed", b"next other1",
                 b"installstatus installed other1", b"other1 next",
                 b"installstatus other1:installed"):
        answer = monitor(boot, line, source="127.0.0.3")
        assert answer.startswith("error"), (line, answer)
        unchanged(line)
    assert snapshot(state) == before

    # From self1's own address, naming other1 every way: only self1 may move.
    for path, opts in (("/xcatpy/v1/boot/done?node=other1", ()),
                       ("/xcatpy/v1/boot/done", ("-H", "X-Forwarded-For: 127.0.0.2")),
                       ("/xcatpy/v1/boot/done", ("-X", "POST", "--data", "node=other1"))):
        local(state, "nodeset", "self1", f"osimage={IMAGE}")
        code, body = curl(boot, path, *opts, source="127.0.0.1")
        assert (code, body) == (200, b"self1: boot\n"), (path, opts, body)
        unchanged((path, opts))
    for line in (b"next other1", b"installstatus installing other1",
                 b"installstatus $(reboot)", b"installstatus a;b", b"installstatus `id`",
                 b"installstatus other1 installed", b"next\x00other1",
                 b"installstatus \xff\xfe", b"next\rnext other1"):
        answer = monitor(boot, line, source="127.0.0.1")
        assert answer.startswith("error expected"), (line, answer)
        unchanged(line)
    assert column(state, "other1", "chain.currstate") == f"install {IMAGE}"
    print(f"\ncallback and monitor: {attempts} attempts for other1, none changed it")

    # The positive control: other1's own address does move other1.
    assert monitor(boot, b"installstatus installing", source="127.0.0.2") == \
        "ok other1 installing"
    code, body = curl(boot, "/xcatpy/v1/boot/done", source="127.0.0.2")
    assert (code, body) == (200, b"other1: boot\n")
    assert column(state, "other1", "chain.currstate") == "boot"


def test_why_an_answer_file_cannot_render_is_told_only_to_its_node(boot):
    # The reason names paths on the head node; another address learns only that it failed.
    code, body = curl(boot, "/install/autoinst/broken1", source="127.0.0.6")
    assert code == 500 and b"no-such-dir" in body, body
    for source in ("127.0.0.1", "127.0.0.2", "127.0.0.7"):
        code, body = curl(boot, "/install/autoinst/broken1", source=source)
        refused = code == 500 and b"no-such-dir" not in body and b"/" not in body
        TALLY.record("answer file: render error details asked from another address", refused)
        assert refused, (source, code, body)
        assert body == (b"Error: the answer file of broken1 cannot be rendered; the reason "
                        b"is in xcatd's log\n"), body
