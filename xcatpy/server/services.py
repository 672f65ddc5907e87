"""The services one xcatd process runs, each an IService, assembled in one place.

The API (mTLS, for admins) listens on `listen`; the boot services (TFTP, HTTP, the install
monitor) and DNS listen on `boot_listen`, the provisioning network's addresses. DHCP has to
hear broadcasts, so it binds to interfaces instead (site.dhcpinterfaces or
`dhcp_interfaces`), and with none named it answers nothing. A port of None turns a service
off.

Every TCP listener bounds its connections (xcatpy/server/limits.py): idle and request
timeouts, and a cap on how many are open, sized from the open-files limit.
"""

from dataclasses import dataclass, field
from pathlib import Path

from twisted.application import service
from twisted.logger import Logger

from xcatpy.server.api import build_site
from xcatpy.server.executor import CommandExecutor
from xcatpy.server.limits import (
    CappedFactory,
    Limits,
    bound_site,
    connection_cap,
    tftp_sessions,
)
from xcatpy.server.tls import RevocationList, server_context

log = Logger()


# A rack powering on opens hundreds of connections within a millisecond. With Twisted's
# default backlog of 50 the rest are dropped and wait for the client's 1 s SYN
# retransmission (measured: p95 of answer-file fetches 1.05 s at 100 nodes). The kernel caps
# this at net.core.somaxconn.
LISTEN_BACKLOG = 1024


@dataclass
class Settings:
    state_dir: Path
    listen: str = "127.0.0.1"
    port: int = 3001
    readers: int = 4
    boot_listen: list[str] = field(default_factory=lambda: ["127.0.0.1"])
    tftp_port: int | None = 69
    http_port: int | None = 80
    monitor_port: int | None = 3002
    dns_port: int | None = 53
    dhcp_port: int | None = 67
    dhcp_client_port: int = 68
    dhcp_proxy_port: int | None = 4011
    # None: site.dhcpinterfaces decides (read by the DHCP service at start).
    dhcp_interfaces: list[str] | None = None
    idle_timeout: float = Limits.idle_timeout
    request_timeout: float = Limits.request_timeout
    # Per TCP listener; None: limits.MAX_CONNECTIONS, or less if the fd limit says so.
    max_connections: int | None = None

    def tcp_listeners(self) -> int:
        return 1 + sum(p is not None for p in (self.http_port, self.monitor_port,
                                                self.dns_port))

    def limits(self) -> Limits:
        return Limits(self.idle_timeout, self.request_timeout,
                      connection_cap(self.tcp_listeners(), self.max_connections),
                      tftp_sessions())


class ExecutorService(service.Service):
    def __init__(self, executor: CommandExecutor) -> None:
        self.executor = executor

    def startService(self) -> None:
        super().startService()
        self.executor.start()

    def stopService(self):
        super().stopService()
        self.executor.stop()


class ApiService(service.Service):
    """The TLS command API; `port` holds the bound port once started (port 0 = any)."""

    def __init__(self, reactor, settings: Settings, executor: CommandExecutor,
                 limits: Limits) -> None:
        self.reactor = reactor
        self.settings = settings
        self.executor = executor
        self.limits = limits
        self.factory: CappedFactory | None = None
        self.port = None

    def startService(self) -> None:
        super().startService()
        s = self.settings
        from twisted.protocols.tls import TLSMemoryBIOFactory

        site = bound_site(build_site(self.reactor, self.executor, s.state_dir,
                                     RevocationList(s.state_dir)), "API", self.limits)
        # The cap counts TCP connections, TLS or not, so it sits outside the TLS layer
        # (listenSSL would put TLS outside it); the HTTP channel's timers start at
        # connect and so also bound a handshake that never finishes.
        tls = TLSMemoryBIOFactory(server_context(s.state_dir), False, site)
        self.factory = CappedFactory(tls, "API", self.limits.max_connections,
                                     reactor=self.reactor)
        self.port = self.reactor.listenTCP(s.port, self.factory, interface=s.listen,
                                           backlog=LISTEN_BACKLOG)
        log.info("API listening on {host}:{port}", host=s.listen,
                 port=self.port.getHost().port)

    def stopService(self):
        super().stopService()
        if self.port is not None:
            return self.port.stopListening()


class TcpService(service.Service):
    """One factory on several addresses; `port` is the bound port once started (with port
    0, the port the first address got is used for the rest)."""

    def __init__(self, reactor, label: str, factory: CappedFactory, addresses: list[str],
                 port: int) -> None:
        self.reactor = reactor
        self.label = label
        self.factory = factory
        self.addresses = addresses
        self.port = port
        self._listening = []

    def startService(self) -> None:
        super().startService()
        for address in self.addresses:
            listening = self.reactor.listenTCP(self.port, self.factory, interface=address,
                                               backlog=LISTEN_BACKLOG)
            self._listening.append(listening)
            self.port = listening.getHost().port
            log.info("{label} listening on {host}:{port}", label=self.label, host=address,
                     port=self.port)

    def stopService(self):
        super().stopService()
        from twisted.internet.defer import gatherResults

        stopping = [p.stopListening() for p in self._listening]
        self._listening = []
        return gatherResults([d for d in stopping if d is not None])


