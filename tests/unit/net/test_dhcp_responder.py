"""RFC 2131 server rules over a snapshot built from real tables: DORA, NAK rules, relays,
options, PXE / iPXE / UEFI HTTP boot, and proxyDHCP."""

import pytest

from xcatpy.net.dhcp import packet as p
from xcatpy.net.dhcp.ifaces import IfAddress
from xcatpy.net.dhcp.responder import Link, Responder
from xcatpy.net.dhcp.view import build_view, read_raw

SERVER = "10.0.0.1"
MAC1 = "52:54:00:aa:00:01"
MAC2 = "52:54:00:aa:00:02"
STRANGER = "52:54:00:ff:ff:01"
LINK = Link("eth1", [IfAddress(p.ip_bytes(SERVER), 24)])


class Now:
    def __init__(self) -> None:
        self.t = 1_700_000_000.0

    def __call__(self) -> float:
        return self.t


def reserve(store, mac, node, ip, hostname=None):
    store.begin()
    store.upsert_rows("dhcpreservation", [{"mac": mac, "node": node, "ip": ip,
                                           "hostname": hostname or node}])
    store.commit()


@pytest.fixture
def tables(run, store):
    assert run("tabch", "net=10.0.0.0,mask=255.255.255.0", "networks.netname=prov",
               "networks.gateway=<xcatmaster>", "networks.nameservers=<xcatmaster>,10.0.0.53",
               "networks.domain=cluster.test", "networks.mtu=9000",
               "networks.ntpservers=10.0.0.123").rc == 0
    assert run("tabch", "net=10.5.0.0,mask=255.255.0.0", "networks.netname=remote",
               "networks.gateway=10.5.0.254", "networks.dynamicrange=10.5.1.1-10.5.1.9").rc == 0
    assert run("tabch", "key=dhcplease", "site.value=3600").rc == 0
    assert run("tabch", "key=domain", "site.value=site.test").rc == 0
    assert run("nodeadd", "n1", "groups=compute", f"mac.mac={MAC1}",
               "hosts.ip=10.0.0.21").rc == 0
    assert run("nodeadd", "n2", "groups=compute", f"mac.mac={MAC2}", "hosts.ip=10.0.0.22",
               "noderes.netboot=xnba", "noderes.tftpserver=10.0.0.69").rc == 0
    reserve(store, MAC1, "n1", "10.0.0.21")
    reserve(store, MAC2, "n2", "10.0.0.22", "n2.cluster.test")
    return store


def responder(store, *, mode="server", clock=None) -> Responder:
    r = Responder(server_port=67, client_port=68, http_port=lambda: 8080, mode=mode,
                  clock=clock or Now())
    r.view = build_view(store, read_raw(store))
    assert not r.view.warnings
    r.own_addresses = {p.ip_bytes(SERVER)}
    return r


def request(kind, mac=MAC1, *, ciaddr="0.0.0.0", giaddr="0.0.0.0", flags=0, **options):
    opts = {p.MESSAGE_TYPE: bytes((kind,))}
    names = {"requested": p.REQUESTED_IP, "server_id": p.SERVER_ID}
    for name, value in options.items():
        code = names.get(name)
        if code is not None:
            opts[code] = p.ip_bytes(value)
        else:
            opts[int(name[1:])] = value     # o55=b"...": option 55
    return p.DhcpPacket(p.BOOTREQUEST, xid=0x1234, flags=flags,
                        ciaddr=p.ip_bytes(ciaddr), giaddr=p.ip_bytes(giaddr),
                        chaddr=bytes.fromhex(mac.replace(":", "")) + bytes(10), options=opts)


def dora(r, mac=MAC1, link=LINK, **options):
    offer = r.answer(request(p.DISCOVER, mac, **options), link)
    assert offer is not None
    yiaddr = p.ip_str(offer.packet.yiaddr)
    ack = r.answer(request(p.REQUEST, mac, requested=yiaddr,
                           server_id=p.ip_str(offer.packet.options[p.SERVER_ID]), **options),
                   link)
    return offer, ack


