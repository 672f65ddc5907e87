"""Table values that reach a hypervisor's shell stay inert: shell metacharacters in them are
either refused with an error naming the node and the column before anything about that
guest is sent, or arrive as literal arguments.

What reaches a command line (read from xcatpy/virt and xcatpy/drivers/ssh): the guest's
node name (xl/xm/virsh/xe arguments, config and XML file names), vm.storage (disk paths
for qemu-img, mkdir, rm, ls, VDI labels for xe), vm.nics and hypervisor.defaultnet
(bridges), vm.memory, vm.maxmem, vm.cpus, vm.storageformat, vm.nicmodel, vm.bootorder,
vm.othersettings (config values), mac.mac, a hypervisor's hosts.ip (the SSH address, and in
migrations the address xl and libvirt hand to ssh on the source host), the guest's
hosts.ip (arping). Everything goes through one quoting point (xcatpy.drivers.remote.
command_line); tests/unit/drivers/test_ssh_quoting.py proves that round trip for any argv.

Here the whole path runs: the real commands (mkvm, rpower, chvm, lsvm, rmvm) in-process on
the tables, the real drivers of all four toolstacks (xl, xm, libvirt, XenServer), and
tests/sim/hvshell, which hands each command line to a real /bin/sh exactly as sshd does,
with the simulated toolstacks logging the argv they received. Every payload would write a
canary file next to that log if a shell ever interpreted it; no canary may exist, and the
argv the simulator received must be exactly the argv the driver built. The last test does
the same through xcatd and a real OpenSSH server.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.integration.clitools import cli
from tests.integration.xcatd import Xcatd
from tests.security.harness import TALLY
from tests.sim import hvstate
from tests.sim.localshell import LocalShell
from tests.sim.sshd import SimHosts
from xcatpy.drivers.remote import Target
from xcatpy.drivers.ssh.keys import client_key
from xcatpy.virt import hostfiles, hosts
from xcatpy.virt.libvirt import LibvirtError, LibvirtHypervisor
from xcatpy.virt.xl import XenToolstackError, XlHypervisor
from xcatpy.virt.xm import XmHypervisor

CANARY = "$XCATSIM_LOG.pwned"


def payloads(prefix: str = "") -> dict[str, str]:
    """tag -> a string that writes CANARY<prefix><tag> if any shell interprets it; the
    prefix keeps each column's payloads distinct. No ',' '@' '^' or '-' inside: these are
    noderange operators, and node names carry the payloads too."""
    c = f"{CANARY}{prefix}"
    return {
        "semi": f";echo>{c}semi",
        "subst": f"$(echo>{c}subst)",
        "tick": f"`echo>{c}tick`",
        "pipe": f"|echo>{c}pipe",
        "amp": f"&echo>{c}amp",
        "and": f"&&echo>{c}and",
        "or": f"||echo>{c}or",
        "sq": f"'$(echo>{c}sq)'",
        "dq": f'"$(echo>{c}dq)"',
        "bs": f"\\$(echo>{c}bs)",
        "redir": f">{c}redir",
        "brace": f"${{IFS}}echo>{c}brace",
        "glob": f"*{prefix}",
        "hash": f"#{prefix}",
        "space": f" echo>{c}space",
        "newline": f"\necho>{c}newline",
        "tab": f"\techo>{c}tab",
    }


PAYLOADS = payloads()
ENUMERATED = "inert argument or refused (table value to command line)"


def canaries(sim_state: Path) -> list[Path]:
    log = sim_state.parent / "commands.log"
    return sorted(log.parent.glob(log.name + ".pwned*"))


class RecordingShell(LocalShell):
    """LocalShell (hvshell, a real /bin/sh) that also keeps every argv a driver sent."""

    def __init__(self, state: Path) -> None:
        super().__init__(state)
        self.sent: list[list[str]] = []

    def run(self, target, argv, **kw):
        self.sent.append([str(a) for a in argv])
        return super().run(target, argv, **kw)


# -- the builders that hand values to a second shell ------------------------------------------


ADDRESS_PAYLOADS = [f"10.0.0.2{p}" for p in PAYLOADS.values()] + [
    "-oProxyCommand=echo>x", "h2 -oProxyCommand=x", "h2/system?socket=/tmp/x",
    "h2?netcat=/tmp/evil", "[::1]:22/x", "user@h2", "h2:2222", "", " h2", "\nh2",
    # A trailing newline: a `$` pattern with re.match once let it through.
    "h2\n"]


@pytest.mark.parametrize("address", ADDRESS_PAYLOADS)
def test_migration_destinations_reach_the_source_hosts_shell_only_as_plain_names(address):
    """xl migrate runs `ssh <dest>` through sh -c on the source host, and libvirt builds an
    ssh command from its URI: a destination address must be a plain name or address."""
    shell = RecordingShell(Path("/nonexistent"))
    dest = Target("h2", address)
    for driver, error in ((XlHypervisor(shell, Target("h1", "10.0.0.1")), XenToolstackError),
                          (XmHypervisor(shell, Target("h1", "10.0.0.1")), XenToolstackError)):
        with pytest.raises(error, match="h2: not a host name or address"):
            driver.migrate_args("g1", dest, live=True)
        TALLY.record(ENUMERATED, True)
    libvirt = LibvirtHypervisor(shell, Target("h1", "10.0.0.1"))
    libvirt._scheme = "qemu"   # what `virsh uri` would have said; nothing is run
    with pytest.raises(LibvirtError, match="h2: not a"):
        libvirt.migration_uri(dest)
    TALLY.record(ENUMERATED, True)
    assert shell.sent == []


@pytest.mark.parametrize("user", ["-oProxyCommand=x", "root;id", "a b", "$(id)", "", "r@h",
                                  "root\n"])
def test_migration_users_are_plain_names(user):
    shell = RecordingShell(Path("/nonexistent"))
    dest = Target("h2", "10.0.0.2", user=user)
    with pytest.raises(XenToolstackError, match="not a user name"):
        XlHypervisor(shell, Target("h1", "10.0.0.1")).migrate_args("g1", dest, live=True)
    libvirt = LibvirtHypervisor(shell, Target("h1", "10.0.0.1"))
    libvirt._scheme = "qemu"
    with pytest.raises(LibvirtError, match="not a user name"):
        libvirt.migration_uri(dest)
    TALLY.record(ENUMERATED, True)
    assert shell.sent == []


@pytest.mark.parametrize("tag", sorted(PAYLOADS))
def test_arping_values_are_checked(tag):
    """A guest's hosts.ip and bridge reach `arping` after a migration."""
    payload = PAYLOADS[tag]
    for interface, mac, address in (("br0" + payload, "42:00:00:00:00:01", "10.0.0.9"),
                                    ("br0", "42:00:00:00:00:01" + payload, "10.0.0.9"),
                                    ("br0", "42:00:00:00:00:01", "10.0.0.9" + payload),
                                    ("-i" + payload, "42:00:00:00:00:01", "10.0.0.9")):
        with pytest.raises(ValueError, match="is not"):
            hostfiles.arping_argv(interface, mac, address)
        TALLY.record(ENUMERATED, True)


