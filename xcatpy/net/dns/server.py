"""The embedded authoritative DNS server: Twisted Names' factory and protocols over a
snapshot of the zones.

Shape, and why:
- Queries are answered from an in-memory ZoneSnapshot (zones.py), never from the
  database on the reactor. The snapshot is rebuilt on a reader thread after every command
  that wrote (CommandExecutor.on_commit), and when a bypass-mode CLI wrote behind xcatd's
  back: `PRAGMA data_version` on a connection of our own, checked at most once per
  `check_interval` and only when queries arrive.
- DNSServerFactory's resolver chain cannot say NXDOMAIN-with-SOA, NODATA, REFUSED or set
  AA per answer, so the factory here answers in `messageReceived` itself and only keeps
  Twisted's wire format, framing and listeners.
- Packets are parsed here, not in DNSDatagramProtocol's client path: that path logs each
  malformed datagram (a log flood on request) and lets unexpected exceptions through.
  Undecodable datagrams are counted and dropped; a readable header gets FORMERR, which is
  never larger than the request (no amplification). So does a question whose name
  Twisted cannot write back as it came (its names are dotted bytes: a label holding '.'
  would be re-split, or not written at all).
- UDP answers larger than the client's limit (512, or its EDNS size up to 4096) are sent
  with TC set and no records, so the client retries over TCP; Twisted's own truncation
  cuts records in half.
"""

import socket
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass

from twisted.application import service
from twisted.internet.error import CannotListenError
from twisted.logger import Logger
from twisted.names import dns
from twisted.names import server as names_server
from twisted.protocols.policies import TimeoutMixin

from xcatpy.net.dns import zones
from xcatpy.net.dns.serial import SerialKeeper
from xcatpy.net.dns.zones import RR, ZoneSnapshot
from xcatpy.state import db_path

log = Logger()

OP_UPDATE = 5
BADVERS = 16                 # extended rcode: EDNS version we do not speak
EDNS_PAYLOAD = 1232          # what we advertise (the DNS flag day 2020 figure)
MAX_UDP = 4096               # the most we send over UDP whatever a client offers
TCP_IDLE_S = 30              # a TCP client silent this long is dropped
PORT_RETRIES = 20            # port 0: tries to find a port free for both UDP and TCP
MAX_POINTERS = 128           # compression pointers followed in one name (a name has <128 labels)

_TYPES = {"A": dns.A, "AAAA": dns.AAAA, "PTR": dns.PTR, "NS": dns.NS, "SOA": dns.SOA}


@dataclass
class Counters:
    queries: int = 0
    malformed: int = 0
    refused: int = 0
    nxdomain: int = 0
    truncated: int = 0
    failed: int = 0


def _payload(rr: RR):
    if rr.type == "A":
        return dns.Record_A(rr.data, rr.ttl)
    if rr.type == "AAAA":
        return dns.Record_AAAA(rr.data, rr.ttl)
    if rr.type == "SOA":
        s = rr.data
        return dns.Record_SOA(s.mname, s.rname, s.serial, s.refresh, s.retry, s.expire,
                              s.minimum, rr.ttl)
    cls = dns.Record_PTR if rr.type == "PTR" else dns.Record_NS
    return cls(rr.data, rr.ttl)


def _header(rr: RR) -> dns.RRHeader:
    return dns.RRHeader(rr.name.encode("ascii"), _TYPES[rr.type], dns.IN, rr.ttl,
                        _payload(rr), auth=True)


def _type_name(qtype: int) -> str:
    return dns.QUERY_TYPES.get(qtype) or dns.EXT_QUERIES.get(qtype) or f"TYPE{qtype}"