def kind_of(answer) -> int:
    return answer.packet.options[p.MESSAGE_TYPE][0]


# -- static reservations ----------------------------------------------------------------------

def test_reserved_client_gets_its_address_and_the_networks_options(tables):
    r = responder(tables)
    offer, ack = dora(r)
    for answer, kind in ((offer, p.OFFER), (ack, p.ACK)):
        pkt = answer.packet
        assert kind_of(answer) == kind
        assert p.ip_str(pkt.yiaddr) == "10.0.0.21"
        o = pkt.options
        assert o[p.SERVER_ID] == p.ip_bytes(SERVER)
        assert o[p.SUBNET_MASK] == p.ip_bytes("255.255.255.0")
        assert o[p.ROUTER] == p.ip_bytes(SERVER)                  # <xcatmaster>
        assert o[p.DNS_SERVERS] == p.ip_bytes(SERVER) + p.ip_bytes("10.0.0.53")
        assert o[p.DOMAIN_NAME] == b"cluster.test"                # networks beats site
        assert o[p.HOSTNAME] == b"n1"
        assert o[p.MTU] == p.u16(9000)
        assert o[p.NTP_SERVERS] == p.ip_bytes("10.0.0.123")
        assert o[p.BROADCAST_ADDRESS] == p.ip_bytes("10.0.0.255")
        assert o[p.LEASE_TIME] == p.u32(3600)
        assert o[p.RENEWAL_TIME] == p.u32(1800) and o[p.REBINDING_TIME] == p.u32(3150)
        assert pkt.file == b"pxelinux.0" and pkt.siaddr == p.ip_bytes(SERVER)
        assert o[p.BOOTFILE_NAME] == b"pxelinux.0" and o[p.TFTP_SERVER_NAME] == b"10.0.0.1"
        assert answer.dest == ("255.255.255.255", 68)
        assert len(answer.data) >= 300 and p.decode(answer.data) == pkt
    assert not r.pool.pending        # reservations are never written as leases


def test_unknown_client_without_dynamic_range_gets_no_answer(tables):
    r = responder(tables)
    assert r.answer(request(p.DISCOVER, STRANGER), LINK) is None
    assert r.answer(request(p.REQUEST, STRANGER, requested="10.0.0.99"), LINK) is None
    assert r.stats["unknown"] == 1


def test_reservation_on_another_network_is_not_offered_here(tables):
    reserve(tables, STRANGER, "n9", "10.9.9.9")
    r = responder(tables)
    assert r.answer(request(p.DISCOVER, STRANGER), LINK) is None


def test_parameter_request_list_order_comes_first(tables):
    r = responder(tables)
    answer = r.answer(request(p.DISCOVER, o55=bytes((p.HOSTNAME, p.DNS_SERVERS, p.ROUTER,
                                                     p.SUBNET_MASK))), LINK)
    codes = list(answer.packet.options)
    assert codes[:5] == [p.MESSAGE_TYPE, p.SERVER_ID, p.LEASE_TIME, p.RENEWAL_TIME,
                         p.REBINDING_TIME]
    assert codes[5:9] == [p.HOSTNAME, p.DNS_SERVERS, p.ROUTER, p.SUBNET_MASK]


def test_max_message_size_is_honoured(tables, run):
    run("tabch", "net=10.0.0.0,mask=255.255.255.0", "networks.domain=" + "d" * 250)
    r = responder(tables)
    small = r.answer(request(p.DISCOVER), LINK)
    assert len(small.data) <= 576 - 28
    kept = p.decode(small.data).options
    assert p.NTP_SERVERS not in kept                    # the least asked-for go first
    assert {p.MESSAGE_TYPE, p.SERVER_ID, p.LEASE_TIME, p.SUBNET_MASK} <= set(kept)
    big = r.answer(request(p.DISCOVER, o57=p.u16(1500)), LINK)
    assert p.decode(big.data).options == big.packet.options
    assert big.packet.options[p.NTP_SERVERS] == p.ip_bytes("10.0.0.123")