# -- the whole path, in-process, through a real /bin/sh ----------------------------------------


TOOLSTACKS = {
    # hypervisor.type: (sim toolstack, guest nodehm.mgt, storage for a guest)
    "xen": ("xen", "xen", "/vms"),
    "xm": ("xm", "xen", "/vms"),
    "libvirt": ("libvirt", "kvm", "/vms"),
    "xenserver": ("xenserver", "xenserver", "/vms"),
}


@pytest.fixture
def hv(request, run, tmp_path):
    """One simulated host `hv1` of the toolstack, and the commands' shell recording."""
    kind = request.param
    toolstack, mgt, storage = TOOLSTACKS[kind]
    sim = tmp_path / "sim" / "state.json"
    hvstate.create(sim, {"hv1": {"toolstack": toolstack, "memory_mb": 65536, "dom0_mb": 1024,
                                 "address": "10.0.0.1"}}, shared_paths=["/vms"])
    shell = RecordingShell(sim)
    hosts.use_shell(lambda state_dir: shell)
    assert run("nodeadd", "hv1", "groups=hv", f"hypervisor.type={kind}",
               "hosts.ip=10.0.0.1", "hypervisor.dom0mem=1024").rc == 0
    yield kind, mgt, storage, sim, shell
    hosts.use_shell(None)


def _add(run, name: str, mgt: str, *columns: str) -> None:
    r = run("nodeadd", name, "groups=hostile,all", "vm.host=hv1", f"nodehm.mgt={mgt}",
            "vm.memory=256", *columns)
    assert r.rc == 0, (name, r.err)
    got = run("nodels", "hostile").out
    assert name in got, (name, got)


def _check_inert(sim: Path, shell: RecordingShell) -> None:
    received = hvstate.commands_run(sim)
    assert sorted(map(tuple, received)) == sorted(map(tuple, shell.sent)), \
        "a command line was not received as the argv the driver built"
    assert canaries(sim) == [], "a shell interpreted a table value"


def _guest_errors(result, nodes) -> dict[str, str]:
    errors = {}
    for line in result.err:
        for node in nodes:
            if line.startswith(f"{node}: Error: "):
                errors[node] = line
    return errors


# The payloads for vm.storage and vm.nicmodel: one of each way into a shell (node names
# get them all). Hostile guests are run in batches of one column each: listing a host's
# guests reads every guest's config, so the commands grow with the square of the batch.
CORE = ("semi", "subst", "tick", "pipe", "sq", "dq", "glob", "newline")


