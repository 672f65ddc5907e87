"""The DHCP codec: RFC 2131 header, RFC 2132 options, RFC 3396 long options, and what it
refuses. Packets are built byte by byte as real clients send them, not only by encode()."""

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xcatpy.net.dhcp import packet as p

MAC = bytes.fromhex("525400aa0001")


def raw_request(options: bytes, *, op=1, htype=1, hlen=6, xid=0x3903F326, flags=0x8000,
                ciaddr=b"\0" * 4, giaddr=b"\0" * 4, file=b"") -> bytes:
    """A BOOTREQUEST laid out by hand, field by field (RFC 2131 figure 1)."""
    header = bytes((op, htype, hlen, 0)) + struct.pack("!IHH", xid, 4, flags)
    header += ciaddr + b"\0" * 8 + giaddr
    header += MAC + b"\0" * 10 + b"\0" * 64 + file.ljust(128, b"\0")
    assert len(header) == 236
    return header + p.MAGIC_COOKIE + options


# A PXE ROM's DISCOVER as RFC 2132 and RFC 4578 lay it out: message type, max size,
# parameter list, UUID (97), NDI (94), arch (93, x86 BIOS), vendor class, END, padding.
PXE_DISCOVER = raw_request(
    b"\x35\x01\x01"
    b"\x39\x02\x04\xec"
    b"\x37\x07\x01\x03\x2b\x3c\x42\x43\x61"
    b"\x61\x11\x00" + bytes(range(16)) +
    b"\x5e\x03\x01\x02\x01"
    b"\x5d\x02\x00\x00"
    b"\x3c\x20PXEClient:Arch:00000:UNDI:002001"
    b"\xff" + b"\0" * 20)


def test_decodes_a_pxe_rom_discover_field_by_field():
    pkt = p.decode(PXE_DISCOVER)
    assert (pkt.op, pkt.htype, pkt.hlen, pkt.xid) == (1, 1, 6, 0x3903F326)
    assert pkt.broadcast and pkt.secs == 4
    assert pkt.mac == "52:54:00:aa:00:01"
    assert pkt.message_type == p.DISCOVER
    assert pkt.options[p.MAX_MESSAGE_SIZE] == b"\x04\xec"
    assert list(pkt.options[p.PARAMETER_REQUEST_LIST]) == [1, 3, 43, 60, 66, 67, 97]
    assert pkt.options[p.CLIENT_UUID] == b"\0" + bytes(range(16))
    assert pkt.options[p.VENDOR_CLASS] == b"PXEClient:Arch:00000:UNDI:002001"
    assert p.client_arches(pkt) == (0,)
    assert list(pkt.options) == [53, 57, 55, 97, 94, 93, 60]


def test_round_trip_keeps_every_field_and_option_order():
    pkt = p.DhcpPacket(p.BOOTREPLY, xid=0xDEADBEEF, secs=3, flags=p.FLAG_BROADCAST,
                       ciaddr=p.ip_bytes("10.0.0.9"), yiaddr=p.ip_bytes("10.0.0.5"),
                       siaddr=p.ip_bytes("10.0.0.1"), giaddr=p.ip_bytes("10.1.0.1"),
                       chaddr=MAC + bytes(10), sname=b"head", file=b"pxelinux.0",
                       options={p.MESSAGE_TYPE: b"\x02", p.SERVER_ID: p.ip_bytes("10.0.0.1"),
                                p.LEASE_TIME: p.u32(43200), p.HOSTNAME: b"n1",
                                p.RELAY_AGENT_INFO: b"\x01\x04eth1"})
    data = p.encode(pkt)
    back = p.decode(data)
    assert back == pkt
    assert list(back.options) == list(pkt.options)
    assert data[236:240] == p.MAGIC_COOKIE


def test_short_replies_are_padded_to_the_bootp_minimum():
    data = p.encode(p.DhcpPacket(p.BOOTREPLY, chaddr=MAC, options={p.MESSAGE_TYPE: b"\x05"}))
    assert len(data) == p.BOOTP_MIN_SIZE
    assert data[240:244] == b"\x35\x01\x05\xff"


def test_repeated_option_is_concatenated_rfc3396():
    data = raw_request(b"\x35\x01\x01\x4d\x03abc\x4d\x02de\xff")
    assert p.decode(data).options[p.USER_CLASS] == b"abcde"


def test_long_option_is_split_into_255_byte_instances_and_joined_back():
    value = bytes(range(256)) * 2    # 512 bytes
    pkt = p.DhcpPacket(p.BOOTREPLY, chaddr=MAC, options={p.VENDOR_SPECIFIC: value})
    data = p.encode(pkt)
    assert data[240:242] == bytes((43, 255))
    assert p.decode(data).options[p.VENDOR_SPECIFIC] == value


