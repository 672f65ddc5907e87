"""ipmi.bmc parsing, login precedence (ipmi row, group, passwd, defaults) and site settings."""

import pytest

from xcatpy.db.attrs import NodeAttrs
from xcatpy.drivers.base import DriverError
from xcatpy.drivers.ipmi.credentials import (
    BmcTarget,
    IpmiSettings,
    node_target,
    parse_bmc_address,
    settings_from_site,
)


@pytest.mark.parametrize("value, expected", [
    ("10.0.0.5", ("10.0.0.5", 623)),
    ("10.0.0.5:6230", ("10.0.0.5", 6230)),
    ("bmc-r1n1", ("bmc-r1n1", 623)),
    ("bmc-r1n1:1623", ("bmc-r1n1", 1623)),
    ("fd00::5", ("fd00::5", 623)),
    ("[fd00::5]", ("fd00::5", 623)),
    ("[fd00::5]:6230", ("fd00::5", 6230)),
    (" 10.0.0.5 , 10.0.0.6", ("10.0.0.5", 623)),  # multi-node chassis: the first BMC
])
def test_parse_bmc_address(value, expected):
    assert parse_bmc_address(value) == expected


@pytest.mark.parametrize("value, message", [
    ("", "ipmi.bmc is not set"),
    ("10.0.0.5:", "empty port"),
    ("10.0.0.5:http", "invalid port 'http'"),
    ("10.0.0.5:70000", "invalid port '70000'"),
    ("10.0.0.5:0", "invalid port '0'"),
    ("[fd00::5", "is not host, host:port or [v6addr]:port"),
    ("[fd00::5]6230", "is not host, host:port or [v6addr]:port"),
    ("[fd00::5]:", "empty port"),
    (":623", "has no host"),
])
def test_malformed_bmc_address_names_the_value(value, message):
    with pytest.raises(DriverError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_bmc_address(value)


@pytest.mark.parametrize("host, port, label", [
    ("10.0.0.5", 623, "10.0.0.5"),
    ("10.0.0.5", 6230, "10.0.0.5:6230"),
    ("fd00::5", 6230, "[fd00::5]:6230"),
    ("fd00::5", 623, "fd00::5"),
])
def test_label_writes_the_bmc_as_users_do(host, port, label):
    assert BmcTarget(host, port, "u", "p").label == label


def test_login_precedence_node_then_group_then_passwd_then_defaults(run, store):
    assert run("nodeadd", "n1,n2,n3", "groups=compute", "ipmi.bmc=10.0.0.5").rc == 0
    assert run("nodeadd", "lone", "groups=other", "ipmi.bmc=10.0.0.9:6230").rc == 0
    attrs = NodeAttrs(store)
    lone = node_target(attrs, "lone")
    assert (lone.username, lone.password, lone.port) == ("USERID", "PASSW0RD", 6230)

    assert run("tabch", "key=ipmi,username=admin", "passwd.password=fromtab").rc == 0
    assert run("tabch", "node=compute", "ipmi.password=grouppw").rc == 0
    assert run("tabch", "node=n2", "ipmi.username=n2user", "ipmi.password=n2pw").rc == 0
    attrs = NodeAttrs(store)
    assert (node_target(attrs, "n1").username, node_target(attrs, "n1").password) == (
        "admin", "grouppw")
    assert (node_target(attrs, "n2").username, node_target(attrs, "n2").password) == (
        "n2user", "n2pw")
    assert (node_target(attrs, "lone").username, node_target(attrs, "lone").password) == (
        "admin", "fromtab")


def test_missing_bmc_is_the_users_error(run, store):
    assert run("nodeadd", "n1", "groups=compute").rc == 0
    with pytest.raises(DriverError, match="^ipmi.bmc is not set$"):
        node_target(NodeAttrs(store), "n1")


def test_unresolvable_bmc_name_is_looked_up_once(run, store, monkeypatch):
    assert run("nodeadd", "n1,n2", "groups=compute", "ipmi.bmc=nosuch-bmc.invalid").rc == 0
    import socket

    calls = []

    def failing_lookup(*args, **kwargs):
        calls.append(args[0])
        raise socket.gaierror("not found")

    monkeypatch.setattr(socket, "getaddrinfo", failing_lookup)
    attrs, cache = NodeAttrs(store), {}
    for node in ("n1", "n2"):
        with pytest.raises(DriverError, match="cannot resolve BMC address 'nosuch-bmc.invalid'"):
            node_target(attrs, node, cache)
    assert calls == ["nosuch-bmc.invalid"]


def test_numeric_bmc_needs_no_lookup(run, store):
    assert run("nodeadd", "n1", "groups=compute", "ipmi.bmc=[fd00::5]:6230").rc == 0
    target = node_target(NodeAttrs(store), "n1")
    assert (target.address, target.port, target.key) == ("fd00::5", 6230, ("fd00::5", 6230))


def test_site_settings_and_deadline(run, store):
    settings = settings_from_site(NodeAttrs(store))
    assert settings == IpmiSettings(64, 2.0, 3)  # the site table's seeded xCAT defaults
    assert settings.deadline == 6.0
    for key, value in (("ipmimaxp", "8"), ("ipmitimeout", "0.5"), ("ipmiretries", "4")):
        assert run("tabch", f"key={key}", f"site.value={value}").rc == 0
    settings = settings_from_site(NodeAttrs(store))
    assert (settings.maxp, settings.timeout, settings.tries, settings.deadline) == (
        8, 0.5, 4, 2.0)


@pytest.mark.parametrize("value", ["", "junk", "0", "-3", "inf", "nan"])
def test_unusable_site_values_fall_back_to_defaults(run, store, value):
    for key in ("ipmimaxp", "ipmitimeout", "ipmiretries"):
        assert run("tabch", f"key={key}", f"site.value={value}").rc == 0
    assert settings_from_site(NodeAttrs(store)) == IpmiSettings(64, 2.0, 3)
