"""makedns: what lands in dnsrecord, the options, errors, and the DDNS path (push faked)."""

import base64

import pytest

from xcatpy.errors import XcatError
from xcatpy.net.dns import ddns

SECRET = base64.b64encode(b"k" * 32).decode()


@pytest.fixture
def cluster(run):
    for args in (
        ("tabch", "key=domain", "site.value=cluster.test"),
        ("tabch", "key=master", "site.value=10.0.0.254"),
        ("tabch", "net=10.0.0.0,mask=255.255.255.0", "networks.netname=prov"),
        ("tabch", "net=fd00::,mask=/64", "networks.netname=v6", "networks.domain=v6.test"),
        ("nodeadd", "n1,n2", "groups=compute", "hosts.ip=|n(\\d+)|10.0.0.($1+0)|"),
        ("nodeadd", "v1", "groups=other", "hosts.ip=fd00::5", "hosts.hostnames=v1-alias"),
    ):
        r = run(*args)
        assert r.rc == 0, r.err


def records(run):
    lines = run("tabdump", "dnsrecord").out[1:]
    return sorted(line.rsplit(",", 3)[0].replace('"', "") for line in lines)


def node_records(run, node):
    return [r for r in run("tabdump", "dnsrecord").out[1:] if f',"{node}",' in r]


def test_publishes_every_node_by_default(cluster, run):
    r = run("makedns")
    assert r.rc == 0, r.err
    assert records(run) == [
        "1.0.0.10.in-addr.arpa,PTR,n1.cluster.test,n1",
        "2.0.0.10.in-addr.arpa,PTR,n2.cluster.test,n2",
        "5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa,PTR,"
        "v1.v6.test,v1",
        "n1.cluster.test,A,10.0.0.1,n1",
        "n2.cluster.test,A,10.0.0.2,n2",
        "v1-alias.v6.test,AAAA,fd00::5,v1",
        "v1.v6.test,AAAA,fd00::5,v1",
    ]
    assert r.out == ["Handling n1.", "Handling n2.", "Handling v1.",
                     "Updating DNS records, this may take several minutes for a large "
                     "cluster.", "Completed updating DNS records.", "DNS setup is completed"]


def test_verbose_lists_each_record(cluster, run):
    r = run("makedns", "-V", "n1")
    assert r.out[:3] == ["Handling n1.", "n1: n1.cluster.test A 10.0.0.1",
                         "n1: 1.0.0.10.in-addr.arpa PTR n1.cluster.test"]


def test_a_node_is_replaced_not_added_to(cluster, run):
    assert run("makedns", "n1,n2").rc == 0
    assert run("nodech", "n1", "hosts.ip=10.0.0.11", "hosts.hostnames=n1-ib").rc == 0
    assert run("makedns", "n1").rc == 0
    assert [r for r in records(run) if r.endswith(",n1")] == [
        "11.0.0.10.in-addr.arpa,PTR,n1.cluster.test,n1",
        "n1-ib.cluster.test,A,10.0.0.11,n1",
        "n1.cluster.test,A,10.0.0.11,n1"]
    assert len(node_records(run, "n2")) == 2


def test_new_drops_everything_else(cluster, run):
    assert run("makedns").rc == 0
    assert run("makedns", "-n", "n2").rc == 0
    assert records(run) == ["2.0.0.10.in-addr.arpa,PTR,n2.cluster.test,n2",
                            "n2.cluster.test,A,10.0.0.2,n2"]


def test_delete_removes_the_nodes_records(cluster, run):
    assert run("makedns").rc == 0
    r = run("makedns", "-d", "n1,v1")
    assert r.rc == 0, r.err
    assert r.out[:2] == ["Handling n1.", "Handling v1."]
    assert records(run) == ["2.0.0.10.in-addr.arpa,PTR,n2.cluster.test,n2",
                            "n2.cluster.test,A,10.0.0.2,n2"]
    assert run("makedns", "-d", "-a").rc == 0
    assert records(run) == []


def test_delete_needs_a_noderange(cluster, run):
    r = run("makedns", "-d")
    assert r.rc == 1
    assert r.err[0] == "Error: makedns: makedns -d without noderange or -a is not supported"


