"""Dynamic updates (RFC 2136, signed with TSIG) to an external DNS server such as BIND.

makedns sends these when site.dnshandler is "ddns" or with -e: for each zone, one message
(split only past MAX_OPS changes) that deletes every A/AAAA/PTR RRset the nodes had or now
have, then adds the new records. An update message is atomic on the server, so a refused
zone changes nothing there. Updates go over TCP: a batch for a large cluster is far beyond
a UDP datagram. Which zone a name is in is asked of the server first (an SOA query per
parent domain), since its zones may be cut differently from the ones xcatd serves.

The server is site.dnsupdateserver ("host" or "host:port", "[v6]:port"; an xcatpy
extension), else site.master, port 53. The key is the passwd row with key=omapi, as xCAT
keeps it: username is the key name, password its base64 secret, cryptmethod the algorithm
(hmac-sha256 if blank; xCAT's own named.conf uses hmac-md5).
"""

import base64
import binascii
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import dns.exception
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import dns.tsig
import dns.update
import netaddr

from xcatpy.digits import decimal
from xcatpy.errors import XcatError
from xcatpy.net.dns.records import Record
from xcatpy.net.dns.zones import DEFAULT_TTL, normalize, zone_for

TIMEOUT_S = 10.0
MAX_OPS = 500     # xCAT split at 300 after one server choked near 650; TCP carries more
DEFAULT_ALGORITHM = "hmac-sha256"

ALGORITHMS = {
    "hmac-md5": dns.tsig.HMAC_MD5,
    "hmac-sha1": dns.tsig.HMAC_SHA1,
    "hmac-sha224": dns.tsig.HMAC_SHA224,
    "hmac-sha256": dns.tsig.HMAC_SHA256,
    "hmac-sha384": dns.tsig.HMAC_SHA384,
    "hmac-sha512": dns.tsig.HMAC_SHA512,
}


@dataclass(frozen=True)
class UpdateServer:
    host: str          # as configured
    address: str       # what we connect to
    port: int = 53

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def parse_server(text: str, where: str) -> UpdateServer:
    """'host', 'host:port', '[v6]:port' or a bare IPv6 address; the host is resolved here."""
    text = text.strip()
    host, port = text, "53"
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest:
            if not rest.startswith(":"):
                raise XcatError(f"{where} '{text}' is not host, host:port or [address]:port")
            port = rest[1:]
    elif text.count(":") == 1:
        host, _, port = text.partition(":")
    if not host or not 0 < (decimal(port) or 0) < 65536:
        raise XcatError(f"{where} '{text}' is not host, host:port or [address]:port")
    try:
        address = str(netaddr.IPAddress(host, flags=netaddr.INET_PTON))
    except (netaddr.AddrFormatError, ValueError):
        try:
            address = socket.getaddrinfo(host, int(port), type=socket.SOCK_STREAM)[0][4][0]
        except OSError as exc:
            raise XcatError(f"{where}: cannot resolve DNS server '{host}': {exc}") from None
    return UpdateServer(host, address, int(port))


@dataclass(frozen=True)
class TsigKey:
    name: str
    secret: str
    algorithm: str

    def dnspython(self) -> dns.tsig.Key:
        return dns.tsig.Key(self.name, self.secret, ALGORITHMS[self.algorithm])


def key_from_passwd(rows: list[dict]) -> TsigKey:
    """The passwd table's key=omapi row as a TSIG key."""
    for row in rows:
        if (row.get("key") or "").strip() != "omapi" or not (row.get("password") or "").strip():
            continue
        name = (row.get("username") or "").strip()
        secret = row["password"].strip()
        algorithm = (row.get("cryptmethod") or "").strip().lower() or DEFAULT_ALGORITHM
        if not name:
            raise XcatError("passwd table: the omapi row has no username (the TSIG key name)")
        if algorithm not in ALGORITHMS:
            raise XcatError(f"passwd table: omapi cryptmethod '{algorithm}' is not a TSIG "
                            f"algorithm ({', '.join(ALGORITHMS)})")
        try:
            base64.b64decode(secret, validate=True)
        except (binascii.Error, ValueError):
            raise XcatError("passwd table: the omapi password is not a base64 TSIG secret "
                            "(as tsig-keygen or dnssec-keygen print it)") from None
        return TsigKey(name, secret, algorithm)
    raise XcatError("Unable to find omapi key in passwd table: add the TSIG key the DNS "
                    "server accepts updates with: tabch key=omapi passwd.username=<keyname> "
                    "passwd.password=<base64 secret> passwd.cryptmethod=hmac-sha256")


@dataclass
class ZoneChanges:
    zone: str
    deletes: list[tuple[str, str]]       # (name, type): whole RRsets
    adds: list[Record]

    def __len__(self) -> int:
        return len(self.deletes) + len(self.adds)


def _parent(name: str) -> str:
    return normalize(name).partition(".")[2]


