"""The ipmi driver against simulated BMCs (tests/sim/bmcsim.py, pyghmi's IPMI server in child
processes) over real UDP on loopback, cross-checked with ipmitool."""

import socket
import threading

import pytest

from tests.integration.clitools import cli
from tests.sim.bmcsim import BmcFleet, BmcSpec
from tests.sim.bmctools import define_nodes, ipmitool, replies, set_login

# Dead BMCs cost their deadline: ipmitimeout x ipmiretries = 1 s here.
FAST = {"ipmitimeout": "0.5", "ipmiretries": "2"}


@pytest.fixture
def fleet():
    """fleet(specs) -> endpoints; every fleet started is stopped after the test."""
    started = []

    def start(specs, processes=1):
        f = BmcFleet(specs, processes)
        started.append(f)
        return f.start()

    yield start
    for f in started:
        f.stop()


def bmc(ep) -> str:
    return f"{ep.address}:{ep.port}"


def test_rpower_changes_agree_with_ipmitool_both_ways(run, store, fleet):
    (ep,) = fleet([BmcSpec(power="off")])
    driver = define_nodes(run, store, {"n1": bmc(ep)})

    def status():
        return ipmitool(ep.address, ep.port, "chassis", "power", "status").strip()

    assert replies(driver.power(["n1"], "stat")) == {"n1": "off"}
    assert replies(driver.power(["n1"], "on")) == {"n1": "on"}
    assert status() == "Chassis Power is on"
    ipmitool(ep.address, ep.port, "chassis", "power", "off")
    assert replies(driver.power(["n1"], "state")) == {"n1": "off"}
    assert replies(driver.power(["n1"], "off")) == {"n1": "off"}
    assert replies(driver.power(["n1"], "boot")) == {"n1": "off on"}
    assert status() == "Chassis Power is on"
    assert replies(driver.power(["n1"], "boot")) == {"n1": "on reset"}
    assert replies(driver.power(["n1"], "reset")) == {"n1": "reset"}
    assert replies(driver.power(["n1"], "softoff")) == {"n1": "softoff"}
    assert status() == "Chassis Power is off"
    assert replies(driver.power(["n1"], "reset")) == {"n1": "off"}


def test_rsetboot_agrees_with_ipmitool_bootparam(run, store, fleet):
    (ep,) = fleet([BmcSpec()])
    driver = define_nodes(run, store, {"n1": bmc(ep)})

    def bootparam():
        return ipmitool(ep.address, ep.port, "chassis", "bootparam", "get", "5")

    assert replies(driver.set_boot_device(["n1"], "stat")) == {"n1": "boot override inactive"}
    assert replies(driver.set_boot_device(["n1"], "net")) == {"n1": "Network"}
    assert "Boot Flag Valid" in bootparam() and "Force PXE" in bootparam()
    assert replies(driver.set_boot_device(["n1"], "stat")) == {"n1": "Network"}
    assert replies(driver.set_boot_device(["n1"], "hd")) == {"n1": "Hard Drive"}
    assert "Force Boot from default Hard-Drive" in bootparam()
    ipmitool(ep.address, ep.port, "chassis", "bootdev", "cdrom")
    assert replies(driver.set_boot_device(["n1"], "stat")) == {"n1": "CD/DVD"}
    assert replies(driver.set_boot_device(["n1"], "def")) == {"n1": "boot override inactive"}
    assert "Boot Flag Invalid" in bootparam()
    assert replies(driver.set_boot_device(["n1"], "stat")) == {"n1": "boot override inactive"}


def test_dead_bmc_and_bad_logins_fail_per_node_while_the_others_answer(run, store, fleet):
    eps = fleet([BmcSpec(power="on"), BmcSpec(power="off"), BmcSpec(dead=True),
                 BmcSpec(password="not-what-the-node-has"), BmcSpec(power="on")])
    driver = define_nodes(run, store, {"on1": bmc(eps[0]), "off1": bmc(eps[1]),
                                       "dead1": bmc(eps[2]), "badpw1": bmc(eps[3]),
                                       "baduser1": bmc(eps[4]), "nobmc1": ""}, **FAST)
    set_login(run, "baduser1", "nobody", "PASSW0RD")
    driver.attrs.invalidate()
    got = replies(driver.power(["on1", "off1", "dead1", "badpw1", "baduser1", "nobmc1"],
                               "stat"))
    assert got == {
        "on1": "on",
        "off1": "off",
        "dead1": f"Error: timed out talking to BMC {bmc(eps[2])} after 1s",
        "badpw1": f"Error: BMC {bmc(eps[3])} rejected the credentials (user USERID)",
        "baduser1": f"Error: BMC {bmc(eps[4])} rejected the credentials (user nobody)",
        "nobmc1": "Error: ipmi.bmc is not set",
    }


