"""A port scan of every xcatd port leaves every service answering and the CPU idle (xCAT
#1017: a scan left xcatd spinning). nmap scans TCP (connect scan, with version probes,
which send protocol junk) and UDP; then each TCP port gets connections reset right after
connecting and random bytes, each UDP port random datagrams. Afterwards xcatd uses next
to no CPU over 3 s (only a busy loop or a storm of leaked timers would break the bound;
this is not a performance target), has no more descriptors than before, and nodels, a
TFTP fetch, an HTTP fetch, a DNS query and an installer's status line all work.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess

import pytest

from tests.load.loadlab import (
    cpu_over,
    fd_count,
    scan_and_junk,
    start,
    via,
    wait_for,
)

pytestmark = pytest.mark.skipif(not all(shutil.which(c) for c in ("nmap", "tftp", "dig",
                                                                  "curl")),
                                reason="needs nmap, tftp-hpa, dig and curl "
                                "(tests/install-debian-packages.sh)")

IDLE = 3
CPU_BOUND = 0.3     # seconds of CPU in 3 s: a busy loop burns about 3


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    state = tmp_path_factory.mktemp("scan") / "state"
    d = start(state, "--dns-port", "0", "--idle-timeout", str(IDLE), "--request-timeout",
              str(2 * IDLE))
    (state / "tftpboot" / "hello.txt").write_text("hello over tftp\n")
    (state / "install" / "hello").write_text("hello over http\n")
    assert via(d, "nodeadd", "self1", "groups=compute,all", "hosts.ip=127.0.0.1").rc == 0
    yield d
    d.stop()


def tcp_ports(daemon) -> list[int]:
    return [daemon.port, *(daemon.ports[k] for k in ("http_port", "monitor_port",
                                                     "dns_port"))]


def udp_ports(daemon) -> list[int]:
    return [daemon.ports["tftp_port"], daemon.ports["dns_port"]]


def test_a_port_scan_leaves_services_answering_and_the_cpu_idle(daemon, tmp_path):
    pid = daemon.proc.pid
    base_fds = fd_count(pid)
    tcp_report, udp_report = scan_and_junk(tcp_ports(daemon), udp_ports(daemon))
    for port in tcp_ports(daemon):
        assert f"{port}/tcp open" in tcp_report, tcp_report
    for port in udp_ports(daemon) if udp_report is not None else ():
        assert f"{port}/udp" in udp_report, udp_report

    # Connections the scan left half-open go within the idle timeout; then, quiet.
    assert wait_for(lambda: fd_count(pid) <= base_fds, 2 * IDLE + 10), \
        (base_fds, fd_count(pid), sorted(os.listdir(f"/proc/{pid}/fd")))
    cpu = cpu_over(pid, 3.0)
    assert cpu < CPU_BOUND, f"xcatd used {cpu:.2f} s of CPU in 3 s after the scan"

    assert daemon.proc.poll() is None
    assert via(daemon, "nodels", "self1").out == "self1\n"
    got = tmp_path / "hello.txt"
    p = subprocess.run(["tftp", "127.0.0.1", str(daemon.ports["tftp_port"]), "-m", "binary",
                        "-c", "get", "hello.txt", str(got)], capture_output=True, timeout=30)
    assert p.returncode == 0 and got.read_text() == "hello over tftp\n", p
    p = subprocess.run(["curl", "-sS", "--max-time", "10",
                        f"http://127.0.0.1:{daemon.ports['http_port']}/install/hello"],
                       capture_output=True, text=True, timeout=30)
    assert p.stdout == "hello over http\n", p
    for transport in ("+notcp", "+tcp"):
        p = subprocess.run(["dig", "@127.0.0.1", "-p", str(daemon.ports["dns_port"]),
                            transport, "+time=5", "+tries=1", "example.org"],
                           capture_output=True, text=True, timeout=30)
        assert "status: REFUSED" in p.stdout, p.stdout      # answered: not ours to answer
    with socket.create_connection(("127.0.0.1", daemon.ports["monitor_port"]), timeout=10) as s:
        s.sendall(b"installstatus installing\n")
        assert s.makefile().readline().strip() == "ok self1 installing"
