"""From a guest or hypervisor node name to a driver bound to that host's toolstack."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from xcatpy.drivers.remote import RemoteShell
from xcatpy.drivers.targets import ssh_target
from xcatpy.virt.guest import GuestError, guest_host, toolstack_of
from xcatpy.virt.hypervisor import Hypervisor, hypervisor_class
from xcatpy.virt.timeouts import apply as apply_timeouts
from xcatpy.virt.timeouts import site_timeouts

# Tests and the demo may run hypervisor commands through something other than SSH (the
# simulator's LocalShell); None means the real SSH transport.
_shell_factory: Callable[[Path], RemoteShell] | None = None


def use_shell(factory: Callable[[Path], RemoteShell] | None) -> None:
    global _shell_factory
    _shell_factory = factory


def remote_shell(state_dir: Path) -> RemoteShell:
    if _shell_factory is not None:
        return _shell_factory(state_dir)
    from xcatpy.drivers.ssh import shell_for

    return shell_for(state_dir)


class HostDrivers:
    """Drivers for the hosts one command touches, each created once and shared by threads."""

    def __init__(self, attrs, shell: RemoteShell) -> None:
        self.attrs = attrs
        self.shell = shell
        self.timeouts = site_timeouts(attrs)    # read here: on the command's own thread
        self._drivers: dict[tuple[str, str], Hypervisor] = {}
        self._lock = threading.Lock()

    def for_host(self, host: str, toolstack: str) -> Hypervisor:
        with self._lock:
            key = (host, toolstack)
            if key not in self._drivers:
                try:
                    cls = hypervisor_class(toolstack)
                except KeyError as exc:
                    raise GuestError(f"{host}: {exc.args[0]}") from None
                driver = cls(self.shell, ssh_target(self.attrs, host))
                apply_timeouts(self.timeouts, driver, self.shell)
                self._drivers[key] = driver
            return self._drivers[key]

    def for_guest(self, node: str) -> tuple[str, str, Hypervisor]:
        """(host, toolstack, driver) of a guest, from vm.host and hypervisor.type."""
        host = guest_host(self.attrs, node)
        toolstack = toolstack_of(self.attrs, node, host)
        return host, toolstack, self.for_host(host, toolstack)
