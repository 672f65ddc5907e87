"""DhcpService: the embedded DHCPv4 server as an IService for xcatd's service tree.

    Listener (one socket per interface, ifaces.bound_socket)
      -> DhcpProtocol.datagramReceived: decode, Responder.answer, send
    DhcpServer: keeps the Responder's snapshot fresh and writes the pool's changes

Answers come from memory on the reactor thread. SQLite is only touched on the executor's
threads: the snapshot is rebuilt on a reader after a commit (the executor's commit
listeners: `makedhcp` and then a client at once works) or when a packet arrives and
another process has written (PRAGMA data_version, checked at most once a second); lease
changes are written on the writer in batches, never holding up an answer.
"""

import socket
import time

from twisted.application import service
from twisted.internet.error import CannotListenError
from twisted.logger import Logger

from xcatpy.db.store import Store
from xcatpy.net.dhcp import ifaces
from xcatpy.net.dhcp import packet as p
from xcatpy.net.dhcp.leases import persist
from xcatpy.net.dhcp.ratelog import RateLimitedLog
from xcatpy.net.dhcp.responder import Link, Responder
from xcatpy.net.dhcp.view import build_view, generations_read, read_leases, read_raw

log = Logger()

POLL_INTERVAL = 1.0       # s between data_version checks while packets arrive
ADDRESS_INTERVAL = 5.0    # s between re-reads of the interfaces' addresses
FLUSH_DELAY = 0.05        # s pool changes gather before one write
_RECV_SIZE = 9216         # a jumbo frame: no DHCP message is larger than its MTU


class DhcpProtocol:
    """Requests arriving on one interface (and port) -> the Responder -> replies."""

    def __init__(self, server: "DhcpServer", link: Link, proxy_port: bool = False) -> None:
        self.server = server
        self.link = link
        self.proxy_port = proxy_port
        self.transport = None

    def datagramReceived(self, data: bytes, addr: tuple[str, int]) -> None:
        server = self.server
        try:
            req = p.decode(data)
        except p.MalformedPacket as exc:
            server.malformed += 1
            server.malformed_log.warn("DHCP: malformed packet from {addr} on {link}: {why}",
                                      addr=f"{addr[0]}:{addr[1]}", link=self.link.name,
                                      why=str(exc))
            return
        server.tick()
        try:
            answer = server.responder.answer(req, self.link, proxy_port=self.proxy_port,
                                             source=addr)
        except Exception as exc:   # one bad packet must never stop the service
            server.errors += 1
            server.error_log.warn("DHCP: failed to answer {mac} on {link}: {error!r}",
                                  mac=req.mac, link=self.link.name, error=exc)
            return
        if server.responder.pool.pending:
            server.schedule_flush()
        if answer is not None:
            try:
                self.transport.write(answer.data, answer.dest)
            except OSError as exc:
                server.send_errors += 1
                server.error_log.warn("DHCP: cannot send to {dest} on {link}: {error}",
                                      dest=answer.dest[0], link=self.link.name,
                                      error=exc.strerror or exc)


class Listener:
    """One bound socket read by the reactor (an IReadDescriptor), the protocol's transport."""

    def __init__(self, reactor, sock: socket.socket, protocol: DhcpProtocol) -> None:
        self.reactor = reactor
        self.socket = sock
        self.protocol = protocol
        self.port = sock.getsockname()[1]
        protocol.transport = self

    def fileno(self) -> int:
        return self.socket.fileno()

    def logPrefix(self) -> str:
        return "dhcp"

    def doRead(self) -> None:
        recvfrom = self.socket.recvfrom
        received = self.protocol.datagramReceived
        for _ in range(256):
            try:
                data, addr = recvfrom(_RECV_SIZE)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                continue    # an ICMP error for an earlier reply
            received(data, addr)

    def write(self, data: bytes, dest: tuple[str, int]) -> None:
        self.socket.sendto(data, dest)

    def connectionLost(self, reason) -> None:
        self.socket.close()

    def start(self) -> None:
        self.reactor.addReader(self)

    def stop(self) -> None:
        self.reactor.removeReader(self)
        self.socket.close()


