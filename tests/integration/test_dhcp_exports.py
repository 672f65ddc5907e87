"""The DHCP exports against the real servers: ISC dhcpd, Kea (kea-dhcp4) and dnsmasq.

Each export must pass the program's own configuration check (`dhcpd -t`, `kea-dhcp4 -t`,
`dnsmasq --test`), and a deliberately broken copy must fail the same check, so a pass means
something. Then each server runs on the export in a private network namespace and answers
DHCPDISCOVERs from a second namespace: reserved addresses (both MACs of a two-MAC node) and
the boot file for a BIOS ROM, a UEFI ROM and iPXE. dnsmasq also picks up a new node's file
while it runs.
"""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.netns import stop_process
from tests.integration import dhcpnet
from xcatpy.net.exports import export_dhcp
from xcatpy.net.networks import load_networks

SERVER_ADDR = dhcpnet.SERVER_ADDR
IPXE_URL = f"http://{SERVER_ADDR}:8080/xcatpy/v1/boot/ipxe"
N1_MACS = ("52:54:00:77:00:01", "52:54:00:77:00:02")
NODES = [  # mac, node, ip, hostname
    (N1_MACS[0], "n1", "10.77.0.11", "n1"),
    (N1_MACS[1], "n1", "10.77.0.11", "n1"),
    ("52:54:00:77:00:03", "n2", "10.77.0.12", "n2"),
    ("52:54:00:78:00:04", "n3", "10.78.0.13", "n3"),
    ("52:54:00:78:00:05", "n3", "10.78.0.113", "n3-bmc"),
]


def need(program: str) -> str:
    path = shutil.which(program) or shutil.which(program, path="/usr/sbin:/sbin")
    if path is None:
        pytest.skip(f"{program} is not installed")
    return path


@pytest.fixture
def tables(run, store):
    """Two networks, four nodes' reservations (n1 with two MACs), a site as makedhcp sees it."""
    for key, value in (("domain", "cluster.test"), ("dhcplease", "600"),
                       ("master", SERVER_ADDR), ("httpport", "8080")):
        assert run("tabch", f"key={key}", f"site.value={value}").rc == 0
    assert run("tabch", "net=10.77.0.0,mask=255.255.255.0", "networks.netname=prov",
               "networks.mgtifname=eth1", "networks.gateway=<xcatmaster>",
               "networks.nameservers=<xcatmaster>",
               "networks.dynamicrange=10.77.0.200-10.77.0.220").rc == 0
    assert run("tabch", "net=10.78.0.0,mask=255.255.0.0", "networks.netname=bmc",
               "networks.mgtifname=eth2", "networks.gateway=10.78.255.254",
               "networks.tftpserver=10.78.0.1").rc == 0
    store.begin()
    store.upsert_rows("dhcpreservation", [dict(zip(("mac", "node", "ip", "hostname"), row,
                                                   strict=True)) for row in NODES])
    store.commit()
    return store


def export(store, backend: str, outdir: Path, **kw) -> list[Path]:
    site = {r["key"]: r["value"] for r in store.rows("site")}
    return export_dhcp(backend, store.rows("dhcpreservation"), load_networks(store), site,
                       outdir, local_addresses=[], **kw)


