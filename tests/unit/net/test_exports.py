"""DHCP exports for ISC dhcpd, Kea and dnsmasq: their text, their checks, how they are written."""

import json
import os
from pathlib import Path

import netaddr
import pytest

from xcatpy.errors import XcatError
from xcatpy.net.exports import BACKENDS, export_dhcp, files, kea, reload_hint
from xcatpy.net.networks import network_from_row

LOCAL = [netaddr.IPAddress("10.0.0.1"), netaddr.IPAddress("10.1.0.1")]
SITE = {"domain": "site.test", "dhcplease": "3600", "master": "10.0.0.1",
        "nameservers": "10.0.0.1", "httpport": "8080"}


def networks(**overrides):
    prov = dict(netname="prov", net="10.0.0.0", mask="255.255.255.0", mgtifname="eth1",
                gateway="<xcatmaster>", nameservers="<xcatmaster>,10.0.0.53",
                domain="cluster.test", dynamicrange="10.0.0.200-10.0.0.250", mtu="9000")
    prov.update(overrides)
    return [network_from_row(prov),
            network_from_row(dict(netname="bmc", net="10.1.0.0", mask="255.255.0.0",
                                  mgtifname="eth2", gateway="10.1.255.254")),
            network_from_row(dict(netname="v6", net="fd00::", mask="/64"))]


def reservations():
    return [
        {"mac": "52:54:00:00:00:02", "node": "n1", "ip": "10.0.0.11", "hostname": "n1"},
        {"mac": "52-54-00-00-00-01", "node": "n1", "ip": "10.0.0.11", "hostname": "n1"},
        {"mac": "52:54:00:00:00:03", "node": "n2", "ip": "10.0.0.12", "hostname": None},
        {"mac": "52:54:00:00:00:04", "node": "n3", "ip": "10.1.0.13", "hostname": "n3"},
        {"mac": "52:54:00:00:00:05", "node": "n3", "ip": "10.1.0.113", "hostname": "n3-bmc"},
    ]


def export(backend, outdir, res=None, nets=None, site=None, **kw):
    kw.setdefault("local_addresses", LOCAL)
    return export_dhcp(backend, reservations() if res is None else res,
                       networks() if nets is None else nets, site or SITE, outdir, **kw)


def body(text: str, comment: str = "#") -> str:
    """The file without its header comment."""
    lines = text.splitlines()
    while lines and (lines[0].startswith(comment) or not lines[0]):
        lines.pop(0)
    return "\n".join(lines) + "\n"


ISC_SUBNETS = """\
option xcatpy-client-arch code 93 = unsigned integer 16;

subnet 10.0.0.0 netmask 255.255.255.0 {  # prov
  default-lease-time 3600;
  max-lease-time 3600;
  option routers 10.0.0.1;
  option domain-name "cluster.test";
  option domain-name-servers 10.0.0.1, 10.0.0.53;
  option interface-mtu 9000;
  range 10.0.0.200 10.0.0.250;
  next-server 10.0.0.1;
  if exists user-class and option user-class = "iPXE" {
    filename "http://10.0.0.1:8080/xcatpy/v1/boot/ipxe";
  } elsif option xcatpy-client-arch = 00:07 or option xcatpy-client-arch = 00:09 {
    filename "ipxe.efi";
  } elsif option xcatpy-client-arch = 00:00 {
    filename "pxelinux.0";
  }
}

subnet 10.1.0.0 netmask 255.255.0.0 {  # bmc
  default-lease-time 3600;
  max-lease-time 3600;
  option routers 10.1.255.254;
  option domain-name "site.test";
  option domain-name-servers 10.0.0.1;
  next-server 10.1.0.1;
  if exists user-class and option user-class = "iPXE" {
    filename "http://10.1.0.1:8080/xcatpy/v1/boot/ipxe";
  } elsif option xcatpy-client-arch = 00:07 or option xcatpy-client-arch = 00:09 {
    filename "ipxe.efi";
  } elsif option xcatpy-client-arch = 00:00 {
    filename "pxelinux.0";
  }
}
"""