def hostile_guests(column: str, mgt: str, storage: str) -> dict[str, tuple[str, tuple]]:
    """node -> (payload, its nodeadd columns) for one column's batch."""
    found = {}
    if column == "name":
        for tag, payload in payloads("n").items():
            if "\n" not in payload and "\t" not in payload:
                found[f"n{tag}{payload}"] = (payload, (f"vm.storage={storage}",))
    elif column == "vm.storage":
        for tag in CORE:
            payload = payloads("s")[tag]
            found[f"s{tag}"] = (payload, (f"vm.storage={storage}/{payload}",))
    else:
        for tag in CORE:
            payload = payloads("m")[tag]
            found[f"m{tag}"] = (payload, (f"vm.storage={storage}",
                                          f"vm.nicmodel=e1000{payload}"))
    return found


@pytest.mark.parametrize("column", ["name", "vm.storage", "vm.nicmodel"])
@pytest.mark.parametrize("hv", sorted(TOOLSTACKS), indirect=True)
def test_hostile_guests_through_every_guest_command(hv, run, column):
    """Guests whose node name, vm.storage or vm.nicmodel holds each payload, through
    mkvm, rpower on/reset/off, chvm, lsvm and rmvm -p."""
    kind, mgt, storage, sim, shell = hv
    guests: dict[str, str] = {}   # node -> the payload it carries
    for name, (payload, columns) in hostile_guests(column, mgt, storage).items():
        _add(run, name, mgt, *columns)
        guests[name] = payload
    steps = [("mkvm", "hostile", "-s", "1"), ("rpower", "hostile", "on"), ("lsvm", "hv1"),
             ("rpower", "hostile", "reset"), ("chvm", "hostile", "--mem", "300"),
             ("rpower", "hostile", "off"), ("rmvm", "hostile", "-p")]
    refused: dict[str, str] = {}
    for step in steps:
        r = run(*step)
        for node, line in _guest_errors(r, guests).items():
            if step[0] == "mkvm":
                refused[node] = line
        _check_inert(sim, shell)
    accepted = {n: p for n, p in guests.items() if n not in refused}
    sent_text = "\0".join("\0".join(argv) for argv in shell.sent)
    for node, payload in accepted.items():
        # Sent, and sent literally: the payload is inside one argument somewhere.
        assert payload in sent_text or node in sent_text, (kind, node)
    before_sending = 0
    for node, line in refused.items():
        # Refused with a message naming the guest. Some refusals come only after mkvm sent
        # the disk's commands (the name is the toolstack's to judge, when it defines the
        # guest); those arguments were checked above to have arrived intact.
        assert line.startswith(f"{node}: Error: "), line
        before_sending += guests[node] not in sent_text
    for _ in guests:
        TALLY.record(ENUMERATED, True)
    print(f"\n{kind} {column}: {len(guests)} hostile guests, {len(accepted)} sent as inert "
          f"arguments, {len(refused)} refused ({before_sending} before anything of theirs was "
          f"sent); {len(shell.sent)} commands, 0 canaries")
    if column != "vm.nicmodel":   # xl and xm refuse every hostile NIC model, rightly
        assert accepted, "no hostile value reached the host: the test would prove nothing"


COLUMN_CASES = [
    ("vm.nics", "br0{p}", "vm.nics entry"),
    ("vm.memory", "256{p}", "vm.memory is not a size"),
    ("vm.maxmem", "512{p}", "vm.maxmem is not a size"),
    ("vm.cpus", "1{p}", "vm.cpus is not a positive number"),
    ("vm.storageformat", "raw{p}", "vm.storageformat must be raw or qcow2"),
    ("vm.bootorder", "net{p}", "vm.bootorder entry"),
    ("mac.mac", "42:00:00:00:00:01{p}", "mac.mac entry"),
]


@pytest.mark.parametrize("hv", sorted(TOOLSTACKS), indirect=True)
def test_values_with_a_fixed_form_are_refused_before_anything_is_sent(hv, run):
    kind, mgt, storage, sim, shell = hv
    count = 0
    for column, template, message in COLUMN_CASES:
        for payload in payloads(f"c{len(column)}").values():
            name = f"c{count}"
            count += 1
            value = template.format(p=payload)
            _add(run, name, mgt, f"vm.storage={storage}", f"{column}={value}")
            before = len(shell.sent)
            r = run("mkvm", name)
            errors = _guest_errors(r, [name])
            refused = r.rc == 1 and name in errors and message in errors[name]
            nothing_sent = not any(payload in " ".join(argv) for argv in shell.sent[before:])
            TALLY.record(ENUMERATED, refused and nothing_sent)
            assert refused, (kind, column, value, r.err)
            assert nothing_sent, (kind, column, value, shell.sent[before:])
            assert run("noderm", name).rc == 0
    _check_inert(sim, shell)
    print(f"\n{kind}: {count} fixed-form values with metacharacters refused before sending")