class DhcpServer:
    """The responder's surroundings: snapshot refresh, lease writes, link addresses."""

    def __init__(self, reactor, executor, responder: Responder,
                 links: dict[str, Link] | None = None, clock=time.monotonic) -> None:
        self.reactor = reactor
        self.executor = executor
        self.responder = responder
        self.links = links or {}
        self.clock = clock
        self.running = True
        self.malformed = 0
        self.errors = 0
        self.send_errors = 0
        self.malformed_log = RateLimitedLog("malformed DHCP packets")
        self.error_log = RateLimitedLog("DHCP errors")
        self._last_poll = clock()
        self._last_addresses = clock()
        self._polling = False
        self._versions: dict[int, int] = {}
        self._refreshing = False
        self._refresh_again = False
        self._flush_call = None
        self._writing = False
        self._own_commit_expected = False
        self._writes_done = 0
        self._generations: tuple[int, ...] | None = None

    # -- snapshot -----------------------------------------------------------------------------

    def load_now(self, store: Store) -> None:
        """The first snapshot, synchronously (at start, before any socket is open)."""
        self._generations = generations_read(store)
        raw = read_raw(store)
        self._apply(build_view(store, raw), read_leases(store), self._writes_done)

    def on_commit(self) -> None:
        if not self.running:
            return
        if self._own_commit_expected:
            self._own_commit_expected = False    # our own lease batch: nothing to reload
            return
        self.request_refresh()

    def request_refresh(self) -> None:
        if self._refreshing:
            self._refresh_again = True
            return
        self._refreshing = True
        previous = self.responder.view.raw
        writes = self._writes_done

        seen = self._generations

        def load(store: Store):
            generations = generations_read(store)
            if generations == seen:
                return generations, None, None
            raw = read_raw(store)
            view = None if raw == previous else build_view(store, raw)
            return generations, view, read_leases(store)

        def done(result):
            self._refreshing = False
            generations, view, leases = result
            if self.running and leases is not None:
                self._generations = generations
                self._apply(view, leases, writes)
            if self._refresh_again:
                self._refresh_again = False
                self.request_refresh()

        def failed(failure):
            self._refreshing = False
            self.error_log.warn("DHCP: cannot reload the tables: {error}",
                                error=failure.getErrorMessage())

        self.executor.read(load).addCallbacks(done, failed)

    def _apply(self, view, lease_rows, writes_at_start: int) -> None:
        if view is not None:
            for warning in view.warnings:
                log.warn("DHCP: {warning}", warning=warning)
            self.responder.view = view
        if writes_at_start == self._writes_done:
            # Otherwise a batch of ours committed after that read: the pool is newer.
            for warning in self.responder.pool.load(lease_rows):
                log.warn("DHCP: {warning}", warning=warning)

    def tick(self) -> None:
        """Per packet: now and then, look for other processes' writes and address changes."""
        now = self.clock()
        if now - self._last_poll < POLL_INTERVAL:
            return
        self._last_poll = now
        self.responder.pool.expire(self.responder.clock())
        if now - self._last_addresses >= ADDRESS_INTERVAL:
            self._last_addresses = now
            self.refresh_addresses()
        if self._polling or self.executor is None:
            return
        self._polling = True

        def check(store: Store) -> bool:
            version = store.conn.execute("PRAGMA data_version").fetchone()[0]
            before = self._versions.get(id(store))
            self._versions[id(store)] = version
            return before != version

        def done(changed: bool):
            self._polling = False
            if changed and self.running:
                self.request_refresh()

        def failed(failure):
            self._polling = False

        self.executor.read(check).addCallbacks(done, failed)

    def refresh_addresses(self) -> None:
        try:
            found = ifaces.ipv4_addresses()
        except OSError as exc:
            self.error_log.warn("DHCP: cannot read interface addresses: {error}", error=exc)
            return
        own = set()
        for name, link in self.links.items():
            addresses = found.get(name, [])
            if addresses != link.addresses:
                log.info("DHCP: {link} addresses now {addresses}", link=name,
                         addresses=", ".join(f"{p.ip_str(a.address)}/{a.prefixlen}"
                                             for a in addresses) or "none")
                link.addresses = addresses
            own.update(a.address for a in addresses)
        self.responder.own_addresses = own

    # -- lease writes -------------------------------------------------------------------------

    def schedule_flush(self) -> None:
        if self._flush_call is None and not self._writing and self.executor is not None:
            self._flush_call = self.reactor.callLater(FLUSH_DELAY, self.flush)

    def flush(self):
        """Write the pool's pending changes; Deferred of the write, or None if none."""
        self._flush_call = None
        pool = self.responder.pool
        if self._writing or not pool.pending:
            return None
        batch = pool.take_pending()
        self._writing = True
        self._own_commit_expected = True

        def done(count):
            self._writes_done += 1
            self._writing = False
            pool.written(True)
            if pool.pending and self.running:
                self.schedule_flush()
            return count

        def failed(failure):
            self._writing = False
            pool.written(False)
            if self._own_commit_expected:
                self._own_commit_expected = False
            else:    # a commit of someone else's was taken for ours meanwhile
                self.request_refresh()
            self.error_log.warn("DHCP: cannot record {count} lease changes in dhcplease: "
                                "{error}", count=len(batch), error=failure.getErrorMessage())
            if self.running:
                self.schedule_flush()

        return self.executor.write(lambda store: persist(store, batch)).addCallbacks(
            done, failed)

    def stop(self):
        self.running = False
        if self._flush_call is not None and self._flush_call.active():
            self._flush_call.cancel()
        self._flush_call = None
        if self._writing or not self.responder.pool.pending:
            return None
        return self.flush()


