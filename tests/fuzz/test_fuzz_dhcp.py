"""Fuzzing the DHCP server: the packet codec, the option helpers, table address parsing,
and the service's packet path (DhcpProtocol.datagramReceived -> Responder.answer) over a
small view, for sequences of packets while the clock runs.

Properties:
- decode gives a DhcpPacket or MalformedPacket for any bytes; decode(encode(p)) == p for
  any packet the encoder can write, and encode(decode(x)) decodes to decode(x) again;
  encode with a size limit keeps the essential options and drops from the end.
- decode_options_safe and client_arches never raise.
- parse_ipv4 gives an address or ValueError.
- The service never counts an internal error (its catch-all would hide a crash: the
  exception is re-raised here), and every reply is a valid BOOTREPLY to the request's
  xid and hardware address, sent to the right place, whose address is the client's
  reservation or a free one of a dynamic range, never ours, a network's or broadcast
  address, the gateway's, or another client's reservation; the lease pool stays
  consistent (one lease per address and per client).
"""

import socket
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.harness import attempt, fuzz_settings, tried, violation
from xcatpy.net.dhcp import bootselect
from xcatpy.net.dhcp import packet as p
from xcatpy.net.dhcp.ifaces import IfAddress
from xcatpy.net.dhcp.responder import ESSENTIAL, Link, Responder
from xcatpy.net.dhcp.server import DhcpProtocol
from xcatpy.net.dhcp.view import MASTER, DhcpView, NetInfo, NodeBoot, Reservation, SiteSettings

SERVER = "10.0.0.1"
RESERVED = {bytes.fromhex("525400aa0001"): ("n1", "10.0.0.21", None),
            bytes.fromhex("525400aa0002"): ("n2", "10.0.0.22", "n2.cluster.test"),
            bytes.fromhex("525400aa0003"): ("n3", "10.9.9.9", None),        # not our network
            bytes.fromhex("525400aa0004"): ("n4", "10.5.1.5", None)}        # relayed network
STRANGERS = [bytes.fromhex("525400ff0001"), bytes.fromhex("525400ff0002")]
MACS = list(RESERVED) + STRANGERS


def ip(text: str) -> bytes:
    return socket.inet_aton(text)


def ipi(text: str) -> int:
    return int.from_bytes(ip(text), "big")


# -- strategies ------------------------------------------------------------------------------

ADDRESSES = st.one_of(
    st.sampled_from(["0.0.0.0", SERVER, "10.0.0.21", "10.0.0.22", "10.0.0.100", "10.0.0.101",
                     "10.0.0.120", "10.0.0.0", "10.0.0.255", "10.0.0.254", "10.5.0.1",
                     "10.5.1.1", "10.5.1.5", "10.5.1.9", "10.9.9.9", "255.255.255.255",
                     "10.0.0.69"]).map(ip),
    st.binary(min_size=4, max_size=4),
)
CHADDR = st.one_of(st.sampled_from(MACS).map(lambda m: m + bytes(10)),
                   st.sampled_from(MACS).map(lambda m: m + bytes(10)),
                   st.binary(min_size=16, max_size=16))
CODES = [p.SUBNET_MASK, p.HOSTNAME, p.VENDOR_SPECIFIC, p.REQUESTED_IP, p.LEASE_TIME,
         p.OVERLOAD, p.MESSAGE_TYPE, p.SERVER_ID, p.PARAMETER_REQUEST_LIST,
         p.MAX_MESSAGE_SIZE, p.VENDOR_CLASS, p.CLIENT_ID, p.USER_CLASS, p.RELAY_AGENT_INFO,
         p.CLIENT_ARCH, p.CLIENT_NDI, p.CLIENT_UUID, p.IPXE_ENCAP]


def _tlvs(items) -> bytes:
    return b"".join(bytes((c, len(v))) + v for c, v in items)


small_tlvs = st.lists(st.tuples(st.integers(1, 254), st.binary(max_size=8)),
                      max_size=4).map(_tlvs)
