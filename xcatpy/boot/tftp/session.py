"""One read transfer (`Session`) and the epoll set all transfers share (`SessionMux`).

This is the per-block hot path, so it is written for speed:
- Each transfer has its own UDP socket (its TID), connect()ed to the client, so the kernel
  filters foreign packets and reports ICMP unreachable (a client gone away) as an error.
- The transfer sockets are not registered with the reactor one by one: they sit in one
  epoll set whose descriptor the reactor watches. One reactor wake-up then serves every
  ready transfer, in rounds while they keep answering, instead of a logging context and a
  dispatch per socket, which would be most of the cost of a block in Python.
- No per-block Deferreds, timers or log lines. Each session has one retransmit timer that
  is re-armed lazily: an ACK only records the time; the timer, when it fires, either sleeps
  on until the real deadline or retransmits.
- Windows (RFC 7440) leave in one sendmsg() per up to 64 blocks with UDP segmentation
  offload (Linux 4.18+), falling back to one send() per block where the kernel refuses.

Windowsize: the server sends a window of blocks, the client ACKs the last one; an ACK for
an earlier block, or a timeout, makes the server resend from the block after the
acknowledged one. Duplicate ACKs are ignored (no Sorcerer's Apprentice).
"""

import errno
import os
import select
import socket
import struct
from typing import TYPE_CHECKING

from twisted.logger import Logger

from xcatpy.boot.tftp import packets
from xcatpy.boot.tftp.files import TftpFile, TftpFileError

if TYPE_CHECKING:
    from xcatpy.boot.tftp.protocol import TftpServer

log = Logger()

NETASCII_MAX = 64 << 20    # netascii is converted in memory; larger files need octet

# UDP generic segmentation offload: a window goes to the kernel in one sendmsg() and
# leaves as separate datagrams; the limits are the kernel's.
SOL_UDP = getattr(socket, "SOL_UDP", 17)
UDP_SEGMENT = getattr(socket, "UDP_SEGMENT", 103)
GSO_MAX_SEGMENTS = 64
GSO_MAX_BYTES = 65000
_GSO_ERRORS = (errno.EIO, errno.EINVAL, errno.EMSGSIZE, errno.EOPNOTSUPP, errno.ENOPROTOOPT)

_DATA_HEADER = struct.Struct("!HH").pack
_EPOLLOUT = select.EPOLLOUT
_EPOLL_READ = select.EPOLLIN | select.EPOLLERR | select.EPOLLHUP
_MUX_ROUNDS = 8            # epoll rounds per reactor wake-up, bounding one turn's work


class SessionMux:
    """One epoll set of transfer sockets, watched by the reactor as a single descriptor."""

    def __init__(self, reactor) -> None:
        self.reactor = reactor
        self.epoll = select.epoll()
        self.sessions: dict[int, Session] = {}
        self.now = reactor.seconds()

    def fileno(self) -> int:
        return self.epoll.fileno()

    def logPrefix(self) -> str:
        return "tftp-sessions"

    def connectionLost(self, reason) -> None:
        pass

    def add(self, session: "Session") -> None:
        self.epoll.register(session.fd, _EPOLL_READ)
        self.sessions[session.fd] = session

    def remove(self, session: "Session") -> None:
        if self.sessions.get(session.fd) is session:
            del self.sessions[session.fd]
            try:
                self.epoll.unregister(session.fd)
            except OSError:
                pass

    def want_write(self, session: "Session", wanted: bool) -> None:
        self.epoll.modify(session.fd, _EPOLL_READ | _EPOLLOUT if wanted else _EPOLL_READ)

    def doRead(self) -> None:
        # Drain in rounds: while transfers keep answering, serving them here is cheaper
        # than a trip through the reactor's loop per round.
        poll = self.epoll.poll
        sessions = self.sessions
        seconds = self.reactor.seconds
        for _ in range(_MUX_ROUNDS):
            events = poll(0, 1024)
            if not events:
                return
            self.now = seconds()
            for fd, mask in events:
                session = sessions.get(fd)
                if session is None:
                    continue
                if mask & _EPOLLOUT:
                    session.writable()
                if mask & _EPOLL_READ and session.sock is not None:
                    session.readable()

    def close(self) -> None:
        self.epoll.close()


