"""How long xcatd waits for a hypervisor, from the site table.

site.vmtimeout (seconds, default 60): how long one ordinary toolstack command (list, info,
destroy, reading or writing a config, ...) may run; a host that has not answered by then is
reported per node as not having finished, and the command goes on with the other hosts.
Connecting (TCP, SSH key exchange, opening a session) waits at most 10 s, or vmtimeout if
that is shorter: a host whose sshd accepts and then says nothing costs no more than that.
site.vmmigratetimeout (seconds, default 3600): how long one live migration may run.
Starting a guest (300 s), an orderly shutdown (180 s) and creating a disk image (600 s)
keep their own longer limits, raised to vmtimeout if that is longer.

A value that is empty, zero or not a number means the default, as the ipmi settings do:
a typo in the site table must not stop every hypervisor command.
"""

from __future__ import annotations

from dataclasses import dataclass

from xcatpy.db.attrs import site_number

DEFAULT_COMMAND = 60.0
DEFAULT_MIGRATE = 3600.0
DEFAULT_CONNECT = 10.0
# Driver attributes that are longer limits of their own, never below the command timeout.
_LONGER = ("create_timeout", "shutdown_timeout", "create_disk_timeout")


@dataclass(frozen=True)
class HostTimeouts:
    command: float = DEFAULT_COMMAND
    migrate: float = DEFAULT_MIGRATE

    @property
    def connect(self) -> float:
        return min(DEFAULT_CONNECT, self.command)


def site_timeouts(attrs) -> HostTimeouts:
    return HostTimeouts(command=site_number(attrs, "vmtimeout", DEFAULT_COMMAND),
                        migrate=site_number(attrs, "vmmigratetimeout", DEFAULT_MIGRATE))


def apply(timeouts: HostTimeouts, driver, shell) -> None:
    """Set a toolstack driver's (and its SSH shell's) limits to the site's."""
    driver.command_timeout = timeouts.command
    driver.migrate_timeout = timeouts.migrate
    for name in _LONGER:
        default = getattr(type(driver), name, None)
        if default is not None:
            setattr(driver, name, max(default, timeouts.command))
    set_connect = getattr(shell, "set_connect_timeout", None)
    if set_connect is not None:
        set_connect(timeouts.connect)

