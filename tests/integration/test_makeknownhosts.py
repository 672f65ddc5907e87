"""makeknownhosts through the real console script (XCATBYPASS=1), against real sshd servers;
then the same known_hosts is what SshShell and the stock OpenSSH client check against."""

import stat
import subprocess

import pytest

from tests.integration.clitools import cli
from tests.sim import hvstate
from tests.sim.sshd import SimHosts, free_port
from xcatpy.drivers.remote import HostKeyError, Target
from xcatpy.drivers.ssh import SshShell
from xcatpy.drivers.ssh.keys import client_key
from xcatpy.drivers.ssh.knownhosts import HostKey


def fingerprint(host) -> str:
    return HostKey.from_base64(host.host_public_key.split()[1]).fingerprint


@pytest.fixture
def lab(tmp_path):
    state = tmp_path / "xstate"
    sim = tmp_path / "sim"
    hvstate.create(sim / "state.json", {"hv1": {}, "hv2": {}})
    with SimHosts(["hv1", "hv2"], sim / "state.json", tmp_path,
                  client_pubkey=client_key(state).public_line) as hosts:
        for name in ("hv1", "hv2"):
            assert cli("nodeadd", name, "groups=hv,all",
                       f"hosts.ip={hosts[name].address}", state=state).rc == 0
        # hv3 has an address nothing listens on: a host that is down.
        assert cli("nodeadd", "hv3", "groups=all", "hosts.ip=127.0.0.9", state=state).rc == 0
        assert cli("tabch", "key=sshport", f"site.value={hosts.port}", state=state).rc == 0
        shell = SshShell(state)
        try:
            yield state, hosts, shell
        finally:
            shell.close()


def test_added_keys_are_the_hosts_own_and_commands_then_work(lab):
    state, hosts, shell = lab
    r = cli("makeknownhosts", "hv", state=state)
    assert (r.rc, r.err) == (0, "")
    assert r.out.splitlines() == [f"hv1: added ssh-ed25519 {fingerprint(hosts['hv1'])}",
                                  f"hv2: added ssh-ed25519 {fingerprint(hosts['hv2'])}"]
    path = state / "ssh/known_hosts"
    port = hosts.port
    assert path.read_text().splitlines() == [
        f"[hv1]:{port},[127.0.0.2]:{port} {hosts['hv1'].host_public_key}",
        f"[hv2]:{port},[127.0.0.3]:{port} {hosts['hv2'].host_public_key}"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    target = Target("hv1", hosts["hv1"].address, port)
    assert shell.run(target, ["printf", "%s", "trusted"]).stdout == "trusted"


def test_stock_ssh_agrees_with_the_file(lab):
    state, hosts, _shell = lab
    assert cli("makeknownhosts", "hv1", state=state).rc == 0
    hv1 = hosts["hv1"]
    ssh = subprocess.run(
        ["ssh", "-F", "/dev/null", "-i", str(state / "ssh/id_ed25519"), "-o", "BatchMode=yes",
         "-o", "StrictHostKeyChecking=yes", "-o", f"UserKnownHostsFile={state}/ssh/known_hosts",
         "-o", "GlobalKnownHostsFile=/dev/null", "-p", str(hv1.port), f"root@{hv1.address}",
         'printf %s "$XCATSIM_HOST"'], capture_output=True, text=True, timeout=30)
    assert (ssh.returncode, ssh.stdout) == (0, "hv1")
    keyscan = subprocess.run(["ssh-keyscan", "-t", "ed25519", "-p", str(hv1.port), hv1.address],
                             capture_output=True, text=True, timeout=30).stdout
    assert hv1.host_public_key in keyscan


def test_an_unreachable_node_fails_alone(lab):
    state, hosts, _shell = lab
    r = cli("makeknownhosts", "hv1,hv3,hv2", state=state)
    assert r.rc == 1
    assert r.err == f"hv3: Error: cannot connect to 127.0.0.9:{hosts.port}: connection refused\n"
    assert [ln.split(":")[0] for ln in r.out.splitlines()] == ["hv1", "hv2"]
    assert "hv3" not in (state / "ssh/known_hosts").read_text()


def test_remove_forgets_only_that_node(lab):
    state, hosts, shell = lab
    assert cli("makeknownhosts", "hv", state=state).rc == 0
    r = cli("makeknownhosts", "hv1", "-r", state=state)
    assert (r.rc, r.out, r.err) == (0, "hv1: removed\n", "")
    text = (state / "ssh/known_hosts").read_text()
    assert "hv1" not in text and "127.0.0.2" not in text and "[hv2]" in text
    with pytest.raises(HostKeyError, match="^hv1: host key for 127.0.0.2 is not known"):
        shell.run(Target("hv1", hosts["hv1"].address, hosts.port), ["ls", "/"])


def test_reinstalled_host_flow(lab):
    state, hosts, shell = lab
    target = Target("hv1", hosts["hv1"].address, hosts.port)
    assert cli("makeknownhosts", "hv1", state=state).rc == 0
    shell.run(target, ["printf", "before"])
    hosts["hv1"].rotate_host_key()
    with pytest.raises(HostKeyError, match="has CHANGED"):
        shell.run(target, ["printf", "after"])
    assert cli("makeknownhosts", "hv1", "-r", state=state).rc == 0
    r = cli("makeknownhosts", "hv1", "--verbose", state=state)
    assert r.rc == 0
    assert r.out.splitlines()[-1] == f"hv1: added ssh-ed25519 {fingerprint(hosts['hv1'])}"
    assert shell.run(target, ["printf", "after"]).stdout == "after"


def test_the_client_key_is_made_and_shown_for_the_admin(tmp_path):
    state = tmp_path / "fresh"
    assert cli("nodeadd", "hv9", "groups=all", "hosts.ip=127.0.0.9", state=state).rc == 0
    port = free_port(["127.0.0.9"])  # not 22: this machine may run its own sshd
    assert cli("tabch", "key=sshport", f"site.value={port}", state=state).rc == 0
    r = cli("makeknownhosts", "hv9", "-V", state=state)
    key = state / "ssh/id_ed25519"
    assert r.rc == 1 and r.err.startswith(f"hv9: Error: cannot connect to 127.0.0.9:{port}")
    assert r.out.splitlines()[0] == (f"makeknownhosts: xcatd logs in with {key}; {key}.pub "
                                     "belongs in root's authorized_keys on the hosts")
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert (state / "ssh/id_ed25519.pub").read_text().startswith("ssh-ed25519 ")


def test_usage_errors(lab):
    state, _hosts, _shell = lab
    r = cli("makeknownhosts", state=state)
    assert r.rc == 1 and r.err.startswith("Error: makeknownhosts: a noderange is required")
    r = cli("makeknownhosts", "ghost", state=state)
    assert r.rc == 1 and "Invalid nodes and/or groups in noderange: ghost" in r.err
    assert cli("makeknownhosts", "-h", state=state).out.startswith("Usage:")