def test_client_identifier_is_echoed(tables):
    r = responder(tables)
    answer = r.answer(request(p.DISCOVER, o61=b"\x01" + bytes.fromhex("525400aa0001")), LINK)
    assert answer.packet.options[p.CLIENT_ID] == b"\x01" + bytes.fromhex("525400aa0001")


# -- REQUEST rules ---------------------------------------------------------------------------

def test_request_for_another_address_is_naked_when_authoritative(tables):
    r = responder(tables)
    nak = r.answer(request(p.REQUEST, requested="10.0.0.50"), LINK)
    assert kind_of(nak) == p.NAK
    assert nak.packet.yiaddr == p.ZERO_IP and nak.dest == ("255.255.255.255", 68)
    assert b"10.0.0.21" in nak.packet.options[p.MESSAGE]


def test_request_from_another_network_is_naked(tables):
    r = responder(tables)
    assert kind_of(r.answer(request(p.REQUEST, requested="192.168.1.5"), LINK)) == p.NAK


def test_network_whose_dhcpserver_is_another_server_is_left_to_it(tables, run):
    run("tabch", "net=10.0.0.0,mask=255.255.255.0", "networks.dhcpserver=10.0.0.2")
    r = responder(tables)
    assert r.answer(request(p.REQUEST, requested="10.0.0.50"), LINK) is None
    assert r.answer(request(p.DISCOVER), LINK) is None
    run("tabch", "net=10.0.0.0,mask=255.255.255.0", f"networks.dhcpserver={SERVER}")
    r = responder(tables)
    assert kind_of(r.answer(request(p.REQUEST, requested="10.0.0.50"), LINK)) == p.NAK
    assert kind_of(r.answer(request(p.DISCOVER), LINK)) == p.OFFER


def test_no_nak_on_a_network_without_a_networks_row(tables):
    r = responder(tables)
    link = Link("eth2", [IfAddress(p.ip_bytes("172.16.0.1"), 24)])
    reserve(tables, STRANGER, "n9", "172.16.0.9")
    r.view = build_view(tables, read_raw(tables))
    assert kind_of(r.answer(request(p.DISCOVER, STRANGER), link)) == p.OFFER
    assert r.answer(request(p.REQUEST, STRANGER, requested="172.16.0.10"), link) is None


def test_request_naming_another_server_is_silent(tables):
    r = responder(tables)
    assert r.answer(request(p.REQUEST, requested="10.0.0.21", server_id="10.0.0.2"),
                    LINK) is None


def test_init_reboot_with_the_right_address_is_acked(tables):
    r = responder(tables)
    assert kind_of(r.answer(request(p.REQUEST, requested="10.0.0.21"), LINK)) == p.ACK


def test_renewal_is_acked_by_unicast_to_ciaddr(tables):
    r = responder(tables)
    ack = r.answer(request(p.REQUEST, ciaddr="10.0.0.21"), LINK)
    assert kind_of(ack) == p.ACK
    assert ack.dest == ("10.0.0.21", 68) and ack.packet.ciaddr == p.ip_bytes("10.0.0.21")


def test_broadcast_flag_set_still_broadcasts(tables):
    r = responder(tables)
    assert r.answer(request(p.DISCOVER, flags=p.FLAG_BROADCAST), LINK).dest[0] == \
        "255.255.255.255"


# -- relays -----------------------------------------------------------------------------------

