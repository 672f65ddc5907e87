"""DHCPv4 on the wire: bytes <-> DhcpPacket (RFC 2131 header, RFC 2132 options).

Our own codec, not scapy/dpkt/pydhcplib: a packet is one struct unpack plus a walk over the
option bytes, which is what the service needs to answer a boot storm from one thread, and
the decoder's every failure is a MalformedPacket with the reason, never another exception.

Addresses stay 4-byte `bytes` here (the cheapest form to compare, to use as a dict key and
to write back); callers convert with `ip_int`/`ip_str` where they need arithmetic or text.
"""

import socket
import struct

from xcatpy.digits import decimal

BOOTREQUEST, BOOTREPLY = 1, 2
HTYPE_ETHERNET = 1
MAGIC_COOKIE = b"\x63\x82\x53\x63"
HEADER = struct.Struct("!BBBBIHH4s4s4s4s16s64s128s")     # 236 bytes, then the cookie
OPTIONS_START = HEADER.size + len(MAGIC_COOKIE)           # 240
BOOTP_MIN_SIZE = 300      # RFC 1542: relays and old clients drop shorter BOOTP messages
MIN_MAX_SIZE = 576        # RFC 2132 9.10: the smallest option 57 a client may send
IP_UDP_HEADERS = 28
FLAG_BROADCAST = 0x8000
ZERO_IP = b"\0\0\0\0"
BROADCAST_IP = b"\xff\xff\xff\xff"

# DHCP message types (option 53)
DISCOVER, OFFER, REQUEST, DECLINE, ACK, NAK, RELEASE, INFORM = range(1, 9)
MESSAGE_NAMES = {DISCOVER: "DHCPDISCOVER", OFFER: "DHCPOFFER", REQUEST: "DHCPREQUEST",
                 DECLINE: "DHCPDECLINE", ACK: "DHCPACK", NAK: "DHCPNAK",
                 RELEASE: "DHCPRELEASE", INFORM: "DHCPINFORM"}

# Option codes (RFC 2132 unless noted)
PAD = 0
SUBNET_MASK = 1
ROUTER = 3
DNS_SERVERS = 6
HOSTNAME = 12
DOMAIN_NAME = 15
MTU = 26
BROADCAST_ADDRESS = 28
NTP_SERVERS = 42
VENDOR_SPECIFIC = 43
REQUESTED_IP = 50
LEASE_TIME = 51
OVERLOAD = 52
MESSAGE_TYPE = 53
SERVER_ID = 54
PARAMETER_REQUEST_LIST = 55
MESSAGE = 56
MAX_MESSAGE_SIZE = 57
RENEWAL_TIME = 58
REBINDING_TIME = 59
VENDOR_CLASS = 60
CLIENT_ID = 61
TFTP_SERVER_NAME = 66
BOOTFILE_NAME = 67
USER_CLASS = 77           # RFC 3004
RELAY_AGENT_INFO = 82     # RFC 3046
CLIENT_ARCH = 93          # RFC 4578
CLIENT_NDI = 94           # RFC 4578
CLIENT_UUID = 97          # RFC 4578
IPXE_ENCAP = 175          # iPXE's own encapsulated options: only iPXE sends it
END = 255

# PXE vendor options inside option 43 (PXE 2.1 spec, table 2-1)
PXE_DISCOVERY_CONTROL = 6
PXE_BOOT_ITEM = 71
# Bit 3: "download the boot file named in the offer" (no boot server discovery, no menu).
PXE_DISCOVERY_USE_BOOTFILE = 0x08


class MalformedPacket(ValueError):
    """Not a DHCP message we can read; the text says what was wrong."""


