"""Socket settings the UDP services (TFTP, DHCP) share."""

import socket


def grow_receive_buffer(sock: socket.socket, size: int) -> None:
    """A deep receive queue turns a boot storm's burst into latency instead of drops.
    SO_RCVBUFFORCE passes net.core.rmem_max when we may (root or CAP_NET_ADMIN); otherwise
    the kernel caps SO_RCVBUF at that limit."""
    for option in (getattr(socket, "SO_RCVBUFFORCE", 33), socket.SO_RCVBUF):
        try:
            sock.setsockopt(socket.SOL_SOCKET, option, size)
            return
        except OSError:
            continue