def test_usage_and_bad_options(cluster, run):
    r = run("makedns", "-h")
    assert r.rc == 0 and r.out[0].startswith("Usage:") and "makedns" in r.text
    assert run("makedns", "-x").rc == 1
    assert run("makedns", "-a", "n1").rc == 1
    assert run("makedns", "-n", "-d", "n1").rc == 1
    bad = run("makedns", "nosuchnode")
    assert bad.rc == 1 and "nosuchnode" in bad.err[0]


def test_nodes_without_ip_are_skipped_by_default_and_an_error_when_named(cluster, run):
    assert run("nodeadd", "bare", "groups=other").rc == 0
    r = run("makedns")
    assert r.rc == 0 and "Ignoring bare: no IP address in hosts.ip." in r.out
    r = run("makedns", "bare,n1")
    assert r.rc == 1
    assert r.err == ["bare: Error: no IP address in hosts.ip"]


def test_problems_fail_the_command_and_write_nothing(cluster, run):
    assert run("makedns", "n1").rc == 0
    before = records(run)
    assert run("nodeadd", "dup", "groups=other", "hosts.ip=10.0.0.2").rc == 0
    assert run("nodeadd", "far", "groups=other", "hosts.ip=192.0.2.7").rc == 0
    assert run("nodeadd", "bad", "groups=other", "hosts.ip=10.0.0.300").rc == 0
    assert run("nodech", "n1", "hosts.ip=10.0.0.21").rc == 0
    r = run("makedns")
    assert r.rc == 1
    assert r.err == [
        "bad: Error: malformed IP address '10.0.0.300' in hosts.ip",
        "dup: Error: IP address 10.0.0.2 is also hosts.ip of n2",
        "far: Error: IP address 192.0.2.7 is not on any network in the networks table",
        "n2: Error: IP address 10.0.0.2 is also hosts.ip of dup",
    ]
    assert records(run) == before           # n1's change did not land either


def test_a_name_taken_by_another_node_is_refused(cluster, run):
    assert run("makedns", "n1").rc == 0
    assert run("nodech", "n2", "hosts.hostnames=n1").rc == 0
    r = run("makedns", "n2")
    assert r.rc == 1
    assert r.err == ["n2: Error: DNS name n1.cluster.test is already published for node n1 "
                     "(refresh or remove it: makedns n1 / makedns -d n1)"]


def test_no_domain_is_an_error(run):
    assert run("tabch", "-d", "key=domain", "site").rc == 0
    assert run("tabch", "net=10.0.0.0,mask=255.255.255.0", "networks.netname=prov").rc == 0
    assert run("nodeadd", "n1", "groups=all", "hosts.ip=10.0.0.1").rc == 0
    r = run("makedns", "n1")
    assert r.rc == 1
    assert r.err == ["n1: Error: no DNS domain for 10.0.0.1: set site.domain or "
                     "networks.domain of network prov"]


def test_unknown_dnshandler_is_an_error(cluster, run):
    assert run("tabch", "key=dnshandler", "site.value=bind").rc == 0
    r = run("makedns")
    assert r.rc == 1 and "site.dnshandler 'bind' is not supported" in r.err[0]


def test_embedded_handler_is_the_default_and_sends_nothing(cluster, run, monkeypatch):
    monkeypatch.setattr(ddns, "push", lambda *a: pytest.fail("pushed"))
    assert run("tabdump", "site").text.count('"dnshandler","embedded"') == 1
    assert run("makedns").rc == 0


# -- DDNS ----------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def no_dns_traffic(monkeypatch):
    """Nothing here may reach a real server (site.master is 10.0.0.254)."""
    def refuse(*a, **kw):
        raise AssertionError("DNS traffic from a unit test")

    monkeypatch.setattr(ddns.dns.query, "udp", refuse)
    monkeypatch.setattr(ddns.dns.query, "tcp", refuse)
    monkeypatch.setattr(ddns, "zones_at_server", lambda names, server, timeout=None: {})


@pytest.fixture
def pushed(monkeypatch):
    calls = []

    def push(zones, server, key, timeout=None):
        calls.append((zones, server, key))
        return len(zones)

    monkeypatch.setattr(ddns, "push", push)
    return calls


