"""The simulated virsh: real virsh's formats and refusals, run in-process (and once through
its launcher and hvshell)."""

from pathlib import Path

import pytest

from tests.sim import hvstate, virshsim
from tests.sim.localshell import LocalShell
from xcatpy.drivers.remote import Target

DOMAIN = """<domain type='{type}'>
  <name>{name}</name>
  <uuid>{uuid}</uuid>
  <memory unit='KiB'>2097152</memory>
  <currentMemory unit='KiB'>1048576</currentMemory>
  <vcpu placement='static'>2</vcpu>
  <os><type>hvm</type><boot dev='network'/><boot dev='hd'/></os>
  <devices>
    <disk type='file' device='disk'><source file='{disk}'/><target dev='vda' bus='virtio'/>
    </disk>
    <interface type='bridge'><mac address='42:00:00:00:00:0{n}'/><source bridge='br{n}'/>
    </interface>
  </devices>
</domain>
"""


@pytest.fixture
def state(tmp_path: Path, monkeypatch) -> Path:
    path = tmp_path / "state.json"
    hvstate.create(path, {
        "kvm1": {"toolstack": "libvirt", "address": "10.0.0.1", "memory_mb": 4096,
                 "dom0_mb": 1024, "cpus": 8},
        "kvm2": {"toolstack": "libvirt", "address": "10.0.0.2", "memory_mb": 2048,
                 "dom0_mb": 1024},
        "xen1": {"toolstack": "libvirt", "libvirt_driver": "xen"},
        "xl1": {"toolstack": "xen"},
    }, shared_paths=["/vms"])
    monkeypatch.setenv("XCATSIM_STATE", str(path))
    monkeypatch.setenv("XCATSIM_HOST", "kvm1")
    return path


def virsh(*args: str) -> tuple[int, str, str]:
    """virsh args on the host XCATSIM_HOST names."""
    return virshsim.run(list(args))


def on(monkeypatch, host: str) -> None:
    monkeypatch.setenv("XCATSIM_HOST", host)


def define(state: Path, name: str, n: int = 1, *, host: str = "kvm1", type_: str = "kvm",
           disk: str | None = None, uuid: str | None = None) -> tuple[int, str, str]:
    """Writes the domain XML on host (the current XCATSIM_HOST) and defines it."""
    disk = disk or f"/vms/{name}.img"
    data = hvstate.read(state)
    xml_path = hvstate.host_path(host, f"/etc/{name}.xml", data)
    xml_path.parent.mkdir(parents=True, exist_ok=True)
    xml_path.write_text(DOMAIN.format(type=type_, name=name, disk=disk, n=n,
                                      uuid=uuid or f"00000000-0000-4000-8000-00000000000{n}"))
    image = hvstate.host_path(host, disk, data)
    image.parent.mkdir(parents=True, exist_ok=True)
    image.touch()
    return virsh("define", f"/etc/{name}.xml")


def test_define_parses_the_domain(state):
    status, out, _ = define(state, "web")
    assert status == 0 and out == "Domain 'web' defined from /etc/web.xml\n\n"
    g = hvstate.read(state)["guests"]["web"]
    assert (g["host"], g["state"], g["memory_mb"], g["maxmem_mb"], g["vcpus"]) == \
        ("kvm1", hvstate.SHUTOFF, 1024, 2048, 2)
    assert (g["macs"], g["bridges"]) == (["42:00:00:00:00:01"], ["br1"])
    assert g["disks"] == [{"path": "/vms/web.img", "kind": "file", "device": "vda"}]


def test_list_all_is_virshs_table(state):
    define(state, "web", 1)
    define(state, "db", 2)
    define(state, "app", 3)
    assert virsh("start", "web")[0] == 0
    status, out, _ = virsh("list", "--all")
    assert status == 0
    # Cells padded to their column plus two spaces, trailing ones included, as vshTable does.
    assert out == (" Id   Name   State     \n"
                   "-----------------------\n"
                   " 1    web    running   \n"
                   " -    app    shut off  \n"
                   " -    db     shut off  \n\n")
    assert virsh("list")[1].splitlines()[2].split() == ["1", "web", "running"]
    assert virsh("list", "--all", "--name")[1] == "web\napp\ndb\n\n"
    assert virsh("list", "--uuid")[1] == "00000000-0000-4000-8000-000000000001\n\n"