ISC_HOSTS = """\
host n1 {
  hardware ethernet 52:54:00:00:00:01;
  fixed-address 10.0.0.11;
  option host-name "n1";
}
host n1-525400000002 {
  hardware ethernet 52:54:00:00:00:02;
  fixed-address 10.0.0.11;
  option host-name "n1";
}
host n2 {
  hardware ethernet 52:54:00:00:00:03;
  fixed-address 10.0.0.12;
  option host-name "n2";
}
host n3 {
  hardware ethernet 52:54:00:00:00:04;
  fixed-address 10.1.0.13;
  option host-name "n3";
}
host n3-bmc {
  hardware ethernet 52:54:00:00:00:05;
  fixed-address 10.1.0.113;
  option host-name "n3-bmc";
}
"""


def test_isc_golden(tmp_path):
    written = export("isc", tmp_path)
    assert written == [tmp_path / "xcatpy-subnets.conf", tmp_path / "xcatpy-hosts.conf"]
    subnets = (tmp_path / "xcatpy-subnets.conf").read_text()
    assert f'#   include "{tmp_path}/xcatpy-subnets.conf";' in subnets
    assert body(subnets) == ISC_SUBNETS
    assert body((tmp_path / "xcatpy-hosts.conf").read_text()) == ISC_HOSTS


def test_isc_subnets_on_one_interface_share_a_network(tmp_path):
    nets = networks(mgtifname="eth2")
    export("isc", tmp_path, nets=nets)
    text = (tmp_path / "xcatpy-subnets.conf").read_text()
    assert 'shared-network "eth2" {\n  subnet 10.0.0.0 netmask 255.255.255.0 {  # prov' in text
    assert text.count("shared-network") == 1
    assert text.rstrip().endswith("  }\n}")


def test_isc_quotes_strings_and_makes_declaration_names_safe(tmp_path):
    res = [{"mac": "52:54:00:00:00:09", "node": "odd", "ip": "10.0.0.9",
            "hostname": 'we"ird name'}]
    export("isc", tmp_path, res=res)
    text = (tmp_path / "xcatpy-hosts.conf").read_text()
    assert "host we-ird-name {" in text
    assert 'option host-name "we\\"ird name";' in text


def test_kea_subnets_reservations_and_classes(tmp_path):
    written = export("kea", tmp_path)
    assert written == [tmp_path / "xcatpy-client-classes.json",
                       tmp_path / "xcatpy-subnet4.json"]
    text = (tmp_path / "xcatpy-subnet4.json").read_text()
    assert '"ip-reservations-unique": false' in text  # n1 has two MACs for one address
    subnets = json.loads(body(text, "//"))
    assert [s["subnet"] for s in subnets] == ["10.0.0.0/24", "10.1.0.0/16"]
    prov, bmc = subnets
    assert prov["id"] == int(netaddr.IPAddress("10.0.0.0"))
    assert prov["valid-lifetime"] == 3600
    assert prov["pools"] == [{"pool": "10.0.0.200 - 10.0.0.250"}]
    assert prov["next-server"] == "10.0.0.1"
    assert {o["name"]: o["data"] for o in prov["option-data"]} == {
        "routers": "10.0.0.1", "domain-name-servers": "10.0.0.1, 10.0.0.53",
        "domain-name": "cluster.test", "interface-mtu": "9000"}
    assert prov["reservations"] == [
        {"hw-address": "52:54:00:00:00:01", "ip-address": "10.0.0.11", "hostname": "n1"},
        {"hw-address": "52:54:00:00:00:02", "ip-address": "10.0.0.11", "hostname": "n1"},
        {"hw-address": "52:54:00:00:00:03", "ip-address": "10.0.0.12", "hostname": "n2"}]
    assert [r["hostname"] for r in bmc["reservations"]] == ["n3", "n3-bmc"]
    assert bmc["pools"] == []
    classes = json.loads(body((tmp_path / "xcatpy-client-classes.json").read_text(), "//"))
    by_name = {c["name"]: c for c in classes}
    assert prov["require-client-classes"] == [f"xcatpy-{prov['id']}-{k}"
                                              for k in ("ipxe", "efi64", "bios")]
    ipxe = by_name[f"xcatpy-{prov['id']}-ipxe"]
    assert ipxe == {"name": ipxe["name"], "only-if-required": True,
                    "test": "substring(option[77].hex,0,4) == 'iPXE'",
                    "boot-file-name": "http://10.0.0.1:8080/xcatpy/v1/boot/ipxe"}
    efi = by_name[f"xcatpy-{prov['id']}-efi64"]
    assert efi["test"].startswith("(option[93].hex == 0x0007 or option[93].hex == 0x0009) "
                                  "and not (")
    assert efi["boot-file-name"] == "ipxe.efi"
    assert by_name[f"xcatpy-{bmc['id']}-bios"]["boot-file-name"] == "pxelinux.0"


