"""The xl driver (xcatpy.virt.xl) against simulated Xen hosts (tests/sim/xlsim.py).

Commands go through LocalShell, so they pass the same hvshell, quoting and file mapping
as behind the sshd harness; every assertion reads what the simulated hosts now hold.
"""

from pathlib import Path

import pytest

from tests.sim import hvstate
from tests.sim.hvstate import host_file
from tests.sim.localshell import LocalShell, simulated_processes
from xcatpy.drivers.base import DriverError
from xcatpy.drivers.remote import CommandTimeout, Target
from xcatpy.virt.hypervisor import hypervisor_class
from xcatpy.virt.model import CRASHED, OFF, ON, PAUSED, Disk, GuestSpec, GuestStatus, Nic
from xcatpy.virt.xenconfig import XenConfigError, read_settings
from xcatpy.virt.xl import XenToolstackError, XlHypervisor, domain_state, parse_domain_list

UUID = "6f1c8a3e-1111-2222-3333-444455556666"
ADDRESSES = {"h1": "10.0.1.1", "h2": "10.0.1.2"}


@pytest.fixture
def state(tmp_path: Path) -> Path:
    path = tmp_path / "sim" / "state.json"
    hvstate.create(path, {"h1": {"address": ADDRESSES["h1"]},
                          "h2": {"address": ADDRESSES["h2"], "memory_mb": 8192}},
                   shared_paths=["/vms"])
    return path


@pytest.fixture
def shell(state: Path) -> LocalShell:
    return LocalShell(state)


def xl(shell: LocalShell, host: str = "h1", port: int = 22) -> XlHypervisor:
    return XlHypervisor(shell, Target(host, ADDRESSES[host], port=port))


def spec(name: str = "g1", **changes) -> GuestSpec:
    values = dict(name=name, uuid=UUID, memory_mb=1024, maxmem_mb=1024, vcpus=2,
                  disks=(Disk("/vms/g1.img", "xvda", size_mb=8),),
                  nics=(Nic("00:16:3e:00:00:01", "xenbr0"),))
    values.update(changes)
    return GuestSpec(**values)


def argvs(state: Path, host: str = "h1") -> list[list[str]]:
    return hvstate.commands_run(state, host)


def running(shell: LocalShell, guest: GuestSpec, host: str = "h1") -> XlHypervisor:
    driver = xl(shell, host)
    for disk in guest.disks:
        driver.create_disk(disk)
    driver.define(guest)
    driver.start(guest)
    return driver


def test_registered_as_xen_with_three_nics():
    cls = hypervisor_class("xen")
    assert cls is XlHypervisor
    assert (cls.toolstack, cls.max_nics) == ("xen", 3)


def test_started_guest_runs_with_its_table_values(state, shell):
    driver = running(shell, spec())
    status = driver.guests()["g1"]
    assert (status.state, status.memory_mb, status.vcpus, status.uuid) == (ON, 1024, 2, UUID)
    record = hvstate.read(state)["guests"]["g1"]
    assert record["domid"] == status.domid
    # What the simulated xl parsed out of the config the driver wrote.
    assert (record["host"], record["type"]) == ("h1", "hvm")
    assert (record["macs"], record["bridges"], record["disks"]) == (
        ["00:16:3e:00:00:01"], ["xenbr0"], ["/vms/g1.img"])
    assert ["xl", "create", "/etc/xen/g1.cfg"] in argvs(state)
    info = driver.host_info()
    assert (info.total_mb, info.free_mb, info.cpus) == (16384, 16384 - 1024 - 1024, 8)
    assert "vmx" in info.cpu_flags
    assert info.version == "4.11.4"


