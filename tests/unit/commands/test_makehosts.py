"""makehosts: the hosts file from hosts.ip, names and domains (never the real /etc/hosts)."""

import pytest

from xcatpy.commands import makehosts
from xcatpy.commands.base import Context, ListOutput, Request

EXISTING = """\
127.0.0.1 localhost
# keep me
10.0.0.2 n2 n2.old.test
192.168.9.9 printer
::1 localhost ip6-localhost
"""


@pytest.fixture
def hosts(run, tmp_path):
    path = tmp_path / "etc" / "hosts"
    path.parent.mkdir()
    path.write_text(EXISTING)
    path.chmod(0o640)
    assert run("tabch", "key=hostsfile", f"site.value={path}").rc == 0
    assert run("tabch", "key=domain", "site.value=site.test").rc == 0
    assert run("tabch", "net=10.0.0.0,mask=255.255.255.0", "networks.netname=prov",
               "networks.domain=c.test").rc == 0
    assert run("nodeadd", "n1-n3", "groups=compute,all",
               "hosts.ip=|n(\\d+)|10.0.0.($1+0)|").rc == 0
    assert run("nodech", "n1", "hosts.hostnames=n1-alias",
               "hosts.otherinterfaces=-ib0:10.5.0.1,bmc-n1!10.0.0.101").rc == 0
    return path


def test_writes_all_nodes_keeping_every_other_line(run, hosts):
    r = run("makehosts")
    assert (r.rc, r.out, r.err) == (0, [], [])
    assert hosts.read_text() == """\
127.0.0.1 localhost
# keep me
10.0.0.2 n2 n2.c.test
192.168.9.9 printer
::1 localhost ip6-localhost
10.0.0.1 n1 n1.c.test n1-alias
10.5.0.1 n1-ib0 n1-ib0.c.test
10.0.0.101 bmc-n1 bmc-n1.c.test
10.0.0.3 n3 n3.c.test
"""
    assert hosts.stat().st_mode & 0o777 == 0o640
    assert hosts.with_name("hosts.xcatbak").read_text() == EXISTING


def test_noderange_and_long_name_first(run, hosts):
    assert run("makehosts", "-l", "n3").rc == 0
    assert hosts.read_text() == EXISTING + "10.0.0.3 n3.c.test n3\n"
    assert run("makehosts", "n3").rc == 0     # the same line, in place
    assert hosts.read_text() == EXISTING + "10.0.0.3 n3 n3.c.test\n"


def test_site_fqdnfirst_and_other_options(run, hosts):
    assert run("tabch", "key=FQDNfirst", "site.value=yes").rc == 0
    assert run("makehosts", "n2").rc == 0
    assert "10.0.0.2 n2.c.test n2\n" in hosts.read_text()
    assert run("tabch", "key=FQDNfirst", "site.value=").rc == 0
    assert run("makehosts", "-o", "-a", "n1").rc == 0
    assert "10.0.0.1 n1-alias.c.test n1-alias n1.c.test n1\n" in hosts.read_text()


def test_new_file_keeps_loopback_and_backs_up(run, hosts):
    assert run("makehosts", "-n", "n1").rc == 0
    assert hosts.read_text() == """\
127.0.0.1 localhost
::1 localhost ip6-localhost
10.0.0.1 n1 n1.c.test n1-alias
10.5.0.1 n1-ib0 n1-ib0.c.test
10.0.0.101 bmc-n1 bmc-n1.c.test
"""
    assert hosts.with_name("hosts.xcatbak").read_text() == EXISTING


def test_delete_removes_the_nodes_and_their_interfaces(run, hosts):
    assert run("makehosts").rc == 0
    assert run("makehosts", "-d", "n1,n2").rc == 0
    assert hosts.read_text() == """\
127.0.0.1 localhost
# keep me
192.168.9.9 printer
::1 localhost ip6-localhost
10.0.0.3 n3 n3.c.test
"""


def test_delete_needs_a_noderange(run, hosts):
    r = run("makehosts", "-d")
    assert r.rc == 1 and r.err[0] == "Error: makehosts: -d needs a noderange"


def test_node_without_address_is_skipped_with_xcats_warning(run, hosts):
    assert run("nodeadd", "noip", "groups=all").rc == 0
    r = run("makehosts", "noip,n3")
    assert r.rc == 0
    assert r.err == ["Warning: Ignoring node 'noip', it can not be resolved."]
    assert hosts.read_text() == EXISTING + "10.0.0.3 n3 n3.c.test\n"


def test_node_without_domain_gets_its_short_name(run, hosts):
    assert run("tabch", "-d", "key=domain", "site").rc == 0
    assert run("nodeadd", "far", "groups=all", "hosts.ip=192.0.2.5").rc == 0
    assert run("makehosts", "far").rc == 0
    assert hosts.read_text().endswith("192.0.2.5 far\n")


@pytest.mark.parametrize("setup, error", [
    (("nodech", "n3", "hosts.ip=10.0.0.1"),
     "n3: Error: IP address 10.0.0.1 is also hosts.ip of n1"),
    (("nodech", "n3", "hosts.ip=10.0.0.300"),
     "n3: Error: malformed IP address '10.0.0.300' in hosts.ip"),
    (("nodech", "n3", "hosts.otherinterfaces=-eth1:10.0.1.x"),
     "n3: Error: malformed IP address '10.0.1.x' in hosts.otherinterfaces"),
    (("nodech", "n3", "hosts.otherinterfaces=eth1only"),
     "n3: Error: malformed entry 'eth1only' in hosts.otherinterfaces (expected <name>:<ip> "
     "or -<suffix>:<ip>)"),
    (("nodech", "n3", "hosts.otherinterfaces=-eth1:10.0.0.1"),
     "n3: Error: IP address 10.0.0.1 of n3-eth1 is also the address of n1"),
])
def test_bad_addresses_fail_and_leave_the_file_alone(run, hosts, setup, error):
    assert run(*setup).rc == 0
    r = run("makehosts")
    assert r.rc == 1
    assert error in r.err
    assert hosts.read_text() == EXISTING
    assert not hosts.with_name("hosts.xcatbak").exists()


def test_missing_file_is_created(run, hosts):
    hosts.unlink()
    assert run("makehosts", "n3").rc == 0
    assert hosts.read_text() == "10.0.0.3 n3 n3.c.test\n"
    assert not hosts.with_name("hosts.xcatbak").exists()


def test_relative_hostsfile_is_refused(run, hosts):
    assert run("tabch", "key=hostsfile", "site.value=etc/hosts").rc == 0
    r = run("makehosts")
    assert r.rc == 1 and r.err == ["Error: site.hostsfile 'etc/hosts' is not an absolute path"]


def test_default_target_is_etc_hosts(store):
    ctx = Context(Request("makehosts", []), ListOutput(), store)
    assert str(makehosts.hosts_path(ctx)) == "/etc/hosts"


def test_help(run):
    r = run("makehosts", "-h")
    assert r.rc == 0 and r.out[0].startswith("Usage:")
