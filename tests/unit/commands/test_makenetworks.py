"""makenetworks from a given machine's `ip -j` view: which networks, named and filled how."""

import pytest

from xcatpy.commands import makenetworks
from xcatpy.errors import XcatError
from xcatpy.net import interfaces

ADDR = [
    {"ifname": "lo", "flags": ["LOOPBACK", "UP"], "mtu": 65536, "addr_info": [
        {"family": "inet", "local": "127.0.0.1", "prefixlen": 8, "scope": "host"},
        {"family": "inet6", "local": "::1", "prefixlen": 128, "scope": "host"}]},
    {"ifname": "eth0", "flags": ["BROADCAST", "UP"], "mtu": 1500, "addr_info": [
        {"family": "inet", "local": "192.168.1.10", "prefixlen": 24, "scope": "global"},
        {"family": "inet", "local": "192.168.1.11", "prefixlen": 24, "scope": "global",
         "secondary": True},
        {"family": "inet6", "local": "2001:db8:1::10", "prefixlen": 64, "scope": "global"},
        {"family": "inet6", "local": "fe80::1", "prefixlen": 64, "scope": "link"}]},
    {"ifname": "eth1", "flags": ["BROADCAST", "UP"], "mtu": 9000, "addr_info": [
        {"family": "inet", "local": "10.0.0.1", "prefixlen": 16, "scope": "global"},
        {"family": "inet", "local": "169.254.3.3", "prefixlen": 16, "scope": "global"},
        {"family": "inet6", "local": "fd00::1", "prefixlen": 64, "scope": "global"}]},
    {"ifname": "tun0", "flags": ["POINTOPOINT"], "mtu": 1400, "addr_info": [
        {"family": "inet", "local": "172.16.0.5", "prefixlen": 32, "scope": "global"}]},
    {"ifname": "down0", "flags": ["BROADCAST"], "mtu": 1500, "addr_info": []},
]
ROUTE4 = [{"dst": "default", "gateway": "192.168.1.1", "dev": "eth0", "flags": []},
          {"dst": "192.168.1.0/24", "dev": "eth0", "protocol": "kernel", "scope": "link"}]
ROUTE6 = [{"dst": "default", "gateway": "fe80::1", "dev": "eth0"},
          {"dst": "default", "nexthops": [{"gateway": "fd00::fe", "dev": "eth1"}]}]


def fake_ip(addr=ADDR, route4=ROUTE4, route6=ROUTE6):
    def run(*args):
        if args[0] == "addr":
            return addr
        return route4 if args[0] == "-4" else route6
    return run


@pytest.fixture
def machine(monkeypatch):
    def use(**kw):
        monkeypatch.setattr(makenetworks, "read_host_networking",
                            lambda: interfaces.read_host_networking(run=fake_ip(**kw)))
    use()
    return use


def rows(run):
    out = run("tabdump", "networks").out
    return out[1:]


def test_parses_addresses_and_default_routes():
    found = interfaces.parse_addresses(ADDR)
    assert [(a.ifname, str(a.address), str(a.network), a.mtu) for a in found] == [
        ("eth0", "192.168.1.10", "192.168.1.0/24", 1500),
        ("eth0", "192.168.1.11", "192.168.1.0/24", 1500),
        ("eth0", "2001:db8:1::10", "2001:db8:1::/64", 1500),
        ("eth1", "10.0.0.1", "10.0.0.0/16", 9000),
        ("eth1", "fd00::1", "fd00::/64", 9000),
        ("tun0", "172.16.0.5", "172.16.0.5/32", 1400)]
    routes = interfaces.parse_default_routes(ROUTE6)
    assert [(str(r.gateway), r.ifname) for r in routes] == [("fe80::1", "eth0"),
                                                          ("fd00::fe", "eth1")]


def test_creates_xcat_style_rows(run, machine):
    r = run("makenetworks")
    assert (r.rc, r.out, r.err) == (0, [], [])
    assert rows(run) == [
        '"10_0_0_0-255_255_0_0","10.0.0.0","255.255.0.0","eth1","<xcatmaster>",,'
        '"<xcatmaster>",,,,,,,,,,,"9000",,',
        '"192_168_1_0-255_255_255_0","192.168.1.0","255.255.255.0","eth0","192.168.1.1",,'
        '"<xcatmaster>",,,,,,,,,,,"1500",,',
        '"2001:db8:1::/64","2001:db8:1::","/64","eth0",,,,,,,,,,,,,,"1500",,',
        '"fd00::/64","fd00::","/64","eth1","fd00::fe",,,,,,,,,,,,,"9000",,']
    assert run("makenetworks").rc == 0        # nothing new the second time
    assert len(rows(run)) == 4


