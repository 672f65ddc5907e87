"""makedhcp publishing to the embedded service's table: options, checks, all-or-nothing."""

import pytest


@pytest.fixture
def cluster(run):
    assert run("tabch", "key=domain", "site.value=cluster.test").rc == 0
    assert run("tabch", "net=10.0.0.0,mask=255.255.255.0", "networks.netname=prov").rc == 0
    assert run("nodeadd", "n[1-3]", "groups=compute", "hosts.ip=|n(\\d+)|10.0.0.($1+0)|",
               "mac.mac=|n(\\d+)|52:54:00:00:00:0($1+0)|").rc == 0


def reservations(store):
    return sorted((r["node"], r["mac"], r["ip"]) for r in store.rows("dhcpreservation"))


def test_noderange_publishes_static_leases_and_query_shows_them(cluster, run, store):
    result = run("makedhcp", "n[1-2]")
    assert result.rc == 0, result.err
    assert "site.dhcpinterfaces is not set" in "\n".join(result.err)
    assert reservations(store) == [("n1", "52:54:00:00:00:01", "10.0.0.1"),
                                   ("n2", "52:54:00:00:00:02", "10.0.0.2")]
    q = run("makedhcp", "-q", "n1,n3")
    assert q.out == ["n1: ip-address = 10.0.0.1, hardware-address = 52:54:00:00:00:01"]
    assert q.err == ["n3: Error: no DHCP entry (run makedhcp for it)"] and q.rc == 1


def test_republishing_a_node_replaces_its_entries(cluster, run, store):
    assert run("makedhcp", "n1").rc == 0
    assert run("nodech", "n1", "mac.mac=52:54:00:00:01:01|52:54:00:00:01:02",
               "hosts.ip=10.0.0.50").rc == 0
    assert run("makedhcp", "n1").rc == 0
    assert reservations(store) == [("n1", "52:54:00:00:01:01", "10.0.0.50"),
                                   ("n1", "52:54:00:00:01:02", "10.0.0.50")]


def test_a_mac_moved_to_another_node_is_answered_for_the_new_one(cluster, run, store):
    assert run("makedhcp", "n1").rc == 0
    assert run("nodech", "n1", "mac.mac=52:54:00:00:09:09").rc == 0
    assert run("nodeadd", "new", "groups=other", "mac.mac=52:54:00:00:00:01",
               "hosts.ip=10.0.0.60").rc == 0
    assert run("makedhcp", "new").rc == 0
    assert reservations(store) == [("new", "52:54:00:00:00:01", "10.0.0.60")]


def test_all_and_delete(cluster, run, store):
    assert run("nodeadd", "nomac", "groups=other", "hosts.ip=10.0.0.99").rc == 0
    assert run("makedhcp", "-a").rc == 0
    assert [r[0] for r in reservations(store)] == ["n1", "n2", "n3"]
    assert run("makedhcp", "n2", "-d").rc == 0
    assert [r[0] for r in reservations(store)] == ["n1", "n3"]
    assert run("makedhcp", "-a", "-d").rc == 0
    assert reservations(store) == []


def test_reserving_a_mac_drops_its_dynamic_lease(cluster, run, store):
    store.begin()
    store.upsert_rows("dhcplease", [{"mac": "52:54:00:00:00:01", "ip": "10.0.0.200",
                                     "expires": "9999999999"}])
    store.commit()
    assert run("makedhcp", "n1").rc == 0
    assert store.rows("dhcplease") == []


def test_bad_input_names_the_nodes_and_writes_nothing(cluster, run, store):
    assert run("makedhcp", "n1").rc == 0
    assert run("nodeadd", "twin", "groups=other", "mac.mac=52:54:00:00:00:77",
               "hosts.ip=10.0.0.2").rc == 0
    assert run("nodeadd", "far", "groups=other", "mac.mac=52:54:00:00:00:78",
               "hosts.ip=192.0.2.1").rc == 0
    assert run("nodeadd", "junk", "groups=other", "mac.mac=52:54:00:00:00",
               "hosts.ip=10.0.0.70").rc == 0
    result = run("makedhcp", "n2,twin,far,junk")
    assert result.rc == 1
    assert result.err == [
        "far: Error: IP address 192.0.2.1 is not on any network in the networks table",
        "junk: Error: malformed MAC address '52:54:00:00:00' in mac.mac",
        "n2: Error: IP address 10.0.0.2 is also hosts.ip of twin",
        "twin: Error: IP address 10.0.0.2 is also hosts.ip of n2"]
    assert reservations(store) == [("n1", "52:54:00:00:00:01", "10.0.0.1")]


