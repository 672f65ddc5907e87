"""The simulated xl and xm (tests/sim/xlsim.py): output formats, refusals, migration."""

import re
from pathlib import Path

import pytest

from tests.sim import hvstate
from tests.sim.localshell import LocalShell
from tests.sim.xlsim import ConfigSyntaxError, parse_config
from xcatpy.drivers.remote import RemoteResult, Target

GUEST = """\
# a hand-written guest, the way the howto's admins wrote them
name = "web1"
uuid = '0a2040b3-3d85-49d4-accc-e38bc2e51a6d'
memory = 512 ; vcpus = 2
builder = 'hvm'
disk = [ 'phy:/dev/vg0/web1,xvda,w',
         'file:/vms/web1-data.img,xvdb,w', ]
vif = [ 'mac=00:16:3e:01:02:03,bridge=xenbr1' ]
"""


@pytest.fixture
def state(tmp_path: Path, monkeypatch) -> Path:
    path = tmp_path / "sim" / "state.json"
    monkeypatch.setenv("XCATSIM_STATE", str(path))
    hvstate.create(path, {
        "h1": {"address": "10.0.3.1", "memory_mb": 4096, "dom0_mb": 1024, "cpus": 4},
        "h2": {"address": "10.0.3.2", "memory_mb": 2048, "dom0_mb": 1024},
        "old1": {"toolstack": "xm", "address": "10.0.3.11", "memory_mb": 4096},
        "old2": {"toolstack": "xm", "address": "10.0.3.12", "memory_mb": 4096},
    }, shared_paths=["/vms"])
    return path


@pytest.fixture
def run(state: Path):
    shell = LocalShell(state)

    def _run(host: str, *argv: str) -> RemoteResult:
        return shell.run(Target(host, host), list(argv), check=False)

    return _run


def put(state: Path, host: str, path: str, text: str = "") -> None:
    target = hvstate.host_file(state, host, path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)


def with_web1_files(state: Path, host: str, config: str = "/etc/xen/web1.cfg") -> str:
    put(state, host, config, GUEST)
    put(state, host, "/dev/vg0/web1")
    put(state, host, "/vms/web1-data.img")
    return config


def test_xl_list_and_info_formats(state, run):
    listing = run("h1", "xl", "list")
    assert listing.exit_status == 0
    assert listing.stdout.splitlines() == [
        "Name                                        ID   Mem VCPUs\tState\tTime(s)",
        "Domain-0                                     0  1024     4     r-----    1742.3"]
    info = run("h1", "xl", "info").stdout
    assert re.search(r"^total_memory           : 4096$", info, re.M)
    assert re.search(r"^free_memory            : 3072$", info, re.M)
    assert re.search(r"^nr_cpus                : 4$", info, re.M)
    assert run("h1", "xl", "info", "free_memory").stdout == "3072\n"


def test_xm_list_format_matches_the_howto(state, run):
    config = with_web1_files(state, "old1", "/etc/xen/web1")
    assert run("old1", "xm", "create", config).stdout.splitlines() == [
        'Using config file "/etc/xen/web1".', "Started domain web1 (id=1)"]
    lines = run("old1", "xm", "list").stdout.splitlines()
    assert lines[0].split() == ["Name", "ID", "Mem", "VCPUs", "State", "Time(s)"]
    assert lines[1].split()[:5] == ["Domain-0", "0", "1024", "8", "r-----"]
    assert lines[2].split()[:5] == ["web1", "1", "512", "2", "-b----"]
    assert "(image\n        (hvm" in run("old1", "xm", "list", "--long", "web1").stdout


def test_create_reads_the_config_file(state, run):
    config = with_web1_files(state, "h1")
    created = run("h1", "xl", "create", config)
    assert (created.exit_status, created.stderr) == (0, f"Parsing config from {config}\n")
    record = hvstate.read(state)["guests"]["web1"]
    assert (record["host"], record["state"], record["type"]) == ("h1", "running", "hvm")
    assert (record["memory_mb"], record["vcpus"]) == (512, 2)
    assert record["disks"] == ["/dev/vg0/web1", "/vms/web1-data.img"]
    assert (record["macs"], record["bridges"]) == (["00:16:3e:01:02:03"], ["xenbr1"])
    assert "web1 " in run("h1", "xl", "list", "-v").stdout
    again = run("h1", "xl", "create", config)
    assert again.exit_status == 3
    assert 'Domain with name "web1" already exists.' in again.stderr