def peer(client: tuple[str, int]) -> str:
    return f"{client[0]}:{client[1]}"


class Session:
    """One read transfer, from the request to the last ACK (or the last retry)."""

    __slots__ = (
        "server", "client", "local", "ifindex", "request", "sock", "fd", "send", "recv",
        "file", "data", "size", "blksize", "window", "timeout", "last", "acked", "sent",
        "oack", "stamp", "retries", "timer", "progressed", "blocks_sent", "started", "mux",
        "gso", "__weakref__")

    def __init__(self, server: "TftpServer", client: tuple[str, int], local: str, ifindex: int,
                 request: packets.Request) -> None:
        self.server = server
        self.client = client
        self.local = local
        self.ifindex = ifindex
        self.request = request
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.setblocking(False)
            sock.bind((local, 0))
            sock.connect(client)
        except BaseException:
            sock.close()
            raise
        self.sock = sock
        self.mux = server.mux
        self.gso: list | None = None
        self.fd = sock.fileno()
        self.send = sock.send
        self.recv = sock.recv
        self.file: TftpFile | None = None
        self.data = None
        self.size = 0
        self.blksize = 512
        self.window = 1
        self.timeout = server.default_timeout
        self.last = 0          # absolute number of the final block
        self.acked = -1        # last acknowledged absolute block; -1 while opening
        self.sent = 0          # last sent absolute block
        self.oack: bytes | None = None
        self.progressed = False
        self.blocks_sent = 0
        self.retries = 0
        self.started = self.stamp = server.mux.now = server.reactor.seconds()
        self.timer = None
        server.mux.add(self)
        timeout = packets.int_option(request.options.get("timeout", b""), 1, 255)
        self._arm(float(timeout) if timeout else self.timeout)

    # -- setup -----------------------------------------------------------------------

    def open(self) -> None:
        name = os.fsdecode(self.request.filename)
        d = self.server.root.open(name, self.client, self.local)
        d.addCallbacks(self._opened, self._open_failed)
        d.addErrback(self._crashed)

    def _opened(self, file: TftpFile) -> None:
        if self.sock is None:           # replaced or reaped while the file was opening
            file.close()
            return
        self.file = file
        if self.request.mode == "netascii":
            if file.data is None or file.size > NETASCII_MAX:
                self.fail(packets.ERR_UNDEFINED, f"netascii transfers are limited to "
                          f"{NETASCII_MAX} bytes; ask for octet mode")
                return
            content = packets.to_netascii(file.data)
        else:
            content = file.data
        self.size = len(content) if content is not None else file.size
        self.data = memoryview(content) if content is not None else None
        accepted, self.blksize, self.timeout, self.window = self.server.negotiate(
            self.request, self.size, self.server.blksize_cap(self.sock, self.ifindex))
        self.last = self.size // self.blksize + 1
        if self.window > 1 and self.server.gso:
            self.gso = self._enable_gso()
        self.acked = 0
        self.stamp = self.mux.now = self.server.reactor.seconds()
        self.retries = 0
        if accepted:
            self.oack = packets.oack(accepted)
            self._send_control(self.oack)
        else:
            self._send_window()

    def _enable_gso(self) -> list | None:
        """The ancillary data asking for UDP segmentation per sendmsg() (a per-call option:
        set on the socket it would also cut OACKs and ERRORs), or None if not worth it."""
        per_call = min(GSO_MAX_SEGMENTS, GSO_MAX_BYTES // (4 + self.blksize))
        if per_call < 2:
            return None
        return [(SOL_UDP, UDP_SEGMENT, struct.pack("=H", 4 + self.blksize))]

    def _open_failed(self, failure) -> None:
        if self.sock is None:
            return
        if failure.check(TftpFileError):
            exc = failure.value
            self.fail(exc.code, exc.message)
        else:
            log.failure("TFTP: opening {name} for {client} failed", failure,
                        name=self.request.filename, client=peer(self.client))
            self.fail(packets.ERR_UNDEFINED, "internal error")

    def _crashed(self, failure) -> None:
        log.failure("TFTP: transfer of {name} to {client} crashed", failure,
                    name=self.request.filename, client=peer(self.client))
        if self.sock is not None:
            self.fail(packets.ERR_UNDEFINED, "internal error")

    def request_repeated(self) -> None:
        """The client sent its request again before acknowledging anything: answer again."""
        if self.oack is not None:
            self._send_control(self.oack)
        elif self.acked == 0:
            self.sent = 0
            self._send_window()

    # -- the hot path ----------------------------------------------------------------

    def readable(self) -> None:
        # Level-triggered: one datagram per call (anything left makes epoll report this
        # socket again), which spares a recv() ending in EAGAIN per block.
        try:
            packet = self.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self.finish(f"client unreachable ({errno.errorcode.get(exc.errno, exc)})",
                        failed=True)
            return
        if len(packet) >= 4 and packet[1] == 4 and packet[0] == 0 and self.oack is None:
            acked = self.acked
            delta = (((packet[2] << 8) | packet[3]) - acked) & 0xFFFF
            if delta == 0 or delta > self.sent - acked or acked < 0:
                return                  # duplicate or stale: never answer (Sorcerer's Apprentice)
            acked += delta
            self.acked = acked
            if acked == self.last:
                self.finish("complete")
                return
            self.progressed = True
            self.retries = 0
            self.stamp = self.mux.now
            if acked != self.sent:
                self.sent = acked       # the client missed acked+1: resend from there
            self._send_window()
        elif packet[:4] == b"\0\4\0\0" and self.oack is not None:
            self.oack = None            # the client accepted our options
            self.progressed = True
            self.retries = 0
            self.stamp = self.mux.now
            self._send_window()
        elif packet[:2] == b"\0\5":
            self._client_error(packet)
        elif packet[:2] != b"\0\4":
            self.server.malformed += 1

    def _send_window(self) -> None:
        block = self.sent + 1
        end = self.acked + self.window
        if end > self.last:
            end = self.last
        if block > end:
            return
        try:
            if block == end:            # lockstep, or the last block of a window
                offset = (block - 1) * self.blksize
                data = self.data
                chunk = data[offset:offset + self.blksize] if data is not None else \
                    self.file.read(offset, self.blksize)
                self.send(_DATA_HEADER(3, block & 0xFFFF) + chunk)
                self.sent = block
                self.blocks_sent += 1
            elif self.gso:
                self._send_segmented(block, end)
            else:
                self._send_each(block, end)
        except (BlockingIOError, InterruptedError):
            self.mux.want_write(self, True)
        except OSError as exc:
            if self.gso and exc.errno in _GSO_ERRORS:
                log.info("TFTP: UDP segmentation refused ({exc}); sending blocks one by one",
                         exc=exc)
                self.gso = None
                self.server.gso = False
                self._send_window()
                return
            self.finish(f"send failed ({errno.errorcode.get(exc.errno, exc)})", failed=True)

    def _chunks(self, block: int, end: int):
        """(header, payload) for blocks block..end."""
        blksize = self.blksize
        offset = (block - 1) * blksize
        data = self.data
        read = self.file.read if data is None else None
        for number in range(block, end + 1):
            yield (_DATA_HEADER(3, number & 0xFFFF),
                   data[offset:offset + blksize] if read is None else read(offset, blksize))
            offset += blksize

    def _send_each(self, block: int, end: int) -> None:
        send = self.send
        for header, payload in self._chunks(block, end):
            send(header + payload)
            self.sent = block
            self.blocks_sent += 1
            block += 1

    def _send_segmented(self, block: int, end: int) -> None:
        """Send blocks block..end in as few sendmsg() calls as UDP GSO allows: the kernel
        cuts each buffer into datagrams of 4 + blksize bytes (only a file's last block is
        shorter, and it is always last in its buffer)."""
        sendmsg = self.sock.sendmsg
        ancillary = self.gso
        per_call = min(GSO_MAX_SEGMENTS, GSO_MAX_BYTES // (4 + self.blksize))
        while block <= end:
            stop = block + per_call - 1
            if stop > end:
                stop = end
            parts = []
            for header, payload in self._chunks(block, stop):
                parts += (header, payload)
            sendmsg(parts, ancillary)
            self.blocks_sent += stop - block + 1
            self.sent = stop
            block = stop + 1

    def writable(self) -> None:
        self.server.mux.want_write(self, False)
        if self.sock is not None and self.oack is None and self.acked >= 0:
            self._send_window()

    def _send_control(self, datagram: bytes) -> None:
        try:
            self.send(datagram)
        except (BlockingIOError, InterruptedError):
            pass                        # the retransmit timer will try again
        except OSError as exc:
            self.finish(f"send failed ({errno.errorcode.get(exc.errno, exc)})", failed=True)

    def _client_error(self, packet: bytes) -> None:
        try:
            error = packets.parse(packet)
            text = f"client sent ERROR {error.code}: " \
                   f"{error.message.decode('utf-8', 'replace')}"
        except packets.MalformedPacket:
            text = "client sent a malformed ERROR"
        self.finish(text, failed=True)

    # -- time ------------------------------------------------------------------------

    def _arm(self, delay: float) -> None:
        self.timer = self.server.reactor.callLater(delay, self._timer_fired)

    def _timer_fired(self) -> None:
        self.timer = None
        if self.sock is None:
            return
        now = self.server.reactor.seconds()
        due = self.stamp + self.timeout
        if now < due - 0.001:           # progress since the timer was armed
            self._arm(due - now)
            return
        self.retries += 1
        if self.retries > self.server.retries:
            self.finish("timed out", failed=True)
            return
        self.stamp = now
        if self.oack is not None:
            self._send_control(self.oack)
        elif self.acked >= 0:
            self.sent = self.acked
            self._send_window()
        if self.sock is not None:
            self._arm(self.timeout)

    # -- the end ---------------------------------------------------------------------

    def fail(self, code: int, message: str) -> None:
        self._send_control(packets.error(code, message))
        self.finish(message, failed=True, code=code)

    def finish(self, why: str, failed: bool = False, code: int | None = None) -> None:
        if self.sock is None:
            return
        server = self.server
        server.mux.remove(self)
        self.sock.close()
        self.sock = None
        if self.timer is not None and self.timer.active():
            self.timer.cancel()
        self.timer = None
        if self.file is not None:
            self.file.close()
        self.data = None
        if server.sessions.get(self.client) is self:
            del server.sessions[self.client]
        server.blocks_sent += self.blocks_sent
        name = os.fsdecode(self.request.filename)
        if failed:
            server.failed += 1
            if code in (packets.ERR_NOT_FOUND, None):
                level = log.debug if code is not None else log.info
            else:
                level = log.warn
            level("TFTP: {client} {name}: {why}", client=peer(self.client), name=name,
                  why=why)
        else:
            server.completed += 1
            log.info("TFTP: sent {name} to {client} via {local} ({size} bytes, blksize "
                     "{blksize}, window {window}, {seconds:.3f} s)", name=name,
                     client=peer(self.client), local=self.local, size=self.size,
                     blksize=self.blksize, window=self.window,
                     seconds=server.reactor.seconds() - self.started)
