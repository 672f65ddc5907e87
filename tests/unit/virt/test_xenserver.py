"""The XenServer driver against a simulated pool (tests/sim/xesim.py), through the same
hvshell and /bin/sh a real SSH login would use."""

from pathlib import Path

import pytest

from tests.sim import hvstate, xesim
from tests.sim.localshell import LocalShell, simulated_processes
from xcatpy.drivers.remote import CommandTimeout, RemoteError, Target
from xcatpy.virt.hypervisor import hypervisor_class
from xcatpy.virt.model import OFF, ON, Disk, GuestSpec, Nic
from xcatpy.virt.xenserver import (
    XenServerError,
    XenServerHypervisor,
    parse_map,
    parse_records,
)

XS1 = Target("xs1", "10.0.1.1")
XS2 = Target("xs2", "10.0.1.2")
MIB = 1024 * 1024


@pytest.fixture
def state(tmp_path: Path, monkeypatch):
    path = tmp_path / "sim" / "state.json"
    monkeypatch.setenv("XCATSIM_STATE", str(path))
    hvstate.create(path, {
        "xs1": {"toolstack": "xenserver", "address": "10.0.1.1", "memory_mb": 4096,
                "dom0_mb": 512, "cpus": 16, "cpu_flags": ["fpu", "vmx", "aes"]},
        "xs2": {"toolstack": "xenserver", "address": "10.0.1.2", "memory_mb": 4096,
                "dom0_mb": 512},
    })
    yield path
    assert simulated_processes(path) == []  # a timeout ended its hung command too


@pytest.fixture
def shell(state: Path) -> LocalShell:
    return LocalShell(state)


@pytest.fixture
def xs1(shell) -> XenServerHypervisor:
    return XenServerHypervisor(shell, XS1)


def vm(name: str = "vm1", memory: int = 1024, **overrides) -> GuestSpec:
    values = dict(name=name, uuid="5a0e8f7c-2d1b-4c3a-9e8f-7d6c5b4a3921", memory_mb=memory,
                  maxmem_mb=max(memory, 2048), vcpus=2,
                  disks=(Disk(f"{name}-root", "xvda", size_mb=8),),
                  nics=(Nic("42:00:0b:00:00:01", "xenbr0"),))
    values.update(overrides)
    return GuestSpec(**values)


def seeded(state: Path, name: str = "vm1", host: str = "xs1", memory: int = 1024,
           running: bool = True) -> str:
    """A VM put in the pool directly, for tests whose subject is not defining or starting."""
    with hvstate.locked(state) as data:
        data["guests"][name] = {
            "host": host, "state": hvstate.RUNNING if running else hvstate.SHUTOFF,
            "memory_mb": memory, "maxmem_mb": 2048, "vcpus": 2, "uuid": xesim.new_uuid(),
            "domid": hvstate.new_domid(data) if running else None, "macs": [], "bridges": [],
            "disks": [], "autostart": False, "defined": True}
    return name


def record(state: Path, name: str) -> dict | None:
    return hvstate.read(state)["guests"].get(name)


def pool(state: Path) -> dict:
    return hvstate.read(state).get("xenserver", {})


def logged(state: Path) -> list[list[str]]:
    return hvstate.commands_run(state)


def with_vdis(state: Path, spec: GuestSpec) -> GuestSpec:
    """spec, after putting its VDIs in the pool directly (create_disk has its own tests)."""
    with hvstate.locked(state) as data:
        pool_data = xesim.pool_data(data)
        for disk in spec.disks:
            pool_data["vdis"][xesim.new_uuid()] = {"name_label": disk.path,
                                                   "sr": pool_data["default_sr"],
                                                   "virtual_size": disk.size_mb * MIB}
    return spec


def test_registered_with_xenservers_vif_limit():
    assert hypervisor_class("xenserver") is XenServerHypervisor
    assert XenServerHypervisor.max_nics == 7