def test_pad_options_are_skipped_and_end_stops_parsing():
    data = raw_request(b"\0\0\x35\x01\x03\0\xff\x0c\x05junk!")
    pkt = p.decode(data)
    assert pkt.message_type == p.REQUEST
    assert p.HOSTNAME not in pkt.options


def test_missing_end_is_tolerated_when_the_options_end_cleanly():
    assert p.decode(raw_request(b"\x35\x01\x01")).message_type == p.DISCOVER


def test_file_and_sname_lose_their_nul_padding():
    assert p.decode(raw_request(b"\xff", file=b"boot/x")).file == b"boot/x"


def test_max_size_drops_options_from_the_end_but_keeps_protected_ones():
    options = {p.MESSAGE_TYPE: b"\x05", p.SERVER_ID: b"\x0a\0\0\x01",
               p.DOMAIN_NAME: b"d" * 200, p.HOSTNAME: b"h" * 200,
               p.RELAY_AGENT_INFO: b"\x01\x02ab"}
    pkt = p.DhcpPacket(p.BOOTREPLY, chaddr=MAC, options=options)
    data = p.encode(pkt, max_size=548,
                    keep=frozenset((p.MESSAGE_TYPE, p.SERVER_ID, p.RELAY_AGENT_INFO)))
    assert len(data) <= 548
    back = p.decode(data)
    assert p.HOSTNAME not in back.options and p.DOMAIN_NAME in back.options
    assert back.options[p.RELAY_AGENT_INFO] == b"\x01\x02ab"


@pytest.mark.parametrize("data, why", [
    (b"", "truncated"),
    (PXE_DISCOVER[:239], "truncated"),
    (PXE_DISCOVER[:236] + b"\x63\x82\x53\x00" + PXE_DISCOVER[240:], "magic cookie"),
    (raw_request(b"\x35\x01\x01\x0c\x10short\xff"), "runs past"),
    (raw_request(b"\x35\x01\x01\x0c"), "no length"),
    (raw_request(b"\xff", hlen=17), "hardware address length"),
])
def test_malformed_packets_raise_with_the_reason(data, why):
    with pytest.raises(p.MalformedPacket, match=why):
        p.decode(data)


def test_client_arch_lists_every_type_and_ignores_odd_lengths():
    assert p.client_arches(p.decode(raw_request(b"\x5d\x04\x00\x07\x00\x09\xff"))) == (7, 9)
    assert p.client_arches(p.decode(raw_request(b"\x5d\x03\x00\x07\x00\xff"))) == ()


def test_pxe_vendor_options_say_use_the_offered_file_and_echo_a_boot_item():
    assert p.pxe_vendor_options() == b"\x06\x01\x08\xff"
    assert p.pxe_vendor_options(b"\x80\x00\x00\x00") == \
        b"\x06\x01\x08\x47\x04\x80\x00\x00\x00\xff"


def test_message_type_of_wrong_length_is_none():
    assert p.decode(raw_request(b"\x35\x02\x01\x01\xff")).message_type is None


# -- properties ---------------------------------------------------------------------------

@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=700))
def test_random_bytes_decode_or_raise_malformed(data):
    try:
        pkt = p.decode(data)
    except p.MalformedPacket:
        return
    assert len(data) >= p.OPTIONS_START and pkt.hlen <= 16


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(st.integers(0, len(PXE_DISCOVER) - 1), st.integers(0, 255)),
                max_size=12),
       st.integers(200, len(PXE_DISCOVER)))
def test_mutated_discover_decodes_or_raises_malformed(flips, cut):
    data = bytearray(PXE_DISCOVER)
    for pos, value in flips:
        data[pos] = value
    try:
        p.decode(bytes(data[:cut]))
    except p.MalformedPacket:
        pass


option_codes = st.integers(1, 254)
option_values = st.binary(min_size=0, max_size=600)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(option_codes, option_values, max_size=8),
       st.integers(0, 0xFFFFFFFF), st.binary(min_size=16, max_size=16),
       st.binary(max_size=63).filter(lambda b: b"\0" not in b),
       st.binary(max_size=127).filter(lambda b: b"\0" not in b))
def test_encode_then_decode_is_identity(options, xid, chaddr, sname, file):
    pkt = p.DhcpPacket(p.BOOTREPLY, xid=xid, chaddr=chaddr, sname=sname, file=file,
                       options=options)
    back = p.decode(p.encode(pkt))
    assert back == pkt