def test_failed_login_does_not_spoil_the_next_session_to_that_bmc(run, store, fleet):
    # pyghmi would hand the second login the first one's broken session, were it not purged.
    (ep,) = fleet([BmcSpec(power="on", password="right")])
    driver = define_nodes(run, store, {"wrong1": bmc(ep), "right1": bmc(ep)})
    set_login(run, "wrong1", "USERID", "wrong")
    set_login(run, "right1", "USERID", "right")
    driver.attrs.invalidate()
    for _ in range(2):
        assert replies(driver.power(["wrong1", "right1"], "stat")) == {
            "wrong1": f"Error: BMC {bmc(ep)} rejected the credentials (user USERID)",
            "right1": "on"}
    assert replies(driver.power(["right1"], "stat")) == {"right1": "on"}


def test_fifty_nodes_two_dead_three_sharing_a_bmc_each_reported_once(run, store, fleet):
    specs = [BmcSpec(power="on" if i % 3 else "off", dead=i in (7, 31)) for i in range(50)]
    eps = fleet(specs, processes=2)
    nodes = {f"n{i}": bmc(ep) for i, ep in enumerate(eps)}
    nodes.update({"chassis-a": bmc(eps[0]), "chassis-b": bmc(eps[0]), "chassis-c": bmc(eps[0])})
    driver = define_nodes(run, store, nodes, ipmimaxp="16", **FAST)
    got = replies(driver.power(list(nodes) + ["n1", "n2"], "stat"))  # n1, n2 named twice
    assert set(got) == set(nodes)
    for i, spec in enumerate(specs):
        expected = (f"Error: timed out talking to BMC {bmc(eps[i])} after 1s" if spec.dead
                    else spec.power)
        assert got[f"n{i}"] == expected
    assert got["chassis-a"] == got["chassis-b"] == got["chassis-c"] == "off"


def test_commands_on_several_threads_share_the_engine(run, store, fleet):
    # With pyghmi's synchronous client, threads deadlock once retransmit timers fire (dead
    # BMCs here); through the engine only its own thread ever touches pyghmi.
    eps = fleet([BmcSpec(power="on" if i % 2 else "off", dead=i in (4, 10)) for i in range(12)])
    driver = define_nodes(run, store, {f"n{i}": bmc(ep) for i, ep in enumerate(eps)}, **FAST)
    targets = {f"n{i}": "on" if i % 2 else "off" for i in range(12)}
    for i in (4, 10):
        targets[f"n{i}"] = f"Error: timed out talking to BMC {bmc(eps[i])} after 1s"
    results, errors = [], []

    def command(nodes):
        try:
            results.append(replies(driver.power(nodes, "stat")))
        except Exception as exc:  # surfaced by the assertion below
            errors.append(exc)

    # Overlapping noderanges: a node named by two commands is talked to by one at a time.
    names = list(targets)
    threads = [threading.Thread(target=command, args=(nodes,))
               for nodes in (names[0:6], names[3:9], names[6:12], names[9:12] + names[0:3])]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not any(t.is_alive() for t in threads)
    assert not errors and len(results) == len(threads)
    for result in results:
        assert result == {node: targets[node] for node in result}


def test_rpower_command_in_bypass_mode(run, store, state_dir, fleet):
    eps = fleet([BmcSpec(power="on"), BmcSpec(dead=True)])
    define_nodes(run, store, {"n1": bmc(eps[0]), "n2": bmc(eps[1])}, **FAST)
    done = cli("rpower", "n1,n2", "stat", state=state_dir)
    assert done.rc == 1
    assert done.out.splitlines() == ["n1: on"]
    assert done.err.splitlines() == [
        f"n2: Error: timed out talking to BMC {bmc(eps[1])} after 1s"]


def _loopback_ipv6() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock:
            sock.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.may_skip
@pytest.mark.skipif(not _loopback_ipv6(), reason="no IPv6 loopback in this environment")
def test_ipv6_bmc_written_with_brackets_and_port(run, store, fleet):
    (ep,) = fleet([BmcSpec(address="::1", power="on")])
    driver = define_nodes(run, store, {"n1": f"[::1]:{ep.port}"})
    assert replies(driver.power(["n1"], "off")) == {"n1": "off"}
    assert ipmitool("::1", ep.port, "chassis", "power", "status").strip() == (
        "Chassis Power is off")
