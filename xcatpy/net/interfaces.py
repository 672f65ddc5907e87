"""The head node's own interfaces, addresses and default routes, read from iproute2.

`ip -j` gives JSON, so nothing here parses the human-readable output that changes between
iproute2 versions. Only addresses that can name a cluster network are kept: global scope,
not on a loopback interface, not loopback, link-local or multicast. The readers take the
JSON as data, so makenetworks and its tests can feed them any machine's view.
"""

import json
import subprocess
from dataclasses import dataclass

import netaddr

from xcatpy.errors import XcatError

_NOT_CLUSTER = [netaddr.IPNetwork(n) for n in
                ("127.0.0.0/8", "169.254.0.0/16", "224.0.0.0/4", "::1/128", "fe80::/10",
                 "ff00::/8")]


@dataclass(frozen=True)
class InterfaceAddress:
    ifname: str
    address: netaddr.IPAddress
    network: netaddr.IPNetwork       # the subnet the address is on (address/prefix, cidr)
    mtu: int | None = None


@dataclass(frozen=True)
class DefaultRoute:
    gateway: netaddr.IPAddress
    ifname: str | None = None


@dataclass(frozen=True)
class HostNetworking:
    addresses: tuple[InterfaceAddress, ...] = ()
    default_routes: tuple[DefaultRoute, ...] = ()

    def gateway_on(self, ifname: str, cidr: netaddr.IPNetwork) -> netaddr.IPAddress | None:
        """The gateway of a default route through `ifname` that is on `cidr`, if any."""
        for route in self.default_routes:
            if (route.gateway.version == cidr.version and route.gateway in cidr
                    and route.ifname in (None, ifname)):
                return route.gateway
        return None


def _cluster_address(ip: netaddr.IPAddress) -> bool:
    return not any(ip in net for net in _NOT_CLUSTER if net.version == ip.version)


def parse_addresses(data: list[dict]) -> list[InterfaceAddress]:
    """`ip -j addr show` -> the addresses a cluster network can be made from."""
    found = []
    for link in data or []:
        if "LOOPBACK" in (link.get("flags") or []):
            continue
        ifname = link.get("ifname") or ""
        mtu = link.get("mtu") if isinstance(link.get("mtu"), int) else None
        for info in link.get("addr_info") or []:
            if info.get("family") not in ("inet", "inet6") or info.get("scope") != "global":
                continue
            try:
                ip = netaddr.IPAddress(info["local"])
                net = netaddr.IPNetwork(f"{ip}/{int(info['prefixlen'])}").cidr
            except (KeyError, ValueError, TypeError, netaddr.AddrFormatError):
                continue
            if _cluster_address(ip):
                found.append(InterfaceAddress(ifname, ip, net, mtu))
    return found


def parse_default_routes(data: list[dict]) -> list[DefaultRoute]:
    """`ip -j route show` (either family) -> its default routes, one per next hop."""
    routes = []
    for entry in data or []:
        if entry.get("dst") != "default":
            continue
        hops = entry.get("nexthops") or [entry]
        for hop in hops:
            try:
                gateway = netaddr.IPAddress(hop["gateway"])
            except (KeyError, ValueError, TypeError, netaddr.AddrFormatError):
                continue
            routes.append(DefaultRoute(gateway, hop.get("dev") or entry.get("dev")))
    return routes


def run_ip(*args: str) -> list[dict]:
    argv = ["ip", "-j", *args]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    except FileNotFoundError:
        raise XcatError("Could not get network information: the ip command (iproute2) is "
                        "not installed") from None
    except (OSError, subprocess.SubprocessError) as exc:
        raise XcatError(f"Could not get network information: {' '.join(argv)}: {exc}") \
            from None
    if proc.returncode != 0:
        raise XcatError(f"Could not get network information: {' '.join(argv)}: "
                        f"{proc.stderr.strip() or f'exit code {proc.returncode}'}")
    try:
        return json.loads(proc.stdout or "[]")
    except ValueError:
        raise XcatError(f"Could not get network information: {' '.join(argv)} printed no "
                        "JSON (iproute2 too old for -j?)") from None


def read_host_networking(run=run_ip) -> HostNetworking:
    """This machine's cluster addresses and default routes (IPv4 and IPv6)."""
    addresses = parse_addresses(run("addr", "show"))
    routes = parse_default_routes(run("-4", "route", "show"))
    routes += parse_default_routes(run("-6", "route", "show"))
    return HostNetworking(tuple(addresses), tuple(routes))
