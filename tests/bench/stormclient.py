"""What a booting node's firmware and installer send, for many nodes at once, in one asyncio
loop: the simulated half of the boot-storm benchmark (bootstorm.py).

Each node, as a BIOS PXE ROM, lpxelinux and an installer would:
1. DHCP through a relay agent: DISCOVER/OFFER/REQUEST/ACK, unicast between the relay's
   address (giaddr) and the server's DHCP port, retransmitted after 4, 8, 16 and 32 s as
   the PXE specification says. The relay is one socket for all nodes, as a switch's is.
2. TFTP, from the address DHCP gave it, to the server's TFTP port: the boot program named
   in the ACK as the PXE ROM fetches it (a `tsize` probe, abandoned with an ERROR, then the
   transfer with `blksize`), then `ldlinux.c32`, then the node's config as pxelinux looks
   for it (its UUID name first, which the server may not have, then `01-<mac>`).
3. HTTP, the kernel and initrd the config names, the answer file its `inst.ks=`/`ks=`
   names, and the install-finished callback the answer file names.

Every transfer is checked: TFTP against the size the server announced (`tsize`) and HTTP
against Content-Length, with the first bytes of the kernel and initrd compared with the
files on disk. A node that exhausts its retries or gets a wrong answer fails with the
phase and the reason; the others go on.
"""

import asyncio
import random
import re
import socket
import struct
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from xcatpy.net.dhcp import packet as p

PHASES = ("dhcp", "loader", "config", "kernel", "initrd", "answer", "done")
DHCP_TIMEOUTS = (4, 8, 16, 32)         # PXE spec 2.1, section 2.2.1
TFTP_TIMEOUTS = (1, 2, 4, 8, 16)       # per packet, then the transfer is lost
HTTP_TIMEOUT = 600.0                   # s for a whole response
PXE_VENDOR = b"PXEClient:Arch:00000:UNDI:002001"
PREFIX_CHECK = 4096                    # bytes of each big file compared with the original


@dataclass(frozen=True)
class SimNode:
    name: str
    mac: str
    ip: str                 # the address its reservation gives it
    uuid: bytes             # SMBIOS UUID (16 bytes), sent in option 97

    @property
    def chaddr(self) -> bytes:
        return bytes.fromhex(self.mac.replace(":", ""))


@dataclass(frozen=True)
class Target:
    """Where the nodes boot from. DHCP, TFTP and HTTP addresses come from the answers, as on
    a real network; only the ports, which on loopback cannot be the real ones, are given."""

    server: str             # the DHCP server's address the relay forwards to
    dhcp_port: int          # the server's port; the relay listens on the same port
    tftp_port: int
    relay: str              # the relay's address (giaddr)
    expected: dict = field(default_factory=dict)   # URL path suffix -> first bytes


@dataclass
class NodeResult:
    node: str
    phases: dict[str, float] = field(default_factory=dict)    # phase -> seconds
    started: float = 0.0
    finished: float | None = None
    failed: str | None = None       # "phase: reason"
    retransmits: int = 0
    bytes: int = 0


class Failure(Exception):
    pass


# -- DHCP through one relay ----------------------------------------------------------------