def test_relayed_request_uses_the_giaddr_network_and_goes_back_to_the_relay(tables):
    r = responder(tables)
    offer = r.answer(request(p.DISCOVER, STRANGER, giaddr="10.5.0.254",
                             o82=b"\x01\x05port1"), LINK)
    assert kind_of(offer) == p.OFFER
    assert offer.dest == ("10.5.0.254", 67)
    assert 0x0A050101 <= p.ip_int(offer.packet.yiaddr) <= 0x0A050109
    assert offer.packet.giaddr == p.ip_bytes("10.5.0.254")
    assert offer.packet.options[p.SUBNET_MASK] == p.ip_bytes("255.255.0.0")
    assert offer.packet.options[p.ROUTER] == p.ip_bytes("10.5.0.254")
    assert offer.packet.options[p.RELAY_AGENT_INFO] == b"\x01\x05port1"
    assert list(offer.packet.options)[-1] == p.RELAY_AGENT_INFO


def test_relay_without_a_networks_row_is_not_answered(tables):
    r = responder(tables)
    assert r.answer(request(p.DISCOVER, STRANGER, giaddr="192.168.7.1"), LINK) is None


def test_relayed_nak_sets_the_broadcast_bit(tables):
    r = responder(tables)
    nak = r.answer(request(p.REQUEST, STRANGER, giaddr="10.5.0.254",
                           requested="10.5.9.9"), LINK)
    assert kind_of(nak) == p.NAK and nak.packet.broadcast and nak.dest == ("10.5.0.254", 67)


def test_a_lease_of_another_network_is_naked_not_acked(tables):
    """RFC 2131 4.3.2: a client leased through the relay of 10.5.0.0/16 that then asks
    for that address on the head node's own segment (INIT-REBOOT) is NAKed; its lease
    stays, and a unicast renewal (RENEWING: ciaddr, no relay) is ACKed with its own
    network's mask and router (was: ACK with this link's, or for the INIT-REBOOT too)."""
    r = responder(tables)
    _, ack = dora(r, STRANGER, giaddr="10.5.0.254")
    leased = p.ip_str(ack.packet.yiaddr)
    assert kind_of(ack) == p.ACK and leased.startswith("10.5.1.")
    nak = r.answer(request(p.REQUEST, STRANGER, requested=leased), LINK)
    assert kind_of(nak) == p.NAK and nak.dest == ("255.255.255.255", 68)
    assert nak.packet.options[p.MESSAGE] == f"{leased} is not on network prov".encode()
    lease = r.pool.live(bytes.fromhex(STRANGER.replace(":", "")))
    assert p.ip_str(p.int_ip(lease.ip)) == leased
    renewed = r.answer(request(p.REQUEST, STRANGER, ciaddr=leased), LINK)
    assert kind_of(renewed) == p.ACK and p.ip_str(renewed.packet.yiaddr) == leased
    assert renewed.dest == (leased, 68)
    assert renewed.packet.options[p.SUBNET_MASK] == p.ip_bytes("255.255.0.0")
    assert renewed.packet.options[p.ROUTER] == p.ip_bytes("10.5.0.254")
    # Rebinding through a relay of another network: NAKed there.
    rebind = r.answer(request(p.REQUEST, STRANGER, ciaddr="10.0.0.23",
                              giaddr="10.5.0.254"), LINK)
    assert kind_of(rebind) == p.NAK and rebind.dest == ("10.5.0.254", 67)


def test_a_renewal_of_an_address_on_no_network_of_ours(tables, run):
    # A client we have no record of, on a network without dynamicrange: silent, as
    # before (another server may know it); where we serve a range: NAK.
    r = responder(tables)
    assert r.answer(request(p.REQUEST, STRANGER, ciaddr="192.168.50.5"), LINK) is None
    assert run("tabch", "net=10.0.0.0,mask=255.255.255.0",
               "networks.dynamicrange=10.0.0.20-10.0.0.24").rc == 0
    r = responder(tables)
    nak = r.answer(request(p.REQUEST, STRANGER, ciaddr="192.168.50.5"), LINK)
    assert kind_of(nak) == p.NAK
    assert nak.packet.options[p.MESSAGE] == b"192.168.50.5 is not on network prov"


# -- dynamic pool -----------------------------------------------------------------------------

@pytest.fixture
def dynamic(tables, run):
    assert run("tabch", "net=10.0.0.0,mask=255.255.255.0",
               "networks.dynamicrange=10.0.0.20-10.0.0.24").rc == 0
    return tables


