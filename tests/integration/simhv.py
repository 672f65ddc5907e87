"""A lab for integration tests of guests that move: xcatd, simulated hypervisors behind real
OpenSSH (tests/sim), and helpers that read what the tables and the "hardware" say.

    with HypervisorLab(tmp_path, {"h1": {"memory_mb": 8192}, ...}, shared=["/shared"]) as lab:
        lab.run("rmigrate", "g1", "h2")

Hypervisor nodes get hosts.ip (their sshd's loopback address), hypervisor.type from the
host's toolstack and hypervisor.dom0mem from its dom0_mb; `makeknownhosts` has been run for
them, so the daemon trusts their keys.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from tests.integration.clitools import Completed, cli
from tests.integration.xcatd import Xcatd
from tests.sim import hvstate
from tests.sim.sshd import SimHosts
from xcatpy.drivers.ssh.keys import client_key

# hvstate's toolstack -> hypervisor.type
HYPERVISOR_TYPE = {"xen": "xen", "xm": "xm", "libvirt": "libvirt"}
# hypervisor.type -> the guest's nodehm.mgt
GUEST_MGT = {"xen": "xen", "xm": "xen", "libvirt": "kvm"}


class HypervisorLab:
    def __init__(self, workdir: Path, hosts: dict[str, dict], *,
                 shared: list[str] = ()) -> None:
        self.workdir = Path(workdir)
        self.state = self.workdir / "state"
        self.sim = self.workdir / "sim" / "state.json"
        self.specs = {name: {**hvstate.HOST_DEFAULTS, **spec} for name, spec in hosts.items()}
        hvstate.create(self.sim, hosts, shared)
        self.hosts = SimHosts(list(hosts), self.sim, self.workdir,
                              client_pubkey=client_key(self.state).public_line)
        self.xcatd: Xcatd | None = None

    # -- life cycle -------------------------------------------------------------------------

    def start(self) -> HypervisorLab:
        self.hosts.start()
        try:
            self.xcatd = Xcatd(self.state).start()
            self._define_hypervisors()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self.xcatd is not None:
            self.xcatd.stop()
            self.xcatd = None
        self.hosts.stop()

    def __enter__(self) -> HypervisorLab:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _define_hypervisors(self) -> None:
        self.ok("tabch", "key=sshport", f"site.value={self.hosts.port}")
        for name, spec in self.specs.items():
            with hvstate.locked(self.sim) as state:
                state["hosts"][name]["address"] = self.hosts[name].address
            self.ok("nodeadd", name, "groups=hv,all", f"hosts.ip={self.hosts[name].address}",
                    f"hypervisor.type={HYPERVISOR_TYPE[spec['toolstack']]}",
                    f"hypervisor.dom0mem={spec['dom0_mb']}")
        self.ok("makeknownhosts", "hv")

    # -- commands ---------------------------------------------------------------------------

    def run(self, *args: str) -> Completed:
        """A command through the daemon, as an admin types it."""
        return cli(*args, state=self.state, bypass=False)

    def ok(self, *args: str) -> Completed:
        r = self.run(*args)
        assert r.rc == 0 and "Error" not in r.err, (args, r.rc, r.out, r.err)
        return r

    def add_guest(self, name: str, host: str, memory_mb: int, *, ip: str,
                  storage: str = "/shared/vms", **columns: str) -> None:
        """A guest node placed on `host`; columns: more `table.column=value` settings."""
        mgt = GUEST_MGT[HYPERVISOR_TYPE[self.specs[host]["toolstack"]]]
        self.ok("nodeadd", name, "groups=guests,all", f"vm.host={host}",
                f"vm.memory={memory_mb}", f"vm.storage={storage}", f"nodehm.mgt={mgt}",
                f"hosts.ip={ip}", *(f"{k}={v}" for k, v in columns.items()))

    # -- what the tables say -----------------------------------------------------------------

    def columns(self, nodes, table_column: str) -> dict[str, str]:
        """{node: value} from one `nodels`; '' for a column that is not set."""
        nodes = [nodes] if isinstance(nodes, str) else list(nodes)
        out = self.ok("nodels", ",".join(nodes), table_column).out
        found = {}
        for line in out.splitlines():
            node, sep, value = line.partition(": ")
            assert sep and node in nodes and node not in found, out
            found[node] = value.strip()
        assert set(found) == set(nodes), out
        return found

    def column(self, node: str, table_column: str) -> str:
        return self.columns([node], table_column)[node]

    def vm_host(self, node: str) -> str:
        return self.column(node, "vm.host")

    def vm_hosts(self, nodes) -> dict[str, str]:
        return self.columns(nodes, "vm.host")

    def events(self) -> list[dict[str, str]]:
        """Every eventlog row, oldest first, from `tabdump eventlog`."""
        text = self.ok("tabdump", "eventlog").out
        lines = text.splitlines()
        header = lines[0].lstrip("#").split(",")
        rows = [dict(zip(header, values, strict=True))
                for values in csv.reader(io.StringIO("\n".join(lines[1:])))]
        return sorted(rows, key=lambda r: int(r["recid"]))

    # -- what the simulated hosts say ---------------------------------------------------------

    def sim_state(self) -> dict:
        return hvstate.read(self.sim)

    def sim_guest(self, name: str) -> dict | None:
        return self.sim_state()["guests"].get(name)

    def running_on(self, host: str) -> set[str]:
        return {n for n, g in hvstate.guests_on(self.sim_state(), host).items()
                if g["state"] == hvstate.RUNNING}

    def free_mb(self, host: str) -> int:
        return hvstate.free_memory(self.sim_state(), host)

    def commands_run(self, host: str | None = None) -> list[list[str]]:
        return hvstate.commands_run(self.sim, host=host)
