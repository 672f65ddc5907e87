"""The services one xcatd process runs, each an IService, assembled in one place.

Later parts add TFTP, HTTP, DHCP, DNS and the install monitor here, beside the API.
"""

from dataclasses import dataclass
from pathlib import Path

from twisted.application import service
from twisted.logger import Logger

from xcatpy.server.api import build_site
from xcatpy.server.executor import CommandExecutor
from xcatpy.server.tls import RevocationList, server_context

log = Logger()


@dataclass
class Settings:
    state_dir: Path
    listen: str = "127.0.0.1"
    port: int = 3001
    readers: int = 4


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
                                           interface=s.listen)
        log.info("API listening on {host}:{port}", host=s.listen,
                 port=self.port.getHost().port)

    def stopService(self):
        super().stopService()
        if self.port is not None:
            return self.port.stopListening()


def build(reactor, settings: Settings) -> tuple[service.MultiService, ApiService]:
    root = service.MultiService()
    executor = CommandExecutor(reactor, settings.state_dir, readers=settings.readers)
    # Order matters: services stop in reverse, so the API stops taking requests before
    # the executor finishes the commands in hand.
    ExecutorService(executor).setServiceParent(root)
    api = ApiService(reactor, settings, executor)
    api.setServiceParent(root)
    return root, api