def test_dominfo_of_running_and_stopped_domains(state):
    define(state, "web")
    stopped = virsh("dominfo", "web")[1]
    assert "Id:             -\n" in stopped and "State:          shut off\n" in stopped
    assert "CPU time" not in stopped
    virsh("start", "web")
    lines = dict(line.split(":", 1) for line in virsh("dominfo", "web")[1].splitlines() if line)
    assert lines["Id"].strip() == "1"
    assert lines["UUID"].strip() == "00000000-0000-4000-8000-000000000001"
    assert lines["State"].strip() == "running"
    assert lines["Max memory"].strip() == "2097152 KiB"
    assert lines["Used memory"].strip() == "1048576 KiB"
    assert virsh("domstate", "1")[1] == "running\n\n"  # by id, as virsh allows


def test_unknown_domain_and_command(state):
    assert virsh("dominfo", "nope") == (1, "", "error: failed to get domain 'nope'\n")
    assert virsh("frobnicate") == (1, "", "error: unknown command: 'frobnicate'\n")
    assert virsh("list", "--bogus")[2] == "error: command does not support option --bogus\n"


def test_nodeinfo_and_freecell(state):
    define(state, "web")
    virsh("start", "web")
    out = virsh("nodeinfo")[1]
    assert "CPU(s):              8\n" in out
    assert "Memory size:         4194304 KiB\n" in out
    assert virsh("freecell")[1] == f"Total: {(4096 - 1024 - 1024) * 1024} KiB\n"
    assert virsh("freecell", "--all")[1].splitlines()[-1] == "Total:    2097152 KiB"


def test_uri_version_and_domain_type_follow_the_hosts_driver(state, monkeypatch):
    assert virsh("uri")[1] == "qemu:///system\n\n"
    on(monkeypatch, "xen1")
    assert virsh("uri")[1] == "xen:///system\n\n"
    assert "Running hypervisor: Xen 4.16.0" in virsh("version")[1]
    status, _, err = define(state, "pv", host="xen1", type_="kvm")
    assert status == 1 and "could not find capabilities for arch=x86_64 domaintype=kvm" in err
    assert define(state, "pv", host="xen1", type_="xen")[0] == 0
    assert "<domain type='xen'/>" in virsh("capabilities")[1]


def test_start_refusals(state):
    define(state, "big")
    with hvstate.locked(state) as data:
        data["guests"]["big"]["memory_mb"] = 3500
    status, _, err = virsh("start", "big")
    assert status == 1
    assert err.startswith("error: Failed to start domain 'big'\nerror: internal error: ")
    assert err.rstrip().endswith("Cannot allocate memory")
    define(state, "nodisk", 2)
    hvstate.host_file(state, "kvm1", "/vms/nodisk.img").unlink()
    assert "Cannot access storage file '/vms/nodisk.img'" in virsh("start", "nodisk")[2]
    define(state, "web", 3)
    virsh("start", "web")
    assert "domain is already active" in virsh("start", "web")[2]


def test_life_cycle(state):
    define(state, "web")
    assert virsh("start", "web")[1] == "Domain 'web' started\n\n"
    assert virsh("suspend", "web")[0] == 0
    assert virsh("domstate", "web")[1] == "paused\n\n"
    assert virsh("resume", "web")[0] == 0
    assert virsh("reset", "web")[1] == "Domain 'web' was reset\n\n"
    assert virsh("shutdown", "web")[1] == "Domain 'web' is being shutdown\n\n"
    assert virsh("destroy", "web") == (1, "", "error: Failed to destroy domain 'web'\nerror: "
                                       "Requested operation is not valid: domain is not "
                                       "running\n")
    assert virsh("autostart", "web")[1] == "Domain 'web' marked as autostarted\n\n"
    assert virsh("undefine", "web")[1] == "Domain 'web' has been undefined\n\n"
    assert "web" not in hvstate.read(state)["guests"]


def test_undefining_a_running_domain_leaves_it_transient(state):
    define(state, "web")
    virsh("start", "web")
    virsh("undefine", "web")
    assert "Persistent:     no" in virsh("dominfo", "web")[1]
    virsh("destroy", "web")
    assert "web" not in hvstate.read(state)["guests"]


