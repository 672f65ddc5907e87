"""Zones we are authoritative for, and the answer to each kind of question."""

import netaddr
import pytest

from xcatpy.net.dns import zones
from xcatpy.net.dns.zones import (
    NOERROR,
    NXDOMAIN,
    REFUSED,
    ZoneData,
    ZoneSnapshot,
    reverse_zone,
    zone_apexes,
    zone_data,
    zone_for,
)
from xcatpy.net.networks import Network


@pytest.mark.parametrize("cidr, zone", [
    ("10.0.0.0/24", "0.0.10.in-addr.arpa"),
    ("10.0.0.32/27", "0.0.10.in-addr.arpa"),
    ("172.16.16.0/20", "16.172.in-addr.arpa"),
    ("10.0.0.0/8", "10.in-addr.arpa"),
    ("10.1.0.0/15", "10.in-addr.arpa"),
    ("fd00:0:0:12::/64", "2.1.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa"),
    ("fd00:0:0:12::/62", "1.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa"),
    ("2001:db8::/32", "8.b.d.0.1.0.0.2.ip6.arpa"),
])
def test_reverse_zone_on_enclosing_boundary(cidr, zone):
    assert reverse_zone(netaddr.IPNetwork(cidr)) == zone


def net(cidr, domain=None, name="n"):
    return Network(name, netaddr.IPNetwork(cidr), domain=domain)


def test_zone_apexes_forward_then_reverse_without_duplicates():
    nets = [net("10.0.0.0/24", ".IB.Cluster.test."), net("10.0.0.128/25", "cluster.test"),
            net("fd00::/64")]
    assert zone_apexes("Cluster.Test", nets) == [
        "cluster.test", "ib.cluster.test", "0.0.10.in-addr.arpa",
        "0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa"]
    assert zone_apexes(None, []) == []


def test_zone_for_picks_the_deepest_zone():
    apexes = {"cluster.test", "ib.cluster.test", "10.in-addr.arpa", "1.0.10.in-addr.arpa"}
    assert zone_for("n1.IB.cluster.test.", apexes) == "ib.cluster.test"
    assert zone_for("n1.cluster.test", apexes) == "cluster.test"
    assert zone_for("cluster.test", apexes) == "cluster.test"
    assert zone_for("5.1.0.10.in-addr.arpa", apexes) == "1.0.10.in-addr.arpa"
    assert zone_for("5.2.0.10.in-addr.arpa", apexes) == "10.in-addr.arpa"
    assert zone_for("xcluster.test", apexes) is None
    assert zone_for("example.org", apexes) is None


RECORDS = (
    ("n1.cluster.test", "A", 3600, "10.0.0.1"),
    ("n1-ib.cluster.test", "A", 3600, "10.0.0.1"),
    ("v1.cluster.test", "AAAA", 60, "fd00::5"),
    ("1.0.0.10.in-addr.arpa", "PTR", 3600, "n1.cluster.test"),
    ("a.deep.cluster.test", "A", 3600, "10.0.0.9"),
    ("mgmt.cluster.test", "A", 3600, "10.0.0.254"),
)


@pytest.fixture
def snap():
    data = ZoneData(("cluster.test", "0.0.10.in-addr.arpa"), RECORDS, "mgmt.cluster.test")
    return ZoneSnapshot(data, 2024010101)


def texts(rrs):
    return [(rr.name, rr.type, rr.data) for rr in rrs]


def test_address_and_ptr_answers_are_authoritative(snap):
    a = snap.answer("n1.cluster.test.", "A")
    assert (a.rcode, a.authoritative) == (NOERROR, True)
    assert texts(a.answers) == [("n1.cluster.test", "A", "10.0.0.1")]
    assert a.authority == []
    v6 = snap.answer("v1.cluster.test", "AAAA")
    assert texts(v6.answers) == [("v1.cluster.test", "AAAA", "fd00::5")]
    assert v6.answers[0].ttl == 60
    ptr = snap.answer("1.0.0.10.in-addr.arpa", "PTR")
    assert texts(ptr.answers) == [("1.0.0.10.in-addr.arpa", "PTR", "n1.cluster.test")]


def test_names_are_case_insensitive_and_the_asked_case_is_echoed(snap):
    a = snap.answer("N1-IB.Cluster.TEST", "A")
    assert texts(a.answers) == [("N1-IB.Cluster.TEST", "A", "10.0.0.1")]


def test_missing_name_in_zone_is_nxdomain_with_soa(snap):
    a = snap.answer("nope.cluster.test", "A")
    assert (a.rcode, a.authoritative, a.answers) == (NXDOMAIN, True, [])
    (soa,) = a.authority
    assert (soa.name, soa.type, soa.ttl) == ("cluster.test", "SOA", zones.NEGATIVE_TTL)
    assert soa.data.serial == 2024010101 and soa.data.mname == "mgmt.cluster.test"
    rev = snap.answer("2.0.0.10.in-addr.arpa", "PTR")
    assert rev.rcode == NXDOMAIN and rev.authority[0].name == "0.0.10.in-addr.arpa"


