"""The services one xcatd process runs, each an IService, assembled in one place.

The API (mTLS, for admins) listens on `listen`; the boot services (TFTP, HTTP, the install
monitor) and DNS listen on `boot_listen`, the provisioning network's addresses. DHCP has to
hear broadcasts, so it binds to interfaces instead (site.dhcpinterfaces or
`dhcp_interfaces`), and with none named it answers nothing. A port of None turns a service
off.
"""

from dataclasses import dataclass, field
from pathlib import Path

from twisted.application import service
from twisted.logger import Logger

from xcatpy.server.api import build_site
from xcatpy.server.executor import CommandExecutor
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

    def __init__(self, reactor, settings: Settings, executor: CommandExecutor) -> None:
        self.reactor = reactor
        self.settings = settings
        self.executor = executor
        self.port = None

    def startService(self) -> None:
        super().startService()
        s = self.settings
        site = build_site(self.reactor, self.executor, s.state_dir, RevocationList(s.state_dir))
        self.port = self.reactor.listenSSL(s.port, site, server_context(s.state_dir),
                                           interface=s.listen, backlog=LISTEN_BACKLOG)
        log.info("API listening on {host}:{port}", host=s.listen,
                 port=self.port.getHost().port)

    def stopService(self):
        super().stopService()
        if self.port is not None:
            return self.port.stopListening()


class TcpService(service.Service):
    """One factory on several addresses; `port` is the bound port once started (with port
    0, the port the first address got is used for the rest)."""

    def __init__(self, reactor, label: str, factory, addresses: list[str], port: int) -> None:
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
                       root: service.MultiService, running: Running) -> None:
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
                                   settings.tftp_port)
        running.tftp.setServiceParent(root)
    if settings.http_port is not None:
        running.http = TcpService(reactor, "HTTP",
                                  build_boot_site(resolver, installdir, tftpdir),
                                  settings.boot_listen, settings.http_port)
        running.http.setServiceParent(root)
    if settings.monitor_port is not None:
        running.monitor = TcpService(reactor, "install monitor", MonitorFactory(resolver),
                                     settings.boot_listen, settings.monitor_port)
        running.monitor.setServiceParent(root)


def _add_net_services(reactor, settings: Settings, executor: CommandExecutor,
                      root: service.MultiService, running: Running) -> None:
    if settings.dns_port is not None:
        from xcatpy.net.dns.server import DnsService

        running.dns = DnsService(reactor, executor, settings.boot_listen, settings.dns_port)
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
    api = ApiService(reactor, settings, executor)
    api.setServiceParent(root)
    running = Running(api)
    _add_boot_services(reactor, settings, executor, root, running)
    _add_net_services(reactor, settings, executor, root, running)
    return root, running
