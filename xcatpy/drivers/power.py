"""The power registry: which driver powers a node, and what a power driver offers.

xCAT picks the driver from nodehm.power, falling back to nodehm.mgt: `ipmi` for bare metal,
`xen`/`kvm`/... for guests, whose toolstack then comes from their host's hypervisor.type.
Drivers register a factory per name; a node whose name has no driver fails with that
reason, never silently.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from xcatpy.drivers.base import NodeReplies

# rpower's actions, as xCAT spells them. `boot`: reset if on, else on. `stat`/`state`: report.
POWER_ACTIONS = ("on", "off", "softoff", "reset", "boot", "stat", "state")
# rsetboot's devices: the next boot only, as xCAT's rsetboot does by default.
BOOT_DEVICES = ("net", "hd", "cd", "def", "stat")


class PowerDriver(Protocol):
    def power(self, nodes: list[str], action: str) -> NodeReplies:
        """One reply per node: the state after the action ("on", "off", "reset"), or the
        error. `stat` replies with the current state."""

    def set_boot_device(self, nodes: list[str], device: str) -> NodeReplies:
        """device: one of BOOT_DEVICES; replies with the device now set ("Network",
        "Hard Drive", "CD/DVD", "boot override inactive") as ipmitool and xCAT print it."""


# factory(ctx) -> a driver for one command. ctx is the command's Context: drivers read the
# tables through ctx.attrs and record what they change (a guest's new MAC) with
# ctx.write_now.
Factory = Callable[[object], PowerDriver]

_FACTORIES: dict[str, Factory] = {}


def register(name: str, factory: Factory) -> None:
    _FACTORIES[name] = factory


def _load_builtin_drivers() -> None:
    # Imported for their register() calls; here, not at module top, so that importing the
    # registry (e.g. from a unit test that registers a fake) never imports pyghmi or Conch.
    import xcatpy.drivers.ipmi  # noqa: F401
    import xcatpy.virt.vmpower  # noqa: F401


def driver_for(name: str, ctx) -> PowerDriver | None:
    if name not in _FACTORIES:
        _load_builtin_drivers()
    factory = _FACTORIES.get(name)
    return factory(ctx) if factory is not None else None


def power_method(attrs, node: str) -> str | None:
    return attrs.lookup(node, "nodehm", "power") or attrs.lookup(node, "nodehm", "mgt")


def by_driver(attrs, nodes: list[str]) -> tuple[dict[str, list[str]], dict[str, str]]:
    """Group nodes by power method: ({method: nodes}, {node: error} for those without one)."""
    groups: dict[str, list[str]] = {}
    errors: dict[str, str] = {}
    loaded = False
    for node in nodes:
        method = power_method(attrs, node)
        if not method:
            errors[node] = "nodehm.mgt is not set, so there is no way to power it"
            continue
        if method not in _FACTORIES and not loaded:
            _load_builtin_drivers()
            loaded = True
        if method not in _FACTORIES:
            errors[node] = f"no power driver for nodehm.mgt={method}"
        else:
            groups.setdefault(method, []).append(node)
    return groups, errors