# -- through xcatd and a real OpenSSH server ------------------------------------------------------


@pytest.mark.skipif(not Path("/usr/sbin/sshd").exists(), reason="needs OpenSSH's sshd")
def test_through_xcatd_and_openssh(tmp_path):
    state = tmp_path / "state"
    sim = tmp_path / "sim" / "state.json"
    hvstate.create(sim, {"node01": {"toolstack": "xen", "memory_mb": 8192, "dom0_mb": 1024},
                         "node02": {"toolstack": "libvirt", "memory_mb": 8192,
                                    "dom0_mb": 1024}}, shared_paths=["/vms"])

    def run(*args):
        return cli(*args, state=state, bypass=False)

    with SimHosts(["node01", "node02"], sim, tmp_path,
                  client_pubkey=client_key(state).public_line) as sims:
        daemon = Xcatd(state).start()
        try:
            assert run("tabch", "key=sshport", f"site.value={sims.port}").rc == 0
            for name, kind in (("node01", "xen"), ("node02", "libvirt")):
                assert run("nodeadd", name, "groups=hv", f"hosts.ip={sims[name].address}",
                           f"hypervisor.type={kind}", "hypervisor.dom0mem=1024").rc == 0
            # A hypervisor whose address is itself a payload: never dialled, never resolved
            # by a shell.
            assert run("nodeadd", "node03", "groups=hv", "hypervisor.type=xen",
                       f"hosts.ip=127.0.0.9{PAYLOADS['semi']}").rc == 0
            assert run("makeknownhosts", "node01,node02").rc == 0
            sent = {}
            for host, mgt in (("node01", "xen"), ("node02", "kvm")):
                for tag in ("semi", "subst", "tick", "pipe", "dq", "glob"):
                    payload = PAYLOADS[tag]
                    name = f"{host[-1]}{tag}{payload}"
                    r = run("nodeadd", name, "groups=ssh,all", f"vm.host={host}",
                            f"nodehm.mgt={mgt}", "vm.memory=256",
                            f"vm.storage=/vms/{payload}")
                    assert r.rc == 0, r.err
                    sent[name] = payload
            assert run("nodeadd", "far1", "groups=all", "vm.host=node03",
                       "nodehm.mgt=xen").rc == 0
            for step in (("mkvm", "ssh", "-s", "1"), ("rpower", "ssh", "on"),
                         ("rpower", "ssh", "stat"), ("rpower", "ssh", "off"),
                         ("rmvm", "ssh", "-p")):
                r = run(*step)
                assert r.rc == 0, (step, r.out, r.err)
                assert canaries(sim) == [], step
            r = run("rpower", "far1", "on")
            assert r.rc == 1 and r.err.startswith("far1: Error: node03: cannot "), r.err
            received = hvstate.commands_run(sim)
            texts = ["\0".join(argv) for argv in received]
            for name, payload in sent.items():
                # e.g. ["qemu-img", "create", "-f", "raw", "/vms/<payload>/<name>.img", "1M"]
                assert any(f"/vms/{payload}/{name}" in t for t in texts), name
                TALLY.record(ENUMERATED, True)
            assert not any(argv[0] in ("echo", "sh") for argv in received)
            assert canaries(sim) == []
        finally:
            daemon.stop()
    print(f"\nthrough xcatd and sshd: {len(sent)} hostile guests, "
          f"{len(received)} commands received intact, 0 canaries")


def test_the_canary_works(tmp_path):
    """Control: the payloads DO write their canary when a shell interprets them in the
    context they are made for, so a missing canary above means the value was inert."""
    from tests.sim.localshell import SIM_DIR, sim_environment

    sim = tmp_path / "sim" / "state.json"
    hvstate.create(sim, {"hv1": {"toolstack": "xen"}})
    contexts = {tag: f"ls {p}" for tag, p in PAYLOADS.items()}
    contexts["sq"] = f"ls '{PAYLOADS['sq']}'"      # made to break out of single quotes
    contexts["or"] = f"ls /nonexistent {PAYLOADS['or']}"
    contexts["bs"] = f'ls "\\{PAYLOADS["bs"]}"'    # made for a doubled backslash
    for line in contexts.values():
        subprocess.run([str(SIM_DIR / "hvshell")], input=b"", capture_output=True,
                       timeout=60, env={**sim_environment("hv1", sim),
                                        "SSH_ORIGINAL_COMMAND": line, "PATH": "/usr/bin:/bin"})
    written = {p.name.rsplit("pwned", 1)[1] for p in canaries(sim)}
    assert written == {t for t in PAYLOADS if t not in ("glob", "hash")}, written
    shutil.rmtree(sim.parent)