def test_kea_header_asks_for_non_unique_reservations_only_when_needed(tmp_path):
    export("kea", tmp_path, res=reservations()[2:])
    assert "ip-reservations-unique" not in (tmp_path / "xcatpy-subnet4.json").read_text()


def test_kea_subnet_ids_are_stable_and_unique_for_nested_networks():
    from xcatpy.net.exports.model import build_subnets

    nets = [network_from_row(dict(netname="wide", net="10.0.0.0", mask="255.255.0.0")),
            network_from_row(dict(netname="narrow", net="10.0.0.0", mask="255.255.255.0"))]
    ids = kea.subnet_ids(build_subnets(nets, SITE, LOCAL))
    base = int(netaddr.IPAddress("10.0.0.0"))
    assert sorted(ids.values()) == [base, base + 1]
    more = nets + [network_from_row(dict(netname="x", net="10.9.0.0", mask="255.255.0.0"))]
    assert {k: v for k, v in kea.subnet_ids(build_subnets(more, SITE, LOCAL)).items()
            if k in ids} == ids


DNSMASQ_SUBNETS = """\
# prov (10.0.0.0/24)
dhcp-range=set:xcatpy_10_0_0_0_24,10.0.0.200,10.0.0.250,255.255.255.0,3600
dhcp-option=tag:xcatpy_10_0_0_0_24,option:router,10.0.0.1
dhcp-option=tag:xcatpy_10_0_0_0_24,option:dns-server,10.0.0.1,10.0.0.53
dhcp-option=tag:xcatpy_10_0_0_0_24,option:domain-name,cluster.test
dhcp-option=tag:xcatpy_10_0_0_0_24,option:mtu,9000
dhcp-boot=tag:xcatpy_10_0_0_0_24,tag:xcatpy_ipxe,http://10.0.0.1:8080/xcatpy/v1/boot/ipxe
dhcp-boot=tag:xcatpy_10_0_0_0_24,tag:!xcatpy_ipxe,tag:xcatpy_efi64,ipxe.efi,,10.0.0.1
dhcp-boot=tag:xcatpy_10_0_0_0_24,tag:!xcatpy_ipxe,tag:xcatpy_bios,pxelinux.0,,10.0.0.1

# bmc (10.1.0.0/16)
dhcp-range=set:xcatpy_10_1_0_0_16,10.1.0.0,static,255.255.0.0,3600
dhcp-option=tag:xcatpy_10_1_0_0_16,option:router,10.1.255.254
dhcp-option=tag:xcatpy_10_1_0_0_16,option:dns-server,10.0.0.1
dhcp-option=tag:xcatpy_10_1_0_0_16,option:domain-name,site.test
dhcp-boot=tag:xcatpy_10_1_0_0_16,tag:xcatpy_ipxe,http://10.1.0.1:8080/xcatpy/v1/boot/ipxe
dhcp-boot=tag:xcatpy_10_1_0_0_16,tag:!xcatpy_ipxe,tag:xcatpy_efi64,ipxe.efi,,10.1.0.1
dhcp-boot=tag:xcatpy_10_1_0_0_16,tag:!xcatpy_ipxe,tag:xcatpy_bios,pxelinux.0,,10.1.0.1
"""


