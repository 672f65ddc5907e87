"""The TFTP server: request listeners, option negotiation, and the session table.

Shape, and why:
- A `Listener` per address reads requests with recvmsg and IP_PKTINFO, so even a listener
  on 0.0.0.0 knows which local address each request came to and which interface it came in
  on; the transfer socket is bound to that address (multi-homed head nodes).
- blksize is capped to the path MTU minus 32 bytes of headers: the kernel's IP_MTU of the
  transfer socket once it is connected to the client (the MTU of the route the replies take,
  lowered by path MTU discovery), else the MTU of the interface the request came in on.
- One `Session` (session.py) per transfer, each with its own socket; the sessions share one
  epoll set (`SessionMux`) that the reactor watches as a single descriptor.
- A new request from the same client address and port replaces the session it had, except
  an identical request that arrives before the client acknowledged anything: that is the
  client retransmitting its request, and the session answers again. Requests over the
  session cap get ERROR 0 "server busy". WRQ is refused. Malformed datagrams are counted
  and dropped without an answer (answering garbage would make us a reflector).
"""

import socket
import struct
import time

from twisted.logger import Logger

from xcatpy.boot.tftp import packets
from xcatpy.boot.tftp.files import TftpRoot
from xcatpy.boot.tftp.session import Session, SessionMux, peer
from xcatpy.net.udp import grow_receive_buffer

log = Logger()

DEFAULT_TIMEOUT = 1.0      # seconds between retransmissions when the client sets none
DEFAULT_RETRIES = 5        # retransmissions of one packet before the transfer is dropped
DEFAULT_MAX_WINDOW = 64    # largest windowsize granted (RFC 7440 lets us answer less)
DEFAULT_WINDOW_BYTES = 64 << 10   # and at most this many bytes per window, see below
MAX_BLKSIZE = 65464        # RFC 2348
HEADERS = 32               # IPv4 20 + UDP 8 + TFTP 4 bytes under an interface's MTU
DEFAULT_MTU = 1500         # when an interface's MTU cannot be learnt

IP_PKTINFO = getattr(socket, "IP_PKTINFO", 8)
IP_MTU = getattr(socket, "IP_MTU", 14)
_PKTINFO = struct.Struct("=I4s4s")       # struct in_pktinfo: ifindex, spec_dst, addr
_ANC_SIZE = socket.CMSG_SPACE(_PKTINFO.size)
_REQUEST_BUFSIZE = 4096    # RRQs are small; a truncated one is malformed anyway
# A boot storm sends hundreds of requests at once; with the default 208 KiB receive buffer
# (a small datagram costs about 1 KiB of it) the tail of the storm would be dropped and
# wait for the clients' retransmissions.
LISTEN_RCVBUF = 4 << 20


class MtuCache:
    """Interface index -> MTU, from /sys/class/net, re-read after `ttl` seconds."""

    def __init__(self, ttl: float = 60.0) -> None:
        self.ttl = ttl
        self._known: dict[int, tuple[int, float]] = {}

    def mtu(self, ifindex: int) -> int:
        now = time.monotonic()
        known = self._known.get(ifindex)
        if known is not None and known[1] > now:
            return known[0]
        mtu = DEFAULT_MTU
        try:
            name = socket.if_indextoname(ifindex)
            with open(f"/sys/class/net/{name}/mtu") as f:
                mtu = int(f.read())
        except (OSError, ValueError):
            pass
        self._known[ifindex] = (mtu, now + self.ttl)
        return mtu

    def blksize_cap(self, ifindex: int) -> int:
        return max(8, min(MAX_BLKSIZE, self.mtu(ifindex) - HEADERS))


class Listener:
    """The request socket on one address (an IReadDescriptor for the reactor)."""

    def __init__(self, server: "TftpServer", address: str, port: int) -> None:
        self.server = server
        self.address = address
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
            grow_receive_buffer(sock, LISTEN_RCVBUF)
            sock.setblocking(False)
            sock.bind((address, port))
        except BaseException:
            sock.close()
            raise
        self.socket = sock
        self.port = sock.getsockname()[1]

    def fileno(self) -> int:
        return self.socket.fileno()

    def logPrefix(self) -> str:
        return "tftp"

    def connectionLost(self, reason) -> None:
        self.socket.close()

    def doRead(self) -> None:
        recvmsg = self.socket.recvmsg
        for _ in range(256):
            try:
                datagram, ancillary, flags, client = recvmsg(_REQUEST_BUFSIZE, _ANC_SIZE)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                continue    # an ICMP error for an earlier reply: nothing to do
            if flags & socket.MSG_TRUNC:
                self.server.malformed += 1
                continue
            local, ifindex = self.address, 0
            for level, kind, value in ancillary:
                if level == socket.IPPROTO_IP and kind == IP_PKTINFO:
                    ifindex, spec_dst, _ = _PKTINFO.unpack_from(value)
                    local = socket.inet_ntoa(spec_dst)
            self.server.request_received(datagram, client, local, ifindex, self)

    def reply(self, datagram: bytes, client: tuple[str, int], local: str) -> None:
        """Answer from the request socket, with the address the request came to as source."""
        info = _PKTINFO.pack(0, socket.inet_aton(local), b"\0\0\0\0")
        try:
            self.socket.sendmsg([datagram], [(socket.IPPROTO_IP, IP_PKTINFO, info)], 0, client)
        except OSError:
            pass

    def close(self) -> None:
        self.socket.close()


