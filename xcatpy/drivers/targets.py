"""Where a managed host is reached over SSH, from the tables.

The address is the node's hosts.ip when set (a hypervisor is often not in DNS yet when it is
first managed), else its name. The port is site.sshport (an xcatpy extension; xCAT always
used 22), so a test or a lab can run hosts behind non-standard ports.
"""

from xcatpy.drivers.base import DriverError
from xcatpy.drivers.remote import Target


def ssh_target(attrs, node: str) -> Target:
    address = attrs.lookup(node, "hosts", "ip") or node
    port_text = attrs.site("sshport") or "22"
    try:
        port = int(port_text)
        if not 0 < port < 65536:
            raise ValueError
    except ValueError:
        raise DriverError(f"site.sshport is not a port number: '{port_text}'") from None
    return Target(node=node, address=address, port=port, user="root")
