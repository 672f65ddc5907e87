"""SshShell (Twisted Conch) against real OpenSSH sshd servers running simulated hypervisors."""

import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.sim import hvstate
from tests.sim.sshd import SimHost, SimHosts, _marked_processes
from xcatpy.drivers.reactorthread import ReactorThreadError, default_runner
from xcatpy.drivers.remote import (
    CommandTimeout,
    HostKeyError,
    RemoteError,
    SessionError,
    Target,
    UnreachableError,
)
from xcatpy.drivers.ssh import SshShell
from xcatpy.drivers.ssh.keys import client_key
from xcatpy.drivers.ssh.knownhosts import HostKey
from xcatpy.drivers.ssh.shell import host_names


@dataclass
class World:
    shell: SshShell
    hosts: SimHosts
    sim: Path   # the simulator's directory: state.json, commands.log, files/

    def target(self, name: str) -> Target:
        host = self.hosts[name]
        return Target(name, host.address, host.port)

    def trust(self, name: str) -> HostKey:
        """Record the host's key as read from its own key file (not as fetched over SSH)."""
        key = host_key_of(self.hosts[name])
        self.shell.known_hosts.replace([(host_names(self.target(name)), key)])
        return key

    def commands(self) -> list[dict]:
        return hvstate.logged_commands(self.sim / "commands.log")

    def lines_received(self) -> list[str]:
        """hvshell's log of command lines as they arrived (a line may hold newlines)."""
        path = self.sim / "commands.log.lines"
        text = path.read_text() if path.exists() else ""
        return [ln for ln in text.split("\n") if ln.startswith(("hv1\t", "hv2\t", "hv3\t"))]


def host_key_of(host: SimHost) -> HostKey:
    return HostKey.from_base64(host.host_public_key.split()[1])


def wait_for(condition, what: str, limit: float = 15.0) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.02)


def make_world(tmp_path: Path, **shell_options):
    sim = tmp_path / "sim"
    hvstate.create(sim / "state.json", {"hv1": {"faults": {"hang": ["ls /hang"]}}, "hv2": {}})
    for name in ("hv1", "hv2"):
        (sim / "files" / "hosts" / name / "vms").mkdir(parents=True)
    shell = SshShell(tmp_path / "xstate", **shell_options)
    hosts = SimHosts(["hv1", "hv2"], sim / "state.json", tmp_path,
                     client_pubkey=shell.client_key().public_line)
    return World(shell, hosts, sim)


@pytest.fixture
def world(tmp_path):
    w = make_world(tmp_path)
    with w.hosts:
        try:
            yield w
        finally:
            w.shell.close()


def test_stdout_stderr_and_exit_status(world):
    world.trust("hv1")
    (world.sim / "files/hosts/hv1/vms/a.cfg").write_text("name = 'g1'\n")
    ok = world.shell.run(world.target("hv1"), ["cat", "/vms/a.cfg"])
    assert (ok.exit_status, ok.stdout, ok.stderr) == (0, "name = 'g1'\n", "")
    bad = world.shell.run(world.target("hv1"), ["cat", "/vms/a.cfg", "/vms/none"], check=False)
    assert bad.exit_status == 1
    assert bad.stdout == "name = 'g1'\n"
    assert bad.stderr == "cat: /vms/none: No such file or directory\n"
    with pytest.raises(RemoteError, match=r"^hv1: 'cat' failed: cat: /vms/none: No such file"):
        world.shell.run(world.target("hv1"), ["cat", "/vms/none"])


def test_stdin_is_delivered_whole_then_eof(world):
    world.trust("hv1")
    # Larger than OpenSSH's 2 MiB channel window: the end of input must wait for the window.
    data = bytes(range(256)) * (3 * 4096 + 7)
    result = world.shell.run(world.target("hv1"), ["tee", "/vms/disk.cfg"], stdin=data,
                             timeout=120)
    assert result.exit_status == 0
    assert (world.sim / "files/hosts/hv1/vms/disk.cfg").read_bytes() == data