OPTION_VALUES = {
    p.MESSAGE_TYPE: st.one_of(st.integers(1, 8).map(lambda k: bytes((k,))),
                              st.binary(max_size=2)),
    p.REQUESTED_IP: ADDRESSES, p.SERVER_ID: ADDRESSES,
    p.PARAMETER_REQUEST_LIST: st.binary(max_size=30),
    p.MAX_MESSAGE_SIZE: st.one_of(st.integers(0, 0xFFFF).map(p.u16), st.binary(max_size=3)),
    p.CLIENT_ARCH: st.one_of(
        st.lists(st.sampled_from([0, 6, 7, 9, 10, 11, 15, 16, 18, 19, 0xFFFF]), min_size=1,
                 max_size=3).map(lambda a: struct.pack(f"!{len(a)}H", *a)),
        st.binary(max_size=5)),
    p.VENDOR_CLASS: st.one_of(st.sampled_from([b"PXEClient:Arch:00007:UNDI:003016",
                                               b"PXEClient", b"HTTPClient:Arch:00016",
                                               b"MSFT 5.0"]), st.binary(max_size=20)),
    p.USER_CLASS: st.one_of(st.just(b"iPXE"), st.binary(max_size=10)),
    p.VENDOR_SPECIFIC: st.one_of(small_tlvs, st.binary(max_size=12)),
    p.RELAY_AGENT_INFO: st.one_of(small_tlvs, st.binary(max_size=12)),
    p.IPXE_ENCAP: small_tlvs,
    p.HOSTNAME: st.one_of(st.text(max_size=20).map(str.encode), st.binary(max_size=20)),
    p.OVERLOAD: st.one_of(st.integers(0, 4).map(lambda k: bytes((k,))), st.binary(max_size=2)),
}
ANY_VALUE = st.binary(max_size=40)


KINDS = st.sampled_from([p.DISCOVER, p.DISCOVER, p.REQUEST, p.REQUEST, p.REQUEST, p.DECLINE,
                         p.RELEASE, p.INFORM, p.OFFER, p.ACK, p.NAK, 0, 9, 255])
BOOT_OPTIONS = [p.VENDOR_CLASS, p.USER_CLASS, p.CLIENT_ARCH, p.CLIENT_UUID, p.VENDOR_SPECIFIC,
                p.IPXE_ENCAP]


@st.composite
def option_items(draw) -> list[tuple[int, bytes]]:
    """A client's options: a message type, what that kind of message carries, boot options,
    then anything (a repeated code is joined to the first, RFC 3396)."""
    maybe = st.sampled_from([True, True, False])
    kind = KINDS.map(lambda k: bytes((k,)))
    items = [(p.MESSAGE_TYPE, draw(st.one_of(kind, kind, kind, OPTION_VALUES[p.MESSAGE_TYPE])))]
    for code in (p.REQUESTED_IP, p.SERVER_ID, p.PARAMETER_REQUEST_LIST, p.CLIENT_ID):
        if draw(maybe):
            items.append((code, draw(OPTION_VALUES.get(code, ANY_VALUE))))
    for code in BOOT_OPTIONS + [p.MAX_MESSAGE_SIZE, p.RELAY_AGENT_INFO, p.HOSTNAME]:
        if draw(st.booleans()):
            items.append((code, draw(OPTION_VALUES.get(code, ANY_VALUE))))
    for _ in range(draw(st.integers(0, 3))):
        code = draw(st.one_of(st.sampled_from(CODES), st.integers(1, 254)))
        if code == p.MESSAGE_TYPE and draw(st.integers(0, 3)):
            continue                       # a second message type makes it BOOTP: rarely
        items.append((code, draw(OPTION_VALUES.get(code, ANY_VALUE))))
    return draw(st.permutations(items)) if draw(st.booleans()) else items


@st.composite
def dhcp_datagrams(draw) -> bytes:
    """A request as a client or relay would send it, sometimes broken on the wire."""
    usual = draw(st.sampled_from([True] * 5 + [False]))
    header = p.HEADER.pack(
        p.BOOTREQUEST if usual else draw(st.sampled_from([p.BOOTREPLY, 0, 1, 255])),
        p.HTYPE_ETHERNET if usual else draw(st.sampled_from([0, 1, 6, 255])),
        6 if usual else draw(st.sampled_from([0, 6, 16, 17, 255])),
        draw(st.integers(0, 255)), draw(st.integers(0, 2**32 - 1)),
        draw(st.integers(0, 0xFFFF)), draw(st.sampled_from([0, p.FLAG_BROADCAST, 0xFFFF])),
        draw(st.one_of(st.just(p.ZERO_IP), ADDRESSES)), draw(ADDRESSES), draw(ADDRESSES),
        draw(st.sampled_from([p.ZERO_IP] * 8 + [ip("10.5.0.1"), ip("10.5.0.1"), ip("10.0.0.2"),
                              ip("10.9.9.1"), ip("10.0.0.21")])),
        draw(CHADDR), draw(st.binary(max_size=64)), draw(st.binary(max_size=128)))
    body = _tlvs(draw(option_items()))
    # What real packets do to the option area: PAD runs, an early END, trailing garbage,
    # a length running past the end.
    tail = draw(st.sampled_from([b"\xff"] * 8 + [b"\xff" + bytes(60), b"", b"\0\0\0\xff",
                                 b"\x35", b"\x0c\x40abc", b"\xff\x01\x02garbage"]))
    data = header + p.MAGIC_COOKIE + body + tail
    how = draw(st.sampled_from([0] * 12 + [1, 2, 3]))
    if how == 1:                                     # truncated anywhere
        data = data[:draw(st.integers(0, len(data)))]
    elif how == 2:                                   # a byte flipped anywhere
        i = draw(st.integers(0, len(data) - 1))
        data = data[:i] + bytes([data[i] ^ draw(st.integers(1, 255))]) + data[i + 1:]
    elif how == 3:                                   # bytes inserted in the options
        i = draw(st.integers(p.OPTIONS_START, len(data)))
        data = data[:i] + draw(st.binary(min_size=1, max_size=6)) + data[i:]
    return data