def test_dnsmasq_golden(tmp_path):
    written = export("dnsmasq", tmp_path)
    hostsdir = tmp_path / "xcatpy-hosts.d"
    assert written == [tmp_path / "xcatpy-dnsmasq.conf", hostsdir / "n1", hostsdir / "n2",
                       hostsdir / "n3"]
    conf = (tmp_path / "xcatpy-dnsmasq.conf").read_text()
    head, _, subnets = conf.partition("\n\n")
    assert head.splitlines()[-5:] == [
        f"dhcp-hostsdir={hostsdir}", "dhcp-userclass=set:xcatpy_ipxe,iPXE",
        "dhcp-match=set:xcatpy_efi64,option:client-arch,7",
        "dhcp-match=set:xcatpy_efi64,option:client-arch,9",
        "dhcp-match=set:xcatpy_bios,option:client-arch,0"]
    assert subnets == DNSMASQ_SUBNETS
    # Two MACs sharing an address go on one line: dnsmasq refuses a second dhcp-host for it.
    assert (hostsdir / "n1").read_text() == "52:54:00:00:00:01,52:54:00:00:00:02,10.0.0.11,n1\n"
    assert (hostsdir / "n2").read_text() == "52:54:00:00:00:03,10.0.0.12,n2\n"
    assert (hostsdir / "n3").read_text() == ("52:54:00:00:00:04,10.1.0.13,n3\n"
                                             "52:54:00:00:00:05,10.1.0.113,n3-bmc\n")


def test_dnsmasq_leaves_out_a_host_name_it_would_refuse(tmp_path):
    res = [{"mac": "52:54:00:00:00:09", "node": "odd", "ip": "10.0.0.9", "hostname": "-x y"}]
    export("dnsmasq", tmp_path, res=res)
    assert (tmp_path / "xcatpy-hosts.d" / "odd").read_text() == "52:54:00:00:00:09,10.0.0.9\n"


def test_dnsmasq_changed_nodes_rewrites_only_those(tmp_path):
    export("dnsmasq", tmp_path)
    hostsdir = tmp_path / "xcatpy-hosts.d"
    os.utime(hostsdir / "n1", (1, 1))
    res = [r for r in reservations() if r["node"] != "n2"]
    res[0] = dict(res[0], ip="10.0.0.21")   # n1 changed, but only n2 is named
    written = export("dnsmasq", tmp_path, res=res, changed_nodes={"n2"})
    assert written == [hostsdir / "n2"]
    assert not (hostsdir / "n2").exists()
    assert (hostsdir / "n1").stat().st_mtime == 1
    written = export("dnsmasq", tmp_path, res=res, changed_nodes={"n1", "ghost"})
    assert written == [hostsdir / "n1"]
    assert "10.0.0.21" in (hostsdir / "n1").read_text()


def test_dnsmasq_full_export_removes_files_of_unpublished_nodes_only(tmp_path):
    hostsdir = tmp_path / "xcatpy-hosts.d"
    hostsdir.mkdir()
    (hostsdir / "gone").write_text("52:54:00:00:00:99,10.0.0.99,gone\n")
    (hostsdir / ".n1.abc.tmp").write_text("half")
    (hostsdir / "backup~").write_text("x")
    written = export("dnsmasq", tmp_path)
    assert hostsdir / "gone" in written and not (hostsdir / "gone").exists()
    assert (hostsdir / ".n1.abc.tmp").exists() and (hostsdir / "backup~").exists()


def test_dnsmasq_refuses_a_node_name_it_could_not_read(tmp_path):
    res = [{"mac": "52:54:00:00:00:09", "node": ".hidden", "ip": "10.0.0.9"}]
    with pytest.raises(XcatError, match="node name '.hidden' cannot be a file name"):
        export("dnsmasq", tmp_path, res=res)