def test_node_without_a_mac_is_an_error(cluster, run):
    assert run("nodeadd", "nomac", "groups=other", "hosts.ip=10.0.0.99").rc == 0
    result = run("makedhcp", "nomac")
    assert result.rc == 1 and result.err == ["nomac: Error: no MAC address in mac.mac"]


def test_ipv6_only_node_cannot_get_a_dhcpv4_lease(cluster, run, store):
    assert run("tabch", "net=fd00::,mask=/64", "networks.netname=v6").rc == 0
    assert run("nodeadd", "v6", "groups=other", "mac.mac=52:54:00:00:06:06",
               "hosts.ip=fd00::6").rc == 0
    result = run("makedhcp", "v6,n1")
    assert result.rc == 1
    assert result.err == ["v6: Error: IP address fd00::6 is not IPv4; DHCPv4 cannot give it"]
    assert reservations(store) == []


def test_new_needs_an_ipv4_network_and_reports_what_it_serves(run):
    result = run("makedhcp", "-n")
    assert result.rc == 1 and "no IPv4 network" in result.err[0]
    assert run("tabch", "net=10.0.0.0,mask=255.255.255.0", "networks.netname=prov").rc == 0
    assert run("tabch", "key=dhcpinterfaces", "site.value=eth1").rc == 0
    result = run("makedhcp", "-n")
    assert result.rc == 0 and result.err == []
    assert result.out == ["makedhcp: serving network prov (10.0.0.0/24)"]


@pytest.mark.parametrize("args", [[], ["-n", "-a"], ["-q"], ["-n", "n1"], ["-n", "-d"]])
def test_usage_errors(cluster, run, args):
    result = run("makedhcp", *args)
    assert result.rc != 0 and result.err[0].startswith("Error: makedhcp:")


def test_unknown_backend_is_named(cluster, run):
    assert run("tabch", "key=dhcpbackend", "site.value=windows").rc == 0
    result = run("makedhcp", "n1")
    assert result.rc == 1
    assert result.err == ["Error: site.dhcpbackend 'windows' is not one of "
                          "embedded, isc, kea, dnsmasq"]


@pytest.mark.parametrize("backend,expect", [
    ("isc", ["xcatpy-hosts.conf", "xcatpy-subnets.conf"]),
    ("kea", ["xcatpy-client-classes.json", "xcatpy-subnet4.json"]),
    ("dnsmasq", ["xcatpy-dnsmasq.conf", "xcatpy-hosts.d"])])
def test_foreign_backends_get_the_whole_published_set(cluster, run, store, tmp_path,
                                                      backend, expect):
    outdir = tmp_path / "export"
    assert run("tabch", "key=dhcpbackend", f"site.value={backend}").rc == 0
    assert run("tabch", "key=dhcpexportdir", f"site.value={outdir}").rc == 0
    assert run("makedhcp", "n1").rc == 0
    result = run("makedhcp", "n2")
    assert result.rc == 0, result.err
    assert len(result.out) == 1 and result.out[0].startswith("makedhcp: ")
    assert sorted(p.name for p in outdir.iterdir()) == expect
    text = "".join(p.read_text() for p in outdir.rglob("*") if p.is_file())
    # The export is written from every published lease, not only this command's nodes.
    assert "52:54:00:00:00:01" in text and "52:54:00:00:00:02" in text
    assert "52:54:00:00:00:03" not in text
    assert run("makedhcp", "n1", "-d").rc == 0
    text = "".join(p.read_text() for p in outdir.rglob("*") if p.is_file())
    assert "52:54:00:00:00:01" not in text and "52:54:00:00:00:02" in text