def test_dynamic_lease_skips_reservations_and_is_queued_for_dhcplease(dynamic):
    r = responder(dynamic)
    offer, ack = dora(r, STRANGER, o12=b"guest")
    ip = p.ip_str(ack.packet.yiaddr)
    assert kind_of(ack) == p.ACK and ip == p.ip_str(offer.packet.yiaddr)
    assert ip in ("10.0.0.20", "10.0.0.23", "10.0.0.24")      # .21/.22 are reserved
    assert p.HOSTNAME not in ack.packet.options
    lease = r.pool.pending[bytes.fromhex("525400ffff01")]
    assert lease.hostname == "guest" and r.pool.live(lease.mac).ip == p.ip_int(ack.packet.yiaddr)


def test_two_clients_never_share_an_address_and_a_full_pool_says_nothing(dynamic):
    r = responder(dynamic)
    got = set()
    for k in range(3):
        _, ack = dora(r, f"52:54:00:ff:ff:{k:02x}")
        got.add(p.ip_str(ack.packet.yiaddr))
    assert got == {"10.0.0.20", "10.0.0.23", "10.0.0.24"}
    assert r.answer(request(p.DISCOVER, "52:54:00:ff:ff:99"), LINK) is None
    assert r.stats["pool exhausted"] == 1


def test_leases_expire(dynamic):
    clock = Now()
    r = responder(dynamic, clock=clock)
    for k in range(3):
        dora(r, f"52:54:00:ff:ff:{k:02x}")
    clock.t += 3601
    _, ack = dora(r, "52:54:00:ff:ff:99")
    assert kind_of(ack) == p.ACK


def test_request_for_someone_elses_lease_is_naked(dynamic):
    r = responder(dynamic)
    _, ack = dora(r, STRANGER)
    taken = p.ip_str(ack.packet.yiaddr)
    nak = r.answer(request(p.REQUEST, "52:54:00:ff:ff:02", requested=taken), LINK)
    assert kind_of(nak) == p.NAK


def test_init_reboot_with_a_free_address_of_the_range_is_acked(dynamic):
    r = responder(dynamic)   # e.g. the lease table was lost: the client keeps its address
    ack = r.answer(request(p.REQUEST, STRANGER, requested="10.0.0.24"), LINK)
    assert kind_of(ack) == p.ACK and ack.packet.yiaddr == p.ip_bytes("10.0.0.24")


def test_choosing_another_server_frees_our_offer(dynamic):
    r = responder(dynamic)
    offer = r.answer(request(p.DISCOVER, STRANGER), LINK)
    assert r.pool.offers
    r.answer(request(p.REQUEST, STRANGER, requested=p.ip_str(offer.packet.yiaddr),
                     server_id="10.0.0.2"), LINK)
    assert not r.pool.offers


def test_decline_release_and_inform(dynamic):
    r = responder(dynamic)
    _, ack = dora(r, STRANGER)
    ip = p.ip_str(ack.packet.yiaddr)
    assert r.answer(request(p.DECLINE, STRANGER, requested=ip, server_id=SERVER),
                    LINK) is None
    assert r.pool.live(bytes.fromhex("525400ffff01")) is None
    offer = r.answer(request(p.DISCOVER, STRANGER), LINK)
    assert p.ip_str(offer.packet.yiaddr) != ip                  # the declined one is held
    _, ack = dora(r, STRANGER)
    ip = p.ip_str(ack.packet.yiaddr)
    assert r.answer(request(p.RELEASE, STRANGER, ciaddr=ip, server_id=SERVER), LINK) is None
    assert r.pool.live(bytes.fromhex("525400ffff01")) is None
    inform = r.answer(request(p.INFORM, STRANGER, ciaddr="10.0.0.77"), LINK)
    assert kind_of(inform) == p.ACK and inform.dest == ("10.0.0.77", 68)
    assert inform.packet.yiaddr == p.ZERO_IP and p.LEASE_TIME not in inform.packet.options
    assert inform.packet.options[p.SUBNET_MASK] == p.ip_bytes("255.255.255.0")