def check(argv: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


# -- ISC dhcpd -----------------------------------------------------------------------------

def isc_conf(tmp_path: Path, subnets: Path, hosts: Path, name="dhcpd.conf") -> Path:
    conf = tmp_path / name
    # The admin's own name for option 93 must not clash with the export's.
    conf.write_text("option arch code 93 = unsigned integer 16;\nauthoritative;\n"
                    f'include "{subnets}";\ninclude "{hosts}";\n')
    return conf


def test_isc_export_passes_dhcpd_t_and_a_broken_one_fails(tables, tmp_path):
    dhcpd = need("dhcpd")
    out = tmp_path / "dhcp"
    export(tables, "isc", out)
    subnets, hosts = out / "xcatpy-subnets.conf", out / "xcatpy-hosts.conf"
    p = check([dhcpd, "-t", "-4", "-cf", str(isc_conf(tmp_path, subnets, hosts))])
    assert p.returncode == 0, p.stderr
    assert len(re.findall(r"^host ", hosts.read_text(), re.M)) == 5

    broken = tmp_path / "broken-hosts.conf"
    broken.write_text(hosts.read_text().replace("fixed-address 10.77.0.12;",
                                                "fixed-address 10.77.0.12"))
    p = check([dhcpd, "-t", "-4", "-cf", str(isc_conf(tmp_path, subnets, broken, "b.conf"))])
    assert p.returncode != 0 and f"{broken} line" in p.stderr
    # Why declarations get unique names: dhcpd refuses a second `host n1`.
    twice = tmp_path / "twice.conf"
    twice.write_text(hosts.read_text().replace("host n1-525400770002 {", "host n1 {"))
    p = check([dhcpd, "-t", "-4", "-cf", str(isc_conf(tmp_path, subnets, twice, "t.conf"))])
    assert p.returncode != 0 and "host n1: already exists" in p.stderr


# -- Kea -------------------------------------------------------------------------------------

def kea_conf(tmp_path: Path, out: Path, *, unique: bool = False, interfaces=(),
             name="kea-dhcp4.conf", subnets: Path | None = None) -> Path:
    conf = tmp_path / name
    extra = '' if unique else '"ip-reservations-unique": false,'
    conf.write_text(f"""{{"Dhcp4": {{
  "interfaces-config": {{"interfaces": {json.dumps(list(interfaces))}}},
  "lease-database": {{"type": "memfile", "persist": false}},
  {extra}
  "client-classes": <?include "{out / 'xcatpy-client-classes.json'}"?>,
  "subnet4": <?include "{subnets or out / 'xcatpy-subnet4.json'}"?>,
  "loggers": [{{"name": "kea-dhcp4", "severity": "INFO",
               "output_options": [{{"output": "{tmp_path / 'kea.log'}"}}]}}]
}}}}
""")
    return conf


def kea_env(tmp_path: Path) -> dict:
    run_dir = tmp_path / "kea-run"
    run_dir.mkdir(exist_ok=True)
    return dict(os.environ, KEA_PIDFILE_DIR=str(run_dir), KEA_LOCKFILE_DIR=str(run_dir))


def test_kea_export_passes_kea_dhcp4_t_and_a_broken_one_fails(tables, tmp_path):
    kea = need("kea-dhcp4")
    out = tmp_path / "dhcp"
    export(tables, "kea", out)
    env = kea_env(tmp_path)
    p = subprocess.run([kea, "-t", str(kea_conf(tmp_path, out))], capture_output=True,
                       text=True, env=env, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    # What the header of the file says: two MACs on one address need this setting.
    p = subprocess.run([kea, "-t", str(kea_conf(tmp_path, out, unique=True, name="u.conf"))],
                       capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode != 0 and "already a reservation for this address" in p.stdout + p.stderr

    broken = tmp_path / "broken-subnet4.json"
    broken.write_text((out / "xcatpy-subnet4.json").read_text().rstrip().rstrip("]"))
    p = subprocess.run([kea, "-t", str(kea_conf(tmp_path, out, name="b.conf",
                                                subnets=broken))],
                       capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode != 0


# -- dnsmasq ---------------------------------------------------------------------------------

def dnsmasq_test_conf(tmp_path: Path, out: Path, hostsdir: Path, name="t.conf") -> Path:
    """dnsmasq --test does not read a dhcp-hostsdir, so the host files' lines are checked as
    the dhcp-host options they are the syntax of."""
    conf = tmp_path / name
    lines = [f"conf-file={out / 'xcatpy-dnsmasq.conf'}"]
    for f in sorted(hostsdir.iterdir()):
        lines += [f"dhcp-host={line}" for line in f.read_text().splitlines()]
    conf.write_text("\n".join(lines) + "\n")
    return conf


def test_dnsmasq_export_passes_dnsmasq_test_and_a_broken_one_fails(tables, tmp_path):
    dnsmasq = need("dnsmasq")
    out = tmp_path / "dhcp"
    export(tables, "dnsmasq", out)
    hostsdir = out / "xcatpy-hosts.d"
    assert sorted(p.name for p in hostsdir.iterdir()) == ["n1", "n2", "n3"]
    p = check([dnsmasq, "--test", "-C", str(dnsmasq_test_conf(tmp_path, out, hostsdir))])
    assert p.returncode == 0, p.stderr
    assert "syntax check OK" in p.stderr

    bad_hosts = tmp_path / "bad-hosts"
    bad_hosts.mkdir()
    (bad_hosts / "n2").write_text("52:54:00:77:zz:03,10.77.0.12,n2\n")
    p = check([dnsmasq, "--test", "-C", str(dnsmasq_test_conf(tmp_path, out, bad_hosts,
                                                              "b.conf"))])
    assert p.returncode != 0 and "bad hex constant" in p.stderr
    bad_conf = tmp_path / "bad.conf"
    bad_conf.write_text((out / "xcatpy-dnsmasq.conf").read_text().replace(
        ",static,", ",statik,"))
    p = check([dnsmasq, "--test", "-C", str(bad_conf)])
    assert p.returncode != 0 and "bad dhcp-range" in p.stderr


# -- the servers answering, in network namespaces ---------------------------------------------

PROBE = r"""
import json, os, socket, struct, sys, time
ifname, mac, arch, userclass = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
xid = int.from_bytes(os.urandom(4), "big")
chaddr = bytes.fromhex(mac.replace(":", "")).ljust(16, b"\0")
# BOOTREQUEST with the broadcast flag, so the answer comes back to 255.255.255.255:68.
packet = struct.pack("!BBBBIHH16s16s64s128s", 1, 1, 6, 0, xid, 0, 0x8000, b"\0" * 16,
                     chaddr, b"", b"") + b"\x63\x82\x53\x63" + bytes([53, 1, 1])
if arch != "-":
    packet += bytes([93, 2]) + struct.pack("!H", int(arch))
if userclass != "-":
    packet += bytes([77, len(userclass)]) + userclass.encode()
packet += bytes([55, 3, 1, 3, 6, 255])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, ifname.encode())
s.bind(("0.0.0.0", 68))
s.settimeout(0.5)
deadline = time.monotonic() + 30
while time.monotonic() < deadline:  # until the server has started and answers
    s.sendto(packet, ("255.255.255.255", 67))
    try:
        while True:
            data = s.recv(4096)
            if len(data) > 240 and data[0] == 2 and data[4:8] == xid.to_bytes(4, "big"):
                print(json.dumps({"ip": socket.inet_ntoa(data[16:20]),
                                  "next_server": socket.inet_ntoa(data[20:24]),
                                  "file": data[108:236].split(b"\0")[0].decode()}))
                sys.exit(0)
    except socket.timeout:
        pass
sys.exit("no DHCPOFFER")
"""


@pytest.fixture(scope="module")
def wire():
    """The DHCP tests' namespaces: server (veth 10.77.0.1/24) wired to client (no address)."""
    if os.geteuid() != 0 or not shutil.which("ip"):
        pytest.skip("needs root and iproute2 to make network namespaces")
    reason = dhcpnet.netns_permitted()
    if reason:
        pytest.skip(reason)
    with dhcpnet.VethNamespaces(prefix="xdx") as ns:
        yield ns.server, dhcpnet.SERVER_IF, ns.client, dhcpnet.CLIENT_IF


class Server:
    """A DHCP server started in a namespace; stopped by its own PID."""

    def __init__(self, ns: str, argv: list[str], log: Path, env: dict | None = None) -> None:
        self.log = log
        self.proc = subprocess.Popen(["ip", "netns", "exec", ns, *argv], env=env,
                                     stdout=open(log, "w"), stderr=subprocess.STDOUT)

    def stop(self) -> None:
        stop_process(self.proc)


def discover(wire, mac: str, arch: str = "-", userclass: str = "-") -> dict:
    _, _, cli, cli_if = wire
    p = subprocess.run(["ip", "netns", "exec", cli, sys.executable, "-c", PROBE, cli_if, mac,
                        arch, userclass], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def assert_answers(wire, server: Server) -> None:
    try:
        bios = discover(wire, N1_MACS[0], "0")
        efi = discover(wire, N1_MACS[1], "7")
        ipxe = discover(wire, "52:54:00:77:00:03", "0", "iPXE")
        stranger = discover(wire, "52:54:00:77:99:99", "9")
    except AssertionError:
        raise AssertionError(server.log.read_text()[-3000:]) from None
    assert bios == {"ip": "10.77.0.11", "next_server": SERVER_ADDR, "file": "pxelinux.0"}
    assert efi == {"ip": "10.77.0.11", "next_server": SERVER_ADDR, "file": "ipxe.efi"}
    assert (ipxe["ip"], ipxe["file"]) == ("10.77.0.12", IPXE_URL)
    # Not reserved: an address from the dynamic range, still told where to boot from.
    assert re.fullmatch(r"10\.77\.0\.2[0-2]\d", stranger["ip"]) and stranger["file"] == "ipxe.efi"


def test_dhcpd_serves_the_export(tables, tmp_path, wire):
    dhcpd = need("dhcpd")
    srv, srv_if, _, _ = wire
    out = tmp_path / "dhcp"
    export(tables, "isc", out)
    leases = tmp_path / "dhcpd.leases"
    leases.touch()
    conf = isc_conf(tmp_path, out / "xcatpy-subnets.conf", out / "xcatpy-hosts.conf")
    server = Server(srv, [dhcpd, "-f", "-d", "-4", "-cf", str(conf), "-lf", str(leases),
                          "-pf", str(tmp_path / "dhcpd.pid"), srv_if], tmp_path / "dhcpd.log")
    try:
        assert_answers(wire, server)
    finally:
        server.stop()


def test_kea_serves_the_export(tables, tmp_path, wire):
    kea = need("kea-dhcp4")
    srv, srv_if, _, _ = wire
    out = tmp_path / "dhcp"
    export(tables, "kea", out)
    conf = kea_conf(tmp_path, out, interfaces=[srv_if])
    server = Server(srv, [kea, "-c", str(conf)], tmp_path / "kea.out", env=kea_env(tmp_path))
    try:
        assert_answers(wire, server)
    finally:
        server.stop()


def test_dnsmasq_serves_the_export_and_reads_new_hosts_by_itself(run, tables, tmp_path, wire):
    dnsmasq = need("dnsmasq")
    srv, srv_if, _, _ = wire
    out = tmp_path / "dhcp"
    export(tables, "dnsmasq", out)
    log = tmp_path / "dnsmasq.log"
    server = Server(srv, [dnsmasq, "--keep-in-foreground", "--port=0",
                          f"--conf-file={out / 'xcatpy-dnsmasq.conf'}", f"--interface={srv_if}",
                          "--bind-interfaces", "--user=root", "--group=root",
                          f"--dhcp-leasefile={tmp_path / 'leases'}",
                          f"--pid-file={tmp_path / 'dnsmasq.pid'}", f"--log-facility={log}"],
                    tmp_path / "dnsmasq.out")
    try:
        assert_answers(wire, server)
        tables.begin()
        tables.upsert_rows("dhcpreservation", [{"mac": "52:54:00:77:00:44", "node": "n4",
                                                "ip": "10.77.0.44", "hostname": "n4"}])
        tables.commit()
        written = export(tables, "dnsmasq", out, changed_nodes={"n4"})
        assert written == [out / "xcatpy-hosts.d" / "n4"]
        assert discover(wire, "52:54:00:77:00:44", "0")["ip"] == "10.77.0.44"
        assert f"inotify: {out / 'xcatpy-hosts.d' / 'n4'} new or modified" in log.read_text()
    finally:
        server.stop()