def test_equivalent_definitions_are_left_alone(run, machine):
    assert run("tabch", "net=10.0.0.0,mask=/16", "networks.netname=prov",
               "networks.gateway=10.0.255.254").rc == 0
    r = run("makenetworks")
    assert (r.rc, r.err) == (0, [])
    table = rows(run)
    assert table[0] == '"prov","10.0.0.0","/16",,"10.0.255.254",,,,,,,,,,,,,,,'
    assert len(table) == 4 and not any("10_0_0_0" in row for row in table)


def test_netname_taken_by_another_network_is_a_warning(run, machine):
    assert run("tabch", "net=10.9.0.0,mask=255.255.0.0",
               "networks.netname=192_168_1_0-255_255_255_0").rc == 0
    r = run("makenetworks")
    assert r.rc == 0
    assert r.err == ["Warning: The network entry '192_168_1_0-255_255_255_0' already exists in "
                     "xCAT networks table. Cannot create a definition for "
                     "'192_168_1_0-255_255_255_0'"]
    assert not any('"192.168.1.0"' in row for row in rows(run))


def test_display_prints_stanzas_and_writes_nothing(run, machine, monkeypatch):
    monkeypatch.setattr(makenetworks.socket, "gethostname", lambda: "head")
    assert run("tabch", "net=192.168.1.0,mask=255.255.255.0", "networks.netname=lan").rc == 0
    r = run("makenetworks", "--display")
    assert r.rc == 0
    text = "\n".join(r.out)
    assert text.startswith("# <xCAT data object stanza file>\n\n#From head.\n"
                           "10_0_0_0-255_255_0_0:\n    objtype=network\n"
                           "    gateway=<xcatmaster>\n    mask=255.255.0.0\n"
                           "    mgtifname=eth1\n    mtu=9000\n    net=10.0.0.0\n"
                           "    tftpserver=<xcatmaster>\n")
    assert ("192_168_1_0-255_255_255_0:\n    objtype=network\n    gateway=192.168.1.1\n"
            "    mask=255.255.255.0\n    mgtifname=eth0\n    mtu=1500\n    net=192.168.1.0\n"
            "    tftpserver=<xcatmaster>\n"
            "# Note: An equivalent xCAT network definition already exists.") in text
    assert "fd00::/64:\n    objtype=network\n    gateway=fd00::fe\n" in text
    assert len(rows(run)) == 1


def test_default_route_off_the_subnet_is_not_its_gateway(run, machine):
    machine(route4=[{"dst": "default", "gateway": "10.0.0.254", "dev": "eth0"}])
    assert run("makenetworks").rc == 0
    table = rows(run)
    assert '"192.168.1.0","255.255.255.0","eth0","<xcatmaster>"' in table[1]
    # A gateway on eth1's subnet but routed through eth0 does not make eth1's gateway.
    assert '"10.0.0.0","255.255.0.0","eth1","<xcatmaster>"' in table[0]


def test_no_interfaces_no_rows(run, machine):
    machine(addr=ADDR[:1], route4=[], route6=[])
    r = run("makenetworks")
    assert (r.rc, r.out, r.err, rows(run)) == (0, [], [], [])


def test_ip_failure_is_one_line(run, monkeypatch):
    def broken():
        raise XcatError("Could not get network information: the ip command (iproute2) is "
                        "not installed")
    monkeypatch.setattr(makenetworks, "read_host_networking", broken)
    r = run("makenetworks")
    assert r.rc == 1
    assert r.err == ["Error: Could not get network information: the ip command (iproute2) is "
                     "not installed"]


def test_run_ip_reports_a_failing_command(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(XcatError, match="the ip command \\(iproute2\\) is not installed"):
        interfaces.run_ip("addr", "show")


def test_usage(run):
    r = run("makenetworks", "-x")
    assert r.rc == 1 and r.err[0].startswith("Error: makenetworks:")
