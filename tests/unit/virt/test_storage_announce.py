"""Before and after a guest moves: Hypervisor.missing_storage and .announce of every driver,
and what the simulated hosts do when a destination is, or goes, down.

Each test runs against two simulated hosts of one toolstack (xl, xm, libvirt; XenServer
where it says so), through LocalShell; assertions read the commands the hosts logged and
what the shared state now holds.
"""

import re
import uuid
from pathlib import Path

import pytest

from tests.sim import hvstate, xesim
from tests.sim.localshell import LocalShell, simulated_processes
from tests.unit.virt import fakehv
from xcatpy.drivers.base import DriverError
from xcatpy.drivers.remote import RemoteResult, Target
from xcatpy.virt import hostfiles
from xcatpy.virt.hypervisor import hypervisor_class
from xcatpy.virt.model import ON, Disk, GuestSpec, Nic

ADDRESSES = {"hv1": "10.0.9.1", "hv2": "10.0.9.2"}
MAC1, MAC2 = "00:16:3e:00:00:01", "00:16:3e:00:00:02"
GUEST_IP = "10.0.9.50"
NO_ROUTE = "ssh: connect to host 10.0.9.2 port 22: No route to host"
FILE_TOOLSTACKS = ["xen", "xm", "libvirt"]
REFUSALS = {  # each toolstack's words for a migration to a host that is down
    "xen": r"^hv1: cannot migrate g\d to hv2: " + re.escape(NO_ROUTE) + "$",
    "xm": r"^hv1: cannot migrate g\d to hv2: can't connect: No route to host$",
    "libvirt": r"^hv1: 'virsh migrate' failed: unable to connect to server at 'hv2:49152': No "
               "route to host$",
    "xenserver": r"^hv1: 'xe vm-migrate' failed: An error occurred during the migration "
                 r"process\. \(.*; msg: No route to host\)$",
}


@pytest.fixture(params=FILE_TOOLSTACKS)
def toolstack(request) -> str:
    return request.param


@pytest.fixture
def state(tmp_path: Path, toolstack: str) -> Path:
    path = tmp_path / "sim" / "state.json"
    hvstate.create(path, {host: {"toolstack": toolstack, "address": address, "memory_mb": 4096,
                                 "dom0_mb": 512}
                          for host, address in ADDRESSES.items()}, shared_paths=["/vms"])
    yield path
    assert simulated_processes(path) == []


@pytest.fixture
def shell(state: Path) -> LocalShell:
    return LocalShell(state)


def driver(shell: LocalShell, toolstack: str, host: str = "hv2"):
    return hypervisor_class(toolstack)(shell, Target(host, ADDRESSES[host]))


def spec(toolstack: str, name: str = "g1") -> GuestSpec:
    xenserver = toolstack == "xenserver"
    disk = Disk(f"{name}-root" if xenserver else f"/vms/{name}.img",
                "vda" if toolstack == "libvirt" else "xvda", size_mb=8)
    return GuestSpec(name=name, uuid=str(uuid.uuid5(uuid.NAMESPACE_URL, name)), memory_mb=512,
                     maxmem_mb=512, vcpus=1, disks=(disk,),
                     nics=(Nic(MAC1, "br0" if toolstack == "libvirt" else "xenbr0"),))


def started(shell: LocalShell, toolstack: str, name: str = "g1", host: str = "hv1"):
    guest = spec(toolstack, name)
    hv = driver(shell, toolstack, host)
    for disk in guest.disks:
        hv.create_disk(disk)
    hv.define(guest)
    hv.start(guest)
    return hv


def logged(state: Path, host: str, command: str) -> list[list[str]]:
    return [argv for argv in hvstate.commands_run(state, host) if argv[0] == command]


def set_host(state: Path, host: str, **values) -> None:
    with hvstate.locked(state) as data:
        data["hosts"][host].update(values)


def arping(interface: str, mac: str, address: str = GUEST_IP) -> list[str]:
    return ["arping", "-q", "-U", "-c", "1", "-i", interface, "-S", address, "-s", mac, address]


# -- missing_storage: xl, xm, libvirt --------------------------------------------------------


def test_missing_storage_is_empty_when_every_disk_is_there(state, shell, toolstack):
    hv2 = driver(shell, toolstack)
    shared, local = Disk("/vms/g1.img", "xvda", size_mb=4), Disk("/data/g1.img", "xvdb",
                                                                  size_mb=4)
    driver(shell, toolstack, "hv1").create_disk(shared)
    hv2.create_disk(local)
    block = Disk("/data/g1.img", "xvdc", kind="phy")  # a device: asked about the same way
    assert hv2.missing_storage([shared, local, block]) == set()
    assert logged(state, "hv2", "ls") == [["ls", "-d", "--", "/vms/g1.img", "/data/g1.img"]]