def test_decline_of_a_reserved_address_changes_nothing(tables):
    r = responder(tables)
    assert r.answer(request(p.DECLINE, requested="10.0.0.21", server_id=SERVER), LINK) is None
    assert not r.pool.declined
    assert kind_of(r.answer(request(p.DISCOVER), LINK)) == p.OFFER


def test_the_pool_never_hands_out_our_address_or_the_gateway(tables, run):
    run("tabch", "net=10.0.0.0,mask=255.255.255.0", "networks.gateway=10.0.0.2",
        "networks.dynamicrange=10.0.0.0-10.0.0.3")
    r = responder(tables)
    _, ack = dora(r, STRANGER)
    assert p.ip_str(ack.packet.yiaddr) == "10.0.0.3"


# -- boot -------------------------------------------------------------------------------------

def pxe(arch: int, **options):
    return {"o60": b"PXEClient:Arch:%05d:UNDI:003016" % arch, "o93": p.u16(arch),
            "o97": b"\0" + bytes(16), **options}


def test_uefi_pxe_client_gets_ipxe_efi_with_pxe_options(tables):
    r = responder(tables)
    offer = r.answer(request(p.DISCOVER, **pxe(7)), LINK)
    o = offer.packet.options
    assert offer.packet.file == b"ipxe.efi"
    assert o[p.VENDOR_CLASS] == b"PXEClient"
    assert o[p.VENDOR_SPECIFIC] == p.pxe_vendor_options()
    assert o[p.CLIENT_UUID] == b"\0" + bytes(16)


def test_node_netboot_and_tftpserver_choose_file_and_next_server(tables):
    r = responder(tables)
    offer = r.answer(request(p.DISCOVER, MAC2, **pxe(0)), LINK)
    assert offer.packet.file == b"undionly.kpxe"
    assert offer.packet.siaddr == p.ip_bytes("10.0.0.69")
    assert offer.packet.options[p.TFTP_SERVER_NAME] == b"10.0.0.69"
    assert offer.packet.options[p.HOSTNAME] == b"n2.cluster.test"


def test_ipxe_client_gets_the_script_url_not_the_binary(tables):
    r = responder(tables)
    for extra in ({"o77": b"iPXE"}, {"o175": b"\x13\x01\x01"}):
        offer = r.answer(request(p.DISCOVER, MAC2, **pxe(0, **extra)), LINK)
        url = b"http://10.0.0.1:8080/xcatpy/v1/boot/ipxe/52-54-00-aa-00-02"
        assert offer.packet.options[p.BOOTFILE_NAME] == url
        assert offer.packet.file == url


def test_uefi_http_boot_gets_a_url_and_httpclient(tables):
    r = responder(tables)
    offer = r.answer(request(p.DISCOVER, o60=b"HTTPClient:Arch:00016:UNDI:003001",
                             o93=p.u16(16)), LINK)
    assert offer.packet.options[p.VENDOR_CLASS] == b"HTTPClient"
    assert offer.packet.options[p.BOOTFILE_NAME] == b"http://10.0.0.1:8080/tftpboot/ipxe.efi"
    assert p.VENDOR_SPECIFIC not in offer.packet.options


def test_long_url_goes_in_option_67_only(tables, monkeypatch):
    from xcatpy.net.dhcp import bootselect
    monkeypatch.setattr(bootselect, "TFTPROOT_HTTP_PREFIX", "/" + "x" * 100 + "/")
    r = responder(tables)
    offer = r.answer(request(p.DISCOVER, o60=b"HTTPClient", o93=p.u16(16)), LINK)
    url = offer.packet.options[p.BOOTFILE_NAME]
    assert len(url) > 127 and url.endswith(b"/ipxe.efi")
    assert offer.packet.file == b""
    assert p.decode(offer.data).options[p.BOOTFILE_NAME] == url