def test_defined_guest_is_listed_off_from_its_config(state, shell):
    driver = xl(shell)
    driver.define(spec(memory_mb=768, maxmem_mb=1024, autostart=True))
    assert driver.guests()["g1"] == GuestStatus(name="g1", state=OFF, memory_mb=768, vcpus=2,
                                                uuid=UUID, domid=None)
    autostart = host_file(state, "h1", "/etc/xen/auto/g1.cfg")
    assert autostart.read_text() == host_file(state, "h1", "/etc/xen/g1.cfg").read_text()
    driver.define(spec(autostart=False))
    assert not autostart.exists()


def test_soft_and_hard_stop(state, shell):
    driver = running(shell, spec())
    driver.stop("g1")
    assert ["xl", "shutdown", "-w", "-F", "g1"] in argvs(state)
    assert driver.guests()["g1"].state == OFF
    driver.stop("g1", hard=True)  # already off: nothing to do, no error
    driver.start(spec())
    driver.stop("g1", hard=True)
    assert argvs(state)[-1] == ["xl", "destroy", "g1"]
    assert hvstate.read(state)["guests"]["g1"]["state"] == hvstate.SHUTOFF


def test_paused_and_crashed_domains(state, shell):
    driver = running(shell, spec())
    with hvstate.locked(state) as data:
        data["guests"]["g1"]["state"] = hvstate.PAUSED
    assert driver.guests()["g1"].state == PAUSED
    driver.start(spec())  # on for a paused guest: it runs again
    assert hvstate.read(state)["guests"]["g1"]["state"] == hvstate.RUNNING
    with hvstate.locked(state) as data:
        data["guests"]["g1"]["state"] = hvstate.CRASHED
    assert driver.guests()["g1"].state == CRASHED


@pytest.mark.parametrize("flags, state", [
    ("r-----", ON), ("-b----", ON), ("------", ON), ("--p---", PAUSED), ("-bp---", PAUSED),
    ("---s--", OFF), ("---sr-", OFF), ("-----d", OFF), ("---sc-", CRASHED), ("----c-", CRASHED),
])
def test_state_column(flags, state):
    assert domain_state(flags) == state


def test_domain_list_rows_are_read_from_the_right():
    text = ("Name                                        ID   Mem VCPUs\tState\tTime(s)\n"
            "Domain-0                                     0  2439     4     r-----    2772.6\n"
            "xen1                                         3   519     1     -b----      33.4\n"
            "xen2--incoming                               7   519     1     --p---       0.0\n")
    assert list(parse_domain_list("h1", text, with_uuid=False)) == ["xen1"]
    assert parse_domain_list("h1", text, with_uuid=False)["xen1"].memory_mb == 519
    with pytest.raises(XenToolstackError, match="h1: cannot read this domain list line"):
        parse_domain_list("h1", "xen1 3 519 one -b---- 33.4\n", with_uuid=False)


def test_start_without_enough_memory_is_refused_with_the_numbers(state, shell):
    driver = xl(shell, "h2")  # 8192 MiB, 1024 for dom0
    big = spec(memory_mb=8000, maxmem_mb=8000, disks=())
    with pytest.raises(XenToolstackError) as error:
        driver.start(big)
    message = str(error.value)
    assert message.startswith("h2: cannot start g1: failed to free memory for the domain")
    assert "g1 needs 8000 MiB; h2 has 7168 MiB free" in message
    assert "g1" not in hvstate.read(state)["guests"]


def test_more_than_three_nics_is_refused_before_anything_is_sent(shell):
    nics = tuple(Nic(f"00:16:3e:00:00:0{i}", "xenbr0") for i in range(4))
    for action in (xl(shell).define, xl(shell).start):
        with pytest.raises(XenConfigError, match="g1: 4 NICs requested"):
            action(spec(nics=nics))
    assert shell.lines == []