@dataclass
class Running:
    """What `build` assembled, for the daemon to report where everything listens."""

    api: ApiService
    tftp: service.Service | None = None
    http: TcpService | None = None
    monitor: TcpService | None = None
    dns: service.Service | None = None
    dhcp: service.Service | None = None

    def ports(self) -> dict[str, int]:
        found = {"port": self.api.port.getHost().port}
        for name in ("tftp", "http", "monitor", "dns", "dhcp"):
            svc = getattr(self, name)
            # A DHCP service with no interface to answer on listens nowhere: no port to name.
            if svc is not None and getattr(svc, "interfaces", True):
                found[f"{name}_port"] = svc.port
        return found


def _site_dirs(state_dir: Path) -> tuple[Path, Path]:
    from xcatpy.boot.nodeset import site_paths
    from xcatpy.db.attrs import NodeAttrs
    from xcatpy.db.store import Store

    store = Store.open(state_dir)
    try:
        paths = site_paths(NodeAttrs(store), state_dir)
    finally:
        store.close()
    for directory in (paths.installdir, paths.tftpdir):
        directory.mkdir(parents=True, exist_ok=True)
    return paths.installdir, paths.tftpdir


def _add_boot_services(reactor, settings: Settings, executor: CommandExecutor,
                       root: service.MultiService, running: Running, limits: Limits) -> None:
    if settings.tftp_port is None and settings.http_port is None and \
            settings.monitor_port is None:
        return
    from xcatpy.boot.http import build_boot_site
    from xcatpy.boot.monitor import MonitorFactory
    from xcatpy.boot.resolver import BootResolver

    installdir, tftpdir = _site_dirs(settings.state_dir)
    resolver = BootResolver(
        executor, installdir, tftpdir,
        http_port=lambda: running.http.port if running.http else 80,
        api_port=lambda: running.api.port.getHost().port)
    if settings.tftp_port is not None:
        from xcatpy.boot.tftp.files import TftpRoot
        from xcatpy.boot.tftp.service import TftpService

        tftp_root = TftpRoot(tftpdir)
        for pattern, generate in resolver.tftp_generators():
            tftp_root.add_generator(pattern, generate)
        running.tftp = TftpService(reactor, tftp_root, settings.boot_listen,
                                   settings.tftp_port, max_sessions=limits.tftp_sessions)
        running.tftp.setServiceParent(root)
    if settings.http_port is not None:
        # Boot clients are not authenticated: one that stops reading a kernel halfway
        # must not hold its connection for ever either.
        site = bound_site(build_boot_site(resolver, installdir, tftpdir), "HTTP", limits,
                          stall=True)
        running.http = TcpService(reactor, "HTTP", CappedFactory(
            site, "HTTP", limits.max_connections, reactor=reactor),
            settings.boot_listen, settings.http_port)
        running.http.setServiceParent(root)
    if settings.monitor_port is not None:
        # An installer sends one line and reads one: its whole connection gets the time
        # an HTTP request would.
        monitor = CappedFactory(MonitorFactory(resolver), "install monitor",
                                limits.max_connections, idle_timeout=limits.idle_timeout,
                                lifetime=limits.request_timeout, reactor=reactor)
        running.monitor = TcpService(reactor, "install monitor", monitor,
                                     settings.boot_listen, settings.monitor_port)
        running.monitor.setServiceParent(root)


def _add_net_services(reactor, settings: Settings, executor: CommandExecutor,
                      root: service.MultiService, running: Running, limits: Limits) -> None:
    if settings.dns_port is not None:
        from xcatpy.net.dns.server import DnsService

        running.dns = DnsService(reactor, executor, settings.boot_listen, settings.dns_port)
        # DNS over TCP has its own idle timer, restarted only by a whole message.
        running.dns.tcp_factory = CappedFactory(running.dns.factory, "DNS",
                                                limits.max_connections, reactor=reactor)
        running.dns.setServiceParent(root)
    if settings.dhcp_port is not None:
        from xcatpy.net.dhcp.server import DhcpService

        running.dhcp = DhcpService(
            reactor, executor, interfaces=settings.dhcp_interfaces, port=settings.dhcp_port,
            client_port=settings.dhcp_client_port, proxy_port=settings.dhcp_proxy_port,
            http_port=lambda: running.http.port if running.http else 80)
        running.dhcp.setServiceParent(root)


def build(reactor, settings: Settings) -> tuple[service.MultiService, Running]:
    root = service.MultiService()
    executor = CommandExecutor(reactor, settings.state_dir, readers=settings.readers)
    # Order matters: services stop in reverse, so the API and boot services stop taking
    # requests before the executor finishes the work in hand.
    ExecutorService(executor).setServiceParent(root)
    limits = settings.limits()
    log.info("each TCP listener takes at most {cap} connections, TFTP {tftp} transfers; "
             "idle timeout {idle} s, request timeout {request} s", cap=limits.max_connections,
             tftp=limits.tftp_sessions, idle=limits.idle_timeout,
             request=limits.request_timeout)
    api = ApiService(reactor, settings, executor, limits)
    api.setServiceParent(root)
    running = Running(api)
    _add_boot_services(reactor, settings, executor, root, running, limits)
    _add_net_services(reactor, settings, executor, root, running, limits)
    return root, running
