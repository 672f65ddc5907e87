"""Finding the asking node: MACs as xCAT stores them, addresses including group regexes."""

import pytest

from xcatpy.boot.chainstate import BootState, parse_request, parse_state
from xcatpy.boot.nodeindex import NodeIndex, hex_ip, mac_entries, normalize_mac, plain_ip
from xcatpy.db.attrs import NodeAttrs
from xcatpy.errors import UsageError


@pytest.mark.parametrize("text, expected", [
    ("52-54-00-AB-cd-01", "52:54:00:ab:cd:01"), ("52:54:00:ab:cd:01", "52:54:00:ab:cd:01"),
    ("52:54:00:ab:cd", None), ("zz:54:00:ab:cd:01", None), ("525400abcd01", None),
    # bytes.fromhex skips blanks: these were taken for MACs and kept as written
    ("52:54:00:ab:  :cd", None), ("52:54:00:ab: c:cd", None), ("52:54:00:ab:\tc:cd", None),
    ("52:54:00:ab:١٢:cd", None), (" 52:54:00:AB:CD:01\n", "52:54:00:ab:cd:01")])
def test_normalize_mac(text, expected):
    assert normalize_mac(text) == expected


def test_mac_entries_skip_other_hostnames():
    assert mac_entries("52:54:00:00:00:01|52:54:00:00:00:02!node01-ib|bad") == [
        "52:54:00:00:00:01"]
    assert mac_entries("52:54:00:00:  :01|52:54:00:00:00:03") == ["52:54:00:00:00:03"]
    assert mac_entries(None) == []


def test_addresses():
    assert plain_ip("::ffff:10.1.2.3") == "10.1.2.3"
    assert hex_ip("10.1.2.3") == "0A010203"
    assert hex_ip("fe80::1") is None


def test_index_by_mac_and_by_regex_address(run, store):
    assert run("nodeadd", "node[1-3]", "groups=compute").rc == 0
    assert run("chdef", "-t", "group", "-o", "compute",
               "ip=|node(\\d+)|10.0.0.($1+10)|").rc == 0
    assert run("nodech", "node2", "mac.mac=52:54:00:00:00:02|52:54:00:00:00:22").rc == 0
    index = NodeIndex(NodeAttrs(store))
    assert index.node_by_ip("10.0.0.13") == "node3"
    assert index.node_by_ip("::ffff:10.0.0.11") == "node1"
    assert index.node_by_ip("10.0.0.99") is None
    assert index.node_by_mac("52-54-00-00-00-22") == "node2"
    assert index.node_by_mac("52:54:00:00:00:03") is None


def test_state_text_round_trip():
    assert parse_state("install img1") == BootState("install", "img1")
    assert str(BootState("install", "img1")) == "install img1"
    assert parse_state("  ") is None


@pytest.mark.parametrize("words, expected", [
    (["osimage=img"], ("osimage", "img")), (["osimage"], ("osimage", None)),
    (["install", "img"], ("install", "img")), (["netboot=img"], ("netboot", "img")),
    (["boot"], ("boot", None)), (["stat"], ("stat", None))])
def test_parse_request(words, expected):
    assert parse_request(words) == expected


@pytest.mark.parametrize("words", [[], ["reboot"], ["boot", "x"], ["osimage=a", "b"],
                                   ["install", "a", "b"]])
def test_parse_request_errors(words):
    with pytest.raises(UsageError):
        parse_request(words)
