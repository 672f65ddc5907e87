"""Node addresses as makedhcp/makedns/makehosts see them, and the checks before publishing."""

import pytest

from xcatpy.db.attrs import NodeAttrs
from xcatpy.errors import XcatError
from xcatpy.net.networks import load_networks, network_for, parse_prefix, parse_ranges
from xcatpy.net.nodenet import AddressBook


def book(store):
    attrs = NodeAttrs(store)
    return AddressBook(attrs, load_networks(store))


@pytest.fixture
def cluster(run):
    assert run("tabch", "key=domain", "site.value=cluster.test").rc == 0
    assert run("tabch", "net=10.0.0.0,mask=255.255.255.0", "networks.netname=prov",
               "networks.dynamicrange=10.0.0.200-10.0.0.250").rc == 0
    assert run("tabch", "net=fd00::,mask=/64", "networks.netname=v6",
               "networks.domain=v6.test").rc == 0
    assert run("nodeadd", "n1,n2", "groups=compute", "hosts.ip=|n(\\d+)|10.0.0.($1+0)|",
               "mac.mac=|n(\\d+)|52:54:00:00:00:($1+10)|").rc == 0
    assert run("nodeadd", "v1", "groups=other", "hosts.ip=fd00::5",
               "hosts.hostnames=v1-alias,v1b").rc == 0


def test_collects_group_regex_addresses_with_domain(cluster, store):
    records, problems = book(store).collect(["n1", "n2", "v1"], need_network=True)
    assert problems == []
    by_node = {r.node: r for r in records}
    assert by_node["n1"].ip == "10.0.0.1" and by_node["n1"].macs == ("52:54:00:00:00:11",)
    assert by_node["n1"].fqdn == "n1.cluster.test" and by_node["n1"].network.name == "prov"
    assert by_node["v1"].ip == "fd00::5" and by_node["v1"].domain == "v6.test"
    assert by_node["v1"].aliases == ("v1-alias", "v1b")


def test_duplicate_ip_names_both_nodes(cluster, run, store):
    assert run("nodeadd", "dup", "groups=other", "hosts.ip=10.0.0.1").rc == 0
    records, problems = book(store).collect(["dup"])
    assert records == []
    assert [str(p) for p in problems] == [
        "dup: Error: IP address 10.0.0.1 is also hosts.ip of n1"]


def test_duplicate_mac_is_found_outside_the_noderange(cluster, run, store):
    assert run("nodeadd", "dup", "groups=other", "hosts.ip=10.0.0.9",
               "mac.mac=52-54-00-00-00-11").rc == 0
    _, problems = book(store).collect(["dup"])
    assert [p.message for p in problems] == [
        "MAC address 52:54:00:00:00:11 is also in mac.mac of n1"]


def test_malformed_values_and_missing_network(cluster, run, store):
    assert run("nodeadd", "bad", "groups=other", "hosts.ip=10.0.0.999",
               "mac.mac=52:54:00:zz:00:01|52:54:00:00:00:99").rc == 0
    assert run("nodeadd", "far", "groups=other", "hosts.ip=192.0.2.7").rc == 0
    _, problems = book(store).collect(["bad", "far"], need_network=True)
    assert [str(p) for p in problems] == [
        "bad: Error: malformed IP address '10.0.0.999' in hosts.ip",
        "bad: Error: malformed MAC address '52:54:00:zz:00:01' in mac.mac",
        "far: Error: IP address 192.0.2.7 is not on any network in the networks table"]


def test_missing_ip_or_mac_when_required(cluster, run, store):
    assert run("nodeadd", "bare", "groups=other").rc == 0
    _, problems = book(store).collect(["bare"], need_mac=True)
    assert [p.message for p in problems] == ["no IP address in hosts.ip"]
    assert run("nodech", "bare", "hosts.ip=10.0.0.77").rc == 0
    _, problems = book(store).collect(["bare"], need_mac=True)
    assert [p.message for p in problems] == ["no MAC address in mac.mac"]


def test_named_macs_belong_to_the_machine_but_not_its_own_name(cluster, run, store):
    assert run("nodech", "n1", "mac.mac=52:54:00:00:00:11|52:54:00:00:01:12!n1-eth1").rc == 0
    (record,), problems = book(store).collect(["n1"])
    assert problems == []
    assert record.macs == ("52:54:00:00:00:11",)
    assert record.named_macs == (("52:54:00:00:01:12", "n1-eth1"),)


def test_networks_rows_and_ranges(cluster, run, store):
    nets = load_networks(store)
    assert network_for("10.0.0.7", nets).name == "prov"
    assert network_for("10.0.1.7", nets) is None
    assert nets[0].in_dynamic_range("10.0.0.201")
    assert [str(r) for r in parse_ranges("10.0.0.1,10.0.0.5")] == ["10.0.0.1-10.0.0.5"]
    assert run("tabch", "net=10.1.0.0,mask=255.255.0.0", "networks.netname=broken",
               "networks.dynamicrange=10.2.0.1-10.2.0.9").rc == 0
    with pytest.raises(XcatError, match="network 'broken' dynamicrange 10.2.0.1-10.2.0.9 "
                                        "is not inside 10.1.0.0/16"):
        load_networks(store)


def test_name_publishers_can_ignore_macs(cluster, run, store):
    assert run("nodeadd", "junk", "groups=other", "mac.mac=52:54:00:00:00",
               "hosts.ip=10.0.0.70").rc == 0
    (record,), problems = book(store).collect(["junk"], check_macs=False)
    assert problems == [] and record.macs == ()


@pytest.mark.parametrize("net,mask,cidr", [
    ("10.1.0.0", "255.255.0.0", "10.1.0.0/16"), ("10.1.0.0", "/16", "10.1.0.0/16"),
    ("fd00::", "/64", "fd00::/64"), ("fd00::/64", "", "fd00::/64"),
    ("fd00::/64", "/64", "fd00::/64"), ("10.1.2.3", "24", "10.1.2.0/24")])
def test_prefix_forms_xcat_writes(net, mask, cidr):
    assert str(parse_prefix(net, mask)) == cidr


def test_prefix_that_contradicts_the_mask_is_refused():
    with pytest.raises(ValueError, match="disagrees"):
        parse_prefix("fd00::/64", "/48")
