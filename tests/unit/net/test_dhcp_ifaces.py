"""site.dhcpinterfaces in xCAT's forms, and reading the interfaces' IPv4 addresses."""

import pytest

from xcatpy.net.dhcp import ifaces


@pytest.mark.parametrize("value, served, noboot", [
    (None, (), set()),
    ("", (), set()),
    ("eth0", ("eth0",), set()),
    ("eth0,eth1", ("eth0", "eth1"), set()),
    ("eth0;eth1", ("eth0", "eth1"), set()),
    ("mn|eth1,eth2", ("eth1", "eth2"), set()),
    ("other|eth1", (), set()),
    ("mn|eth1;other|eth2;eth3", ("eth1", "eth3"), set()),
    ("MN.cluster|eth4", ("eth4",), set()),
    ("eth1:noboot,eth2", ("eth1", "eth2"), {"eth1"}),
    ("eth1,!remote!eth5", ("eth1",), set()),
    ("eth1, eth1 ,", ("eth1",), set()),
])
def test_dhcpinterfaces_forms(value, served, noboot):
    choice = ifaces.parse_dhcpinterfaces(value, {"mn", "mn.cluster"})
    assert choice.served == served
    assert choice.noboot == noboot


def test_other_hosts_and_relay_markers_are_reported_as_ignored():
    choice = ifaces.parse_dhcpinterfaces("other|eth1;!remote!eth5", {"mn"})
    assert choice.ignored == ("other|eth1", "!remote!eth5")


def test_loopback_address_is_read():
    found = ifaces.ipv4_addresses()
    assert ifaces.IfAddress(bytes((127, 0, 0, 1)), 8) in found["lo"]


def test_ifaddress_contains():
    a = ifaces.IfAddress(bytes((10, 0, 0, 1)), 24)
    assert a.contains(0x0A0000FE) and not a.contains(0x0A0001FE)


def test_interface_index():
    assert ifaces.interface_index("lo") == 1
    assert ifaces.interface_index("nosuch0") is None
