"""The interfaces DHCP answers on: which ones (site.dhcpinterfaces), their IPv4 addresses,
and the UDP socket bound to each.

A DHCP server has to hear broadcasts from clients that have no address yet, so it cannot
bind to an address the way TFTP and HTTP do. Each served interface gets its own socket on
0.0.0.0:port with SO_BINDTODEVICE: the kernel then delivers only that interface's
packets to it (a head node never answers on a network nobody named), a reply broadcast
on it leaves through that interface, and another DHCP server may serve other interfaces
of the same machine on the same port (SO_REUSEADDR).
"""

import ctypes
import ctypes.util
import socket
from dataclasses import dataclass

from xcatpy.net.udp import grow_receive_buffer


@dataclass(frozen=True)
class InterfaceChoice:
    served: tuple[str, ...]        # interfaces to answer on, in the order named
    noboot: frozenset[str]         # of those, the ones that get addresses but no boot file
    ignored: tuple[str, ...]       # entries for other hosts, and '!remote!' relay markers


def parse_dhcpinterfaces(value: str | None, hostnames: set[str]) -> InterfaceChoice:
    """site.dhcpinterfaces in xCAT's forms: 'eth0,eth1', 'eth0;eth1', and
    'host|eth0,eth1;host2|eth2' where an entry with a host part counts only on that host.

    '!remote!<if>' names the interface relayed networks arrive on: not one to bind (relayed
    requests reach the sockets of the served interfaces). 'eth1:noboot' (xCAT) serves
    addresses on eth1 without boot files.
    """
    served: list[str] = []
    noboot: set[str] = set()
    ignored: list[str] = []
    for entry in (value or "").split(";"):
        entry = entry.strip()
        if not entry:
            continue
        host, bar, names = entry.rpartition("|")
        if bar and host.strip().lower() not in hostnames:
            ignored.append(entry)
            continue
        for name in names.replace(" ", ",").split(","):
            name = name.strip()
            if not name:
                continue
            if name.startswith("!remote!"):
                ignored.append(name)
                continue
            name, _, flag = name.partition(":")
            if flag.strip().lower() == "noboot":
                noboot.add(name)
            if name not in served:
                served.append(name)
    return InterfaceChoice(tuple(served), frozenset(noboot), tuple(ignored))


def local_hostnames() -> set[str]:
    """What a dhcpinterfaces host part may call this machine: its name, short name and
    IPv4 addresses (xCAT compares the entry's host with this host the same ways)."""
    name = socket.gethostname().lower()
    names = {name, name.split(".", 1)[0]}
    try:
        for addresses in ipv4_addresses().values():
            names.update(socket.inet_ntoa(a.address) for a in addresses)
    except OSError:
        pass
    return names


@dataclass(frozen=True)
class IfAddress:
    address: bytes        # 4 bytes
    prefixlen: int

    @property
    def network(self) -> int:
        return int.from_bytes(self.address, "big") & _mask(self.prefixlen)

    def contains(self, ip: int) -> bool:
        return (ip & _mask(self.prefixlen)) == self.network


def _mask(prefixlen: int) -> int:
    return (0xFFFFFFFF << (32 - prefixlen)) & 0xFFFFFFFF if prefixlen else 0


# -- getifaddrs(3) through ctypes: no subprocess, no blocking, every IPv4 address -----------

class _Sockaddr(ctypes.Structure):
    _fields_ = [("sa_family", ctypes.c_ushort), ("sa_data", ctypes.c_ubyte * 14)]


class _Ifaddrs(ctypes.Structure):
    pass


_Ifaddrs._fields_ = [("ifa_next", ctypes.POINTER(_Ifaddrs)), ("ifa_name", ctypes.c_char_p),
                     ("ifa_flags", ctypes.c_uint), ("ifa_addr", ctypes.POINTER(_Sockaddr)),
                     ("ifa_netmask", ctypes.POINTER(_Sockaddr)),
                     ("ifa_ifu", ctypes.POINTER(_Sockaddr)), ("ifa_data", ctypes.c_void_p)]

_libc = None


def _getifaddrs():
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        _libc.getifaddrs.argtypes = [ctypes.POINTER(ctypes.POINTER(_Ifaddrs))]
        _libc.freeifaddrs.argtypes = [ctypes.POINTER(_Ifaddrs)]
    return _libc


def ipv4_addresses() -> dict[str, list[IfAddress]]:
    """Interface name -> its IPv4 addresses, primary first (aliases 'eth0:1' count as eth0)."""
    libc = _getifaddrs()
    head = ctypes.POINTER(_Ifaddrs)()
    if libc.getifaddrs(ctypes.byref(head)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"getifaddrs: {socket.errno.errorcode.get(err, err)}")
    found: dict[str, list[IfAddress]] = {}
    try:
        node = head
        while node:
            entry = node.contents
            addr = entry.ifa_addr
            if addr and addr.contents.sa_family == socket.AF_INET and entry.ifa_name:
                raw = bytes(addr.contents.sa_data[2:6])
                prefix = 0
                if entry.ifa_netmask:
                    mask = bytes(entry.ifa_netmask.contents.sa_data[2:6])
                    prefix = bin(int.from_bytes(mask, "big")).count("1")
                name = entry.ifa_name.decode("utf-8", "replace").split(":", 1)[0]
                found.setdefault(name, []).append(IfAddress(raw, prefix))
            node = entry.ifa_next
    finally:
        libc.freeifaddrs(head)
    return found


def interface_index(name: str) -> int | None:
    try:
        return socket.if_nametoindex(name)
    except OSError:
        return None


def bound_socket(interface: str, port: int, rcvbuf: int = 4 << 20) -> socket.socket:
    """A UDP socket on 0.0.0.0:port that sees and sends only through `interface`."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, interface.encode())
        grow_receive_buffer(sock, rcvbuf)
        sock.setblocking(False)
        sock.bind(("0.0.0.0", port))
    except BaseException:
        sock.close()
        raise
    return sock
