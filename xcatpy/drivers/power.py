"""The power hook: how boot commands ask a node's management driver to act.

rinstall needs "next boot from the network" and "power on or reset". Which driver does it
is nodehm.mgt (ipmi for bare metal; xen, kvm, ... for guests). Drivers register a factory
here per mgt value; a node whose mgt has no driver fails with that reason, never silently.
"""

from collections.abc import Callable
from typing import Protocol


class PowerDriver(Protocol):
    def set_boot_device(self, nodes: list[str], device: str) -> dict[str, str | None]:
        """device: 'network' | 'disk'. Returns node -> error text (None on success)."""

    def power(self, nodes: list[str], action: str) -> dict[str, str | None]:
        """action: 'on' | 'off' | 'reset' | 'boot' (xCAT's: reset if on, else on)."""


_FACTORIES: dict[str, Callable[[object], PowerDriver]] = {}


def register(mgt: str, factory: Callable[[object], PowerDriver]) -> None:
    """factory(attrs) -> driver for the nodes of one command."""
    _FACTORIES[mgt] = factory


def unregister(mgt: str) -> None:
    _FACTORIES.pop(mgt, None)


def driver_for(mgt: str, attrs) -> PowerDriver | None:
    factory = _FACTORIES.get(mgt)
    return factory(attrs) if factory is not None else None


def by_driver(attrs, nodes: list[str]) -> tuple[dict[str, list[str]], dict[str, str]]:
    """Group nodes by nodehm.mgt: ({mgt: nodes}, {node: error} for those without one)."""
    groups: dict[str, list[str]] = {}
    errors: dict[str, str] = {}
    for node in nodes:
        mgt = attrs.lookup(node, "nodehm", "mgt")
        if not mgt:
            errors[node] = "nodehm.mgt is not set, so there is no way to power it"
        elif mgt not in _FACTORIES:
            errors[node] = f"no power driver for nodehm.mgt={mgt}"
        else:
            groups.setdefault(mgt, []).append(node)
    return groups, errors