any_bytes = st.one_of(st.binary(max_size=300), dhcp_datagrams(),
                      st.binary(max_size=80).map(lambda b: bytes(236) + p.MAGIC_COOKIE + b))


# -- the codec -------------------------------------------------------------------------------

@fuzz_settings()
@given(any_bytes)
def test_decode_returns_a_packet_or_malformed(data):
    got = attempt("dhcp.decode", lambda: p.decode(data), (p.MalformedPacket,))
    if not got.ok:
        return
    pkt = got.value
    assert pkt.hlen <= 16 and len(pkt.chaddr) == 16
    assert b"\0" not in pkt.sname and len(pkt.sname) <= 64
    assert b"\0" not in pkt.file and len(pkt.file) <= 128
    assert all(1 <= code <= 254 for code in pkt.options)
    assert repr(pkt) and pkt.mac == pkt.chaddr[:pkt.hlen].hex(":")
    # Re-encoding what was decoded reads back the same (values over 255 bytes are split
    # on the way out and joined on the way in).
    assert p.decode(p.encode(pkt)) == pkt


@fuzz_settings()
@given(any_bytes)
def test_option_helpers_never_raise(data):
    tried("dhcp.options")
    options = p.decode_options_safe(data)
    assert all(isinstance(v, bytes) for v in options.values())
    pkt = p.DhcpPacket(options={p.CLIENT_ARCH: data[:9]})
    arches = p.client_arches(pkt)
    assert all(0 <= a <= 0xFFFF for a in arches)
    assert len(arches) * 2 == (len(data[:9]) if len(data[:9]) % 2 == 0 else 0)


no_nul = st.binary(max_size=63).map(lambda b: b.replace(b"\0", b"x"))
packets_to_encode = st.builds(
    lambda op, htype, hlen, hops, xid, secs, flags, addrs, chaddr, sname, file, options:
        p.DhcpPacket(op, htype=htype, hlen=hlen, hops=hops, xid=xid, secs=secs, flags=flags,
                     ciaddr=addrs[0], yiaddr=addrs[1], siaddr=addrs[2], giaddr=addrs[3],
                     chaddr=chaddr, sname=sname, file=file, options=options),
    st.integers(0, 255), st.integers(0, 255), st.integers(0, 16), st.integers(0, 255),
    st.integers(0, 2**32 - 1), st.integers(0, 0xFFFF), st.integers(0, 0xFFFF),
    st.tuples(ADDRESSES, ADDRESSES, ADDRESSES, ADDRESSES), st.binary(min_size=16, max_size=16),
    no_nul, st.binary(max_size=127).map(lambda b: b.replace(b"\0", b"x")),
    st.dictionaries(st.integers(1, 254), st.binary(max_size=600), max_size=8))


@fuzz_settings()
@given(packets_to_encode, st.one_of(st.none(), st.integers(240, 1500)),
       st.frozensets(st.sampled_from(sorted(ESSENTIAL)), max_size=3))
