"""The rows a new database starts with, as xCAT's xcatconfig creates them.

Paths point into the instance's state directory, so a private instance in a temporary
directory is self-contained; an admin moves them with `chdef -t site` like on xCAT.
"""

import socket
from pathlib import Path


def _head_node() -> tuple[str, str]:
    """The head node's address and DNS domain, as xcatconfig guesses them."""
    fqdn = socket.getfqdn()
    domain = fqdn.partition(".")[2] or "cluster"
    try:
        master = socket.gethostbyname(socket.gethostname())
    except OSError:
        master = "127.0.0.1"
    return master, domain


def site_rows(state_dir: Path) -> list[dict]:
    master, domain = _head_node()
    values = {
        "master": master,
        "domain": domain,
        "installdir": str(state_dir / "install"),
        "tftpdir": str(state_dir / "tftpboot"),
        "xcatdport": "3001",
        "xcatiport": "3002",
        "dhcplease": "43200",
        "dhcpsetup": "y",
        "dnshandler": "ddns",
        "nameservers": master,
        "forwarders": "",
        "timezone": "UTC",
        "consoleondemand": "no",
        "auditskipcmds": "ALL",
        "maxssh": "8",
        "powerinterval": "0",
        "syspowerinterval": "0",
        "ipmimaxp": "64",
        "ipmitimeout": "2",
        "ipmiretries": "3",
        "vmmaxp": "64",
        "sharedtftp": "1",
        "managedaddressmode": "static",
        "xcatconfdir": str(state_dir / "etc"),
        "xcatdebugmode": "0",
    }
    return [{"key": k, "value": v or None} for k, v in values.items()]


def policy_rows() -> list[dict]:
    """Root may do anything; nodes may run the calls installs make about themselves."""
    hostname = socket.gethostname()
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
    return [{"node": "xcatdefaults", "postscripts": "syslog,remoteshell,syncfiles",
             "postbootscripts": "otherpkgs"}]
