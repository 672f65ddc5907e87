"""The snapshot built from the tables: what it takes from each, and the rows it refuses
(with a warning that names the row and the value)."""

from xcatpy.net.dhcp import packet as p
from xcatpy.net.dhcp.view import DEFAULT_LEASE_TIME, MASTER, build_view, read_raw


def view(store):
    return build_view(store, read_raw(store))


def reserve(store, *rows):
    store.begin()
    store.upsert_rows("dhcpreservation", [dict(zip(("mac", "node", "ip"), r, strict=True))
                                          for r in rows])
    store.commit()


def test_reservations_networks_and_node_boot_attributes(run, store):
    assert run("nodeadd", "n1,n2", "groups=compute").rc == 0
    assert run("chdef", "-t", "group", "compute", "netboot=xnba").rc == 0
    assert run("nodech", "n2", "noderes.netboot=grub2", "noderes.tftpserver=<xcatmaster>").rc == 0
    assert run("tabch", "net=10.0.0.0,mask=255.255.255.0", "networks.gateway=10.0.0.254",
               "networks.dynamicrange=10.0.0.100-10.0.0.199",
               "networks.tftpserver=10.0.0.69").rc == 0
    reserve(store, ("52:54:00:AA:00:01", "n1", "10.0.0.21"), ("52-54-00-aa-00-02", "n2",
                                                               "10.0.0.22"))
    v = view(store)
    assert not v.warnings
    res = v.reservations[bytes.fromhex("525400aa0001")]
    assert (res.node, res.ip) == ("n1", 0x0A000015)
    assert v.reserved_ips[0x0A000016] == bytes.fromhex("525400aa0002")
    assert v.boot["n1"].netboot == "xnba"           # from the group
    assert v.boot["n2"].netboot == "grub2" and v.boot["n2"].tftpserver == MASTER
    net = v.network_for(0x0A000042)
    assert net.ranges == ((0x0A000064, 0x0A0000C7),)
    assert net.gateway == p.ip_bytes("10.0.0.254") and net.tftpserver == p.ip_bytes("10.0.0.69")
    assert v.network_for(0x0A000142) is None


def test_site_settings_and_their_defaults(run, store):
    v = view(store)
    assert v.site.lease_time == DEFAULT_LEASE_TIME and v.site.mode == "server"
    assert v.site.dhcpinterfaces is None
    run("tabch", "key=dhcplease", "site.value=600")
    run("tabch", "key=dhcpmode", "site.value=PROXY")
    run("tabch", "key=dhcpinterface", "site.value=eth9")      # the old singular key
    run("tabch", "key=nameservers", "site.value=<xcatmaster>,10.1.1.1")
    v = view(store)
    assert (v.site.lease_time, v.site.mode, v.site.dhcpinterfaces) == (600, "proxy", "eth9")
    assert v.site.nameservers == (MASTER, p.ip_bytes("10.1.1.1"))


def test_bad_values_are_skipped_with_a_warning_naming_them(run, store):
    run("tabch", "key=dhcplease", "site.value=12h")
    run("tabch", "key=dhcpmode", "site.value=relay")
    run("tabch", "net=10.9.0.0,mask=255.255.255.0", "networks.netname=bad",
        "networks.dynamicrange=10.8.0.1-10.8.0.5")
    run("tabch", "net=10.0.0.0,mask=255.255.255.0", "networks.nameservers=no.such.host.invalid")
    reserve(store, ("zz:54:00:aa:00:01", "n1", "10.0.0.1"), ("52:54:00:aa:00:02", "n2", "10.0.0"),
            ("52:54:00:aa:00:03", "n3", "10.0.0.3"), ("52:54:00:aa:00:04", "n4", "10.0.0.3"))
    v = view(store)
    text = "\n".join(v.warnings)
    assert "site.dhcplease '12h'" in text and "site.dhcpmode 'relay'" in text
    assert "network 'bad'" in text and "dynamicrange" in text
    assert "'no.such.host.invalid'" in text
    assert "'zz:54:00:aa:00:01' (node n1)" in text
    assert "invalid ip '10.0.0'" in text
    assert "10.0.0.3 is reserved for both" in text
    assert set(v.reservations) == {bytes.fromhex("525400aa0003")}
    assert v.site.lease_time == DEFAULT_LEASE_TIME and v.site.mode == "server"
    assert [n.name for n in v.networks] == ["10.0.0.0-24"]


def test_disabled_rows_are_left_out(run, store):
    run("tabch", "net=10.0.0.0,mask=255.255.255.0", "networks.disable=1")
    store.begin()
    store.upsert_rows("dhcpreservation", [{"mac": "52:54:00:aa:00:01", "node": "n1",
                                           "ip": "10.0.0.1", "disable": "yes"}])
    store.commit()
    v = view(store)
    assert v.networks == () and v.reservations == {}


def test_raw_rows_change_only_when_the_tables_do(run, store):
    before = read_raw(store)
    store.begin()
    store.upsert_rows("dhcplease", [{"mac": "52:54:00:aa:00:01", "ip": "10.0.0.5"}])
    store.commit()
    assert read_raw(store) == before
    reserve(store, ("52:54:00:aa:00:01", "n1", "10.0.0.1"))
    assert read_raw(store) != before