def test_missing_storage_names_what_the_host_cannot_open(state, shell, toolstack):
    hv1 = driver(shell, toolstack, "hv1")
    shared, local = Disk("/vms/g1.img", "xvda", size_mb=4), Disk("/data/g1.img", "xvdb",
                                                                  size_mb=4)
    hv1.create_disk(shared)
    hv1.create_disk(local)
    absent = Disk("/vms/none.img", "xvdc", kind="phy")
    # /vms is shared storage: hv2 sees hv1's image there, but not hv1's own /data.
    assert driver(shell, toolstack).missing_storage([shared, local, absent]) == {
        "/data/g1.img", "/vms/none.img"}
    assert hv1.missing_storage([shared, local, absent]) == {"/vms/none.img"}
    assert len(logged(state, "hv2", "ls")) == 1  # one command for all the disks


def test_missing_storage_of_no_disks_runs_nothing(shell, toolstack):
    assert driver(shell, toolstack).missing_storage([]) == set()
    assert shell.lines == []


def test_a_path_with_shell_metacharacters_reaches_ls_as_one_argument(state, shell, toolstack):
    path = "/vms/a b;$(touch pwned)|&*`id`.img"
    disk = Disk(path, "xvda", size_mb=4)
    hv2 = driver(shell, toolstack)
    assert hv2.missing_storage([disk]) == {path}
    hv2.create_disk(disk)
    assert hv2.missing_storage([disk]) == set()
    assert logged(state, "hv2", "ls") == [["ls", "-d", "--", path]] * 2


def test_an_ls_failure_that_is_not_a_missing_path_is_an_error(state, shell, toolstack):
    set_host(state, "hv2", faults={"fail": {
        "ls": "ls: cannot access '/vms/g1.img': Permission denied"}})
    with pytest.raises(DriverError, match=r"^hv2: cannot tell which disks it can open: 'ls' "
                                          "failed: .*Permission denied$"):
        driver(shell, toolstack).missing_storage([Disk("/vms/g1.img", "xvda")])


def test_missing_storage_refuses_a_relative_path_before_running_anything(shell, toolstack):
    with pytest.raises(DriverError, match="^hv2: .*is not (an )?absolute"):
        driver(shell, toolstack).missing_storage([Disk("vms/g1.img", "xvda")])
    assert shell.lines == []


@pytest.mark.parametrize(("status", "stderr", "missing"), [
    (0, "", set()),
    (2, "ls: cannot access '/vms/a b': No such file or directory\n", {"/vms/a b"}),
    (2, "ls: cannot access \"/vms/it's\": No such file or directory\n", {"/vms/it's"}),
    # coreutils before 8.25 (RHEL 5-7, Xen 3 hosts) name the path unquoted.
    (2, "ls: cannot access /vms/a b: No such file or directory\n", {"/vms/a b"}),
])
def test_ls_answers_that_name_missing_paths(status, stderr, missing):
    asked = ["/vms/a b", "/vms/it's", "/vms/c"]
    assert hostfiles.missing_paths(asked, RemoteResult(status, "/vms/c\n", stderr)) == missing


@pytest.mark.parametrize(("status", "stderr"), [
    (255, "ssh: connect to host 10.0.9.2 port 22: No route to host\n"),
    (2, "ls: cannot access '/vms/other': No such file or directory\n"),  # not asked about
    (2, "ls: cannot access '/vms/c': Stale file handle\n"),
    (2, ""),
    (1, "ls: cannot open directory '/vms/c': Permission denied\n"),
])
def test_other_ls_answers_are_errors(status, stderr):
    with pytest.raises(ValueError, match="'ls' failed"):
        hostfiles.missing_paths(["/vms/c"], RemoteResult(status, "", stderr))


# -- announce: xl, xm, libvirt ---------------------------------------------------------------


def test_announce_sends_one_unsolicited_arp_per_nic(state, shell, toolstack):
    nics = [Nic(MAC1, "br0"), Nic("00:16:3E:00:00:02", "br1.20")]
    driver(shell, toolstack).announce(nics, GUEST_IP)
    assert logged(state, "hv2", "arping") == [arping("br0", MAC1), arping("br1.20", MAC2)]
    assert logged(state, "hv1", "arping") == []


def test_announce_of_an_ipv6_address_runs_nothing(shell, toolstack):
    driver(shell, toolstack).announce([Nic(MAC1, "br0")], "2001:db8::50")
    assert shell.lines == []


