"""The embedded DHCP service against real clients, in network namespaces made here.

    busybox udhcpc, ISC dhclient   --veth-->   DhcpService (dhcpserver_harness.py)
    QEMU's iPXE ROM (TCG, e1000)   --tap--->   DhcpService, + dnsmasq for proxyDHCP

The service runs alone in a subprocess on a state directory prepared with the commands
(`nodeadd`, `tabch`) and dhcpreservation rows written as makedhcp writes them. Skipped
only where `ip netns add` is not permitted (CI runs as root); the QEMU tests also need
qemu-system-x86 and ipxe-qemu.
"""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.integration import dhcpnet
from tests.integration.dhcpnet import (
    CLIENT_IF,
    SERVER_ADDR,
    DhcpHarness,
    VethNamespaces,
    env_script,
    read_env,
)
from xcatpy.db.store import Store

NODE_MAC = "52:54:00:aa:00:01"
STRANGER = "52:54:00:ff:00:01"
NODE_IP = "10.77.0.21"
HTTP_PORT = 8080

_reason = dhcpnet.netns_permitted() if os.geteuid() == 0 else "needs root (network namespaces)"
pytestmark = pytest.mark.skipif(_reason is not None, reason=str(_reason))


@pytest.fixture(scope="module")
def nets():
    with VethNamespaces() as namespaces:
        yield namespaces


def reserve(store: Store, mac: str, node: str, ip: str, hostname: str | None = None) -> None:
    store.begin()
    store.upsert_rows("dhcpreservation", [{"mac": mac, "node": node, "ip": ip,
                                           "hostname": hostname or node}])
    store.commit()


@pytest.fixture
def cluster(run, store):
    """One node with a reservation on the veth's network."""
    assert run("nodeadd", "n1", "groups=compute", f"mac.mac={NODE_MAC}",
               f"hosts.ip={NODE_IP}").rc == 0
    assert run("tabch", "net=10.77.0.0,mask=255.255.255.0", "networks.netname=prov",
               "networks.gateway=<xcatmaster>", "networks.domain=cluster.test",
               "networks.nameservers=<xcatmaster>").rc == 0
    reserve(store, NODE_MAC, "n1", NODE_IP, "n1")
    return store


@pytest.fixture
def service(nets, state_dir, tmp_path):
    harnesses = []

    def start(**kw) -> DhcpHarness:
        h = DhcpHarness(nets.in_server, state_dir, tmp_path / "dhcpd", http_port=HTTP_PORT,
                        **kw).start()
        harnesses.append(h)
        return h

    yield start
    for h in harnesses:
        h.stop()


def udhcpc(nets, tmp_path, mac, *extra, tries="3") -> tuple[subprocess.CompletedProcess, dict]:
    nets.set_client_mac(mac)
    script, out = env_script(tmp_path, f"udhcpc-{mac.replace(':', '')}")
    result = nets.run(nets.client, "busybox", "udhcpc", "-i", CLIENT_IF, "-s", str(script),
                      "-q", "-n", "-f", "-t", tries, "-T", "1", "-A", "1", *extra, timeout=60)
    return result, read_env(Path(f"{out}.bound"))


def test_udhcpc_gets_the_reserved_address_hostname_and_boot_file(nets, cluster, service,
                                                                  tmp_path):
    h = service()
    assert h.info["interfaces"] == [dhcpnet.SERVER_IF]
    result, env = udhcpc(nets, tmp_path, NODE_MAC)
    assert result.returncode == 0, result.stderr + h.log_text()
    assert env["ip"] == NODE_IP
    assert env["hostname"] == "n1"
    assert env["subnet"] == "255.255.255.0"
    assert env["router"] == SERVER_ADDR and env["dns"] == SERVER_ADDR
    assert env["domain"] == "cluster.test"
    assert env["serverid"] == SERVER_ADDR and env["lease"] == "43200"
    assert env["boot_file"] == "pxelinux.0" and env["siaddr"] == SERVER_ADDR
    assert f"DHCPACK {NODE_IP} to {NODE_MAC} (node n1) on dhs0 boot pxelinux.0" in h.log_text()


def test_dhclient_gets_the_reserved_address_and_boot_file(nets, cluster, service, tmp_path):
    h = service()
    nets.set_client_mac(NODE_MAC)
    script, out = env_script(tmp_path, "dhclient")
    # -d: stay in the foreground (a daemonized dhclient would outlive the test); it is
    # stopped by its PID once it has reported BOUND.
    proc = nets.popen(nets.client, "dhclient", "-d", "-1", "-v", "-cf", "/dev/null",
                      "-sf", str(script), "-lf", str(tmp_path / "dhclient.leases"),
                      "-pf", str(tmp_path / "dhclient.pid"), CLIENT_IF,
                      stdout=subprocess.DEVNULL, stderr=open(tmp_path / "dhclient.err", "w"))
    bound = Path(f"{out}.BOUND")
    deadline = time.monotonic() + 60
    while not bound.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    dhcpnet.stop_process(proc)
    env = read_env(bound)
    assert env, (tmp_path / "dhclient.err").read_text() + h.log_text()
    assert env["new_ip_address"] == NODE_IP
    assert env["new_host_name"] == "n1"
    assert env["new_filename"] == "pxelinux.0"
    assert env["new_next_server"] == SERVER_ADDR
    assert env["new_routers"] == SERVER_ADDR
    assert env["new_domain_name"] == "cluster.test"


