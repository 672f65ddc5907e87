"""rpower and rsetboot for guests: the power driver behind nodehm.mgt=xen, kvm, ...

Each command runs in three phases. Plan, on the command thread: every table value is read
there (the database connection belongs to that thread), and a guest being created for the
first time gets its UUID and MACs stored. Act, on worker threads (site.vmmaxp at once): only
the hypervisors are talked to. Record, back on the command thread as replies arrive:
vm.powerstate. Starts on one host are serialised, each checking capacity against what the
host runs at that moment, so two guests started together cannot overcommit it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from xcatpy.drivers import power
from xcatpy.drivers.base import DriverError, NodeReplies, Reply
from xcatpy.virt import capacity
from xcatpy.virt.fleet import yes_no
from xcatpy.virt.hosts import HostDrivers, remote_shell
from xcatpy.virt.hypervisor import Hypervisor
from xcatpy.virt.model import OFF, ON, GuestSpec, GuestStatus
from xcatpy.virt.vmcommon import checked_definition, each_in_parallel, error_text

# What vm.powerstate records after each action: the state the guest is left in, which
# revacuate -f reads to know which guests were running when their host died.
_RESULTING_STATE = {"on": "on", "boot": "on", "reset": "on", "off": "off", "softoff": "off"}
_BOOT_ORDERS = {"net": "net,hd", "hd": "hd,net", "cd": "cd,hd"}
_BOOT_NAMES = {"net": "Network", "network": "Network", "hd": "Hard Drive", "disk": "Hard Drive",
               "cd": "CD/DVD", "cdrom": "CD/DVD"}


@dataclass
class _Guest:
    node: str
    host: str = ""
    driver: Hypervisor | None = None
    spec: GuestSpec | None = None
    error: str | None = None


class VmPowerDriver:
    def __init__(self, ctx) -> None:
        self.ctx = ctx
        self.hosts = HostDrivers(ctx.attrs, remote_shell(ctx.store.state_dir))
        # One per host, made on the command thread before any worker can ask for it.
        self._host_locks: dict[str, threading.Lock] = {}
        self._limits: dict[str, capacity.HostLimits] = {}
        self._maintenance: dict[str, bool] = {}
        # What each host reported running, asked once per command: listing a host costs
        # several commands (xl: list, ls, a cat per stopped guest), and a noderange often
        # holds many guests of one host. Each guest is acted on once, after its state is
        # read, so an entry never needs to be read again after its own guest changed.
        self._listings: dict[str, dict[str, GuestStatus]] = {}

    # -- plan (command thread) ----------------------------------------------------------------

    def _plan(self, nodes: list[str], *, with_spec: bool) -> list[_Guest]:
        guests = []
        for node in nodes:
            guest = _Guest(node)
            try:
                guest.host, toolstack, guest.driver = self.hosts.for_guest(node)
                self._host_locks.setdefault(guest.host, threading.Lock())
                if with_spec:
                    guest.spec = checked_definition(self.ctx, node, guest.host, toolstack,
                                                    guest.driver, store_values=False).spec
                    if guest.host not in self._limits:
                        self._limits[guest.host] = capacity.host_limits(self.ctx.attrs,
                                                                        guest.host)
                        self._maintenance[guest.host] = bool(yes_no(
                            self.ctx.attrs.lookup(guest.host, "hypervisor", "maintenance"),
                            f"{guest.host}: hypervisor.maintenance"))
            except DriverError as exc:
                guest.error = error_text(node, exc)
            guests.append(guest)
        return guests

    # -- act (worker threads) -----------------------------------------------------------------

    def _run(self, guests: list[_Guest], act: Callable[[_Guest], str]) -> NodeReplies:
        ready = []
        for guest in guests:
            if guest.error:
                yield guest.node, Reply.fail(guest.error)
            else:
                ready.append(guest)
        for done in each_in_parallel(self.ctx, ready, lambda guest, _lines: act(guest)):
            node = done.item.node
            yield node, (Reply.fail(error_text(node, done.error)) if done.error
                         else Reply(done.result))

    def _state(self, guest: _Guest) -> str:
        with self._host_locks[guest.host]:
            if guest.host not in self._listings:
                self._listings[guest.host] = guest.driver.guests()
            status = self._listings[guest.host].get(guest.node)
        return status.state if status is not None else OFF

    def _start(self, guest: _Guest) -> None:
        spec, driver = guest.spec, guest.driver
        with self._host_locks[guest.host]:
            # Fresh, not the listing: other starts on this host may have happened since.
            running = self._listings[guest.host] = driver.guests()
            current = running.get(spec.name)
            if current is not None and current.state == ON:
                return
            if self._maintenance[guest.host]:
                raise DriverError(f"{guest.host} is in maintenance (hypervisor.maintenance), so "
                                  f"no guest starts there; 'chhypervisor {guest.host} -o' ends "
                                  "it, or place the guest elsewhere (chdef vmhost=)")
            limits = self._limits[guest.host]
            info = driver.host_info() if limits.total_mb is None else None
            account = capacity.account(limits, info, running)
            capacity.check_fits(spec.name, spec.memory_mb, account.without_guest(spec.name))
            for disk in spec.disks:
                if disk.kind == "file":
                    driver.create_disk(disk)
            driver.define(spec)
            driver.start(spec)

    def _power_one(self, guest: _Guest, action: str) -> str:
        driver, name = guest.driver, guest.node
        if action in ("stat", "state"):
            return self._state(guest)
        state = self._state(guest)
        if action == "on":
            if state != ON:
                self._start(guest)
            return "on"
        if action == "off":
            if state != OFF:
                driver.stop(name, hard=True)
            return "off"
        if action == "softoff":
            if state != OFF:
                driver.stop(name, hard=False)
            return "softoff"
        if action == "reset":
            if state == OFF:
                raise DriverError(f"off on {guest.host}; use rpower on")
            driver.reset(name)
            return "reset"
        if action == "boot":
            if state == OFF:
                self._start(guest)
                return "off on"
            driver.reset(name)
            return "on reset"
        raise DriverError(f"unsupported action '{action}'")

    # -- the PowerDriver interface ------------------------------------------------------------

    def power(self, nodes: list[str], action: str) -> NodeReplies:
        guests = self._plan(nodes, with_spec=action in ("on", "boot"))
        for node, reply in self._run(guests, lambda g: self._power_one(g, action)):
            if not reply.error and action not in ("stat", "state"):
                self._record_powerstate(node, _RESULTING_STATE[action])
            yield node, reply

    def _record_powerstate(self, node: str, state: str) -> None:
        self.ctx.write_now(lambda store: store.upsert_rows(
            "vm", [{"node": node, "powerstate": state}]))

    def set_boot_device(self, nodes: list[str], device: str) -> NodeReplies:
        """Guests boot as vm.bootorder says, applied when they are next started; `net` is
        what rinstall asks for, and a guest's default order is already network first."""
        attrs = self.ctx.attrs
        for node in nodes:
            order = (attrs.lookup(node, "vm", "bootorder") or "net,hd").split(",")
            if device == "stat":
                yield node, Reply(_BOOT_NAMES.get(order[0].strip().lower(), order[0]))
                continue
            wanted = _BOOT_ORDERS.get(device)
            if wanted is None:  # def: back to the default order
                self.ctx.write_now(lambda store, n=node: store.upsert_rows(
                    "vm", [{"node": n, "bootorder": None}]))
                yield node, Reply("boot override inactive")
                continue
            if ",".join(o.strip() for o in order) != wanted:
                self.ctx.write_now(lambda store, n=node, w=wanted: store.upsert_rows(
                    "vm", [{"node": n, "bootorder": w}]))
            yield node, Reply(_BOOT_NAMES[device])


for _name in ("xen", "xm", "kvm", "libvirt", "xenserver"):
    power.register(_name, VmPowerDriver)