def _writable_question(data: bytes) -> bool:
    """Whether the first question's name (the one a reply echoes) is one Twisted writes
    back as it came: a name is bytes joined with '.' there, so a label holding '.' is
    re-split into other labels (or into none: ValueError when writing), and its decoder
    takes labels of 64-191 bytes, which no reply may carry. Called on a message that
    parsed, so its pointers lead somewhere and do not loop."""
    offset, size, jumps = 12, 1, 0
    try:
        while (length := data[offset]) != 0:
            if length >= 0xC0:
                jumps += 1
                if jumps > MAX_POINTERS:
                    return False
                offset = (length & 0x3F) << 8 | data[offset + 1]
                continue
            label = data[offset + 1:offset + 1 + length]
            if length > 63 or b"." in label:
                return False
            size += length + 1
            offset += length + 1
    except IndexError:
        return False
    return size <= 255


class DnsFactory(names_server.DNSServerFactory):
    """Answers every query from `snapshot()` (None until the first load: SERVFAIL)."""

    noisy = False

    def __init__(self, snapshot: Callable[[], ZoneSnapshot | None],
                 on_query: Callable[[], None] = lambda: None, reactor=None) -> None:
        super().__init__()
        self.snapshot = snapshot
        self.on_query = on_query
        self.reactor = reactor
        self.counters = Counters()

    def buildProtocol(self, addr):
        proto = TcpDns(self, self.reactor)
        proto.factory = self
        if self.reactor is not None:
            proto.callLater = self.reactor.callLater
        return proto

    # -- one message in, bytes out ---------------------------------------------------------

    def datagram(self, data: bytes, udp: bool) -> bytes | None:
        """The reply to one request as bytes, or None when nothing should be sent."""
        message = dns.Message()
        try:
            message.fromStr(data)
        except Exception:
            self.counters.malformed += 1
            return self._formerr(data)
        if message.answer:      # a response, not a question: never answer those (loops)
            return None
        if message.queries and not _writable_question(data):
            self.counters.malformed += 1
            return self._formerr(data)
        self.counters.queries += 1
        self.on_query()
        try:
            return self.reply(message, udp)
        except Exception:
            self.counters.failed += 1
            log.failure("DNS query failed: {queries}", queries=message.queries)
        try:
            return self._response(message, zones.SERVFAIL).toStr()
        except Exception:       # the question itself cannot be written: a bare header
            return self._bare_reply(data, zones.SERVFAIL)

    def _formerr(self, data: bytes) -> bytes | None:
        if len(data) < 12 or data[2] & 0x80:
            return None
        return self._bare_reply(data, zones.FORMERR)

    @staticmethod
    def _bare_reply(data: bytes, rcode: int) -> bytes:
        """A header-only reply to `data`: never larger than the request."""
        reply = dns.Message(id=int.from_bytes(data[:2], "big"), answer=1,
                            opCode=(data[2] >> 3) & 0xF, rCode=rcode, maxSize=0)
        return reply.toStr()

    def _response(self, message: dns.Message, rcode: int) -> dns.Message:
        response = dns.Message(id=message.id, answer=1, opCode=message.opCode,
                               recDes=message.recDes, recAv=0, rCode=rcode, maxSize=0)
        response.queries = message.queries[:1]
        return response

    def reply(self, message: dns.Message, udp: bool) -> bytes:
        opts = [r for r in message.additional if r.type == dns.OPT]
        edns = opts[0] if len(opts) == 1 else None
        limit = max(512, min(edns.cls, MAX_UDP)) if edns else 512
        response = self._response(message, zones.NOERROR)
        extended = 0
        if len(opts) > 1:
            response.rCode = zones.FORMERR
        elif edns is not None and (edns.ttl >> 16) & 0xFF != 0:
            extended = BADVERS
        elif message.opCode == OP_UPDATE:
            response.rCode = zones.REFUSED          # we take no dynamic updates
        elif message.opCode != dns.OP_QUERY:
            response.rCode = zones.NOTIMP
        elif len(message.queries) != 1:
            response.rCode = zones.FORMERR
        else:
            self._answer(message.queries[0], response)
        if response.rCode == zones.REFUSED:
            self.counters.refused += 1
        elif response.rCode == zones.NXDOMAIN:
            self.counters.nxdomain += 1
        opt = []
        if edns is not None:
            opt = [dns._OPTHeader(udpPayloadSize=EDNS_PAYLOAD, extendedRCODE=extended >> 4,
                                  version=0)]
            response.rCode |= extended & 0xF
        response.additional += opt
        data = response.toStr()
        if udp and len(data) > limit:
            self.counters.truncated += 1
            response.trunc = 1
            response.answers, response.authority, response.additional = [], [], opt
            data = response.toStr()
        return data

    def _answer(self, query: dns.Query, response: dns.Message) -> None:
        if query.cls not in (dns.IN, dns.ANY):
            response.rCode = zones.REFUSED
            return
        snapshot = self.snapshot()
        if snapshot is None:
            response.rCode = zones.SERVFAIL
            return
        try:
            name = query.name.name.decode("ascii")
        except UnicodeDecodeError:
            response.rCode = zones.REFUSED
            return
        answer = snapshot.answer(name, _type_name(query.type))
        response.rCode = answer.rcode
        response.auth = int(answer.authoritative)
        response.answers = [_header(rr) for rr in answer.answers]
        response.authority = [_header(rr) for rr in answer.authority]
        response.additional = [_header(rr) for rr in answer.additional]


