"""The simulated xe: a pool of every "xenserver" host, xe's record format and xapi's error
texts, run in-process (and once through its launcher and hvshell)."""

from pathlib import Path

import pytest

from tests.sim import hvstate, xesim
from tests.sim.localshell import LocalShell
from xcatpy.drivers.remote import Target

MIB = 1024 * 1024


@pytest.fixture
def state(tmp_path: Path, monkeypatch) -> Path:
    path = tmp_path / "state.json"
    hvstate.create(path, {
        "xs1": {"toolstack": "xenserver", "address": "10.0.1.1", "memory_mb": 4096,
                "dom0_mb": 1024},
        "xs2": {"toolstack": "xenserver", "address": "10.0.1.2", "memory_mb": 2048,
                "dom0_mb": 1024},
        "kvm1": {"toolstack": "libvirt"},
    })
    monkeypatch.setenv("XCATSIM_STATE", str(path))
    monkeypatch.setenv("XCATSIM_HOST", "xs1")
    return path


def xe(*args: str) -> tuple[int, str, str]:
    return xesim.run(list(args))


def ok(*args: str) -> str:
    status, out, err = xe(*args)
    assert status == 0, err
    return out.strip()


def install(name: str = "vm1", memory_mb: int = 1024) -> str:
    uuid = ok("vm-install", "template=Other install media", f"new-name-label={name}")
    size, maximum = str(memory_mb * MIB), str(max(memory_mb, 2048) * MIB)
    ok("vm-memory-limits-set", f"uuid={uuid}", f"static-min={size}", f"static-max={maximum}",
       f"dynamic-min={size}", f"dynamic-max={size}")
    return uuid


def uuid_of(state: Path, host: str) -> str:
    return xesim.host_uuid(hvstate.read(state), host)


def test_vm_list_prints_xes_records(state):
    uuid = install()
    out = xe("vm-list", "is-control-domain=false")[1]
    assert out == (f"uuid ( RO)           : {uuid}\n"
                   "     name-label ( RW): vm1\n"
                   "    power-state ( RO): halted\n\n\n")
    assert ok("vm-list", "params=uuid", "--minimal", "name-label=vm1") == uuid
    assert ok("vm-list", "params=uuid", "--minimal", "name-label=other") == ""
    dom0s = ok("vm-list", "is-control-domain=true", "params=name-label", "--minimal")
    assert dom0s == "Control domain on host: xs1,Control domain on host: xs2"


def test_param_get_and_maps(state):
    uuid = install()
    ok("vm-param-set", f"uuid={uuid}", "HVM-boot-params:order=nc", "other-config:a=b")
    assert ok("vm-param-get", f"uuid={uuid}", "param-name=memory-static-max") == str(2048 * MIB)
    assert ok("vm-param-get", f"uuid={uuid}", "param-name=HVM-boot-params",
              "param-key=order") == "nc"
    assert ok("vm-param-get", f"uuid={uuid}", "param-name=resident-on") == xesim.NOT_IN_DB
    host = ok("host-param-get", f"uuid={uuid_of(state, 'xs2')}", "param-name=memory-free")
    assert host == str(1024 * MIB)


def test_xapi_error_texts(state):
    assert xe("vm-start", "vm=nope") == (1, "", "Error: No matching VMs found\n")
    assert xe("vm-param-get", "uuid=nope", "param-name=uuid")[2] == \
        "The uuid you supplied was invalid.\ntype: VM\nuuid: nope\n"
    install()
    assert xe("vm-start", "vm=vm1", "on=xs9")[2] == "Error: Host xs9 not found\n"
    uuid = ok("vm-list", "name-label=vm1", "params=uuid", "--minimal")
    lines = xe("vm-shutdown", "vm=vm1")[2].splitlines()
    assert lines[0].startswith("You attempted an operation on a VM that was not in an "
                               "appropriate power state")
    assert lines[1:] == [f"vm: {uuid} (vm1)", "expected: running", "actual: halted"]
    assert xe("vm-frob") == (1, "", "Unknown command: vm-frob\nFor usage run: 'xe help'\n")
    assert xe("vm-list", "oops")[2] == "Syntax error: oops\n"


def test_vm_start_checks_memory_and_picks_a_host(state):
    install("big", memory_mb=2500)
    status, _, err = xe("vm-start", "vm=big", f"on={uuid_of(state, 'xs2')}")
    assert status == 1
    assert err == ("Not enough host memory is available to perform this operation\n"
                   f"needed: {2500 * MIB}\navailable: {1024 * MIB}\n")
    install("small", memory_mb=1024)
    ok("vm-start", "vm=small", "on=xs2")
    ok("vm-start", "vm=big")  # no on=: any host with room
    guests = hvstate.read(state)["guests"]
    assert (guests["small"]["host"], guests["big"]["host"]) == ("xs2", "xs1")
    install("third", memory_mb=1024)
    assert xe("vm-start", "vm=third")[2] == ("There were no hosts available to complete the "
                                             "specified operation.\n")