@pytest.mark.parametrize(("nic", "address", "refusal"), [
    (Nic(MAC1, "br0;reboot"), GUEST_IP, "'br0;reboot' is not a network interface name"),
    (Nic(MAC1, "-i"), GUEST_IP, "'-i' is not a network interface name"),
    (Nic(MAC1, "eth0:1"), GUEST_IP, "'eth0:1' is not a network interface name"),
    (Nic(MAC1, "averylongbridge0"), GUEST_IP, "'averylongbridge0' is not a network interface"),
    (Nic("00:16:3e:00:00", "br0"), GUEST_IP, "'00:16:3e:00:00' is not a MAC address"),
    (Nic(MAC1, "br0"), "guest.example.com", "'guest.example.com' is not an IP address"),
    (Nic(MAC1, "br0"), "0.0.0.0", "0.0.0.0 is not a host address"),
])
def test_announce_refuses_values_arping_must_not_get(shell, toolstack, nic, address, refusal):
    with pytest.raises(DriverError, match=f"^hv2: cannot announce {address}: {refusal}"):
        driver(shell, toolstack).announce([Nic(MAC2, "br0"), nic], address)
    assert shell.lines == []  # checked before the first arping


def test_a_failed_arping_raises_after_the_other_nics_are_announced(state, shell, toolstack):
    set_host(state, "hv2", interfaces=["br0"])
    with pytest.raises(DriverError, match=r"^hv2: cannot announce 10.0.9.50: arping on br9 "
                                          r"failed: .*br9.*No such device$"):
        driver(shell, toolstack).announce([Nic(MAC1, "br9"), Nic(MAC2, "br0")], GUEST_IP)
    assert logged(state, "hv2", "arping") == [arping("br9", MAC1), arping("br0", MAC2)]


def test_announce_takes_arpings_no_reply_status_for_success(state, shell, toolstack):
    # Habets' arping exits 1 when nothing answered, as nothing answers an unsolicited ARP;
    # a fault without a message gives that exit status with nothing said.
    set_host(state, "hv2", faults={"fail": {"arping": ""}})
    driver(shell, toolstack).announce([Nic(MAC1, "br0")], GUEST_IP)
    assert logged(state, "hv2", "arping") == [arping("br0", MAC1)]


# -- the simulated arping -------------------------------------------------------------------


@pytest.mark.parametrize("toolstack", ["xen"])
@pytest.mark.parametrize(("argv", "stderr"), [
    (["arping", "-x", "-U", "10.0.9.50"], "arping: invalid option -- 'x'"),
    (["arping", "-U", "10.0.9.50", "-i"], "arping: option requires an argument -- 'i'"),
    (["arping", "-i", "eth0:1", "10.0.9.50"], "arping: If you're trying to feed me an interface"),
    (["arping", "-s", "00:16:zz:00:00:01", "10.0.9.50"], "arping: Weird MAC addr"),
    (["arping", "-S", "2001:db8::1", "10.0.9.50"], "arping: Can't resolve 2001:db8::1"),
    (["arping", "-q", "-U"], ""),  # no target: the usage, on stdout
])
def test_the_simulated_arping_refuses_what_arping_refuses(state, shell, argv, stderr):
    result = shell.run(Target("hv1", ADDRESSES["hv1"]), argv, check=False)
    assert result.exit_status == 1
    assert result.stderr.startswith(stderr)
    assert ("usage: arping" in result.stdout) == (stderr == "" or "option" in stderr)
    assert hvstate.commands_run(state, "hv1") == [argv]


# -- a host that is down ---------------------------------------------------------------------


@pytest.mark.parametrize("toolstack", [*FILE_TOOLSTACKS, "xenserver"])
def test_every_command_on_a_down_host_fails_and_the_driver_raises(state, shell, toolstack):
    set_host(state, "hv2", down=True)
    hv2 = driver(shell, toolstack)
    calls = [hv2.host_info, hv2.guests, lambda: hv2.missing_storage(spec(toolstack).disks),
             lambda: hv2.announce(spec(toolstack).nics, GUEST_IP)]
    for call in calls:
        with pytest.raises(DriverError, match=f"^hv2: .*{re.escape(NO_ROUTE)}"):
            call()
    assert len(shell.lines) >= len(calls)
    assert hvstate.commands_run(state, "hv2") == []  # nothing arrived there
    assert driver(shell, toolstack, "hv1").host_info().total_mb == 4096  # hv1 still answers


@pytest.mark.parametrize("toolstack", [*FILE_TOOLSTACKS, "xenserver"])
def test_migration_to_a_down_host_is_refused_and_the_guest_stays(state, shell, toolstack):
    hv1 = started(shell, toolstack)
    set_host(state, "hv2", down=True)
    with pytest.raises(DriverError, match=REFUSALS[toolstack]):
        hv1.migrate("g1", Target("hv2", ADDRESSES["hv2"]))
    guest = hvstate.read(state)["guests"]["g1"]
    assert guest["host"] == "hv1"
    assert hv1.guests()["g1"].state == ON
    assert "incoming" not in hvstate.read(state)["hosts"]["hv2"]