class UdpDns(dns.DNSDatagramProtocol):
    noisy = False

    def datagramReceived(self, data: bytes, addr) -> None:
        reply = self.controller.datagram(data, udp=True)
        if reply is not None:
            try:
                self.transport.write(reply, addr)
            except OSError as exc:     # e.g. the client's address became unreachable
                log.debug("DNS reply to {addr} not sent: {error}", addr=addr, error=exc)


class TcpDns(dns.DNSProtocol, TimeoutMixin):
    def connectionMade(self) -> None:
        super().connectionMade()
        self.setTimeout(TCP_IDLE_S)

    def stringReceived(self, data: bytes) -> None:
        self.resetTimeout()
        reply = self.controller.datagram(data, udp=False)
        if reply is None:
            self.transport.loseConnection()
        else:
            self.sendString(reply)

    def connectionLost(self, reason) -> None:
        self.setTimeout(None)
        super().connectionLost(reason)


class DnsService(service.Service):
    """The embedded DNS on each of `addresses`, UDP and TCP on one port.

    After startService, `port` is the bound port: with port 0 the first address binds UDP
    on an ephemeral port, then TCP on the same one (another try if TCP finds it taken);
    further addresses reuse that port. `counters` and `snapshot` are there for tests
    and diagnostics.
    """

    def __init__(self, reactor, executor, addresses: list[str], port: int = 53, *,
                 check_interval: float = 1.0, host_name: str | None = None) -> None:
        self.reactor = reactor
        self.executor = executor
        self.addresses = list(addresses) or ["127.0.0.1"]
        self.requested_port = port
        self.port: int | None = None
        self.check_interval = check_interval
        self.host_name = host_name or socket.gethostname()
        self.snapshot: ZoneSnapshot | None = None
        self.factory = DnsFactory(lambda: self.snapshot, self._query_seen, reactor)
        # What the TCP listener builds connections with; services.py wraps it in a
        # connection cap (xcatpy/server/limits.py).
        self.tcp_factory = self.factory
        self.serials = SerialKeeper(executor.state_dir / "dns-serial")
        self._listening: list = []
        self._loading = self._reload_again = self._probing = False
        self._version: int | None = None
        self._last_check = float("-inf")
        self._probe: sqlite3.Connection | None = None
        self._probe_lock = threading.Lock()
        self._listener_added = False

    @property
    def counters(self) -> Counters:
        return self.factory.counters

    # -- listening -------------------------------------------------------------------------

    def _bind(self, address: str, port: int) -> int:
        udp = self.reactor.listenUDP(port, UdpDns(self.factory, self.reactor),
                                     interface=address)
        bound = udp.getHost().port
        try:
            tcp = self.reactor.listenTCP(bound, self.tcp_factory, interface=address)
        except CannotListenError:
            udp.stopListening()
            raise
        self._listening += [udp, tcp]
        return bound

    def _bind_any(self, address: str) -> int:
        for _ in range(PORT_RETRIES - 1):
            try:
                return self._bind(address, 0)
            except CannotListenError:
                continue        # UDP got a port a TCP socket holds: take another
        return self._bind(address, 0)

    def startService(self) -> None:
        port = self.requested_port
        try:
            for address in self.addresses:
                port = self._bind_any(address) if port == 0 else self._bind(address, port)
        except BaseException:
            self._stop_listening()
            raise
        self.port = port
        super().startService()
        if not self._listener_added:
            self.executor.on_commit(self._committed)
            self._listener_added = True
        self.reload()
        log.info("DNS answering on {addresses} port {port}",
                 addresses=",".join(self.addresses), port=self.port)

    def _stop_listening(self):
        stopping = [p.stopListening() for p in self._listening]
        self._listening = []
        return [d for d in stopping if d is not None]

    def stopService(self):
        super().stopService()
        from twisted.internet.defer import gatherResults

        stopping = self._stop_listening()
        with self._probe_lock:
            if self._probe is not None:
                self._probe.close()
                self._probe = None
        return gatherResults(stopping)

    # -- keeping the snapshot current ------------------------------------------------------

    def _committed(self) -> None:
        if self.running:
            self.reload()

    def reload(self) -> None:
        """Rebuild the snapshot on a reader thread; at most one rebuild runs at a time and
        requests meanwhile collapse into one more."""
        if self._loading:
            self._reload_again = True
            return
        self._loading = True
        self.executor.read(self._build).addCallbacks(self._loaded, self._load_failed)

    def _data_version(self) -> int:
        with self._probe_lock:
            if self._probe is None:
                if not self.running:
                    raise RuntimeError("DNS service stopped")
                self._probe = sqlite3.connect(db_path(self.executor.state_dir),
                                              check_same_thread=False, isolation_level=None)
            return self._probe.execute("PRAGMA data_version").fetchone()[0]

    def _build(self, store):
        # Read the version first: a commit landing between the two is in the snapshot
        # and also makes the next check reload once more, never the other way round.
        version = self._data_version()
        problems: list[str] = []
        data = zones.zone_data(store, self.host_name, problems)
        serial = self.serials.serial_for(data.digest())
        return ZoneSnapshot(data, serial), version, problems

    def _loaded(self, result) -> None:
        snapshot, version, problems = result
        for problem in problems:
            log.warn("DNS: ignoring {problem}", problem=problem)
        changed = self.snapshot is None or self.snapshot.serial != snapshot.serial
        self.snapshot, self._version = snapshot, version
        if changed:
            log.info("DNS zones {zones} serial {serial}: {count} records",
                     zones=",".join(snapshot.data.apexes) or "(none)", serial=snapshot.serial,
                     count=snapshot.record_count)
        self._finish_load()

    def _load_failed(self, failure) -> None:
        log.failure("DNS zones not reloaded; still answering from the previous ones",
                    failure)
        self._finish_load()

    def _finish_load(self) -> None:
        self._loading = False
        if self._reload_again and self.running:
            self._reload_again = False
            self.reload()

    def _query_seen(self) -> None:
        now = self.reactor.seconds()
        if self._loading or self._probing or now - self._last_check < self.check_interval:
            return
        self._last_check = now
        self._probing = True

        def checked(version):
            self._probing = False
            if version != self._version and self.running:
                self.reload()

        def failed(failure):
            self._probing = False
            log.failure("DNS: database change check failed", failure)

        self.executor.read(lambda store: self._data_version()).addCallbacks(checked, failed)