def test_commands_without_stdin_see_end_of_input(world):
    world.trust("hv1")
    result = world.shell.run(world.target("hv1"), ["tee", "/vms/empty"], timeout=30)
    assert result.stdout == "" and (world.sim / "files/hosts/hv1/vms/empty").read_bytes() == b""


def test_commands_share_one_connection(world):
    world.trust("hv1")
    for i in range(5):
        assert world.shell.run(world.target("hv1"), ["printf", "%s", str(i)]).stdout == str(i)
    assert world.hosts["hv1"].connections() == 1
    assert world.shell.pool.connections_made == 1


def test_concurrent_commands_from_many_threads_use_one_connection(world):
    world.trust("hv1")
    world.trust("hv2")
    outputs, errors = {}, []

    def worker(i):
        host = "hv1" if i % 2 else "hv2"
        try:
            for j in range(3):
                tag = f"{host}-{i}-{j}"
                outputs[tag] = world.shell.run(world.target(host), ["printf", "%s", tag]).stdout
        except Exception as exc:  # collected: an assertion in a thread would be lost
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(outputs) == 72 and all(tag == out for tag, out in outputs.items())
    assert world.hosts["hv1"].connections() == 1 and world.hosts["hv2"].connections() == 1


def test_unknown_host_key_is_refused_before_anything_is_sent(world):
    with pytest.raises(HostKeyError) as caught:
        world.shell.run(world.target("hv1"), ["mkdir", "/vms/x"])
    assert str(caught.value) == ("hv1: host key for 127.0.0.2 is not known; run "
                                 "makeknownhosts hv1")
    assert isinstance(caught.value, UnreachableError)
    assert world.commands() == [] and world.lines_received() == []
    log = world.hosts["hv1"].log()
    assert "Connection from" in log and "Accepted publickey" not in log
    assert "Postponed publickey" not in log and "userauth" not in log


def test_changed_host_key_is_refused_naming_both_fingerprints(world):
    old = world.trust("hv1")
    world.shell.run(world.target("hv1"), ["ls", "/vms"])
    world.hosts["hv1"].rotate_host_key()
    new = host_key_of(world.hosts["hv1"])
    with pytest.raises(HostKeyError) as caught:
        world.shell.run(world.target("hv1"), ["ls", "/vms"])
    assert str(caught.value) == (
        f"hv1: host key for 127.0.0.2 has CHANGED (was {old.fingerprint}, now "
        f"{new.fingerprint}); if the host was reinstalled, run makeknownhosts hv1 -r then "
        "makeknownhosts hv1")
    assert len(world.commands()) == 1


def test_stopped_host_is_unreachable_and_comes_back(world):
    world.trust("hv1")
    world.shell.run(world.target("hv1"), ["ls", "/vms"])
    world.hosts["hv1"].stop()
    with pytest.raises(UnreachableError) as caught:
        world.shell.run(world.target("hv1"), ["ls", "/vms"])
    port = world.hosts["hv1"].port
    assert str(caught.value) == f"hv1: cannot connect to 127.0.0.2:{port}: connection refused"
    world.hosts["hv1"].start()
    assert world.shell.run(world.target("hv1"), ["ls", "/vms"]).exit_status == 0


def test_a_dropped_pooled_connection_is_replaced(world):
    world.trust("hv1")
    world.shell.run(world.target("hv1"), ["ls", "/vms"])
    world.hosts["hv1"].restart()  # kills the connection the pool holds
    assert world.shell.run(world.target("hv1"), ["printf", "again"]).stdout == "again"
    assert world.hosts["hv1"].connections() == 2


def test_timeout_closes_the_command_and_the_pool_goes_on(world):
    world.trust("hv1")
    with pytest.raises(CommandTimeout) as caught:
        world.shell.run(world.target("hv1"), ["ls", "/hang"], timeout=1)
    assert str(caught.value) == "hv1: 'ls' did not finish within 1s"
    assert world.shell.run(world.target("hv1"), ["printf", "alive"]).stdout == "alive"
    # The connection holding the hung session was retired, not reused.
    assert world.shell.pool.connections_made == 2
    world.hosts["hv1"].stop()
    assert _marked_processes(str(world.hosts["hv1"].dir)) == []