def test_records_and_maps_parse_xes_format():
    text = ("uuid ( RO)           : 1f0d\n"
            "     name-label ( RW): Control domain on host: xs1\n"
            "    power-state ( RO): running\n\n\n"
            "uuid ( RO)                : 2e1c\n"
            "          name-label ( RW): \n"
            "         cpu_info (MRO): cpu_count: 8; flags: fpu vmx\n\n\n")
    first, second = parse_records(text)
    assert first == {"uuid": "1f0d", "name-label": "Control domain on host: xs1",
                     "power-state": "running"}
    assert second["name-label"] == ""
    assert parse_map(second["cpu_info"]) == {"cpu_count": "8", "flags": "fpu vmx"}


def test_host_info_reads_the_own_pool_member(xs1):
    info = xs1.host_info()
    assert (info.total_mb, info.free_mb, info.cpus) == (4096, 3584, 16)
    assert info.cpu_flags == {"fpu", "vmx", "aes"}
    assert info.version == xesim.PRODUCT_VERSION


def test_define_installs_the_vm_with_disks_and_nics(xs1, state):
    nics = (Nic("42:00:0b:00:00:01", "xenbr0"), Nic("42:00:0b:00:00:02", "xenbr1"))
    xs1.define(with_vdis(state, vm(autostart=True, nics=nics)))
    status = xs1.guests()["vm1"]
    assert (status.state, status.memory_mb, status.vcpus, status.domid) == (OFF, 1024, 2, None)
    saved = record(state, "vm1")
    assert saved["maxmem_mb"] == 2048 and saved["xe"]["vcpus_max"] == 2
    assert saved["macs"] == ["42:00:0b:00:00:01", "42:00:0b:00:00:02"]
    assert saved["bridges"] == ["xenbr0", "xenbr1"]
    assert saved["disks"] == ["vm1-root"]
    assert saved["xe"]["hvm_boot_order"] == "nc" and saved["autostart"] is True
    (vbd,) = pool(state)["vbds"].values()
    assert (vbd["device"], vbd["bootable"]) == ("0", "true")


def test_redefining_replaces_nics_and_settings(xs1, state):
    xs1.define(with_vdis(state, vm()))
    xs1.define(vm(memory=512, vcpus=1, nics=(Nic("42:00:0b:00:00:09", "xenbr1"),)))
    saved = record(state, "vm1")
    assert (saved["memory_mb"], saved["vcpus"], saved["xe"]["vcpus_max"]) == (512, 1, 1)
    assert saved["macs"] == ["42:00:0b:00:00:09"]
    assert len(pool(state)["vbds"]) == 1


def test_start_stop_and_reset(xs1, state):
    spec = with_vdis(state, vm())
    xs1.start(spec)  # not defined yet: start defines it first
    status = xs1.guests()["vm1"]
    assert status.state == ON and status.domid is not None
    assert record(state, "vm1")["host"] == "xs1"
    xs1.start(spec)  # already running
    xs1.reset("vm1")
    xs1.stop("vm1")
    assert xs1.guests()["vm1"].state == OFF
    xs1.stop("vm1", hard=True)  # already off is not an error
    starts = [argv for argv in logged(state) if argv[1] == "vm-start"]
    own_uuid = xesim.host_uuid(hvstate.read(state), "xs1")
    assert len(starts) == 1 and starts[0][-1] == f"on={own_uuid}"


def test_a_running_vm_cannot_be_redefined_or_undefined(xs1, state):
    seeded(state)
    with pytest.raises(XenServerError, match="VM vm1 is running; shut it down"):
        xs1.define(vm())
    with pytest.raises(XenServerError, match="VM vm1 is running; shut it down"):
        xs1.undefine("vm1")


def test_undefine_keeps_the_vdis(xs1, state):
    xs1.define(with_vdis(state, vm()))
    xs1.undefine("vm1")
    xs1.undefine("vm1")  # already gone
    assert "vm1" not in xs1.guests()
    assert [v["name_label"] for v in pool(state)["vdis"].values()] == ["vm1-root"]
    assert pool(state)["vbds"] == {} and pool(state)["vifs"] == {}