@pytest.mark.parametrize("backend", BACKENDS)
def test_unchanged_files_are_not_rewritten(tmp_path, backend):
    first = export(backend, tmp_path)
    assert first
    stamps = {p: p.stat().st_mtime_ns for p in first}
    for p in first:
        os.utime(p, ns=(1, 1))
    assert export(backend, tmp_path) == []
    assert all(p.stat().st_mtime_ns == 1 for p in stamps)


@pytest.mark.parametrize("backend", BACKENDS)
def test_reservation_on_no_network_fails_before_writing(tmp_path, backend):
    res = reservations() + [{"mac": "52:54:00:00:00:42", "node": "far", "ip": "192.0.2.7"}]
    with pytest.raises(XcatError, match=r"dhcpreservation: 192.0.2.7 of node far is on no "
                                        r"network in the networks table"):
        export(backend, tmp_path / "out", res=res)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("row, message", [
    ({"mac": "nonsense", "node": "n9", "ip": "10.0.0.9"},
     "dhcpreservation: 'nonsense' is not a MAC address"),
    ({"mac": "52:54:00:00:00:09", "node": "n9", "ip": "10.0.0.999"},
     r"dhcpreservation: MAC 52:54:00:00:00:09 \(node n9\) has no valid IPv4 address"),
    ({"mac": "52:54:00:00:00:09", "node": "n9", "ip": "10.0.0.11"},
     "dhcpreservation: 10.0.0.11 is reserved for both n1 and n9"),
    ({"mac": "52:54:00:00:00:09", "node": "", "ip": "10.0.0.9"},
     "dhcpreservation: MAC 52:54:00:00:00:09 .* names no node"),
])
def test_bad_reservations_are_named(tmp_path, row, message):
    with pytest.raises(XcatError, match=message):
        export("isc", tmp_path, res=reservations() + [row])


def test_xcatmaster_falls_back_to_site_master_then_to_nothing(tmp_path):
    nets = [network_from_row(dict(netname="a", net="10.0.0.0", mask="255.255.255.0",
                                  gateway="<xcatmaster>")),
            network_from_row(dict(netname="b", net="10.5.0.0", mask="255.255.255.0",
                                  gateway="<xcatmaster>", tftpserver="<xcatmaster>"))]
    export("isc", tmp_path, res=[], nets=nets, local_addresses=[])
    text = (tmp_path / "xcatpy-subnets.conf").read_text()
    a, b = text.split("subnet 10.5.0.0")
    # site.master (10.0.0.1) is on a: it stands in for the head node's address there.
    assert "option routers 10.0.0.1;" in a and "next-server 10.0.0.1;" in a
    # On b the head node has no known address: no router, and no boot file to offer.
    assert "option routers" not in b and "next-server" not in b and "filename" not in b


def test_explicit_servers_and_site_lists(tmp_path):
    nets = [network_from_row(dict(netname="a", net="10.0.0.0", mask="255.255.255.0",
                                  tftpserver="10.0.0.5", ntpservers="<xcatmaster>,ntp.example"))]
    site = dict(SITE, nameservers="<xcatmaster>,10.9.9.9", dhcplease="")
    export("isc", tmp_path, res=[], nets=nets, site=site)
    text = (tmp_path / "xcatpy-subnets.conf").read_text()
    assert "next-server 10.0.0.5;" in text
    assert 'filename "http://10.0.0.5:8080/xcatpy/v1/boot/ipxe";' in text
    assert "option domain-name-servers 10.0.0.1, 10.9.9.9;" in text
    assert "option ntp-servers 10.0.0.1;" in text        # host names are left out
    assert "default-lease-time 43200;" in text           # xCAT's default


def test_ipv6_networks_are_not_exported(tmp_path):
    export("dnsmasq", tmp_path, res=[])
    assert "fd00" not in (tmp_path / "xcatpy-dnsmasq.conf").read_text()


def test_duplicate_networks_are_an_error(tmp_path):
    nets = networks() + [network_from_row(dict(netname="again", net="10.0.0.0", mask="/24"))]
    with pytest.raises(XcatError, match="networks 'prov' and 'again' are both 10.0.0.0/24"):
        export("kea", tmp_path, nets=nets)