def test_vcpu_and_memory_constraints(state):
    uuid = install()
    assert "VCPUs_at_startup ≤ VCPUs_max" in xe("vm-param-set", f"uuid={uuid}",
                                                 "VCPUs-at-startup=4")[2]
    ok("vm-param-set", f"uuid={uuid}", "VCPUs-max=4")
    ok("vm-param-set", f"uuid={uuid}", "VCPUs-at-startup=4")
    assert "VCPUs_at_startup ≤ VCPUs_max" in xe("vm-param-set", f"uuid={uuid}", "VCPUs-max=2")[2]
    err = xe("vm-memory-limits-set", "vm=vm1", "static-min=1GiB", "static-max=1GiB",
             "dynamic-min=1GiB", "dynamic-max=2GiB")[2]
    assert err.startswith("The dynamic memory range does not satisfy the following constraint")
    ok("vm-start", "vm=vm1")
    assert "actual: running" in xe("vm-param-set", f"uuid={uuid}", "VCPUs-max=8")[2]
    assert "actual: running" in xe("vm-memory-limits-set", "vm=vm1", "static-min=1GiB",
                                   "static-max=2GiB", "dynamic-min=1GiB",
                                   "dynamic-max=1GiB")[2]
    ok("vm-memory-dynamic-range-set", "vm=vm1", "min=1536MiB", "max=1536MiB")
    assert hvstate.read(state)["guests"]["vm1"]["memory_mb"] == 1536


def test_devices(state):
    uuid = install()
    net = ok("network-list", "bridge=xenbr0", "params=uuid", "--minimal")
    sr = ok("pool-list", "params=default-SR", "--minimal")
    vdi = ok("vdi-create", f"sr-uuid={sr}", "name-label=root", "virtual-size=8GiB")
    ok("vbd-create", f"vm-uuid={uuid}", f"vdi-uuid={vdi}", "device=0", "bootable=true")
    assert xe("vbd-create", f"vm-uuid={uuid}", f"vdi-uuid={vdi}", "device=0")[2] == \
        "The device name is already in use.\ndevice: 0\n"
    ok("vif-create", f"vm-uuid={uuid}", f"network-uuid={net}", "mac=42:00:00:00:00:01",
       "device=0")
    assert "MAC: 42:00" in xe("vif-create", f"vm-uuid={uuid}", f"network-uuid={net}",
                              "mac=42:00", "device=1")[2]
    assert "value: 7" in xe("vif-create", f"vm-uuid={uuid}", f"network-uuid={net}",
                            "mac=42:00:00:00:00:07", "device=7")[2]
    g = hvstate.read(state)["guests"]["vm1"]
    assert (g["macs"], g["bridges"], g["disks"]) == (["42:00:00:00:00:01"], ["xenbr0"],
                                                      ["root"])
    ok("vm-start", "vm=vm1")
    assert xe("vdi-destroy", f"uuid={vdi}")[2].startswith("This operation cannot be performed "
                                                          "because this VDI is in use")
    ok("vm-shutdown", "vm=vm1", "--force")
    ok("vm-destroy", f"uuid={uuid}")
    data = xesim.pool_data(hvstate.read(state))
    assert list(data["vdis"]) == [vdi] and data["vbds"] == {} and data["vifs"] == {}


def test_migrate_disable_and_evacuate(state):
    install("a", 512)
    install("b", 512)
    ok("vm-start", "vm=a", "on=xs1")
    ok("vm-start", "vm=b", "on=xs1")
    ok("vm-migrate", "vm=a", "host=xs2", "live=true")
    assert hvstate.read(state)["guests"]["a"]["host"] == "xs2"
    ok("host-disable", "host=xs2")
    assert ok("host-list", "name-label=xs2", "params=enabled", "--minimal") == "false"
    assert xe("vm-migrate", "vm=b", "host=xs2")[2] == \
        f"The specified host is disabled.\nhost: {uuid_of(state, 'xs2')} (xs2)\n"
    assert xe("host-evacuate", "host=xs1")[2] == ("There were no hosts available to complete "
                                                  "the specified operation.\n")
    ok("host-enable", f"uuid={uuid_of(state, 'xs2')}")
    ok("host-evacuate", "host=xs1")
    assert {g["host"] for g in hvstate.read(state)["guests"].values()} == {"xs2"}
    assert xe("host-disable", "host=xs9")[2] == "Error: No matching hosts found\n"


def test_evacuation_that_does_not_fit_moves_nothing(state):
    install("a", 800)
    install("b", 800)
    ok("vm-start", "vm=a", "on=xs1")
    ok("vm-start", "vm=b", "on=xs1")
    err = xe("host-evacuate", "host=xs1")[2]
    assert err == ("Not enough host memory is available to perform this operation\n"
                   f"needed: {800 * MIB}\navailable: {224 * MIB}\n")
    assert {g["host"] for g in hvstate.read(state)["guests"].values()} == {"xs1"}


def test_migration_to_a_host_that_refuses_relocation(state):
    install()
    ok("vm-start", "vm=vm1")
    with hvstate.locked(state) as data:
        data["hosts"]["xs2"]["relocation"] = False
    err = xe("vm-migrate", "vm=vm1", "host=xs2", "live=true")[2]
    assert err.startswith("An error occurred during the migration process.\nvm: ")
    assert err.endswith("msg: Connection refused\n")


def test_only_pool_members_run_xe(state, monkeypatch):
    monkeypatch.setenv("XCATSIM_HOST", "kvm1")
    assert xe("vm-list") == (127, "", "sh: xe: not found\n")


def test_the_launcher_logs_and_applies_faults(state):
    with hvstate.locked(state) as data:
        data["hosts"]["xs1"]["faults"] = {"fail": {"xe vm-start": "Lost connection"}}
    shell = LocalShell(state)
    target = Target("xs1", "10.0.1.1")
    out = shell.run(target, ["xe", "host-list", "name-label=xs2", "params=address",
                             "--minimal"]).stdout
    assert out == "10.0.1.2\n"
    failed = shell.run(target, ["xe", "vm-start", "vm=a b"], check=False)
    assert (failed.exit_status, failed.stderr) == (1, "Lost connection\n")
    argvs = hvstate.commands_run(state)
    assert argvs[-1] == ["xe", "vm-start", "vm=a b"]