def zones_at_server(names: Iterable[str], server: UpdateServer,
                    timeout: float | None = None) -> dict[str, str]:
    """Which zone the server holds each name's parent domain in, by asking it for the
    parent's SOA (the answer, or the SOA in the authority section of a negative answer).
    A site's BIND may cut zones differently from ours (xCAT made a /24 zone for each /24
    of a /20). Parents the server gives no SOA for are left out. A server that does not
    answer at all fails here, so a dead server costs one timeout, not one per step."""
    found: dict[str, str] = {}
    for parent in sorted({_parent(n) for n in names} - {""}):
        query = dns.message.make_query(parent, "SOA")
        try:
            reply = dns.query.udp(query, server.address, port=server.port,
                                  timeout=timeout or TIMEOUT_S)
        except (dns.exception.DNSException, OSError) as exc:
            raise XcatError(_failure(server, parent, None, exc, "query the zone of")) from None
        if reply.rcode() not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
            continue
        for rrset in [*reply.answer, *reply.authority]:
            if rrset.rdtype == dns.rdatatype.SOA:
                found[parent] = normalize(rrset.name.to_text())
                break
    return found


def zone_finder(apexes, at_server: dict[str, str] | None = None) -> Callable[[str], str | None]:
    """name -> zone: the server's answer for its parent if we have one, else ours."""
    apexes = set(apexes)
    at_server = at_server or {}
    return lambda name: at_server.get(_parent(name)) or zone_for(name, apexes)


def plan(deleted: Iterable[Record], added: Iterable[Record],
         zone_of: Callable[[str], str | None]) -> tuple[list[ZoneChanges], list[Record]]:
    """Changes grouped by zone: the RRsets of every name in `deleted` and `added` are
    cleared, then `added` is put back. Records in no zone are returned apart (an old
    record of a domain no longer configured)."""
    added = list(added)
    zones: dict[str, ZoneChanges] = {}
    unplaced: list[Record] = []
    for rec in [*deleted, *added]:
        zone = zone_of(rec.name)
        if zone is None:
            unplaced.append(rec)
            continue
        changes = zones.setdefault(zone, ZoneChanges(zone, [], []))
        rrset = (normalize(rec.name), rec.type)
        if rrset not in changes.deletes:
            changes.deletes.append(rrset)
    for rec in added:
        zone = zone_of(rec.name)
        if zone is not None:
            zones[zone].adds.append(rec)
    return [zones[z] for z in sorted(zones)], unplaced


def _messages(changes: ZoneChanges, key: TsigKey) -> list[dns.update.UpdateMessage]:
    ops = [("del", name, rtype) for name, rtype in sorted(set(changes.deletes))]
    ops += [("add", rec) for rec in changes.adds]
    messages = []
    origin = dns.name.from_text(changes.zone)
    for start in range(0, len(ops), MAX_OPS):
        msg = dns.update.UpdateMessage(origin, keyring=key.dnspython())
        for op in ops[start:start + MAX_OPS]:
            if op[0] == "del":
                msg.delete(dns.name.from_text(op[1]), op[2])
            else:
                rec = op[1]
                value = rec.value.rstrip(".") + "." if rec.type == "PTR" else rec.value
                msg.add(dns.name.from_text(rec.name), rec.ttl or DEFAULT_TTL, rec.type, value)
        messages.append(msg)
    return messages


def _failure(server: UpdateServer, zone: str, key: TsigKey | None, exc: Exception,
             what: str = "update zone") -> str:
    prefix = f"DNS server {server} refused the update of zone {zone}"
    if isinstance(exc, dns.tsig.PeerBadKey):
        return (f"{prefix}: it does not know TSIG key '{key.name}' with {key.algorithm} "
                "(BADKEY; check passwd key=omapi username and cryptmethod)")
    if isinstance(exc, dns.tsig.PeerBadSignature):
        return (f"{prefix}: the signature with TSIG key '{key.name}' is wrong (BADSIG; "
                "check the passwd key=omapi password)")
    if isinstance(exc, dns.tsig.PeerBadTime):
        return f"{prefix}: the clocks differ too much (BADTIME)"
    if isinstance(exc, dns.exception.Timeout):
        return f"DNS server {server} did not answer within {TIMEOUT_S:g} s ({what} {zone})"
    if isinstance(exc, OSError):
        return f"cannot reach DNS server {server} to {what} {zone}: {exc.strerror or exc}"
    return f"DNS server {server}: {what} {zone} failed: {exc}"


def push(zones: list[ZoneChanges], server: UpdateServer, key: TsigKey,
         timeout: float | None = None) -> int:
    """Send every zone's changes; the number of messages sent. Raises XcatError naming the
    server and zone at the first refusal, timeout or unreachable server."""
    sent = 0
    for changes in zones:
        for msg in _messages(changes, key):
            try:
                reply = dns.query.tcp(msg, server.address, timeout=timeout or TIMEOUT_S,
                                      port=server.port)
            except (dns.exception.DNSException, OSError) as exc:
                raise XcatError(_failure(server, changes.zone, key, exc)) from None
            rcode = reply.rcode()
            if rcode != dns.rcode.NOERROR:
                why = {dns.rcode.NOTAUTH: "it does not accept updates for this zone "
                                          "with this key, or is not authoritative for it",
                       dns.rcode.REFUSED: "updates are not allowed (allow-update)",
                       dns.rcode.NOTZONE: "a name is outside the zone",
                       }.get(rcode, "see the server's log")
                raise XcatError(f"DNS server {server} refused the update of zone "
                                f"{changes.zone}: {dns.rcode.to_text(rcode)} ({why})")
            sent += 1
    return sent
