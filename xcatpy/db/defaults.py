"""The rows a new database starts with, as xCAT's xcatconfig creates them.

Paths point into the instance's state directory, so a private instance in a temporary
directory is self-contained; an admin moves them with `chdef -t site` like on xCAT.

The few values that depend on the machine (its name, address, DNS domain, time zone and
upstream name servers) come from a HeadNode. `head_node()` discovers them the way
xcatconfig does; passing PLACEHOLDERS instead gives the machine-independent rows that
conf/site.csv and conf/policy.csv show (tests/gen_default_conf.py writes those files).
"""

import functools
import ipaddress
import os
import socket
from dataclasses import dataclass
from pathlib import Path

# Where the site, policy and postscripts defaults are copied for admins to read.
CONF_STATE_DIR = Path("/var/lib/xcatpy")


@dataclass(frozen=True)
class HeadNode:
    """What xcatconfig asks the management node about itself."""

    hostname: str
    master: str                 # the address nodes reach the head node at
    domain: str | None
    timezone: str
    forwarders: tuple[str, ...] = ()


PLACEHOLDERS = HeadNode("<hostname>", "<master>", "<domain>", "<timezone>", ("<forwarders>",))


def _timezone() -> str:
    try:
        name = Path("/etc/timezone").read_text().strip()
        if name:
            return name
    except OSError:
        pass
    try:
        target = os.readlink("/etc/localtime")
    except OSError:
        return "UTC"
    _, marker, name = target.partition("zoneinfo/")
    return name if marker and name else "UTC"


def _resolv_nameservers() -> list[str]:
    try:
        lines = Path("/etc/resolv.conf").read_text().splitlines()
    except OSError:
        return []
    return [ln.split()[1] for ln in lines
            if ln.split()[:1] == ["nameserver"] and len(ln.split()) > 1]


def _is_forwarder(addr: str, own: set[str]) -> bool:
    # xcatconfig skips the management node's own addresses; a loopback stub resolver
    # (systemd-resolved's 127.0.0.53) is the same machine under another name.
    try:
        return addr not in own and not ipaddress.ip_address(addr).is_loopback
    except ValueError:
        return False


@functools.lru_cache(maxsize=1)
def head_node() -> HeadNode:
    """This machine's facts, found as xcatconfig finds them (once per process: name
    lookups can be slow, and every new database asks)."""
    hostname = socket.gethostname()
    try:
        # xcatconfig leaves NORESOLUTION for the admin to fix rather than guessing.
        master = socket.gethostbyname(hostname)
    except OSError:
        master = "NORESOLUTION"
    domain = socket.getfqdn().partition(".")[2] or "cluster"
    forwarders = tuple(a for a in _resolv_nameservers() if _is_forwarder(a, {master}))
    return HeadNode(hostname, master, domain, _timezone(), forwarders)


def site_rows(state_dir: Path, head: HeadNode | None = None) -> list[dict]:
    """xcatconfig's Linux site rows, in its order, then the ones xcatpy adds.

    DB2- and AIX-only keys (db2installloc, databaseloc, useSSHonAIX, ...) are left out.
    """
    head = head or head_node()
    values = {
        "blademaxp": "64",
        "domain": head.domain,
        "fsptimeout": "0",
        "installdir": str(state_dir / "install"),
        "ipmimaxp": "64",
        "ipmiretries": "3",
        "ipmitimeout": "2",
        "consoleondemand": "no",
        "master": head.master,
        "forwarders": ",".join(head.forwarders) or None,
        "nameservers": head.master,
        "maxssh": "8",
        "ppcmaxp": "64",
        "ppcretry": "3",
        "ppctimeout": "0",
        "powerinterval": "0",
        "syspowerinterval": "0",
        "sharedtftp": "1",
        "SNsyncfiledir": str(state_dir / "syncfiles"),
        # A path on the compute node, not on this machine: xCAT's value.
        "nodesyncfiledir": "/var/xcat/node/syncfiles",
        "tftpdir": str(state_dir / "tftpboot"),
        "xcatdport": "3001",
        "xcatiport": "3002",
        "xcatconfdir": str(state_dir / "etc"),
        "timezone": head.timezone,
        "useNmapfromMN": "no",
        "enableASMI": "no",
        "sshbetweennodes": "ALLGROUPS",
        # xCAT's "ddns" sends updates to a named that makedns also configures; xcatpy
        # configures no named, and xcatd answers the published records itself. A site that
        # keeps an external BIND sets "ddns" (or runs makedns -e).
        "dnshandler": "embedded",
        "vsftp": "n",
        "cleanupxcatpost": "no",
        "dhcplease": "43200",
        "auditnosyslog": "0",
        # xcatconfig still writes TLSv1; nothing older than TLS 1.2 should be offered.
        "xcatsslversion": "TLSv1.2",
        # xcatpy's own defaults.
        "auditskipcmds": "ALL",
        "dhcpsetup": "y",
        # xCAT's default when unset: installers configure the NIC by DHCP.
        "managedaddressmode": "dhcp",
        "xcatdebugmode": "0",
        "vmmaxp": "64",
    }
    # xcatconfig only writes forwarders when resolv.conf names an outside server.
    return [{"key": k, "value": v} for k, v in values.items() if v is not None]


def policy_rows(head: HeadNode | None = None) -> list[dict]:
    """Root may do anything; the head node is trusted; nodes may run the calls installs
    make about themselves (xcatconfig's Linux rules, plus getadapter at 4.9)."""
    hostname = (head or head_node()).hostname
    rows = [
        ("1", "root", None, "allow"),
        ("1.2", hostname, None, "trusted"),
        ("2", None, "getbmcconfig", "allow"),
        ("2.1", None, "remoteimmsetup", "allow"),
        ("2.3", None, "lsxcatd", "allow"),
        ("3", None, "nextdestiny", "allow"),
        ("4", None, "getdestiny", "allow"),
        ("4.4", None, "getpostscript", "allow"),
        ("4.5", None, "getcredentials", "allow"),
        ("4.6", None, "syncfiles", "allow"),
        ("4.7", None, "litefile", "allow"),
        ("4.8", None, "litetree", "allow"),
        ("4.9", None, "getadapter", "allow"),
    ]
    return [{"priority": p, "name": n, "commands": c, "rule": r} for p, n, c, r in rows]


def postscripts_rows() -> list[dict]:
    return [
        {"node": "xcatdefaults", "postscripts": "syslog,remoteshell,syncfiles",
         "postbootscripts": "otherpkgs"},
        {"node": "service", "postscripts": "servicenode"},
    ]