def test_unknown_backend_and_bad_lease(tmp_path):
    with pytest.raises(XcatError, match="Unknown DHCP export 'dhcpd'"):
        export("dhcpd", tmp_path)
    with pytest.raises(XcatError, match="site.dhcplease '12h' is not a number of seconds"):
        export("isc", tmp_path, site=dict(SITE, dhcplease="12h"))


def test_reload_hints(tmp_path):
    assert reload_hint("isc", []) is None
    assert reload_hint("isc", [tmp_path / "a.conf"]) == \
        f"Wrote {tmp_path}/a.conf; restart dhcpd to apply"
    assert reload_hint("kea", [tmp_path / "a", tmp_path / "b"]) == \
        f"Wrote {tmp_path}/a, {tmp_path}/b; reload kea-dhcp4 to apply"
    assert reload_hint("dnsmasq", [tmp_path / "xcatpy-dnsmasq.conf", tmp_path / "d" / "n1"]) \
        == f"Wrote {tmp_path}/xcatpy-dnsmasq.conf; restart dnsmasq to apply it"
    assert reload_hint("dnsmasq", [tmp_path / "d" / "n1"]).startswith(
        f"Updated 1 host file(s) in {tmp_path}/d; dnsmasq reads them by itself")


# -- writing files ----------------------------------------------------------------------------

def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    for name in ("xcatpy-subnets.conf", "xcatpy-hosts.conf"):
        (tmp_path / name).write_text("old\n")

    def broken_fsync(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files.os, "fsync", broken_fsync)
    with pytest.raises(XcatError, match=f"Cannot write {tmp_path}/xcatpy-subnets.conf: No "
                                        "space left on device"):
        export("isc", tmp_path)
    assert [(p.name, p.read_text()) for p in sorted(tmp_path.iterdir())] == [
        ("xcatpy-hosts.conf", "old\n"), ("xcatpy-subnets.conf", "old\n")]


def test_a_failed_rename_leaves_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "f"
    target.write_text("old\n")
    monkeypatch.setattr(files.os, "replace", lambda *a: (_ for _ in ()).throw(
        OSError(13, "Permission denied")))
    with pytest.raises(XcatError, match="Permission denied"):
        files.atomic_write(target, "new\n")
    assert target.read_text() == "old\n" and [p.name for p in tmp_path.iterdir()] == ["f"]


def test_atomic_write_keeps_the_mode_and_gives_new_files_0644(tmp_path):
    old = tmp_path / "old"
    old.write_text("x")
    old.chmod(0o600)
    files.atomic_write(old, "y")
    assert (old.read_text(), old.stat().st_mode & 0o777) == ("y", 0o600)
    files.atomic_write(tmp_path / "sub" / "new", "z")
    assert (tmp_path / "sub" / "new").stat().st_mode & 0o777 == 0o644


def test_export_directory_that_cannot_be_made(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(XcatError, match="Cannot create DHCP export directory"):
        export("isc", Path(blocker) / "dhcp")


def test_head_addresses_are_read_from_the_system_by_default(tmp_path, monkeypatch):
    from xcatpy.net import interfaces

    seen = []

    def fake_ip(*args):
        seen.append(args)
        return [{"ifname": "eth9", "flags": ["UP"], "mtu": 1500, "addr_info": [
            {"family": "inet", "local": "10.0.0.7", "prefixlen": 24, "scope": "global"}]}]

    monkeypatch.setattr(interfaces, "run_ip", fake_ip)
    site = dict(SITE, master="")
    export_dhcp("isc", [], networks(), site, tmp_path)
    assert seen == [("addr", "show")]
    assert "option routers 10.0.0.7;" in (tmp_path / "xcatpy-subnets.conf").read_text()

    def no_ip(*args):
        raise XcatError("Could not get network information: the ip command (iproute2) is "
                        "not installed")

    monkeypatch.setattr(interfaces, "run_ip", no_ip)
    export_dhcp("isc", [], networks(), SITE, tmp_path / "b")
    assert "option routers 10.0.0.1;" in (tmp_path / "b" / "xcatpy-subnets.conf").read_text()