@pytest.fixture
def keyed(cluster, run):
    assert run("tabch", "key=omapi,username=xcat_key", f"passwd.password={SECRET}").rc == 0
    assert run("tabch", "key=dnsupdateserver", "site.value=127.0.0.1:5300").rc == 0


def test_external_pushes_one_batch_per_zone_and_records(keyed, run, pushed):
    r = run("makedns", "-e", "n1,n2")
    assert r.rc == 0, r.err
    ((zones, server, key),) = pushed
    assert (server.address, server.port, key.name, key.algorithm) == (
        "127.0.0.1", 5300, "xcat_key", "hmac-sha256")
    assert {z.zone: [str(a) for a in z.adds] for z in zones} == {
        "0.0.10.in-addr.arpa": ["1.0.0.10.in-addr.arpa PTR n1.cluster.test",
                                "2.0.0.10.in-addr.arpa PTR n2.cluster.test"],
        "cluster.test": ["n1.cluster.test A 10.0.0.1", "n2.cluster.test A 10.0.0.2"]}
    assert len(records(run)) == 4


def test_ddns_handler_pushes_without_e_and_delete_clears_old_and_implied(keyed, run, pushed):
    assert run("tabch", "key=dnshandler", "site.value=ddns").rc == 0
    assert run("makedns", "n1").rc == 0
    assert run("nodech", "n1", "hosts.ip=10.0.0.31").rc == 0
    assert run("makedns", "-d", "n1").rc == 0
    zones = {z.zone: z for z in pushed[-1][0]}
    assert zones["0.0.10.in-addr.arpa"].deletes == [("1.0.0.10.in-addr.arpa", "PTR"),
                                                    ("31.0.0.10.in-addr.arpa", "PTR")]
    assert zones["cluster.test"].deletes == [("n1.cluster.test", "A")]
    assert all(not z.adds for z in zones.values())
    assert records(run) == []


def test_ddns_server_defaults_to_site_master(cluster, run, pushed):
    assert run("tabch", "key=omapi,username=k", f"passwd.password={SECRET}",
               "passwd.cryptmethod=hmac-md5").rc == 0
    assert run("makedns", "-e", "n1").rc == 0
    server, key = pushed[0][1], pushed[0][2]
    assert (server.address, server.port, key.algorithm) == ("10.0.0.254", 53, "hmac-md5")


def test_refused_update_rolls_back_the_table(keyed, run, monkeypatch):
    assert run("makedns", "n1").rc == 0
    before = records(run)

    def refuse(zones, server, key, timeout=None):
        raise XcatError(f"DNS server {server} refused the update of zone cluster.test: "
                        "NOTAUTH")

    monkeypatch.setattr(ddns, "push", refuse)
    assert run("nodech", "n1", "hosts.ip=10.0.0.41").rc == 0
    r = run("makedns", "-e", "n1")
    assert r.rc == 1
    assert r.err == ["Error: DNS server 127.0.0.1:5300 refused the update of zone "
                     "cluster.test: NOTAUTH"]
    assert records(run) == before


def test_missing_key_fails_before_anything_lands(cluster, run, pushed):
    r = run("makedns", "-e", "n1")
    assert r.rc == 1 and r.err[0].startswith("Error: Unable to find omapi key in passwd table")
    assert records(run) == [] and pushed == []


def test_a_ttl_set_on_a_published_record_survives_republishing(cluster, run):
    assert run("makedns", "n1").rc == 0
    assert run("tabch", "name=n1.cluster.test,type=A,value=10.0.0.1", "dnsrecord.ttl=60").rc == 0
    assert run("makedns", "n1").rc == 0
    rows = node_records(run, "n1")
    assert '"n1.cluster.test","A","10.0.0.1","n1","60",,' in rows
    assert run("nodech", "n1", "hosts.ip=10.0.0.51").rc == 0
    assert run("makedns", "n1").rc == 0          # a new address is a new record: default TTL
    assert '"n1.cluster.test","A","10.0.0.51","n1",,,' in node_records(run, "n1")
