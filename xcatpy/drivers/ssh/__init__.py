"""Hypervisors over SSH: Twisted Conch transport, pooled connections, verified host keys.

`shell_for(state_dir)` is the RemoteShell drivers use. Files live in `<state>/ssh/`:
`id_ed25519` (+ `.pub`), the daemon's client key, and `known_hosts`, which makeknownhosts
fills. See share/doc/ssh.md.
"""

from xcatpy.drivers.ssh.shell import SshShell, shell_for

__all__ = ["SshShell", "shell_for"]