def test_unknown_mac_without_dynamic_range_gets_nothing(nets, cluster, service, tmp_path):
    h = service()
    result, env = udhcpc(nets, tmp_path, STRANGER, tries="2")
    assert result.returncode != 0 and env == {}
    stats = h.stats()
    assert stats["DHCPDISCOVER"] >= 1 and "DHCPOFFER sent" not in stats
    assert STRANGER not in h.log_text()


def test_dynamic_range_gives_a_lease_that_is_persisted(nets, cluster, run, service, tmp_path):
    assert run("tabch", "net=10.77.0.0,mask=255.255.255.0",
               "networks.dynamicrange=10.77.0.100-10.77.0.110").rc == 0
    service()
    result, env = udhcpc(nets, tmp_path, STRANGER, "-x", "hostname:guest1")
    assert result.returncode == 0, result.stderr
    leased = env["ip"]
    assert 100 <= int(leased.rsplit(".", 1)[1]) <= 110
    assert "hostname" not in env              # no reservation, no host name given

    def row():
        return {r["mac"]: r for r in Store.open(cluster.state_dir).rows("dhcplease")}.get(
            STRANGER)

    deadline = time.monotonic() + 10
    while row() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    lease = row()
    assert lease is not None and lease["ip"] == leased and lease["hostname"] == "guest1"
    assert int(lease["expires"]) > time.time() + 43000
    # The same client asking again keeps its address.
    _, again = udhcpc(nets, tmp_path, STRANGER)
    assert again["ip"] == leased


def test_reservation_written_by_another_process_is_served(nets, cluster, service, tmp_path):
    h = service()
    result, _ = udhcpc(nets, tmp_path, STRANGER, tries="1")
    assert result.returncode != 0
    other = Store.open(cluster.state_dir)   # as makedhcp in bypass mode writes it
    try:
        reserve(other, STRANGER, "n9", "10.77.0.99")
    finally:
        other.close()
    result, env = udhcpc(nets, tmp_path, STRANGER, tries="5")
    assert result.returncode == 0, h.log_text()
    assert env["ip"] == "10.77.0.99" and env["hostname"] == "n9"


def test_ipxe_client_gets_the_script_url(nets, cluster, run, service, tmp_path):
    assert run("nodech", "n1", "noderes.netboot=xnba").rc == 0
    service()
    result, env = udhcpc(nets, tmp_path, NODE_MAC, "-V", "PXEClient:Arch:00000:UNDI:002001",
                         "-x", "0x4d:69505845", "-x", "0x5d:0000")
    assert result.returncode == 0, result.stderr
    assert env["boot_file"] == (f"http://{SERVER_ADDR}:{HTTP_PORT}/xcatpy/v1/boot/ipxe/"
                                f"52-54-00-aa-00-01")
    # The same node's firmware (not yet iPXE) gets the iPXE program for BIOS.
    result, env = udhcpc(nets, tmp_path, NODE_MAC, "-V", "PXEClient:Arch:00000:UNDI:002001",
                         "-x", "0x5d:0000")
    assert env["boot_file"] == "undionly.kpxe"


def test_interfaces_from_site_dhcpinterfaces(nets, cluster, run, service, tmp_path):
    assert run("tabch", "key=dhcpinterfaces", "site.value=otherhost|eth7;dhs0").rc == 0
    h = service(interfaces=None)
    assert h.info["interfaces"] == ["dhs0"]
    result, env = udhcpc(nets, tmp_path, NODE_MAC)
    assert env.get("ip") == NODE_IP


def test_nothing_configured_answers_nothing(nets, cluster, service, tmp_path):
    h = service(interfaces=None)
    assert h.info["interfaces"] == []
    result, env = udhcpc(nets, tmp_path, NODE_MAC, tries="1")
    assert result.returncode != 0 and env == {}
    assert "not answering DHCP on any network" in h.log_text()


# -- QEMU's iPXE ROM ----------------------------------------------------------------------

E1000_ROMS = [Path(d, "efi-e1000.rom") for d in ("/usr/share/qemu", "/usr/lib/ipxe/qemu")]
_qemu = shutil.which("qemu-system-x86_64") and any(r.exists() for r in E1000_ROMS) and \
    Path("/dev/net/tun").exists()