@pytest.mark.parametrize("toolstack", [*FILE_TOOLSTACKS, "xenserver"])
def test_a_destination_goes_down_after_its_nth_incoming_migration(state, shell, toolstack):
    set_host(state, "hv2", faults={"down_after_incoming": 2})
    hv1 = started(shell, toolstack, "g1")
    for name in ("g2", "g3"):
        started(shell, toolstack, name)
    dest = Target("hv2", ADDRESSES["hv2"])
    hv1.migrate("g1", dest)
    assert not hvstate.read(state)["hosts"]["hv2"].get("down")
    hv1.migrate("g2", dest)  # the second one arrives, then the host dies
    data = hvstate.read(state)
    assert (data["guests"]["g1"]["host"], data["guests"]["g2"]["host"]) == ("hv2", "hv2")
    assert data["hosts"]["hv2"]["down"] is True
    assert data["hosts"]["hv2"]["incoming"] == 2
    with pytest.raises(DriverError, match=re.escape(NO_ROUTE)):
        driver(shell, toolstack).guests()
    with pytest.raises(DriverError, match=REFUSALS[toolstack]):
        hv1.migrate("g3", dest)
    assert hvstate.read(state)["guests"]["g3"]["host"] == "hv1"


# -- XenServer: VDIs and pool networks -------------------------------------------------------


@pytest.mark.parametrize("toolstack", ["xenserver"])
def test_xenserver_storage_is_missing_unless_found_on_a_shared_sr(state, shell, toolstack):
    xs2 = driver(shell, toolstack)
    xs2.create_disk(Disk("g1-root", "xvda", size_mb=8))  # the pool's default SR: shared
    local_sr = xesim.add_sr(state, "Local storage", shared=False, host="hv1")
    shell.run(Target("hv1", ADDRESSES["hv1"]), [
        "xe", "vdi-create", f"sr-uuid={local_sr}", "name-label=g1-swap", "type=user",
        "virtual-size=1048576"])
    disks = [Disk("g1-root", "xvda"), Disk("g1-swap", "xvdb"), Disk("g1-data", "xvdc")]
    before = len(hvstate.commands_run(state, "hv2"))
    assert xs2.missing_storage(disks) == {"g1-swap", "g1-data"}
    assert [argv[:2] for argv in hvstate.commands_run(state, "hv2")[before:]] == [
        ["xe", "vdi-list"], ["xe", "sr-list"]]
    assert xs2.missing_storage(disks[:1]) == set()
    assert xs2.missing_storage([]) == set()
    assert len(hvstate.commands_run(state, "hv2")) == before + 4


@pytest.mark.parametrize("toolstack", ["xenserver"])
def test_xenserver_announces_on_the_bridge_of_each_nics_network(state, shell, toolstack):
    xesim.add_network(state, "xapi7", "Guest VLAN 20")
    xs2 = driver(shell, toolstack)
    xs2.announce([Nic(MAC1, "Guest VLAN 20"), Nic(MAC2, "xenbr0")], GUEST_IP)
    assert logged(state, "hv2", "arping") == [arping("xapi7", MAC1), arping("xenbr0", MAC2)]
    with pytest.raises(DriverError, match="^hv2: no pool network has bridge or name-label "
                                          "'nowhere'"):
        xs2.announce([Nic(MAC1, "nowhere")], GUEST_IP)
    shell.lines.clear()
    xs2.announce([Nic(MAC1, "Guest VLAN 20")], "2001:db8::50")
    assert shell.lines == []
    assert len(logged(state, "hv2", "arping")) == 2


# -- the in-memory fake ----------------------------------------------------------------------


def test_the_fake_hypervisor_finds_disks_on_its_host_or_shared_and_records_announces():
    world = fakehv.install()
    world.disks["h1"] = {"/local/a.img"}
    world.shared_disks.add("/vms/b.img")
    h1 = fakehv.FakeHypervisor(None, Target("h1", "10.0.0.1"))
    h2 = fakehv.FakeHypervisor(None, Target("h2", "10.0.0.2"))
    disks = [Disk("/local/a.img", "xvda"), Disk("/vms/b.img", "xvdb")]
    assert h1.missing_storage(disks) == set()
    assert h2.missing_storage(disks) == {"/local/a.img"}
    h2.announce([Nic(MAC1, "br0")], GUEST_IP)
    assert world.calls[-1] == ("h2", "announce", ((MAC1, "br0"),), GUEST_IP)
    world.failing.add(("h2", "announce"))
    with pytest.raises(DriverError, match="h2: announce failed"):
        h2.announce([Nic(MAC1, "br0")], GUEST_IP)