def test_start_without_enough_memory_gives_the_numbers(xs1, state):
    with pytest.raises(RemoteError) as failure:
        xs1.start(with_vdis(state, vm(memory=4000)))
    message = str(failure.value)
    assert message.startswith("xs1: 'xe vm-start' failed: Not enough host memory")
    assert f"needed: {4000 * MIB}; available: {3584 * MIB}" in message
    assert record(state, "vm1")["state"] == hvstate.SHUTOFF


def test_create_disk_never_overwrites_an_existing_vdi(xs1, shell, state):
    sr = shell.run(XS1, ["xe", "pool-list", "params=default-SR", "--minimal"]).stdout.strip()
    existing = shell.run(XS1, ["xe", "vdi-create", f"sr-uuid={sr}", "name-label=vm1-root",
                               "virtual-size=5GiB"]).stdout.strip()
    assert xs1.create_disk(Disk("vm1-root", "xvda", size_mb=8)) is False
    assert list(pool(state)["vdis"]) == [existing]
    assert pool(state)["vdis"][existing]["virtual_size"] == 5 * 1024 * MIB


def test_create_and_remove_a_vdi(xs1, state):
    assert xs1.create_disk(Disk("data disk", "xvdb", size_mb=64)) is True
    (vdi,) = pool(state)["vdis"].values()
    assert (vdi["name_label"], vdi["virtual_size"]) == ("data disk", 64 * MIB)
    xs1.remove_disk(Disk("data disk", "xvdb"))
    assert pool(state)["vdis"] == {}


def test_define_needs_the_vdi_and_the_network(xs1, state):
    with pytest.raises(XenServerError, match="no VDIs named 'vm1-root'"):
        xs1.define(vm())
    with pytest.raises(XenServerError, match="no pool network has bridge or name-label 'br9'"):
        xs1.define(with_vdis(state, vm(nics=(Nic("42:00:0b:00:00:01", "br9"),))))


def test_a_network_is_found_by_name_label_too(xs1, state):
    xesim.add_network(state, "xapi3", "storage net")
    xs1.define(with_vdis(state, vm(nics=(Nic("42:00:0b:00:00:05", "storage net"),))))
    assert record(state, "vm1")["bridges"] == ["xapi3"]


def test_more_nics_than_xenserver_allows_are_refused_before_any_command(xs1, state):
    nics = tuple(Nic(f"42:00:0b:00:00:1{i}", "xenbr0") for i in range(8))
    with pytest.raises(XenServerError, match="8 NICs; XenServer allows 7"):
        xs1.define(vm(nics=nics))
    assert logged(state) == []


def test_migrate_moves_the_vm_within_the_pool(xs1, shell, state):
    seeded(state)
    xs1.migrate("vm1", XS2)
    assert "vm1" not in xs1.guests()
    assert XenServerHypervisor(shell, XS2).guests()["vm1"].state == ON
    assert record(state, "vm1")["host"] == "xs2"


def test_migration_refusals(xs1, state):
    seeded(state)
    with pytest.raises(XenServerError, match="xs9 is not a host of this XenServer pool"):
        xs1.migrate("vm1", Target("xs9", "10.0.1.9"))
    with hvstate.locked(state) as data:
        data["hosts"]["xs2"]["relocation"] = False
    with pytest.raises(RemoteError, match="An error occurred during the migration process"):
        xs1.migrate("vm1", XS2)
    assert record(state, "vm1")["host"] == "xs1"


def test_a_disabled_host_takes_no_vms_until_enabled(xs1, shell, state):
    xs2 = XenServerHypervisor(shell, XS2)
    seeded(state, running=False)
    xs1.disable_host("xs2")
    assert hvstate.read(state)["hosts"]["xs2"]["disabled"] is True
    with pytest.raises(RemoteError, match="The specified host is disabled"):
        xs2.start(vm())
    xs1.enable_host("xs2")
    xs2.start(vm())
    assert record(state, "vm1")["host"] == "xs2"


