"""The TFTP codec: round trips, tolerance of sloppy clients, and garbage that never crashes."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from xcatpy.boot.tftp import packets
from xcatpy.boot.tftp.packets import MalformedPacket

no_nul = st.binary(min_size=1, max_size=100).filter(lambda b: b"\0" not in b)
option_names = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_",
                       min_size=1, max_size=12)
option_values = st.binary(max_size=20).filter(lambda b: b"\0" not in b and b != b"")


@given(filename=no_nul, mode=st.sampled_from(["octet", "netascii", "OCTET", "NetAscii"]),
       options=st.dictionaries(option_names, option_values, max_size=6),
       opcode=st.sampled_from([packets.RRQ, packets.WRQ]))
def test_request_round_trip(filename, mode, options, opcode):
    parsed = packets.parse(packets.request(filename, mode, options, opcode))
    assert isinstance(parsed, packets.Request)
    assert parsed.opcode == opcode
    assert parsed.filename == filename
    assert parsed.mode == mode.lower()
    expected: dict[str, bytes] = {}
    for name, value in options.items():
        expected.setdefault(name.lower(), value)      # first of BLKSIZE/blksize wins
    assert parsed.options == expected


def test_option_names_are_case_insensitive_and_keep_order():
    raw = b"\0\1file\0OcTeT\0BLKSIZE\0001468\0TSize\0000\0windowSIZE\00016\0"
    parsed = packets.parse(raw)
    assert parsed.mode == "octet"
    assert list(parsed.options.items()) == [
        ("blksize", b"1468"), ("tsize", b"0"), ("windowsize", b"16")]


def test_non_utf8_filename_stays_bytes():
    parsed = packets.parse(b"\0\1\xff\xfe\xe9t\xe9\0octet\0")
    assert parsed.filename == b"\xff\xfe\xe9t\xe9"


@pytest.mark.parametrize("raw", [
    b"\0\1file\0octet",                     # last string not terminated
    b"\0\1file\0octet\0\0\0\0",             # padded with NULs
    b"\0\1file\0octet\0blksize\0",          # an option name without a value
])
def test_sloppy_requests_are_accepted(raw):
    parsed = packets.parse(raw)
    assert parsed.filename == b"file" and parsed.mode == "octet"
    assert parsed.options == {}


@pytest.mark.parametrize("raw", [
    b"", b"\0", b"\0\1", b"\0\1\0octet\0", b"\0\1file\0", b"\0\1file\0binary\0",
    b"\0\3\0", b"\0\4\0", b"\0\5\0", b"\0\7abc", b"\xff\xff",
])
def test_malformed(raw):
    with pytest.raises(MalformedPacket):
        packets.parse(raw)


@given(st.binary(max_size=600))
def test_garbage_only_raises_malformed(raw):
    try:
        packets.parse(raw)
    except MalformedPacket:
        pass


@given(prefix=st.sampled_from([b"\0\1", b"\0\2", b"\0\6", b"\0\5\0\0"]),
       body=st.binary(max_size=300))
def test_garbage_after_a_valid_opcode_only_raises_malformed(prefix, body):
    try:
        packets.parse(prefix + body)
    except MalformedPacket:
        pass


@given(block=st.integers(0, 0xFFFF), payload=st.binary(max_size=1500))
def test_data_round_trip(block, payload):
    assert packets.parse(packets.data(block, payload)) == packets.Data(block, payload)


@given(block=st.integers(0, 0x3FFFF))
def test_ack_round_trip_wraps_at_16_bits(block):
    assert packets.parse(packets.ack(block)) == packets.Ack(block & 0xFFFF)


def test_error_round_trip_and_nul_in_message():
    assert packets.parse(packets.error(1, "not\0found")) == packets.Error(1, b"not found")
    assert packets.parse(b"\0\5\0\2no terminator") == packets.Error(2, b"no terminator")


def test_oack_round_trip():
    raw = packets.oack({"blksize": 1468, "tsize": 12345})
    assert raw == b"\0\6blksize\0001468\0tsize\00012345\0"
    assert packets.parse(raw) == packets.OptionAck({"blksize": b"1468", "tsize": b"12345"})


@pytest.mark.parametrize("value, expected", [
    (b"512", 512), (b"8", 8), (b"65464", 65464), (b"7", None), (b"65465", None),
    (b"abc", None), (b"", None), (b"-1", None), (b"1e3", None), (b" 512 ", 512),
    (b"99999999999999999999", None), (b"\xff", None), ("٣".encode(), None),
])
def test_int_option(value, expected):
    assert packets.int_option(value, 8, 65464) == expected


def test_netascii():
    assert packets.to_netascii(b"a\nb\rc\r\n") == b"a\r\nb\r\0c\r\0\r\n"