def test_encode_decode_round_trip(pkt, max_size, keep):
    tried("dhcp.roundtrip")
    assert p.decode(p.encode(pkt)) == pkt
    data = p.encode(pkt, max_size, keep)
    back = p.decode(data)
    codes = list(pkt.options)
    kept = list(back.options)
    # Options go from the end, the ones in `keep` never; what stays is unchanged.
    assert all(back.options[c] == pkt.options[c] for c in kept)
    assert all(c in back.options for c in codes if c in keep)
    dropped = [c for c in codes if c not in back.options]
    assert all(c not in keep for c in dropped)
    if dropped:
        droppable = [c for c in codes if c not in keep]
        assert droppable[len(droppable) - len(dropped):] == dropped
    if max_size is not None and dropped:
        needed = p.OPTIONS_START + len(p.encode_options(back.options)) + 1
        assert needed <= max_size or all(c in keep for c in kept)


@fuzz_settings()
@given(st.one_of(
    st.text(max_size=20),
    st.lists(st.one_of(st.integers(0, 300).map(str), st.sampled_from(
        ["", " 1", "01", "0010", "١", "٢٥٥", "²", "①", "1e2", "+1", "-1", "0x1"])),
        min_size=3, max_size=5).map(".".join)))
def test_parse_ipv4_gives_an_address_or_value_error(text):
    got = attempt("dhcp.parse_ipv4", lambda: p.parse_ipv4(text), (ValueError,))
    if got.ok:
        assert 0 <= got.value < 2**32
        if text.isascii():
            assert got.value == int.from_bytes(socket.inet_aton(text.strip()), "big")
        else:         # digits of other scripts taken for an address (known bug)
            assert any(not c.isascii() and c.isdigit() for c in text)
            violation("dhcp.parse_ipv4", "dhcp-parse-ipv4-unicode", f"{text!r} accepted")


# Was a bug: str.isdigit() took Arabic-Indic digits (fixed with xcatpy.digits).
def test_parse_ipv4_refuses_unicode_digits():
    with pytest.raises(ValueError):
        p.parse_ipv4("١٠.0.0.1")


# -- the service -----------------------------------------------------------------------------

def _view() -> DhcpView:
    prov = NetInfo("prov", ipi("10.0.0.0"), 24, ipi("255.255.255.0"),
                   ranges=((ipi("10.0.0.100"), ipi("10.0.0.120")),), gateway=MASTER,
                   nameservers=(MASTER, ip("10.0.0.53")), domain="cluster.test", mtu=9000,
                   ntpservers=(ip("10.0.0.123"),))
    remote = NetInfo("remote", ipi("10.5.0.0"), 16, ipi("255.255.0.0"),
                     ranges=((ipi("10.5.1.1"), ipi("10.5.1.9")),), gateway=ip("10.5.0.254"),
                     tftpserver=ip("10.0.0.69"))
    view = DhcpView(networks=(prov, remote), site=SiteSettings(lease_time=3600,
                                                               domain="site.test"))
    for mac, (node, addr, hostname) in RESERVED.items():
        view.reservations[mac] = Reservation(mac, node, ipi(addr), hostname)
        view.reserved_ips[ipi(addr)] = mac
    view.boot = {"n1": NodeBoot(None, None), "n2": NodeBoot("xnba", ip("10.0.0.69")),
                 "n4": NodeBoot("grub2", MASTER)}
    return view


LINKS = [Link("eth1", [IfAddress(ip(SERVER), 24)]),
         Link("eth2", [IfAddress(ip(SERVER), 24), IfAddress(ip("192.168.7.1"), 24)],
              noboot=True),
         Link("eth3", [])]


class Now:
    def __init__(self) -> None:
        self.t = 1_700_000_000.0

    def __call__(self) -> float:
        return self.t


class Log:
    def __init__(self) -> None:
        self.events: list[dict] = []

    def warn(self, fmt: str, **kw) -> None:
        self.events.append(kw)


class FakeServer:
    """What DhcpProtocol needs of DhcpServer (no database, no reactor)."""

    def __init__(self, responder: Responder) -> None:
        self.responder = responder
        self.malformed = self.errors = self.send_errors = self.flushes = 0
        self.malformed_log, self.error_log = Log(), Log()

    def tick(self) -> None:
        pass

    def schedule_flush(self) -> None:
        self.flushes += 1


class Transport:
    def __init__(self) -> None:
        self.sent: list[tuple[bytes, tuple[str, int]]] = []

    def write(self, data: bytes, dest) -> None:
        self.sent.append((data, dest))