class TftpServer:
    """Requests in, sessions out. Transport-agnostic enough to be driven by tests with a
    `twisted.internet.task.Clock` that also has addReader/removeReader."""

    def __init__(self, reactor, root: TftpRoot, max_sessions: int = 4096, *,
                 retries: int = DEFAULT_RETRIES, default_timeout: float = DEFAULT_TIMEOUT,
                 max_window: int = DEFAULT_MAX_WINDOW,
                 window_bytes: int = DEFAULT_WINDOW_BYTES) -> None:
        self.reactor = reactor
        self.root = root
        self.max_sessions = max_sessions
        self.retries = retries
        self.default_timeout = default_timeout
        self.max_window = max_window
        self.window_bytes = window_bytes
        self.mtus = MtuCache()
        self.mux = SessionMux(reactor)
        self.sessions: dict[tuple[str, int], Session] = {}
        self.listeners: list[Listener] = []
        # Counters an operator (or a test) can read.
        self.malformed = 0
        self.completed = 0
        self.failed = 0
        self.refused = 0
        self.blocks_sent = 0
        self.gso = True         # until the kernel says otherwise
        reactor.addReader(self.mux)

    def listen(self, address: str, port: int) -> Listener:
        listener = Listener(self, address, port)
        self.listeners.append(listener)
        self.reactor.addReader(listener)
        return listener

    def stop(self) -> None:
        for listener in self.listeners:
            self.reactor.removeReader(listener)
            listener.close()
        self.listeners = []
        for session in list(self.sessions.values()):
            session.finish("server stopping", failed=True)
        self.reactor.removeReader(self.mux)
        self.mux.close()

    @property
    def session_count(self) -> int:
        return len(self.sessions)

    def request_received(self, datagram: bytes, client: tuple[str, int], local: str,
                         ifindex: int, listener: Listener) -> None:
        try:
            request = packets.parse(datagram)
        except packets.MalformedPacket:
            self.malformed += 1
            return
        if not isinstance(request, packets.Request):
            self.malformed += 1     # DATA/ACK/ERROR/OACK to the request port: ignore
            return
        if request.opcode == packets.WRQ:
            self.refused += 1
            listener.reply(packets.error(packets.ERR_ACCESS,
                                         "read-only server: uploads are refused"),
                           client, local)
            return
        if request.mode == "mail":
            listener.reply(packets.error(packets.ERR_ILLEGAL_OP, "mail mode is not supported"),
                           client, local)
            return
        old = self.sessions.get(client)
        if old is not None:
            if old.request == request and old.acked <= 0 and not old.progressed:
                old.request_repeated()
                return
            old.finish("replaced by a new request from the same port", failed=True)
        if len(self.sessions) >= self.max_sessions:
            self.refused += 1
            listener.reply(packets.error(packets.ERR_UNDEFINED, "server busy"), client, local)
            return
        try:
            session = Session(self, client, local, ifindex, request)
        except OSError as exc:
            log.warn("TFTP: cannot open a transfer socket on {local} for {client}: {exc}",
                     local=local, client=peer(client), exc=exc)
            listener.reply(packets.error(packets.ERR_UNDEFINED, "server busy"), client, local)
            return
        self.sessions[client] = session
        session.open()

    def blksize_cap(self, sock: socket.socket, ifindex: int) -> int:
        try:
            mtu = sock.getsockopt(socket.IPPROTO_IP, IP_MTU)
        except OSError:
            return self.mtus.blksize_cap(ifindex)
        return max(8, min(MAX_BLKSIZE, mtu - HEADERS))

    def negotiate(self, request: packets.Request, size: int,
                  blksize_cap: int) -> tuple[dict[str, int], int, float, int]:
        """(options to acknowledge, blksize, timeout, windowsize) for a request."""
        accepted: dict[str, int] = {}
        blksize, timeout, window = 512, self.default_timeout, 1
        for name, raw in request.options.items():
            if name == "blksize":
                value = packets.int_option(raw, 8, MAX_BLKSIZE)
                if value is not None:
                    blksize = accepted[name] = min(value, blksize_cap)
            elif name == "timeout":
                value = packets.int_option(raw, 1, 255)
                if value is not None:
                    accepted[name] = value
                    timeout = float(value)
            elif name == "tsize":
                if packets.int_option(raw, 0, 1 << 62) is not None:
                    accepted[name] = size
            elif name == "windowsize":
                value = packets.int_option(raw, 1, 65535)
                if value is not None:
                    window = accepted[name] = min(value, self.max_window)
        if "windowsize" in accepted:
            # A window must fit the client's receive buffer (Linux: 208 KiB by default, and
            # a datagram on loopback costs about twice its size); a lost tail of a window
            # is only noticed by a timeout, so bigger windows of big blocks crawl.
            window = accepted["windowsize"] = max(1, min(window, self.window_bytes // blksize))
        return accepted, blksize, timeout, window