def test_noboot_interface_gets_addresses_without_boot_files(tables):
    r = responder(tables)
    offer = r.answer(request(p.DISCOVER, **pxe(0)), Link("eth1", LINK.addresses, noboot=True))
    assert kind_of(offer) == p.OFFER and offer.packet.file == b""
    assert p.BOOTFILE_NAME not in offer.packet.options


def test_unknown_discovery_client_gets_the_boot_file_with_its_address(dynamic):
    r = responder(dynamic)
    offer = r.answer(request(p.DISCOVER, STRANGER, **pxe(0)), LINK)
    assert offer.packet.yiaddr != p.ZERO_IP and offer.packet.file == b"pxelinux.0"


# -- proxyDHCP --------------------------------------------------------------------------------

def test_proxy_offer_has_no_address_but_pxe_boot_options(tables):
    r = responder(tables, mode="proxy")
    offer = r.answer(request(p.DISCOVER, **pxe(0)), LINK)
    pkt = offer.packet
    assert kind_of(offer) == p.OFFER and pkt.yiaddr == p.ZERO_IP
    assert pkt.options[p.VENDOR_CLASS] == b"PXEClient"
    assert pkt.options[p.VENDOR_SPECIFIC] == p.pxe_vendor_options()
    assert pkt.file == b"pxelinux.0" and pkt.siaddr == p.ip_bytes(SERVER)
    assert p.LEASE_TIME not in pkt.options and p.SUBNET_MASK not in pkt.options
    assert offer.dest == ("255.255.255.255", 68)


def test_proxy_ignores_plain_dhcp_and_requests_on_port_67(tables):
    r = responder(tables, mode="proxy")
    assert r.answer(request(p.DISCOVER), LINK) is None
    assert r.answer(request(p.REQUEST, requested="10.0.0.21", **pxe(0)), LINK) is None


def test_proxy_answers_unknown_machines_only_where_discovery_is_on(dynamic, tables):
    r = responder(tables, mode="proxy")
    r.view.networks = tuple(n for n in r.view.networks if n.name == "remote")
    assert r.answer(request(p.DISCOVER, STRANGER, **pxe(0)), LINK) is None
    r = responder(dynamic, mode="proxy")
    assert kind_of(r.answer(request(p.DISCOVER, STRANGER, **pxe(0)), LINK)) == p.OFFER


def test_proxy_port_request_is_acked_to_its_source_with_the_boot_item_echoed(tables):
    r = responder(tables, mode="proxy")
    req = request(p.REQUEST, ciaddr="10.0.0.150",
                  **pxe(7, o43=b"\x47\x04\x80\x00\x00\x00\xff"))
    ack = r.answer(req, LINK, proxy_port=True, source=("10.0.0.150", 4011))
    assert kind_of(ack) == p.ACK and ack.dest == ("10.0.0.150", 4011)
    assert ack.packet.file == b"ipxe.efi" and ack.packet.ciaddr == p.ip_bytes("10.0.0.150")
    assert ack.packet.options[p.VENDOR_SPECIFIC] == p.pxe_vendor_options(b"\x80\0\0\0")


# -- what is not served -----------------------------------------------------------------------

@pytest.mark.parametrize("change", [
    {"op": p.BOOTREPLY}, {"htype": 6}, {"hlen": 16},
])
def test_non_ethernet_and_replies_are_ignored(tables, change):
    r = responder(tables)
    req = request(p.DISCOVER)
    for name, value in change.items():
        setattr(req, name, value)
    assert r.answer(req, LINK) is None
    assert r.stats["ignored"] == 1


def test_bootp_without_message_type_and_links_without_address_are_ignored(tables):
    r = responder(tables)
    req = request(p.DISCOVER)
    del req.options[p.MESSAGE_TYPE]
    assert r.answer(req, LINK) is None
    assert r.answer(request(p.DISCOVER), Link("eth9", [])) is None