def test_create_disk_never_overwrites_an_existing_image(state, shell):
    driver = xl(shell)
    image = host_file(state, "h1", "/vms/old.img")
    image.parent.mkdir(parents=True)
    image.write_bytes(b"installed guest")
    assert driver.create_disk(Disk("/vms/old.img", "xvda", size_mb=8)) is False
    assert image.read_bytes() == b"installed guest"
    assert driver.create_disk(Disk("/vms/new/g1.img", "xvda", size_mb=8)) is True
    assert host_file(state, "h1", "/vms/new/g1.img").stat().st_size == 8 << 20
    assert driver.create_disk(Disk("/dev/vg0/g1", "xvdb", kind="phy")) is False
    driver.remove_disk(Disk("/dev/vg0/g1", "xvdb", kind="phy"))
    driver.remove_disk(Disk("/vms/new/g1.img", "xvda"))
    assert not host_file(state, "h1", "/vms/new/g1.img").exists()
    assert not any("/dev/vg0/g1" in argv for argv in argvs(state))
    with pytest.raises(XenConfigError, match="not an absolute path"):
        driver.create_disk(Disk("vms/rel.img", "xvda", size_mb=8))


def test_migrate_moves_the_guest_and_its_config(state, shell):
    source = running(shell, spec(autostart=True))
    source.migrate("g1", Target("h2", ADDRESSES["h2"], port=2222))
    assert ["xl", "migrate", "-s", "ssh -p 2222", "g1", "10.0.1.2"] in argvs(state)
    dest = xl(shell, "h2")
    assert dest.guests()["g1"].state == ON
    assert "g1" not in source.guests()
    assert host_file(state, "h2", "/etc/xen/g1.cfg").exists()
    assert host_file(state, "h2", "/etc/xen/auto/g1.cfg").exists()
    assert not host_file(state, "h1", "/etc/xen/g1.cfg").exists()
    assert hvstate.free_memory(hvstate.read(state), "h1") == 16384 - 1024


def test_migrate_moves_the_guest_and_its_config_without_warning(state, shell):
    assert running(shell, spec()).migrate("g1", Target("h2", ADDRESSES["h2"])) is None


def test_a_config_that_cannot_follow_the_guest_is_a_warning_not_a_failure(state, shell):
    with hvstate.locked(state) as data:
        data["hosts"]["h2"]["faults"] = {"fail": {"tee": "tee: /etc/xen/g1.cfg: Read-only "
                                                         "file system"}}
    source = running(shell, spec(autostart=True))
    warning = source.migrate("g1", Target("h2", ADDRESSES["h2"]))
    assert warning.startswith("its config file did not follow it from h1 to h2: ")
    assert "Read-only file system" in warning
    assert xl(shell, "h2").guests()["g1"].state == ON
    # The old host keeps its copy, so the warning matters: it could autostart it.
    assert host_file(state, "h1", "/etc/xen/g1.cfg").exists()


def test_migrate_refused_by_the_destination_leaves_the_guest_running(state, shell):
    with hvstate.locked(state) as data:
        data["hosts"]["h2"]["relocation"] = False
    source = running(shell, spec())
    with pytest.raises(XenToolstackError, match="h1: cannot migrate g1 to h2: ssh: connect to "
                                                "host 10.0.1.2 port 22: Connection refused"):
        source.migrate("g1", Target("h2", ADDRESSES["h2"]))
    assert source.guests()["g1"].state == ON
    assert host_file(state, "h1", "/etc/xen/g1.cfg").exists()


def test_migrate_refuses_an_address_xl_would_hand_to_a_shell(shell):
    with pytest.raises(XenToolstackError, match="not a host name or address"):
        xl(shell).migrate("g1", Target("h2", "h2;reboot"))
    with pytest.raises(XenToolstackError, match="not a user name"):
        xl(shell).migrate("g1", Target("h2", "10.0.1.2", user="x y"))
    assert shell.lines == []