class Relay(asyncio.DatagramProtocol):
    """One relay agent socket: requests go to the server with giaddr set; replies come back
    to it and are matched to the waiting node by transaction id."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.waiting: dict[int, asyncio.Queue] = {}
        self.transport = None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr) -> None:
        try:
            reply = p.decode(data)
        except p.MalformedPacket:
            return
        queue = self.waiting.get(reply.xid)
        if queue is not None:
            queue.put_nowait(reply)

    def send(self, packet: p.DhcpPacket) -> None:
        self.transport.sendto(p.encode(packet), (self.target.server, self.target.dhcp_port))


async def open_relay(target: Target) -> Relay:
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    # The server's socket is bound to 0.0.0.0 on the same port; the kernel gives unicast to
    # the relay's address to the more specific binding, this one.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    sock.bind((target.relay, target.dhcp_port))
    _, relay = await loop.create_datagram_endpoint(lambda: Relay(target), sock=sock)
    return relay


def _request(node: SimNode, kind: int, xid: int, secs: int, relay: str,
             extra: dict[int, bytes] | None = None) -> p.DhcpPacket:
    options = {
        p.MESSAGE_TYPE: bytes([kind]),
        p.MAX_MESSAGE_SIZE: p.u16(1260),
        p.PARAMETER_REQUEST_LIST: bytes([1, 2, 3, 5, 6, 11, 12, 13, 15, 16, 17, 18, 22, 23,
                                         28, 40, 41, 42, 43, 50, 51, 54, 58, 59, 60, 66, 67,
                                         97, 128, 129, 130, 131, 132, 133, 134, 135]),
        p.CLIENT_ARCH: p.u16(0),
        p.CLIENT_NDI: b"\x01\x02\x01",
        p.CLIENT_UUID: b"\x00" + node.uuid,
        p.VENDOR_CLASS: PXE_VENDOR,
    }
    options.update(extra or {})
    return p.DhcpPacket(p.BOOTREQUEST, hops=1, xid=xid, secs=secs, flags=p.FLAG_BROADCAST,
                        giaddr=p.ip_bytes(relay), chaddr=node.chaddr + bytes(10),
                        options=options)


async def _exchange(relay: Relay, queue: asyncio.Queue, make, want: int,
                    result: NodeResult, started: float) -> p.DhcpPacket:
    for timeout in DHCP_TIMEOUTS:
        relay.send(make(int(time.monotonic() - started)))
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                reply = await asyncio.wait_for(queue.get(), left)
            except TimeoutError:
                break
            if reply.message_type == want:
                return reply
            if reply.message_type == p.NAK:
                raise Failure(f"DHCPNAK: {reply.options.get(p.MESSAGE, b'').decode()}")
        result.retransmits += 1
    raise Failure(f"no {p.MESSAGE_NAMES[want]} after {len(DHCP_TIMEOUTS)} tries "
                  f"({sum(DHCP_TIMEOUTS)} s)")


async def dhcp(relay: Relay, node: SimNode, result: NodeResult) -> p.DhcpPacket:
    xid = random.getrandbits(32)
    queue: asyncio.Queue = asyncio.Queue()
    relay.waiting[xid] = queue
    started = time.monotonic()
    try:
        offer = await _exchange(relay, queue, lambda s: _request(
            node, p.DISCOVER, xid, s, relay.target.relay), p.OFFER, result, started)
        server_id = offer.option_ip(p.SERVER_ID)
        if server_id is None:
            raise Failure("DHCPOFFER without a server identifier")
        ack = await _exchange(relay, queue, lambda s: _request(
            node, p.REQUEST, xid, s, relay.target.relay,
            {p.REQUESTED_IP: offer.yiaddr, p.SERVER_ID: server_id}), p.ACK, result, started)
    finally:
        del relay.waiting[xid]
    if p.ip_str(ack.yiaddr) != node.ip:
        raise Failure(f"DHCPACK gave {p.ip_str(ack.yiaddr)}, the reservation is {node.ip}")
    return ack


def boot_file(ack: p.DhcpPacket) -> tuple[str, str]:
    """(TFTP server, file) from an ACK: option 66/67 win over siaddr/file, as PXE ROMs do."""
    name = ack.options.get(p.BOOTFILE_NAME) or ack.file
    server = ack.options.get(p.TFTP_SERVER_NAME)
    host = server.rstrip(b"\0").decode() if server else p.ip_str(ack.siaddr)
    if not name:
        raise Failure("DHCPACK names no boot file")
    return host, name.rstrip(b"\0").decode()


# -- TFTP ----------------------------------------------------------------------------------

RRQ, DATA, ACK, ERROR, OACK = 1, 3, 4, 5, 6


class TftpNotFound(Failure):
    pass


class _Tftp(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.queue: asyncio.Queue = asyncio.Queue()

    def datagram_received(self, data: bytes, addr) -> None:
        self.queue.put_nowait((data, addr))


def _rrq(name: str, options: dict[str, int]) -> bytes:
    parts = [name.encode(), b"octet"]
    for key, value in options.items():
        parts += [key.encode(), str(value).encode()]
    return struct.pack("!H", RRQ) + b"\0".join(parts) + b"\0"


def _oack(data: bytes) -> dict[str, int]:
    fields = data[2:].split(b"\0")[:-1]
    return {fields[i].decode().lower(): int(fields[i + 1]) for i in range(0, len(fields) - 1, 2)}


async def tftp_get(local_ip: str, server: tuple[str, int], name: str, result: NodeResult, *,
                   blksize: int, probe: bool = False, keep: list | None = None) -> int:
    """Fetch `name`; returns its size (and appends its blocks to `keep`). With probe, first
    ask only its size and abandon that transfer, as a PXE ROM does before it allocates
    memory for the boot program."""
    loop = asyncio.get_running_loop()
    transport, proto = await loop.create_datagram_endpoint(
        _Tftp, local_addr=(local_ip, 0), family=socket.AF_INET)
    try:
        if probe:
            await _transfer(transport, proto, server, name, {"tsize": 0}, result,
                            probe=True)
            transport.close()
            transport, proto = await loop.create_datagram_endpoint(
                _Tftp, local_addr=(local_ip, 0), family=socket.AF_INET)
        return await _transfer(transport, proto, server, name,
                               {"tsize": 0, "blksize": blksize}, result, keep=keep)
    finally:
        transport.close()


async def _receive(proto: _Tftp, resend, result: NodeResult, what: str):
    for timeout in TFTP_TIMEOUTS:
        try:
            return await asyncio.wait_for(proto.queue.get(), timeout)
        except TimeoutError:
            result.retransmits += 1
            resend()
    raise Failure(f"TFTP: no answer for {what} after {len(TFTP_TIMEOUTS)} tries")


async def _transfer(transport, proto: _Tftp, server, name: str, options: dict[str, int],
                    result: NodeResult, probe: bool = False, keep: list | None = None) -> int:
    request = _rrq(name, options)
    transport.sendto(request, server)
    peer = None
    blksize, tsize = 512, None
    expected, received = 1, 0
    last_ack: bytes | None = None

    def resend():
        if last_ack is None:
            transport.sendto(request, server)
        else:
            transport.sendto(last_ack, peer)

    while True:
        data, addr = await _receive(proto, resend, result, f"{name} block {expected}")
        if peer is None:
            peer = addr
        elif addr != peer:
            transport.sendto(struct.pack("!HH", ERROR, 5) + b"Unknown transfer ID\0", addr)
            continue
        opcode = struct.unpack_from("!H", data)[0]
        if opcode == ERROR:
            code = struct.unpack_from("!H", data, 2)[0]
            message = data[4:].split(b"\0")[0].decode("utf-8", "replace")
            if code == 1:
                raise TftpNotFound(f"TFTP: {name}: {message}")
            raise Failure(f"TFTP: {name}: error {code} {message}")
        if opcode == OACK and expected == 1 and last_ack is None:
            answered = _oack(data)
            tsize = answered.get("tsize")
            if probe:
                # Abandon, as the ROM does: it only wanted the size.
                transport.sendto(struct.pack("!HH", ERROR, 8) + b"tsize probe\0", peer)
                if tsize is None:
                    raise Failure(f"TFTP: {name}: the server did not answer tsize")
                return tsize
            blksize = answered.get("blksize", 512)
            last_ack = struct.pack("!HH", ACK, 0)
            transport.sendto(last_ack, peer)
            continue
        if opcode == OACK and last_ack == struct.pack("!HH", ACK, 0):
            transport.sendto(last_ack, peer)    # our ACK of the options was lost or late
            continue
        if opcode != DATA:
            raise Failure(f"TFTP: {name}: unexpected opcode {opcode}")
        block = struct.unpack_from("!H", data, 2)[0]
        if block != expected & 0xFFFF:
            if last_ack is not None:
                transport.sendto(last_ack, peer)     # a duplicate: ACK again (no Sorcerer)
            continue
        payload = len(data) - 4
        received += payload
        if keep is not None:
            keep.append(data[4:])
        last_ack = struct.pack("!HH", ACK, block)
        transport.sendto(last_ack, peer)
        expected += 1
        if payload < blksize:
            break
    if probe:
        raise Failure(f"TFTP: {name}: the server ignored the tsize option")
    if tsize is not None and tsize != received:
        raise Failure(f"TFTP: {name}: {received} bytes, tsize said {tsize}")
    result.bytes += received
    return received


def pxelinux_config(text: str) -> tuple[list[str], str]:
    """The files a pxelinux config makes the node fetch: kernel and initrds, and the
    answer file URL in its APPEND line."""
    kernel = re.search(r"^\s*KERNEL\s+(\S+)", text, re.M | re.I)
    append = re.search(r"^\s*APPEND\s+(.*)$", text, re.M | re.I)
    if kernel is None or append is None:
        raise Failure(f"config has no KERNEL/APPEND line: {text[:200]!r}")
    args = append.group(1).split()
    initrds = [url for a in args if a.startswith("initrd=") for url in a[7:].split(",")]
    answer = [a.split("=", 1)[1] for a in args if a.split("=", 1)[0] in ("inst.ks", "ks")]
    if not answer:
        raise Failure("config names no answer file (inst.ks= or ks=)")
    return [kernel.group(1), *initrds], answer[0]


# -- HTTP ----------------------------------------------------------------------------------

_BUFFER = bytearray(1 << 20)      # bodies are counted, not kept: one buffer serves every node


async def http_get(local_ip: str, url: str, result: NodeResult,
                   expected: bytes | None = None, keep: bool = False) -> bytes:
    """GET `url` from `local_ip`; returns the body if `keep`, else counts it."""
    parts = urlsplit(url)
    if parts.scheme != "http":
        raise Failure(f"HTTP: {url}: not an http:// URL")
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    try:
        sock.bind((local_ip, 0))
        await loop.sock_connect(sock, (parts.hostname, parts.port or 80))
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        await loop.sock_sendall(sock, (f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
                                       "User-Agent: bootstorm\r\nConnection: close\r\n\r\n"
                                       ).encode())
        return await asyncio.wait_for(_response(loop, sock, url, result, expected, keep),
                                      HTTP_TIMEOUT)
    except TimeoutError:
        raise Failure(f"HTTP: {url}: no complete answer in {HTTP_TIMEOUT:.0f} s") from None
    except OSError as exc:
        raise Failure(f"HTTP: {url}: {exc}") from None
    finally:
        sock.close()


async def _response(loop, sock, url: str, result: NodeResult, expected: bytes | None,
                    keep: bool) -> bytes:
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = await loop.sock_recv(sock, 65536)
        if not chunk:
            raise Failure(f"HTTP: {url}: connection closed before the headers ended")
        head += chunk
    head, _, body = head.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    status = int(status_line.split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in
               (line.partition(":") for line in header_lines)}
    if "content-length" not in headers:
        raise Failure(f"HTTP: {url}: {status} without Content-Length")
    length = int(headers["content-length"])
    kept = bytearray(body) if keep or expected is not None else None
    received = len(body)
    view = memoryview(_BUFFER)
    while received < length:
        n = await loop.sock_recv_into(sock, view)
        if n == 0:
            raise Failure(f"HTTP: {url}: {received} of {length} bytes, then the connection "
                          "closed")
        if kept is not None and (keep or len(kept) < PREFIX_CHECK):
            kept += view[:n]
        received += n
        # sock_recv_into returns without yielding while data is waiting: without this, one
        # node's initrd would hold the loop and every other node's TFTP would stall.
        await asyncio.sleep(0)
    if received != length:
        raise Failure(f"HTTP: {url}: {received} bytes, Content-Length said {length}")
    if status != 200:
        raise Failure(f"HTTP: {url}: {status} {bytes(kept or b'')[:200]!r}")
    if expected is not None and bytes(kept[:len(expected)]) != expected:
        raise Failure(f"HTTP: {url}: the body differs from the file on disk")
    result.bytes += received
    return bytes(kept) if keep else b""


CALLBACK = re.compile(r"http://[^\s'\"<>]+/xcatpy/v1/boot/done")


# -- one node ------------------------------------------------------------------------------

class Phase:
    def __init__(self, result: NodeResult, name: str) -> None:
        self.result, self.name = result, name

    def __enter__(self):
        self.start = time.monotonic()
        return self

    def __exit__(self, kind, exc, tb) -> bool:
        elapsed = time.monotonic() - self.start
        self.result.phases[self.name] = self.result.phases.get(self.name, 0.0) + elapsed
        if exc is not None and isinstance(exc, Failure) and self.result.failed is None:
            self.result.failed = f"{self.name}: {exc}"
        return False


async def boot(node: SimNode, relay: Relay, target: Target, *, blksize: int,
               delay: float = 0.0) -> NodeResult:
    if delay:
        await asyncio.sleep(delay)
    result = NodeResult(node.name, started=time.monotonic())
    try:
        with Phase(result, "dhcp"):
            ack = await dhcp(relay, node, result)
            host, loader = boot_file(ack)
        tftp = (host, target.tftp_port)
        directory = loader.rpartition("/")[0]
        with Phase(result, "loader"):
            await tftp_get(node.ip, tftp, loader, result, blksize=blksize, probe=True)
            await tftp_get(node.ip, tftp, f"{directory}/ldlinux.c32".lstrip("/"), result,
                           blksize=blksize)
        with Phase(result, "config"):
            config = await _pxelinux_lookup(node, tftp, directory, result, blksize)
        files, answer_url = pxelinux_config(config)
        if len(files) < 2:
            raise Failure("config: no initrd")
        for phase, url in (("kernel", files[0]), ("initrd", files[1])):
            with Phase(result, phase):
                await http_get(node.ip, url, result, _expected(target, url))
        with Phase(result, "answer"):
            answer = (await http_get(node.ip, answer_url, result, keep=True)).decode()
        callback = CALLBACK.search(answer)
        if callback is None:
            result.failed = "answer: the answer file names no install-finished callback"
            return result
        with Phase(result, "done"):
            await http_get(node.ip, callback.group(0), result, keep=True)
        result.finished = time.monotonic()
    except Failure as exc:
        if result.failed is None:          # raised between phases (a config that names
            result.failed = f"parse: {exc}"   # no initrd, say)
    except Exception as exc:     # a harness bug must not hide as a node failure
        result.failed = f"harness: {type(exc).__name__}: {exc}"
    return result


async def _pxelinux_lookup(node: SimNode, tftp, directory: str, result: NodeResult,
                           blksize: int) -> str:
    """pxelinux's search order, as far as a node with a reservation gets: its UUID, then
    01-<mac>. (The hex-IP and `default` names come after; a served node never needs them.)"""
    base = f"{directory}/pxelinux.cfg/".lstrip("/")
    u = node.uuid.hex()
    uuid_name = f"{u[:8]}-{u[8:12]}-{u[12:16]}-{u[16:20]}-{u[20:]}"
    for name in (uuid_name, "01-" + node.mac.replace(":", "-")):
        blocks: list[bytes] = []
        try:
            await tftp_get(node.ip, tftp, base + name, result, blksize=blksize, keep=blocks)
        except TftpNotFound:
            continue
        return b"".join(blocks).decode()
    raise Failure("TFTP: no pxelinux.cfg file for this node")


def _expected(target: Target, url: str) -> bytes | None:
    path = urlsplit(url).path
    for suffix, prefix in target.expected.items():
        if path.endswith(suffix):
            return prefix
    return None


async def storm(nodes: list[SimNode], target: Target, *, blksize: int = 1456,
                spread: float = 0.0, seed: int = 1) -> list[NodeResult]:
    """Boot every node at once (or each at a random moment within `spread` seconds)."""
    rng = random.Random(seed)
    relay = await open_relay(target)
    try:
        return await asyncio.gather(*(
            boot(node, relay, target, blksize=blksize,
                 delay=rng.uniform(0, spread) if spread else 0.0) for node in nodes))
    finally:
        relay.transport.close()


def file_prefix(path: Path) -> bytes:
    with open(path, "rb") as f:
        return f.read(PREFIX_CHECK)


def raise_fd_limit() -> None:
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

