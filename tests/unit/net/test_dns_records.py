"""Which records a node gets, and who may own a name."""

import netaddr

from xcatpy.net.dns.records import Record, bad_name, conflicts, node_records
from xcatpy.net.networks import Network
from xcatpy.net.nodenet import NodeAddress

PROV = Network("prov", netaddr.IPNetwork("10.0.0.0/24"))


def addr(node, ip, aliases=(), domain="cluster.test", network=PROV):
    return NodeAddress(node, ip, aliases=tuple(aliases), domain=domain, network=network)


def texts(records):
    return [str(r) for r in records]


def test_ipv4_node_gets_a_records_for_name_and_aliases_and_one_ptr():
    records, problems = node_records(addr("n1", "10.0.0.1", ["n1-ib", "n1-bmc.cluster.test"]))
    assert problems == []
    assert texts(records) == [
        "n1.cluster.test A 10.0.0.1",
        "n1-ib.cluster.test A 10.0.0.1",
        "n1-bmc.cluster.test A 10.0.0.1",
        "1.0.0.10.in-addr.arpa PTR n1.cluster.test",
    ]
    assert {r.node for r in records} == {"n1"}


def test_ipv6_node_gets_aaaa_and_ip6_arpa_ptr():
    records, _ = node_records(addr("v1", "fd00::5", domain="v6.test"))
    assert texts(records) == [
        "v1.v6.test AAAA fd00::5",
        "5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa PTR v1.v6.test"]


def test_names_already_in_the_domain_are_not_qualified_twice():
    records, _ = node_records(addr("n1.Cluster.test", "10.0.0.1", ["n1", "x.cluster.test"]))
    assert texts(records) == ["n1.Cluster.test A 10.0.0.1", "x.cluster.test A 10.0.0.1",
                              "1.0.0.10.in-addr.arpa PTR n1.Cluster.test"]


def test_duplicate_aliases_and_alias_equal_to_name_are_dropped():
    records, _ = node_records(addr("n1", "10.0.0.1", ["N1", "a", "a.cluster.test."]))
    assert texts(records)[:2] == ["n1.cluster.test A 10.0.0.1", "a.cluster.test A 10.0.0.1"]
    assert len(records) == 3


def test_no_domain_is_a_problem_naming_the_network():
    records, problems = node_records(addr("n1", "10.0.0.1", domain=None))
    assert records == []
    assert [str(p) for p in problems] == [
        "n1: Error: no DNS domain for 10.0.0.1: set site.domain or networks.domain of "
        "network prov"]


def test_invalid_names_are_problems():
    records, problems = node_records(addr("n1", "10.0.0.1", ["bad!name", "-x"]))
    assert records == []
    assert [p.message for p in problems] == [
        "'bad!name.cluster.test' is not a valid DNS name: label 'bad!name' is not 1-63 "
        "letters, digits, '-' or '_'",
        "'-x.cluster.test' is not a valid DNS name: label '-x' is not 1-63 letters, "
        "digits, '-' or '_'"]
    assert bad_name("a" * 64 + ".test") is not None
    assert bad_name(".".join(["abcdefgh"] * 30)) == "it is longer than 253 characters"
    assert bad_name("rack1-sw.cluster.test") is None


def test_conflicts_within_the_batch_and_with_published_records():
    n1 = Record("n1.cluster.test", "A", "10.0.0.1", "n1")
    kept = [Record("shared.cluster.test", "A", "10.0.0.7", "old"),
            Record("7.0.0.10.in-addr.arpa", "PTR", "old.cluster.test", "old")]
    new = [n1, Record("N1.cluster.test", "AAAA", "fd00::2", "n2"),
           Record("Shared.cluster.test", "A", "10.0.0.3", "n3"),
           Record("7.0.0.10.in-addr.arpa", "PTR", "n4.cluster.test", "n4")]
    assert [str(p) for p in conflicts(new, kept)] == [
        "n2: Error: DNS name N1.cluster.test is also a name of node n1",
        "n3: Error: DNS name Shared.cluster.test is already published for node old "
        "(refresh or remove it: makedns old / makedns -d old)",
        "n4: Error: reverse name 7.0.0.10.in-addr.arpa is already published for node old "
        "(refresh or remove it: makedns old / makedns -d old)"]


def test_a_node_does_not_conflict_with_itself():
    recs = [Record("n1.cluster.test", "A", "10.0.0.1", "n1"),
            Record("n1.cluster.test", "AAAA", "fd00::1", "n1")]
    assert conflicts(recs, recs) == []


def test_row_round_trip():
    rec = Record("n1.cluster.test", "A", "10.0.0.1", "n1", 60)
    assert Record.from_row(rec.row() | {"comments": None}) == rec
    assert Record.from_row({"name": "x", "type": "ptr", "value": "y", "node": "n"}).type == "PTR"