needs_qemu = pytest.mark.skipif(not _qemu, reason="needs qemu-system-x86_64 (qemu-system-x86), "
                                "the e1000 iPXE ROM (ipxe-qemu) and /dev/net/tun")
VM_MAC = "52:54:00:12:34:56"
VM_IP = "10.99.0.10"


@pytest.fixture
def vm_net(run, store, tmp_path):
    """A namespace with a tap for QEMU, the probe that records what the VM fetches, and
    dnsmasq sending router advertisements (iPXE waits ~15 s for IPv6 without them)."""
    from tests.e2e.netns import HEAD_ADDR, TAP, Netns

    assert run("nodeadd", "vm1", "groups=compute", f"mac.mac={VM_MAC}",
               f"hosts.ip={VM_IP}").rc == 0
    assert run("tabch", "net=10.99.0.0,mask=255.255.255.0", "networks.netname=vm").rc == 0
    reserve(store, VM_MAC, "vm1", VM_IP)
    with Netns(f"xcpdhcpvm-{os.getpid()}") as ns:
        ns.popen(sys.executable, str(Path(dhcpnet.REPO, "tests/integration/dhcp_bootprobe.py")),
                 "--address", HEAD_ADDR, "--http-port", str(HTTP_PORT),
                 "--out", str(tmp_path / "fetched"))
        ns.dnsmasq = lambda *extra: ns.popen(
            "dnsmasq", "--keep-in-foreground", "--port=0", "--conf-file=/dev/null",
            f"--interface={TAP}", "--bind-interfaces", "--user=root", "--group=root",
            f"--pid-file={tmp_path / 'dnsmasq.pid'}", f"--log-facility={tmp_path}/dnsmasq.log",
            f"--dhcp-leasefile={tmp_path / 'dnsmasq.leases'}", "--log-dhcp",
            *(["--enable-ra", f"--dhcp-range=::,constructor:{TAP},ra-only"] if ns.ipv6
              else []), *extra)
        yield ns


def boot_vm(ns, store, tmp_path, *, dnsmasq: tuple = ()) -> tuple[str, str, DhcpHarness]:
    from tests.e2e.netns import TAP
    from tests.e2e.qemu import Qemu

    if ns.ipv6 or dnsmasq:
        ns.dnsmasq(*dnsmasq)
    h = DhcpHarness(ns.popen, store.state_dir, tmp_path / "dhcpd", interfaces=[TAP],
                    http_port=HTTP_PORT).start()
    vm = Qemu(ns, tmp_path, VM_MAC).start()
    try:
        # The guest gives up at once when the probe refuses the file, then SeaBIOS finds
        # nothing to boot and -no-reboot ends QEMU: this is a hang guard, not a target.
        vm.wait(180)
    finally:
        vm.stop()
        h.stop()
    fetched = tmp_path / "fetched"
    return (fetched.read_text() if fetched.exists() else ""), vm.serial(), h


@needs_qemu
def test_ipxe_rom_is_given_pxelinux_and_fetches_it_over_tftp(vm_net, store, tmp_path):
    fetched, serial, h = boot_vm(vm_net, store, tmp_path)
    assert "tftp pxelinux.0" in fetched.splitlines(), serial + h.log_text()
    assert f"DHCPACK {VM_IP} to {VM_MAC} (node vm1) on tap0 boot pxelinux.0" in h.log_text()
    assert f"net0: {VM_IP}/255.255.255.0" in serial


@needs_qemu
def test_ipxe_rom_of_an_xnba_node_is_given_the_script_url(vm_net, run, store, tmp_path):
    assert run("nodech", "vm1", "noderes.netboot=xnba").rc == 0
    fetched, serial, h = boot_vm(vm_net, store, tmp_path)
    path = "/xcatpy/v1/boot/ipxe/52-54-00-12-34-56"
    assert f"http {path}" in fetched.splitlines(), serial + h.log_text()
    assert f"boot http://10.99.0.1:{HTTP_PORT}{path}" in h.log_text()


@needs_qemu
def test_proxy_dhcp_boots_a_vm_addressed_by_another_server(vm_net, run, store, tmp_path):
    assert run("tabch", "key=dhcpmode", "site.value=proxy").rc == 0
    fetched, serial, h = boot_vm(vm_net, store, tmp_path, dnsmasq=(
        "--dhcp-range=10.99.0.100,10.99.0.150,255.255.255.0,1h",))
    assert "tftp pxelinux.0" in fetched.splitlines(), serial + h.log_text()
    assert f"DHCPOFFER (no address) to {VM_MAC} (node vm1) on tap0 boot pxelinux.0" in \
        h.log_text()
    leased = [line for line in serial.splitlines() if line.startswith("net0: 10.99.0.1")]
    assert leased and VM_IP not in leased[0]      # the address came from dnsmasq's range