class DhcpService(service.Service):
    """DHCP on `interfaces` (None: site.dhcpinterfaces). With no interface named it
    answers nothing: xcatd on a workstation's defaults never serves a real network.

    After startService, `port` is the server port bound (0 asks for an ephemeral one, which
    every interface then shares) and `interfaces` the interfaces actually served.
    """

    def __init__(self, reactor, executor, *, interfaces: list[str] | None, port: int = 67,
                 client_port: int = 68, proxy_port: int | None = 4011,
                 http_port=lambda: 80) -> None:
        self.reactor = reactor
        self.executor = executor
        self.requested_interfaces = interfaces
        self.requested_port = port
        self.client_port = client_port
        self.proxy_port = proxy_port
        self.http_port = http_port
        self.port: int = port
        self.bound_proxy_port: int | None = None
        self.interfaces: list[str] = []
        self.mode = "server"
        self.server: DhcpServer | None = None
        self._listeners: list[Listener] = []

    def startService(self) -> None:
        super().startService()
        responder = Responder(server_port=self.requested_port, client_port=self.client_port,
                              http_port=self.http_port)
        server = DhcpServer(self.reactor, self.executor, responder)
        store = Store.open(self.executor.state_dir)
        try:
            server.load_now(store)
        finally:
            store.close()
        site = responder.view.site
        self.mode = responder.mode = site.mode
        if self.requested_interfaces is not None:
            choice = ifaces.parse_dhcpinterfaces(",".join(self.requested_interfaces), set())
            source = "--dhcp-interfaces"
        else:
            choice = ifaces.parse_dhcpinterfaces(site.dhcpinterfaces,
                                                 ifaces.local_hostnames())
            source = "site.dhcpinterfaces"
        if not choice.served:
            log.info("DHCP: no interface named in {source}: not answering DHCP on any "
                     "network", source=source)
            self.server = server
            server.running = False
            return
        self._listen(server, choice, source)
        self.server = server
        server.refresh_addresses()
        self.executor.on_commit(server.on_commit)
        if self.interfaces:
            log.info("DHCP ({mode}) answering on {interfaces} port {port}{proxy}",
                     mode=self.mode, interfaces=",".join(self.interfaces), port=self.port,
                     proxy=f", proxyDHCP port {self.bound_proxy_port}"
                     if self.bound_proxy_port else "")

    def _listen(self, server: DhcpServer, choice: ifaces.InterfaceChoice, source: str) -> None:
        port = self.requested_port
        proxy_port = self.proxy_port if self.mode == "proxy" else None
        try:
            for name in choice.served:
                if ifaces.interface_index(name) is None:
                    log.error("DHCP: interface {name} (from {source}) does not exist; not "
                              "served", name=name, source=source)
                    continue
                link = Link(name, noboot=name in choice.noboot)
                server.links[name] = link
                port = self._open(server, link, port, False)
                if proxy_port is not None:
                    proxy_port = self._open(server, link, proxy_port, True)
                    self.bound_proxy_port = proxy_port
                self.interfaces.append(name)
        except BaseException:
            for listener in self._listeners:
                listener.stop()
            self._listeners.clear()
            raise
        self.port = port
        server.responder.server_port = port

    def _open(self, server: DhcpServer, link: Link, port: int, proxy: bool) -> int:
        try:
            sock = ifaces.bound_socket(link.name, port)
        except OSError as exc:
            raise CannotListenError(link.name, port, exc) from None
        listener = Listener(self.reactor, sock, DhcpProtocol(server, link, proxy))
        self._listeners.append(listener)
        listener.start()
        return listener.port

    def stopService(self):
        super().stopService()
        for listener in self._listeners:
            listener.stop()
        self._listeners.clear()
        if self.server is not None:
            return self.server.stop()
        return None
