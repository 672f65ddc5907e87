"""xcatd's settings: flag over config file over default, 'off' turns a service off."""

import pytest

from xcatpy.errors import XcatError
from xcatpy.server.daemon import parse_args, resolve


def settings(tmp_path, *argv, conf: str | None = None):
    args = ["--state-dir", str(tmp_path / "state"), "--port", "3001",
            "--monitor-port", "3002"]
    if conf is not None:
        path = tmp_path / "xcatd.conf"
        path.write_text("[xcatd]\n" + conf)
        args += ["--config", str(path)]
    return resolve(parse_args([*args, *argv]))[0]


def test_defaults_are_the_real_ports_and_no_dhcp_interface(tmp_path):
    s = settings(tmp_path)
    assert (s.dns_port, s.dhcp_port, s.dhcp_client_port, s.dhcp_proxy_port) == (53, 67, 68,
                                                                                  4011)
    # None: the DHCP service reads site.dhcpinterfaces, which is unset on a fresh database.
    assert s.dhcp_interfaces is None


def test_flags_override_the_config_file(tmp_path):
    s = settings(tmp_path, "--dns-port", "5353", "--dhcp-interfaces", "veth0, veth1",
                 conf="dns_port = off\ndhcp_port = 1067\ndhcp_proxy_port = off\n"
                      "dhcp_interfaces = eth9\n")
    assert s.dns_port == 5353 and s.dhcp_port == 1067 and s.dhcp_proxy_port is None
    assert s.dhcp_interfaces == ["veth0", "veth1"]


def test_off_disables_and_garbage_is_named(tmp_path):
    assert settings(tmp_path, "--dhcp-port", "off").dhcp_port is None
    with pytest.raises(XcatError, match="Invalid dns_port '99999'"):
        settings(tmp_path, "--dns-port", "99999")
    with pytest.raises(XcatError, match="dhcp_port 'x'"):
        settings(tmp_path, conf="dhcp_port = x\n")