def test_migrate_moves_the_domain_to_the_host_in_the_uri(state):
    define(state, "web")
    with hvstate.locked(state) as data:
        data["guests"]["web"]["memory_mb"] = 512
    virsh("start", "web")
    status, out, err = virsh("migrate", "--live", "--persistent", "--undefinesource", "web",
                             "qemu+ssh://root@10.0.0.2:2222/system")
    assert (status, out, err) == (0, "", "")
    g = hvstate.read(state)["guests"]["web"]
    assert (g["host"], g["state"], g["defined"]) == ("kvm2", hvstate.RUNNING, True)
    assert virsh("list", "--name")[1] == "\n"


def test_migrate_refusals(state):
    define(state, "web")  # 1024 MiB; kvm2 has 1024 free
    define(state, "local", 2, disk="/var/lib/images/local.img")
    assert virsh("migrate", "--live", "web", "qemu+ssh://kvm2/system")[2] == \
        "error: Requested operation is not valid: domain is not running\n"
    virsh("start", "web")
    virsh("start", "local")
    err = virsh("migrate", "--live", "web", "qemu+ssh://nowhere/system")[2]
    assert "Could not resolve hostname nowhere" in err
    assert "same host" in virsh("migrate", "--live", "web", "qemu+ssh://10.0.0.1/system")[2]
    assert "Cannot access storage file '/var/lib/images/local.img'" in \
        virsh("migrate", "--live", "local", "qemu+ssh://kvm2/system")[2]
    assert "failed to connect" in virsh("migrate", "--live", "web", "qemu+ssh://xl1/system")[2]
    with hvstate.locked(state) as data:
        data["hosts"]["kvm2"]["relocation"] = False
    assert "Connection refused" in virsh("migrate", "--live", "web", "qemu+ssh://kvm2/system")[2]
    with hvstate.locked(state) as data:
        data["hosts"]["kvm2"]["relocation"] = True
        data["guests"]["web"]["memory_mb"] = 1500
    assert "Cannot allocate memory" in virsh("migrate", "--live", "web",
                                             "qemu+ssh://kvm2/system")[2]
    assert hvstate.read(state)["guests"]["web"]["host"] == "kvm1"


def test_memory_and_vcpu_changes(state):
    define(state, "web")
    assert virsh("setmem", "web", str(3 * 1024 * 1024), "--config")[2] == \
        "error: invalid argument: cannot set memory higher than max memory\n"
    assert virsh("setmaxmem", "web", str(3 * 1024 * 1024), "--config")[0] == 0
    assert virsh("setmem", "web", str(3 * 1024 * 1024), "--config")[0] == 0
    assert "requested vcpus is greater than max allowable vcpus for the persistent domain: " \
           "4 > 2" in virsh("setvcpus", "web", "4", "--config")[2]
    assert virsh("setvcpus", "web", "4", "--config", "--maximum")[0] == 0
    assert virsh("setvcpus", "web", "4", "--config")[0] == 0
    g = hvstate.read(state)["guests"]["web"]
    assert (g["memory_mb"], g["maxmem_mb"], g["vcpus"], g["maxvcpus"]) == (3072, 3072, 4, 4)


def test_config_changes_to_a_running_domain_wait_for_its_next_boot(state):
    define(state, "web")
    virsh("start", "web")
    assert "cannot resize the maximum memory on an active domain" in \
        virsh("setmaxmem", "web", "4194304", "--live")[2]
    virsh("setmem", "web", "524288", "--config")
    assert hvstate.read(state)["guests"]["web"]["memory_mb"] == 1024
    virsh("destroy", "web")
    assert hvstate.read(state)["guests"]["web"]["memory_mb"] == 512


def test_only_libvirt_hosts_answer(state, monkeypatch):
    on(monkeypatch, "xl1")
    assert virsh("list") == (1, "", "error: failed to connect to the hypervisor\nerror: Failed "
                             "to connect socket to '/var/run/libvirt/libvirt-sock': No such file "
                             "or directory\n")


def test_the_launcher_logs_and_applies_faults(state):
    with hvstate.locked(state) as data:
        data["hosts"]["kvm1"]["faults"] = {"fail": {"virsh start": "error: injected"}}
    shell = LocalShell(state)
    target = Target("kvm1", "10.0.0.1")
    assert shell.run(target, ["virsh", "uri"]).stdout == "qemu:///system\n\n"
    failed = shell.run(target, ["virsh", "start", "a b"], check=False)
    assert (failed.exit_status, failed.stderr) == (1, "error: injected\n")
    argvs = hvstate.commands_run(state)
    assert argvs == [["virsh", "uri"], ["virsh", "start", "a b"]]