def test_other_type_at_existing_name_is_nodata(snap):
    a = snap.answer("n1.cluster.test", "AAAA")
    assert (a.rcode, a.answers) == (NOERROR, [])
    assert [rr.type for rr in a.authority] == ["SOA"]
    assert snap.answer("n1.cluster.test", "MX").rcode == NOERROR


def test_empty_non_terminal_is_nodata_not_nxdomain(snap):
    a = snap.answer("deep.cluster.test", "A")
    assert (a.rcode, a.answers, [r.type for r in a.authority]) == (NOERROR, [], ["SOA"])
    assert snap.answer("0.10.in-addr.arpa", "PTR").rcode == REFUSED   # above the zone


def test_outside_our_zones_is_refused_without_aa(snap):
    for name in ("example.org", "cluster.test.example.org", "1.0.0.11.in-addr.arpa", "."):
        a = snap.answer(name, "A")
        assert (a.rcode, a.authoritative, a.authority) == (REFUSED, False, [])


def test_zone_transfers_are_refused(snap):
    assert snap.answer("cluster.test", "AXFR").rcode == REFUSED
    assert snap.answer("cluster.test", "IXFR").rcode == REFUSED


def test_apex_soa_and_ns_with_glue(snap):
    soa = snap.answer("cluster.test", "SOA")
    assert [rr.type for rr in soa.answers] == ["SOA"] and soa.authority == []
    ns = snap.answer("0.0.10.in-addr.arpa", "NS")
    assert texts(ns.answers) == [("0.0.10.in-addr.arpa", "NS", "mgmt.cluster.test")]
    assert texts(ns.additional) == [("mgmt.cluster.test", "A", "10.0.0.254")]
    assert snap.answer("cluster.test", "A").rcode == NOERROR     # apex exists: NODATA


def test_any_returns_everything_at_the_name(snap):
    a = snap.answer("cluster.test", "ANY")
    assert [rr.type for rr in a.answers] == ["SOA", "NS"]
    assert [rr.type for rr in snap.answer("n1.cluster.test", "ANY").answers] == ["A"]


def test_digest_follows_content_only():
    one = ZoneData(("a.test",), (("x.a.test", "A", 60, "10.0.0.1"),), "ns.a.test")
    same = ZoneData(("a.test",), (("x.a.test", "A", 60, "10.0.0.1"),), "ns.a.test")
    other = ZoneData(("a.test",), (("x.a.test", "A", 60, "10.0.0.2"),), "ns.a.test")
    assert one.digest() == same.digest() != other.digest()


# -- from the tables --------------------------------------------------------------------------


@pytest.fixture
def tables(run):
    assert run("tabch", "key=domain", "site.value=Cluster.Test").rc == 0
    assert run("tabch", "key=master", "site.value=10.0.0.254").rc == 0
    assert run("tabch", "net=10.0.0.0,mask=255.255.255.0", "networks.netname=prov").rc == 0


def add_row(store, **row):
    store.begin()
    store.upsert_rows("dnsrecord", [row])
    store.commit()


def test_zone_data_from_tables_synthesizes_the_name_server_address(tables, store):
    add_row(store, name="N1.cluster.test", type="a", value="10.0.0.1", node="n1")
    add_row(store, name="1.0.0.10.in-addr.arpa", type="PTR", value="n1.cluster.test.",
            node="n1", ttl="120")
    add_row(store, name="bad.cluster.test", type="MX", value="x", node="n1")
    add_row(store, name="bad.cluster.test", type="A", value="fd00::1", node="n1")
    add_row(store, name="bad.cluster.test", type="AAAA", value="10.0.0.1", node="n1")
    add_row(store, name="bad.cluster.test", type="A", value="10.0.0.256", node="n1")
    data = zone_data(store, "headnode")
    assert data.apexes == ("cluster.test", "0.0.10.in-addr.arpa")
    assert data.ns_name == "headnode.cluster.test"
    assert sorted(data.records) == [
        ("1.0.0.10.in-addr.arpa", "PTR", 120, "n1.cluster.test"),
        ("headnode.cluster.test", "A", 3600, "10.0.0.254"),
        ("n1.cluster.test", "A", 3600, "10.0.0.1"),
    ]


def test_name_server_is_the_name_a_published_ptr_gives_site_master(tables, store, run):
    add_row(store, name="mn.cluster.test", type="A", value="10.0.0.254", node="mn")
    add_row(store, name="254.0.0.10.in-addr.arpa", type="PTR", value="mn.cluster.test",
            node="mn")
    data = zone_data(store, "headnode")
    assert data.ns_name == "mn.cluster.test"
    assert not any(name.startswith("headnode") for name, *_ in data.records)
    assert run("tabch", "key=master", "site.value=boss").rc == 0
    assert zone_data(store, "headnode").ns_name == "boss.cluster.test"


def test_malformed_networks_row_is_skipped_and_reported(tables, store, run):
    assert run("tabch", "net=10.9.0.0,mask=255.255.0.0", "networks.netname=broken",
               "networks.dynamicrange=10.8.0.1-10.8.0.9").rc == 0
    problems = []
    data = zone_data(store, "h", problems)
    assert "0.0.10.in-addr.arpa" in data.apexes and "9.10.in-addr.arpa" not in data.apexes
    assert len(problems) == 1 and "broken" in problems[0]
