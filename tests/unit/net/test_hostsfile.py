"""The hosts file as makehosts edits it: names in xCAT's order, lines replaced in place."""

import pytest

from xcatpy.net.hostsfile import HostLine, HostsFile, build_names


@pytest.mark.parametrize("kw, names", [
    ({}, ("n1", "n1.c.test", "a1", "a2")),
    ({"longname_first": True}, ("n1.c.test", "n1", "a1", "a2")),
    ({"othernames_first": True}, ("a1", "a2", "n1.c.test", "n1")),
    ({"add_domain": True}, ("n1", "n1.c.test", "a1.c.test", "a2.c.test", "a1", "a2")),
])
def test_name_order_options(kw, names):
    assert build_names("n1", "c.test", ("a1", "a2"), **kw) == names


def test_aliases_that_are_the_node_or_a_long_name():
    # The node's own FQDN, or else the first alias with a dot, is the long name (xCAT).
    assert build_names("n1", "c.test", ("n1", "n1.c.test", "x")) == ("n1", "n1.c.test", "x")
    assert build_names("n1", "c.test", ("n1.other.org", "b.c")) == ("n1", "n1.other.org", "b.c")


def test_node_named_with_its_domain_and_without_any_domain():
    assert build_names("n1.c.test", "c.test") == ("n1", "n1.c.test")
    assert build_names("n1", None, ("a",)) == ("n1", "a")
    with pytest.raises(ValueError, match=r"Invalid short node name 'n1.x'\. The short node "
                                         r"name may not contain a dot"):
        build_names("n1.x", "c.test")


ORIGINAL = """\
127.0.0.1 localhost
# rack 1
10.0.0.1   n1 n1.old.test   # stale
192.168.1.5 printer
10.0.0.10 n10
10.0.0.3 n3.c.test n3
::1 localhost ip6-localhost
"""


def line(name, ip, *names):
    return HostLine(name, ip, names or (name,))


def test_set_replaces_in_place_and_appends_new_hosts():
    hosts = HostsFile(ORIGINAL)
    hosts.set(line("n1", "10.0.0.1", "n1", "n1.c.test"))
    hosts.set(line("n3", "10.0.0.33", "n3", "n3.c.test"))    # long-name-first line, new IP
    hosts.set(line("n4", "10.0.0.4"))
    assert hosts.text() == """\
127.0.0.1 localhost
# rack 1
10.0.0.1 n1 n1.c.test
192.168.1.5 printer
10.0.0.10 n10
10.0.0.33 n3 n3.c.test
::1 localhost ip6-localhost
10.0.0.4 n4
"""


def test_set_by_address_drops_the_hosts_other_lines():
    hosts = HostsFile("10.0.0.1 old-name\n# x\n10.0.0.9 n1\n")
    hosts.set(line("n1", "10.0.0.1", "n1"))
    assert hosts.text() == "10.0.0.1 n1\n# x\n"


def test_addresses_compare_in_canonical_form():
    hosts = HostsFile("fd00:0::5 v1\n")
    hosts.set(line("v1b", "fd00::5", "v1b"))
    assert hosts.text() == "fd00::5 v1b\n"


def test_delete_by_name_or_address_leaves_similar_names():
    hosts = HostsFile(ORIGINAL)
    assert hosts.delete("n1", "10.0.0.1") == 1
    assert hosts.delete("n3") == 1
    assert hosts.delete("ghost", "10.9.9.9") == 0
    assert "n10" in hosts.text() and "n1 " not in hosts.text() and "n3" not in hosts.text()


def test_start_over_keeps_loopback_lines_or_writes_localhost():
    hosts = HostsFile(ORIGINAL + "127.0.1.1 head\n")
    hosts.start_over()
    assert hosts.text() == "127.0.0.1 localhost\n::1 localhost ip6-localhost\n127.0.1.1 head\n"
    empty = HostsFile("10.0.0.1 n1\n")
    empty.start_over()
    assert empty.text() == "127.0.0.1 localhost\n"


def test_unparsable_lines_are_kept_untouched():
    text = "garbage line here\nnot-an-ip n1\n\n   \n"
    hosts = HostsFile(text)
    hosts.set(line("n1", "10.0.0.1"))
    assert hosts.text() == text + "10.0.0.1 n1\n"