def test_evacuate_moves_every_running_vm(xs1, shell, state):
    for name in ("vm1", "vm2"):
        seeded(state, name, memory=1024)
    xs1.disable_host("xs1")
    xs1.evacuate_host("xs1")
    assert {record(state, n)["host"] for n in ("vm1", "vm2")} == {"xs2"}
    assert set(XenServerHypervisor(shell, XS2).guests()) == {"vm1", "vm2"}


def test_evacuate_that_cannot_place_every_vm_moves_none(xs1, state):
    for name in ("vm1", "vm2"):
        seeded(state, name, memory=1500)
    with hvstate.locked(state) as data:
        data["hosts"]["xs2"]["memory_mb"] = 2560  # room for one of them only
    with pytest.raises(RemoteError, match="Not enough host memory"):
        xs1.evacuate_host("xs1")
    assert {record(state, n)["host"] for n in ("vm1", "vm2")} == {"xs1"}


def test_set_memory_of_halted_and_running_vms(xs1, state):
    seeded(state, running=False)
    xs1.set_memory("vm1", 3072)  # halted: the static maximum rises with it
    assert (record(state, "vm1")["memory_mb"], record(state, "vm1")["maxmem_mb"]) == (3072, 3072)
    xs1.set_memory("vm1", 1024)
    xs1.start(vm())
    xs1.set_memory("vm1", 1536)  # running: ballooned within the static maximum
    assert xs1.guests()["vm1"].memory_mb == 1536
    with pytest.raises(RemoteError, match="dynamic memory range does not satisfy"):
        xs1.set_memory("vm1", 4096)


def test_set_vcpus_up_and_down(xs1, state):
    seeded(state, running=False)
    xs1.set_vcpus("vm1", 6)
    assert (record(state, "vm1")["vcpus"], record(state, "vm1")["xe"]["vcpus_max"]) == (6, 6)
    xs1.set_vcpus("vm1", 1)
    assert (record(state, "vm1")["vcpus"], record(state, "vm1")["xe"]["vcpus_max"]) == (1, 1)


def test_metacharacters_reach_xe_as_one_inert_argument(xs1, state):
    name = "vm1;reboot & $(id) `id` 'q\" <b>=x"
    label = "root;$(id) disk"
    spec = vm(name, disks=(Disk(label, "xvda", size_mb=1),))
    assert xs1.create_disk(spec.disks[0]) is True
    xs1.start(spec)
    argvs = logged(state)
    assert ["xe", "vm-install", "template=Other install media", f"new-name-label={name}"] in argvs
    assert any(argv[:2] == ["xe", "vdi-create"] and f"name-label={label}" in argv
               for argv in argvs)
    assert {argv[0] for argv in argvs} == {"xe"}
    assert xs1.guests()[name].state == ON
    xs1.stop(name, hard=True)
    assert ["xe", "vm-shutdown", f"vm={name}", "--force"] in logged(state)


def test_names_that_would_break_xes_output_are_refused(xs1, state):
    with pytest.raises(XenServerError, match="cannot be a XenServer name"):
        xs1.stop("vm1\nuuid ( RO): x")
    with pytest.raises(XenServerError, match="cannot be a XenServer name"):
        xs1.create_disk(Disk("", "xvda", size_mb=1))
    assert logged(state) == []


def test_a_hung_xe_times_out(xs1, state):
    with hvstate.locked(state) as data:
        data["hosts"]["xs1"]["faults"] = {"hang": ["xe vm-list"]}
    xs1.command_timeout = 0.5
    with pytest.raises(CommandTimeout, match="xs1"):
        xs1.guests()


def test_a_failing_xe_reports_its_message(xs1, state):
    with hvstate.locked(state) as data:
        data["hosts"]["xs1"]["faults"] = {"fail": {"xe host-list": "Lost connection to the "
                                                                    "server."}}
    with pytest.raises(RemoteError, match="xs1: 'xe host-list' failed: Lost connection"):
        xs1.host_info()
