"""The simulated hypervisor behind a real OpenSSH sshd, driven by the stock OpenSSH client."""

import subprocess
from pathlib import Path

import pytest

from tests.sim import hvstate
from tests.sim.sshd import SimHosts, _marked_processes
from xcatpy.drivers.ssh.keys import client_key
from xcatpy.drivers.ssh.knownhosts import HostKey, KnownHostsFile, host_name


@pytest.fixture
def lab(tmp_path):
    sim = tmp_path / "sim"
    hvstate.create(sim / "state.json", {"hv1": {}, "hv2": {}})
    (sim / "files/hosts/hv1/vms").mkdir(parents=True)
    (sim / "files/hosts/hv1/vms/g1.cfg").write_text("memory = 512\n")
    key = client_key(tmp_path / "xstate")
    with SimHosts(["hv1", "hv2"], sim / "state.json", tmp_path,
                  client_pubkey=key.public_line) as hosts:
        yield hosts, key, sim


def _ssh(key, known_hosts: Path, host, command: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["ssh", "-F", "/dev/null", "-i", str(key.path), "-o", "IdentitiesOnly=yes",
         "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
         "-o", f"UserKnownHostsFile={known_hosts}", "-o", "GlobalKnownHostsFile=/dev/null",
         "-p", str(host.port), f"root@{host.address}", command],
        capture_output=True, text=True, timeout=30)


def test_stock_ssh_runs_sim_commands_with_our_files(lab, tmp_path):
    hosts, key, sim = lab
    hv1 = hosts["hv1"]
    known = KnownHostsFile(tmp_path / "xstate/ssh/known_hosts")
    known.replace([([host_name("hv1", hv1.port), host_name(hv1.address, hv1.port)],
                    HostKey.from_base64(hv1.host_public_key.split()[1]))])
    done = _ssh(key, known.path, hv1, "cat /vms/g1.cfg; ls /vms")
    assert (done.returncode, done.stdout) == (0, "memory = 512\ng1.cfg\n")
    assert [c["argv"] for c in hvstate.logged_commands(sim / "commands.log")] == [
        ["cat", "/vms/g1.cfg"], ["ls", "/vms"]]
    # Only the simulator's commands exist on the "host": this machine's tools are not there.
    missing = _ssh(key, known.path, hv1, "id")
    assert missing.returncode == 127 and "not found" in missing.stderr


def test_each_host_knows_its_own_name(lab, tmp_path):
    hosts, key, _sim = lab
    known = tmp_path / "kh"
    known.write_text("".join(f"[{h.address}]:{h.port} {h.host_public_key}\n" for h in hosts))
    names = [_ssh(key, known, h, 'printf %s "$XCATSIM_HOST"').stdout for h in hosts]
    assert names == ["hv1", "hv2"]
    assert hosts["hv1"].address != hosts["hv2"].address and hosts["hv1"].port == hosts.port


def test_stock_ssh_refuses_a_host_it_does_not_know(lab, tmp_path):
    hosts, key, sim = lab
    (tmp_path / "empty").write_text("")
    refused = _ssh(key, tmp_path / "empty", hosts["hv1"], "ls /vms")
    assert refused.returncode == 255 and "Host key verification failed" in refused.stderr
    assert hvstate.logged_commands(sim / "commands.log") == []


def test_a_stopped_host_refuses_connections_and_keeps_nothing_running(lab, tmp_path):
    hosts, key, _sim = lab
    hv1 = hosts["hv1"]
    hv1.stop()
    assert not hv1.running
    known = tmp_path / "kh"
    known.write_text(f"[{hv1.address}]:{hv1.port} {hv1.host_public_key}\n")
    down = _ssh(key, known, hv1, "ls /vms")
    assert down.returncode == 255 and "Connection refused" in down.stderr
    assert _marked_processes(str(hv1.dir)) == []
    hv1.start()
    assert _ssh(key, known, hv1, "ls /vms").stdout == "g1.cfg\n"
