"""Which BMC a node has, how to log in to it, and how long to wait for it.

From the tables, as xCAT's ipmi.pm reads them:
- address: ipmi.bmc. A comma-separated list (multi-node chassis) means its first entry.
  xcatpy extension: an optional port, `host:port` or `[v6addr]:port` (a bare IPv6 address
  has no port). Default port 623.
- user and password: ipmi.username / ipmi.password, else the passwd row key=ipmi,
  else USERID / PASSW0RD.
- site.ipmimaxp (default 64): nodes whose BMC is being talked to at once per command.
- site.ipmitimeout (default 2 s) and site.ipmiretries (default 3): a try lasts ipmitimeout;
  a BMC silent for a whole try gets a fresh session (a new try), up to ipmiretries tries.
  Every node has a deadline of ipmitimeout x ipmiretries (6 s) from its start; a node not
  done by then is reported as timed out. xCAT documents both values but its pyghmi-era
  plugin ignores them; ipmi.pm's Perl read ipmiretries into `$ipmitrys`, hence "tries".
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass

from xcatpy.db.attrs import site_number
from xcatpy.digits import decimal
from xcatpy.drivers.base import DriverError

IPMI_PORT = 623
DEFAULT_USER = "USERID"
DEFAULT_PASSWORD = "PASSW0RD"
DEFAULT_MAXP = 64
DEFAULT_TIMEOUT = 2.0
DEFAULT_TRIES = 3


@dataclass(frozen=True)
class BmcTarget:
    host: str  # as written in ipmi.bmc, for messages
    port: int
    username: str
    password: str
    address: str = ""  # numeric address the engine sends to, resolved off the IO thread

    @property
    def label(self) -> str:
        """The BMC as users wrote it: `10.0.0.5`, `10.0.0.5:6230`, `[fd00::5]:6230`."""
        if self.port == IPMI_PORT:
            return self.host
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @property
    def key(self) -> tuple[str, int]:
        """One BMC, however many nodes name it: the engine talks to it one node at a time."""
        return (self.address or self.host, self.port)


@dataclass(frozen=True)
class IpmiSettings:
    maxp: int = DEFAULT_MAXP
    timeout: float = DEFAULT_TIMEOUT
    tries: int = DEFAULT_TRIES

    @property
    def deadline(self) -> float:
        return self.timeout * self.tries


def parse_bmc_address(value: str) -> tuple[str, int]:
    """ipmi.bmc -> (host, port). Raises DriverError naming the value when it is malformed."""
    text = value.split(",")[0].strip()
    if not text:
        raise DriverError("ipmi.bmc is not set")
    host, port_text = text, ""
    if text.startswith("["):
        close = text.find("]")
        if close < 0 or (close + 1 < len(text) and text[close + 1] != ":"):
            raise DriverError(f"ipmi.bmc '{value}' is not host, host:port or [v6addr]:port")
        host, port_text = text[1:close], text[close + 2:]
        if close + 1 < len(text) and not port_text:
            raise DriverError(f"ipmi.bmc '{value}' has an empty port")
    elif text.count(":") == 1:
        host, port_text = text.split(":")
        if not port_text:
            raise DriverError(f"ipmi.bmc '{value}' has an empty port")
    if not host:
        raise DriverError(f"ipmi.bmc '{value}' has no host")
    port = IPMI_PORT
    if port_text:
        port = decimal(port_text) or 0
        if not 0 < port < 65536:
            raise DriverError(f"ipmi.bmc '{value}' has an invalid port '{port_text}'")
    return host, port


def resolve_address(host: str, port: int) -> str:
    """A numeric address for host. Literals are returned as they are, without a lookup."""
    try:
        ipaddress.ip_address(host.split("%")[0])
        return host
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, 0, socket.SOCK_DGRAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise DriverError(f"cannot resolve BMC address '{host}'") from exc
    return infos[0][4][0]


def node_target(attrs, node: str, resolved: dict | None = None) -> BmcTarget:
    """The node's BMC and login, resolved to an address. Raises DriverError."""
    bmc = attrs.lookup(node, "ipmi", "bmc")
    if not bmc:
        raise DriverError("ipmi.bmc is not set")
    host, port = parse_bmc_address(bmc)
    default = attrs.table("passwd").get("ipmi") or {}
    username = (attrs.lookup(node, "ipmi", "username") or default.get("username")
                or DEFAULT_USER)
    password = (attrs.lookup(node, "ipmi", "password") or default.get("password")
                or DEFAULT_PASSWORD)
    cache = resolved if resolved is not None else {}
    if host not in cache:
        try:
            cache[host] = resolve_address(host, port)
        except DriverError as exc:
            cache[host] = exc  # one failed lookup per command, however many nodes share it
    address = cache[host]
    if isinstance(address, DriverError):
        raise address
    return BmcTarget(host, port, username, password, address)


def settings_from_site(attrs) -> IpmiSettings:
    return IpmiSettings(
        maxp=site_number(attrs, "ipmimaxp", DEFAULT_MAXP, int),
        timeout=site_number(attrs, "ipmitimeout", DEFAULT_TIMEOUT, float),
        tries=site_number(attrs, "ipmiretries", DEFAULT_TRIES, int),
    )