def _check_reply(req: p.DhcpPacket, data: bytes, dest, responder: Responder,
                 link: Link, proxy_port: bool, source) -> None:
    reply = p.decode(data)
    assert reply.op == p.BOOTREPLY and reply.xid == req.xid and reply.chaddr == req.chaddr
    kind = reply.message_type
    assert kind in (p.OFFER, p.ACK, p.NAK)
    assert reply.options[p.SERVER_ID] in [a.address for a in link.addresses]
    if proxy_port:
        assert dest == source
    elif req.giaddr != p.ZERO_IP:
        assert dest == (p.ip_str(req.giaddr), responder.server_port)
    elif kind == p.NAK or req.ciaddr == p.ZERO_IP:
        assert dest == ("255.255.255.255", responder.client_port)
    else:
        assert dest == (p.ip_str(req.ciaddr), responder.client_port)
    if reply.yiaddr == p.ZERO_IP:
        return
    assert kind in (p.OFFER, p.ACK)
    view, yi, mac = responder.view, p.ip_int(reply.yiaddr), req.chaddr[:6]
    # The address is on the network the request came from (the relay's, else the link's).
    if req.giaddr != p.ZERO_IP:
        nets = [view.network_for(p.ip_int(req.giaddr))]
    else:
        nets = [view.network_for(p.ip_int(a.address))
                or NetInfo.from_interface(p.ip_int(a.address), a.prefixlen)
                for a in link.addresses]
    if not any(n is not None and n.contains(yi) for n in nets):
        # Was a bug (dhcp-wrong-network): the client's lease or offer of another network
        # was ACKed. The one exception is RFC 2131's RENEWING state: unicast with ciaddr,
        # no relay, so the link says nothing of the client's network.
        renewing = (kind == p.ACK and req.giaddr == p.ZERO_IP and yi == p.ip_int(req.ciaddr)
                    and req.option_ip(p.REQUESTED_IP) is None)
        home = view.network_for(yi)
        assert renewing and home is not None, \
            f"{p.ip_str(reply.yiaddr)} is not on the request's network"
        assert reply.options[p.SUBNET_MASK] == p.u32(home.mask)
    res = view.reservations.get(mac)
    if res is not None and res.ip == yi:
        return
    net = next(n for n in view.networks if n.contains(yi))
    assert net.in_range(yi), p.ip_str(reply.yiaddr)
    assert yi not in (net.address, net.broadcast)
    assert reply.yiaddr not in [a.address for a in link.addresses]
    assert not isinstance(net.gateway, bytes) or reply.yiaddr != net.gateway
    assert view.reserved_ips.get(yi, mac) == mac


def _check_pool(responder: Responder) -> None:
    pool = responder.pool
    assert all(pool.by_mac[lease.mac] is lease for lease in pool.by_ip.values())
    assert all(pool.by_ip[lease.ip] is lease for lease in pool.by_mac.values())
    for lease in pool.by_ip.values():
        assert any(n.in_range(lease.ip) for n in responder.view.networks)
        assert responder.view.reserved_ips.get(lease.ip, lease.mac) == lease.mac


# A client that follows up: its next message names the address it was last given (an
# offer or an ACK), directly or through the relay, with or without our server id.
FOLLOW = st.tuples(st.just("follow"), st.integers(0, len(MACS) - 1),
                   st.sampled_from(["0.0.0.0", "0.0.0.0", "10.5.0.1"]), st.booleans(),
                   st.sampled_from([p.DISCOVER, p.REQUEST, p.REQUEST, p.REQUEST, p.RELEASE,
                                    p.DECLINE, p.INFORM]))
step = st.tuples(st.one_of(dhcp_datagrams(), FOLLOW), st.sampled_from([0, 0, 0, 1, 2]),
                 st.sampled_from([False, False, False, True]), st.floats(0, 4000))


def _follow(spec: tuple, given: dict[bytes, bytes]) -> bytes:
    _, mac_index, giaddr, with_server_id, kind = spec
    mac = MACS[mac_index]
    address = given.get(mac, ip("10.0.0.100"))
    options = {p.MESSAGE_TYPE: bytes((kind,)), p.REQUESTED_IP: address}
    if with_server_id:
        options[p.SERVER_ID] = ip(SERVER)
    ciaddr = address if kind in (p.RELEASE, p.INFORM) else p.ZERO_IP
    return p.encode(p.DhcpPacket(p.BOOTREQUEST, xid=mac_index, chaddr=mac + bytes(10),
                                 ciaddr=ciaddr, giaddr=ip(giaddr), options=options))


@fuzz_settings(weight=0.8)
@given(st.sampled_from(["server", "server", "proxy"]), st.lists(step, min_size=1, max_size=10))
def test_service_answers_any_packets(mode, steps):
    run_service(mode, steps)