class DhcpPacket:
    """One BOOTP/DHCP message. `options` maps code -> value in the order they appear (or
    are to be written); a code repeated in a request is concatenated (RFC 3396)."""

    __slots__ = ("op", "htype", "hlen", "hops", "xid", "secs", "flags", "ciaddr", "yiaddr",
                 "siaddr", "giaddr", "chaddr", "sname", "file", "options")

    def __init__(self, op: int = BOOTREQUEST, *, htype: int = HTYPE_ETHERNET, hlen: int = 6,
                 hops: int = 0, xid: int = 0, secs: int = 0, flags: int = 0,
                 ciaddr: bytes = ZERO_IP, yiaddr: bytes = ZERO_IP, siaddr: bytes = ZERO_IP,
                 giaddr: bytes = ZERO_IP, chaddr: bytes = b"", sname: bytes = b"",
                 file: bytes = b"", options: dict[int, bytes] | None = None) -> None:
        self.op, self.htype, self.hlen, self.hops = op, htype, hlen, hops
        self.xid, self.secs, self.flags = xid, secs, flags
        self.ciaddr, self.yiaddr, self.siaddr, self.giaddr = ciaddr, yiaddr, siaddr, giaddr
        self.chaddr, self.sname, self.file = chaddr, sname, file
        self.options = {} if options is None else options

    def __eq__(self, other) -> bool:
        if not isinstance(other, DhcpPacket):
            return NotImplemented
        return all(getattr(self, s) == getattr(other, s) for s in self.__slots__)

    def __repr__(self) -> str:
        kind = MESSAGE_NAMES.get(self.message_type, "BOOTP")
        return (f"<{kind} xid={self.xid:#010x} mac={self.mac} ciaddr={ip_str(self.ciaddr)} "
                f"yiaddr={ip_str(self.yiaddr)} options={sorted(self.options)}>")

    @property
    def message_type(self) -> int | None:
        value = self.options.get(MESSAGE_TYPE)
        return value[0] if value and len(value) == 1 else None

    @property
    def hwaddr(self) -> bytes:
        return self.chaddr[:self.hlen]

    @property
    def mac(self) -> str:
        return self.hwaddr.hex(":")

    @property
    def broadcast(self) -> bool:
        return bool(self.flags & FLAG_BROADCAST)

    def option_ip(self, code: int) -> bytes | None:
        value = self.options.get(code)
        return value if value is not None and len(value) == 4 else None


def decode(data: bytes) -> DhcpPacket:
    size = len(data)
    if size < OPTIONS_START:
        raise MalformedPacket(f"truncated: {size} bytes, a DHCP message has at least "
                              f"{OPTIONS_START}")
    if data[236:240] != MAGIC_COOKIE:
        raise MalformedPacket(f"bad magic cookie {data[236:240].hex()}")
    (op, htype, hlen, hops, xid, secs, flags, ciaddr, yiaddr, siaddr, giaddr, chaddr,
     sname, file) = HEADER.unpack_from(data)
    if hlen > 16:
        raise MalformedPacket(f"hardware address length {hlen} is over 16")
    return DhcpPacket(op, htype=htype, hlen=hlen, hops=hops, xid=xid, secs=secs, flags=flags,
                      ciaddr=ciaddr, yiaddr=yiaddr, siaddr=siaddr, giaddr=giaddr,
                      chaddr=chaddr, sname=_cstring(sname), file=_cstring(file),
                      options=decode_options(data, OPTIONS_START))


def decode_options(data: bytes, start: int = 0, end: int | None = None) -> dict[int, bytes]:
    """TLV options up to END (or the end of `data`); a length running past the end raises."""
    end = len(data) if end is None else end
    options: dict[int, bytes] = {}
    i = start
    while i < end:
        code = data[i]
        if code == PAD:
            i += 1
            continue
        if code == END:
            break
        if i + 1 >= end:
            raise MalformedPacket(f"option {code} has no length byte")
        length = data[i + 1]
        j = i + 2 + length
        if j > end:
            raise MalformedPacket(f"option {code} of length {length} runs past the end of "
                                  f"the message")
        value = data[i + 2:j]
        previous = options.get(code)
        options[code] = value if previous is None else previous + value
        i = j
    return options