def test_create_refusals(state, run):
    put(state, "h1", "/etc/xen/nodisk.cfg",
        'name = "nodisk"\ndisk = [ "/vms/none.img,raw,xvda,rw" ]\n')
    refused = run("h1", "xl", "create", "/etc/xen/nodisk.cfg")
    assert refused.exit_status == 3
    assert "Disk vdev=xvda failed to stat: /vms/none.img: No such file or directory" in \
        refused.stderr
    put(state, "h1", "/etc/xen/big.cfg", 'name = "big"\nmemory = 3073\n')
    big = run("h1", "xl", "create", "/etc/xen/big.cfg")
    assert (big.exit_status, big.stderr.splitlines()[-1]) == (
        3, "failed to free memory for the domain")
    put(state, "old1", "/etc/xen/big", 'name = "big"\nmemory = 3073\n')
    assert run("old1", "xm", "create", "/etc/xen/big").stderr == (
        "Error: Not enough free memory and enable-dom0-ballooning is False, so I cannot "
        "release any more.  I need 3146752 KiB but only have 3145728.\n")
    put(state, "h1", "/etc/xen/bad.cfg", 'name = "bad"\nmemory = 512 MiB\n')
    bad = run("h1", "xl", "create", "/etc/xen/bad.cfg")
    assert (bad.exit_status, bad.stderr.splitlines()[1]) == (
        1, "/etc/xen/bad.cfg:2: config parsing error near `MiB': syntax error")
    assert hvstate.read(state)["guests"] == {}


def test_unknown_domains_and_missing_toolstacks(state, run):
    xl_error = run("h1", "xl", "destroy", "nope")
    assert (xl_error.exit_status, xl_error.stderr) == (
        1, "nope is an invalid domain identifier (rc=-6)\n")
    xm_error = run("old1", "xm", "shutdown", "nope")
    assert (xm_error.exit_status, xm_error.stderr) == (1, "Error: Domain 'nope' does not exist.\n")
    assert run("h1", "xl", "domid", "nope").stderr.startswith("Can't get domid of domain name")
    assert run("old1", "xl", "list").exit_status == 127
    assert run("h1", "xm", "list").stderr == "sh: 1: xm: not found\n"


def test_xl_migration_moves_the_record_and_copies_no_config(state, run):
    run("h1", "xl", "create", with_web1_files(state, "h1"))
    moved = run("h1", "xl", "migrate", "web1", "10.0.3.2")
    # The destination opens the same disks: /vms is shared, the LUN must be there too.
    assert "Disk vdev=xvda failed to stat: /dev/vg0/web1" in moved.stderr
    put(state, "h2", "/dev/vg0/web1")
    moved = run("h1", "xl", "migrate", "web1", "10.0.3.2")
    assert moved.exit_status == 0
    assert moved.stderr.splitlines()[-1] == "Migration successful."
    record = hvstate.read(state)["guests"]["web1"]
    assert (record["host"], record["state"]) == ("h2", "running")
    assert "web1" in run("h2", "xl", "list").stdout
    assert "web1" not in run("h1", "xl", "list").stdout
    assert not hvstate.host_file(state, "h2", "/etc/xen/web1.cfg").exists()


def test_xl_migration_refusals(state, run):
    with hvstate.locked(state) as data:
        data["hosts"]["h2"]["relocation"] = False
    run("h1", "xl", "create", with_web1_files(state, "h1"))
    put(state, "h2", "/dev/vg0/web1")
    refused = run("h1", "xl", "migrate", "-s", "ssh -p 2222", "web1", "root@10.0.3.2")
    assert refused.exit_status == 1
    assert refused.stderr.startswith("ssh: connect to host 10.0.3.2 port 2222: Connection refused")
    unknown = run("h1", "xl", "migrate", "web1", "h9")
    assert "ssh: Could not resolve hostname h9" in unknown.stderr
    with hvstate.locked(state) as data:
        data["hosts"]["h2"]["relocation"] = True
        data["hosts"]["h2"]["memory_mb"] = 1500  # 476 MiB free after dom0
    full = run("h1", "xl", "migrate", "web1", "h2")
    assert "failed to free memory for the domain" in full.stderr
    assert full.stderr.splitlines()[-1] == "Migration failed, resuming at sender."
    assert hvstate.read(state)["guests"]["web1"]["host"] == "h1"