def test_shell_metacharacters_reach_the_host_intact(state, shell):
    name = "g$(reboot)`id`;'\"|&"
    path = "/vms/a b;$(rm -rf x)|c.img"
    guest = spec(name=name, disks=(Disk(path, "xvda", size_mb=8),),
                 nics=(Nic("00:16:3e:00:00:01", "br$(id)"),))
    driver = running(shell, guest)
    logged = argvs(state)
    assert ["qemu-img", "create", "-f", "raw", path, "8M"] in logged
    assert ["xl", "create", f"/etc/xen/{name}.cfg"] in logged
    record = hvstate.read(state)["guests"][name]
    assert (record["disks"], record["bridges"]) == ([path], ["br$(id)"])
    assert driver.guests()[name].state == ON
    driver.stop(name, hard=True)
    assert argvs(state)[-1] == ["xl", "destroy", name]


def test_reset_hvm_presses_the_reset_line(state, shell):
    driver = running(shell, spec())
    domid = driver.guests()["g1"].domid
    driver.reset("g1")
    assert argvs(state)[-1] == ["xl", "trigger", "g1", "reset"]
    record = hvstate.read(state)["guests"]["g1"]
    assert (record["resets"], record["domid"]) == (1, domid)


def test_reset_pv_destroys_and_creates_again(state, shell):
    driver = running(shell, spec(paravirt=True))
    domid = driver.guests()["g1"].domid
    driver.reset("g1")
    assert argvs(state)[-2:] == [["xl", "destroy", "g1"], ["xl", "create", "/etc/xen/g1.cfg"]]
    assert driver.guests()["g1"].domid not in (None, domid)


def test_set_memory_and_vcpus_of_a_running_guest(state, shell):
    driver = running(shell, spec(memory_mb=1024, maxmem_mb=2048))
    driver.set_memory("g1", 1536)
    driver.set_vcpus("g1", 1)
    assert ["xl", "mem-set", "g1", "1536m"] in argvs(state)
    assert ["xl", "vcpu-set", "g1", "1"] in argvs(state)
    status = driver.guests()["g1"]
    assert (status.memory_mb, status.vcpus) == (1536, 1)
    config = read_settings(host_file(state, "h1", "/etc/xen/g1.cfg").read_text())
    assert (config["memory"], config["maxmem"], config["vcpus"]) == (1536, 2048, 1)
    with pytest.raises(XenToolstackError, match="memory_dynamic_max must be less than"):
        driver.set_memory("g1", 4096)


def test_set_memory_of_a_stopped_guest_changes_its_config_only(state, shell):
    driver = xl(shell)
    driver.define(spec())
    driver.set_memory("g1", 3072)
    config = read_settings(host_file(state, "h1", "/etc/xen/g1.cfg").read_text())
    assert (config["memory"], config["maxmem"]) == (3072, 3072)
    assert not any(argv[:2] == ["xl", "mem-set"] for argv in argvs(state))
    with pytest.raises(XenToolstackError, match="h1: no guest g2"):
        driver.set_vcpus("g2", 2)


def test_undefine(state, shell):
    driver = running(shell, spec())
    with pytest.raises(XenToolstackError, match="g1 is running"):
        driver.undefine("g1")
    driver.stop("g1", hard=True)
    driver.undefine("g1")
    assert driver.guests() == {}
    assert not host_file(state, "h1", "/etc/xen/g1.cfg").exists()


def test_a_failing_toolstack_is_a_driver_error_naming_host_and_guest(state, shell):
    with hvstate.locked(state) as data:
        data["hosts"]["h1"]["faults"] = {"fail": {"xl create": "xenstored is not running"}}
    with pytest.raises(DriverError, match="h1: cannot start g1: xenstored is not running"):
        xl(shell).start(spec(disks=()))


def test_a_hanging_shutdown_times_out(state, shell):
    driver = running(shell, spec(disks=()))
    with hvstate.locked(state) as data:
        data["hosts"]["h1"]["faults"] = {"hang": ["xl shutdown"]}
    driver.shutdown_timeout = 1.0
    with pytest.raises(CommandTimeout, match="h1: g1 did not shut down within 1s"):
        driver.stop("g1")
    assert simulated_processes(state) == []  # the timeout ended the hung command too