def run_service(mode: str, steps: list[tuple[bytes | tuple, int, bool, float]]) -> None:
    """Send each (datagram or FOLLOW, link index, to the proxy port?, seconds later)
    through the service's protocol and check every reply and the pool."""
    now = Now()
    responder = Responder(server_port=67, client_port=68, http_port=lambda: 8080, mode=mode,
                          clock=now)
    responder.view = _view()
    responder.own_addresses = {ip(SERVER)}
    server = FakeServer(responder)
    given: dict[bytes, bytes] = {}        # MAC -> the address it was last given
    for data, which, proxy_port, later in steps:
        tried("dhcp.service")
        if isinstance(data, tuple):
            data = _follow(data, given)
        now.t += later
        link = LINKS[which]
        proto = DhcpProtocol(server, link, proxy_port)
        proto.transport = Transport()
        source = ("10.0.0.77", 4011)
        proto.datagramReceived(data, source)
        if server.error_log.events:
            raise server.error_log.events[0]["error"]
        for reply, dest in proto.transport.sent:
            _check_reply(p.decode(data), reply, dest, responder, link, proxy_port, source)
            answer = p.decode(reply)
            if answer.yiaddr != p.ZERO_IP:
                given[answer.chaddr[:6]] = answer.yiaddr
        _check_pool(responder)


@fuzz_settings()
@given(st.integers(0, 0xFFFF), st.sampled_from([None, "pxelinux", "xnba", "grub2", "ipxe",
                                                 "lpxelinux", "petitboot", "nonsense", ""]),
       st.booleans(), st.booleans())
def test_bootselect_any_arch_and_netboot(arch, netboot, pxe, ipxe):
    got = attempt("dhcp.bootselect", lambda: bootselect.choose(
        arch, netboot, pxe_client=pxe, ipxe_client=ipxe, http_base="http://10.0.0.1:80",
        mac="52:54:00:aa:00:01"))
    assert got.value is None or (got.value.file and got.value.platform)


def _request(kind: int, mac: bytes, giaddr: str = "0.0.0.0", **addresses) -> p.DhcpPacket:
    options = {p.MESSAGE_TYPE: bytes((kind,))}
    for name, code in (("requested", p.REQUESTED_IP), ("server_id", p.SERVER_ID)):
        if name in addresses:
            options[code] = ip(addresses[name])
    return p.DhcpPacket(p.BOOTREQUEST, xid=7, chaddr=mac + bytes(10), giaddr=ip(giaddr),
                        options=options)


def test_request_for_an_address_of_another_network_is_not_acked():
    responder = Responder(clock=Now())
    responder.view = _view()
    responder.own_addresses = {ip(SERVER)}
    mac, link = STRANGERS[0], LINKS[0]
    offer = responder.answer(_request(p.DISCOVER, mac, "10.5.0.1"), link)
    leased = p.ip_str(offer.packet.yiaddr)
    ack = responder.answer(_request(p.REQUEST, mac, "10.5.0.1", requested=leased,
                                    server_id=SERVER), link)
    assert ack.packet.message_type == p.ACK and leased.startswith("10.5.")
    # Renewing (RFC 2131 4.3.2): unicast, ciaddr, no relay: it arrives on the head node's
    # own link and is ACKed with its own network's mask, not the link's.
    renew = _request(p.REQUEST, mac)
    renew.ciaddr = ip(leased)
    renewed = responder.answer(renew, link)
    assert renewed.packet.message_type == p.ACK and renewed.packet.yiaddr == ip(leased)
    assert renewed.packet.options[p.SUBNET_MASK] == ip("255.255.0.0")
    assert renewed.dest == (leased, 68)
    # The client moves to the head node's own segment and asks for its address again
    # (INIT-REBOOT), or rebinds there by broadcast with its old address in ciaddr through
    # another relay: NAK, both.
    again = responder.answer(_request(p.REQUEST, mac, requested=leased), link)
    assert again.packet.message_type == p.NAK and again.packet.yiaddr == p.ZERO_IP
    assert b"not on network prov" in again.packet.options[p.MESSAGE]
    assert responder.pool.live(mac).ip == ipi(leased)       # the lease is not forgotten
    offer = responder.answer(_request(p.DISCOVER, mac), link)
    assert offer.packet.message_type == p.OFFER
    selecting = responder.answer(_request(p.REQUEST, mac, "10.5.0.1", server_id=SERVER,
                                          requested=p.ip_str(offer.packet.yiaddr)), link)
    assert selecting.packet.message_type == p.NAK      # offered on prov, asked via 10.5
