"""DHCP configuration for a DHCP server that is not xcatd's: ISC dhcpd, Kea or dnsmasq.

makedhcp records what it publishes in the dhcpreservation table, then calls `export_dhcp`
with the whole table, so every run re-emits every published host and the files can never
drift from the table. The files are included by the admin's own configuration (see
share/doc/dhcp-exports.md); xcatpy never starts, stops or restarts a DHCP server it does
not run. `reload_hint` says what the admin has to do for the files just written.
"""

from pathlib import Path

import netaddr

from xcatpy.errors import XcatError
from xcatpy.net.exports import dnsmasq, isc, kea
from xcatpy.net.exports.model import build_hosts, build_subnets
from xcatpy.net.networks import Network

BACKENDS = ("isc", "kea", "dnsmasq")


def _local_addresses() -> list[netaddr.IPAddress]:
    from xcatpy.net.interfaces import parse_addresses, run_ip

    try:
        return [a.address for a in parse_addresses(run_ip("addr", "show"))]
    except XcatError:
        # Without `ip` the head node's own addresses are unknown; site.master still
        # stands in for <xcatmaster> on its own network.
        return []


def export_dhcp(backend: str, reservations: list[dict], networks: list[Network],
                site: dict[str, str], outdir: Path, *, changed_nodes: set[str] | None = None,
                local_addresses: list[netaddr.IPAddress] | None = None) -> list[Path]:
    """Write the export for `backend` from every reservation; returns the files written
    (for dnsmasq also the host files deleted).

    Files whose content is unchanged are not rewritten and not returned. `changed_nodes`
    limits dnsmasq's per-node files to those nodes (the other backends have one file for
    all hosts). `local_addresses` are the head node's addresses, which `<xcatmaster>` in
    the networks table stands for; by default they are read from the system. Raises
    XcatError, before writing anything, for a reservation that cannot be placed.
    """
    if backend not in BACKENDS:
        raise XcatError(f"Unknown DHCP export '{backend}'; use one of {', '.join(BACKENDS)}")
    outdir = Path(outdir)
    if local_addresses is None:
        local_addresses = _local_addresses()
    subnets = build_subnets(networks, site, list(local_addresses))
    hosts = build_hosts(reservations, subnets)
    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise XcatError(f"Cannot create DHCP export directory {outdir}: "
                        f"{exc.strerror or exc}") from None
    if backend == "isc":
        return isc.export(subnets, hosts, outdir)
    if backend == "kea":
        return kea.export(subnets, hosts, outdir)
    return dnsmasq.export(subnets, hosts, outdir, changed_nodes)


def reload_hint(backend: str, written: list[Path]) -> str | None:
    """One line for the admin about `written` (export_dhcp's result), or None if nothing
    changed."""
    if not written:
        return None
    if backend == "dnsmasq":
        if any(p.name == dnsmasq.CONF_FILE for p in written):
            return (f"Wrote {written[0].parent / dnsmasq.CONF_FILE}; restart dnsmasq to "
                    "apply it")
        return (f"Updated {len(written)} host file(s) in {written[0].parent}; dnsmasq reads "
                "them by itself (send it SIGHUP to drop removed or changed hosts)")
    action = "restart dhcpd" if backend == "isc" else "reload kea-dhcp4"
    return f"Wrote {', '.join(str(p) for p in written)}; {action} to apply"