def decode_options_safe(data: bytes) -> dict[int, bytes]:
    """Encapsulated options (43, 82, 175) as far as they parse; {} when they do not."""
    try:
        return decode_options(data)
    except MalformedPacket:
        return {}


def encode_options(options: dict[int, bytes]) -> bytes:
    """TLVs in dict order, values over 255 bytes split into several instances (RFC 3396).
    No END: the caller decides where the option area ends."""
    parts = []
    for code, value in options.items():
        if len(value) <= 255:
            parts.append(bytes((code, len(value))))
            parts.append(value)
            continue
        for k in range(0, len(value), 255):
            chunk = value[k:k + 255]
            parts.append(bytes((code, len(chunk))))
            parts.append(chunk)
    return b"".join(parts)


def encode(packet: DhcpPacket, max_size: int | None = None,
           keep: frozenset[int] = frozenset()) -> bytes:
    """The message, padded to the BOOTP minimum. With `max_size`, options are dropped from
    the end until it fits (callers order them most important first), except those in
    `keep`."""
    header = HEADER.pack(packet.op, packet.htype, packet.hlen, packet.hops, packet.xid,
                         packet.secs, packet.flags, packet.ciaddr, packet.yiaddr,
                         packet.siaddr, packet.giaddr, packet.chaddr, packet.sname,
                         packet.file) + MAGIC_COOKIE
    body = encode_options(packet.options)
    if max_size is not None and len(header) + len(body) + 1 > max_size:
        body = _fit(packet.options, max_size - len(header) - 1, keep)
    data = header + body + b"\xff"
    if len(data) < BOOTP_MIN_SIZE:
        data += bytes(BOOTP_MIN_SIZE - len(data))
    return data


def _fit(options: dict[int, bytes], room: int, keep: frozenset[int]) -> bytes:
    kept = dict(options)
    droppable = [code for code in options if code not in keep]
    body = encode_options(kept)
    while len(body) > room and droppable:
        del kept[droppable.pop()]
        body = encode_options(kept)
    return body


def _cstring(field: bytes) -> bytes:
    end = field.find(b"\0")
    return field if end < 0 else field[:end]


# -- value helpers ----------------------------------------------------------------------

def ip_bytes(text: str) -> bytes:
    return socket.inet_aton(text)


def parse_ipv4(text: str | None) -> int:
    """A dotted quad, strictly: four decimal parts (inet_aton would also take '10.1' and
    read '010.0.0.1' as octal, neither of which a table value means)."""
    octets = [decimal(x) if len(x) <= 3 else None for x in (text or "").strip().split(".")]
    if len(octets) != 4 or any(o is None or o > 255 for o in octets):
        raise ValueError(f"'{text}' is not an IPv4 address")
    value = 0
    for octet in octets:
        value = value << 8 | octet
    return value


def ip_str(raw: bytes) -> str:
    return socket.inet_ntoa(raw)


def ip_int(raw: bytes) -> int:
    return int.from_bytes(raw, "big")


def int_ip(value: int) -> bytes:
    return value.to_bytes(4, "big")


def u32(value: int) -> bytes:
    return struct.pack("!I", value)


def u16(value: int) -> bytes:
    return struct.pack("!H", value)


def pxe_vendor_options(boot_item: bytes | None = None) -> bytes:
    """Option 43 for a PXE client: boot the file named in the offer, no menu; a boot item
    the client asked for (PXE_BOOT_ITEM) is echoed, as the spec's boot server does."""
    data = bytes((PXE_DISCOVERY_CONTROL, 1, PXE_DISCOVERY_USE_BOOTFILE))
    if boot_item is not None:
        data += bytes((PXE_BOOT_ITEM, len(boot_item))) + boot_item
    return data + b"\xff"


def client_arches(packet: DhcpPacket) -> tuple[int, ...]:
    """Option 93: one or more 16-bit architecture types (RFC 4578 2.1)."""
    value = packet.options.get(CLIENT_ARCH)
    if not value or len(value) % 2:
        return ()
    return struct.unpack(f"!{len(value) // 2}H", value)