def test_connection_lost_mid_command_is_not_called_unreachable(world):
    world.trust("hv1")
    errors = []

    def hang():
        try:
            world.shell.run(world.target("hv1"), ["ls", "/hang"], timeout=60)
        except Exception as exc:
            errors.append(exc)

    thread = threading.Thread(target=hang)
    thread.start()
    wait_for(lambda: world.commands(), "the command to start")
    world.hosts["hv1"].stop()
    thread.join(30)
    assert len(errors) == 1 and type(errors[0]) is SessionError
    port = world.hosts["hv1"].port
    assert str(errors[0]) == (f"hv1: connection to 127.0.0.2:{port} was lost while running "
                              "'ls'")


def test_exit_signal_is_a_failure_naming_the_signal(world):
    world.trust("hv1")
    result = world.shell.run(world.target("hv1"), ["kill", "-KILL", "0"], check=False)
    assert result.exit_status == 128 + 9
    assert result.stderr.splitlines()[-1] == "killed by signal KILL"


def test_metacharacters_arrive_as_single_inert_arguments(world):
    world.trust("hv1")
    nasty = ["; rm -rf /", "$(mkdir /vms/pwned1)", "`mkdir /vms/pwned2`", "it's", '"q"',
             "a\nb", "two words", "", "*", "$HOME", "a\\b", "|| mkdir /vms/pwned3", "&"]
    world.shell.run(world.target("hv1"), ["ls", *nasty], check=False)
    assert [(c["host"], c["argv"]) for c in world.commands()] == [("hv1", ["ls", *nasty])]
    assert sorted(p.name for p in (world.sim / "files/hosts/hv1/vms").iterdir()) == []
    echoed = world.shell.run(world.target("hv1"), ["printf", "<%s>\\n", *nasty]).stdout
    assert echoed == "".join(f"<{a}>\n" for a in nasty)
    assert len(world.lines_received()) == 2


def test_refused_client_key_names_node_user_and_key(world, tmp_path):
    other = client_key(tmp_path / "someone-else")
    stranger = SimHost("hv3", world.sim / "state.json", tmp_path, address="127.0.0.4",
                       client_pubkey=other.public_line).start()
    try:
        target = Target("hv3", stranger.address, stranger.port)
        world.shell.known_hosts.replace([(host_names(target), host_key_of(stranger))])
        with pytest.raises(UnreachableError) as caught:
            world.shell.run(target, ["ls", "/"])
    finally:
        stranger.stop()
    key = world.shell.client_key().path
    assert str(caught.value) == (
        f"hv3: 127.0.0.4 refused key authentication as root with {key}; put {key}.pub into "
        "root's authorized_keys on the host")


def test_idle_connections_are_closed_and_reopened(tmp_path):
    w = make_world(tmp_path, idle_timeout=0.2)
    with w.hosts:
        try:
            w.trust("hv1")
            w.shell.run(w.target("hv1"), ["ls", "/vms"])
            wait_for(lambda: w.shell.pool.open_connections() == 0, "the idle close")
            wait_for(lambda: "Received disconnect" in w.hosts["hv1"].log(), "sshd to see it")
            assert w.shell.run(w.target("hv1"), ["printf", "x"]).stdout == "x"
            assert w.hosts["hv1"].connections() == 2
        finally:
            w.shell.close()


def test_blocking_from_the_reactor_thread_is_refused(world):
    world.trust("hv1")
    with pytest.raises(ReactorThreadError):
        default_runner().call(lambda: world.shell.run(world.target("hv1"), ["ls", "/vms"]))
    assert world.commands() == []


def test_commands_log_records_the_host(world):
    world.trust("hv2")
    world.shell.run(world.target("hv2"), ["mkdir", "/vms/g1"])
    assert (world.sim / "files/hosts/hv2/vms/g1").is_dir()
    assert [json.dumps(c["argv"]) for c in world.commands() if c["host"] == "hv2"] == [
        '["mkdir", "/vms/g1"]']