def test_xm_migration_needs_the_relocation_server(state, run):
    run("old1", "xm", "create", with_web1_files(state, "old1", "/etc/xen/web1"))
    put(state, "old2", "/dev/vg0/web1")
    with hvstate.locked(state) as data:
        data["hosts"]["old2"]["relocation"] = False
    refused = run("old1", "xm", "migrate", "--live", "web1", "10.0.3.12")
    assert (refused.exit_status, refused.stderr) == (
        1, "Error: can't connect: Connection refused\n")
    with hvstate.locked(state) as data:
        data["hosts"]["old2"]["relocation"] = True
    assert run("old1", "xm", "migrate", "--live", "web1", "10.0.3.12").exit_status == 0
    assert hvstate.read(state)["guests"]["web1"]["host"] == "old2"


def test_running_guest_limits(state, run):
    run("h1", "xl", "create", with_web1_files(state, "h1"))
    assert "memory_dynamic_max must be less than or equal to memory_static_max" in \
        run("h1", "xl", "mem-set", "web1", "1g").stderr
    assert run("h1", "xl", "mem-set", "web1", "262144").exit_status == 0  # KiB by default
    assert "Requested 4 VCPUs, however maxcpus is 2" in run("h1", "xl", "vcpu-set", "web1",
                                                            "4").stderr
    record = hvstate.read(state)["guests"]["web1"]
    assert (record["memory_mb"], record["vcpus"]) == (256, 2)
    with hvstate.locked(state) as data:
        data["guests"]["web1"].update(type="pv")
    trigger = run("h1", "xl", "trigger", "web1", "reset")
    # Real xl ignores the trigger's failure: exit 0, the error only on stderr.
    assert trigger.exit_status == 0
    assert "Send trigger 'reset' failed: Invalid argument" in trigger.stderr


def test_hvm_guest_without_pv_drivers_needs_the_acpi_fallback(state, run):
    run("h1", "xl", "create", with_web1_files(state, "h1"))
    with hvstate.locked(state) as data:
        data["guests"]["web1"]["pv_drivers"] = False
    refused = run("h1", "xl", "shutdown", "-w", "web1")
    assert refused.exit_status == 1
    assert 'Use "-F" to fallback to ACPI power event.' in refused.stderr
    assert run("h1", "xl", "shutdown", "-w", "-F", "web1").exit_status == 0
    assert hvstate.read(state)["guests"]["web1"]["state"] == hvstate.SHUTOFF


def test_every_command_is_logged_and_faults_apply(state, run):
    with hvstate.locked(state) as data:
        data["hosts"]["h1"]["faults"] = {"fail": {"xl info": "cannot connect to xenstored"}}
    failed = run("h1", "xl", "info")
    assert (failed.exit_status, failed.stderr) == (1, "cannot connect to xenstored\n")
    assert run("h1", "xl", "list", "g'$(x)").stderr.startswith("g'$(x) is an invalid")
    logged = hvstate.logged_commands(state.parent / "commands.log")
    assert [entry["argv"] for entry in logged] == [["xl", "info"], ["xl", "list", "g'$(x)"]]


def test_parse_config_is_strict():
    assert parse_config("a = [ 1, 'x' ,\n ]; b = \"q\\\"\"\n") == {"a": [1, "x"], "b": 'q"'}
    for text, line in [("a = b\n", 1), ("a = 1\nb = [ 1 2 ]\n", 2), ("= 1\n", 1),
                       ("a = 'open\n", 1)]:
        with pytest.raises(ConfigSyntaxError) as error:
            parse_config(text)
        assert error.value.lineno == line
