"""TftpService: the TFTP server as an IService for xcatd's service tree."""

from twisted.application import service
from twisted.internet.error import CannotListenError
from twisted.logger import Logger

from xcatpy.boot.tftp.files import TftpRoot
from xcatpy.boot.tftp.protocol import TftpServer

log = Logger()


class TftpService(service.Service):
    """Serve `root` over TFTP on each of `addresses` (IPv4; "0.0.0.0" means every local
    address, still answering each request from the address it came to).

    After startService, `port` is the bound UDP port: with `port=0` the first address gets
    an ephemeral port and the others reuse it. `server` exposes counters and the live
    session count.
    """

    def __init__(self, reactor, root: TftpRoot, addresses: list[str], port: int,
                 max_sessions: int = 4096, **server_options) -> None:
        self.reactor = reactor
        self.root = root
        self.addresses = list(addresses) or ["0.0.0.0"]
        self.requested_port = port
        self.max_sessions = max_sessions
        self.server_options = server_options
        self.port: int | None = None
        self.server: TftpServer | None = None

    def startService(self) -> None:
        server = TftpServer(self.reactor, self.root, self.max_sessions, **self.server_options)
        port = self.requested_port
        try:
            for address in self.addresses:
                try:
                    listener = server.listen(address, port)
                except OSError as exc:
                    raise CannotListenError(address, port, exc) from None
                port = listener.port
        except BaseException:
            server.stop()
            raise
        self.server, self.port = server, port
        super().startService()
        log.info("TFTP serving {root} on {addresses} port {port}", root=str(self.root.root),
                 addresses=",".join(self.addresses), port=port)

    def stopService(self):
        super().stopService()
        if self.server is not None:
            self.server.stop()
            self.server = None
