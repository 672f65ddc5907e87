"""DNS with real clients and servers: `dig` against the embedded server (alone through
dnsserver_harness.py, and inside a real xcatd), and makedns -e against a real BIND
(`named -g` on loopback, dynamic zones, a tsig-keygen key), checked with dig and nsupdate.
"""

import os
import shutil
import socket
import subprocess
import threading

import dns.message
import dns.rrset
import pytest

from tests.integration.clitools import cli, command_path
from tests.integration.dnsbind import Bind, have_bind, keygen
from tests.integration.dnstools import DnsHarness, dig, eventually, soa_serial
from tests.integration.xcatd import Xcatd
from xcatpy.net.dns import ddns

pytestmark = pytest.mark.skipif(not shutil.which("dig"), reason="needs dig (bind9-dnsutils)")

V6_REVERSE = "0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa"
ZONES = ["cluster.test", "v6.test", "0.0.10.in-addr.arpa", V6_REVERSE]
# How xCAT cuts a /23 (one zone per /24); xcatd itself would serve 1.10.in-addr.arpa.
XCAT_STYLE_ZONES = ["0.1.10.in-addr.arpa", "1.1.10.in-addr.arpa"]


def setup_cluster(state, *extra):
    for args in (
        ("tabch", "key=domain", "site.value=cluster.test"),
        ("tabch", "key=master", "site.value=10.0.0.254"),
        ("tabch", "net=10.0.0.0,mask=255.255.255.0", "networks.netname=prov"),
        ("tabch", "net=fd00::,mask=/64", "networks.netname=v6", "networks.domain=v6.test"),
        ("nodeadd", "n1,n2", "groups=compute", "hosts.ip=|n(\\d+)|10.0.0.($1+0)|"),
        ("nodech", "n1", "hosts.hostnames=n1-ib"),
        ("nodeadd", "v1", "groups=other", "hosts.ip=fd00::5"),
        *extra,
    ):
        r = cli(*args, state=state)
        assert r.rc == 0, (args, r.err)


def makedns(state, *args, ok=True):
    r = cli("makedns", *args, state=state)
    if ok:
        assert r.rc == 0, r.err
    return r


# -- the embedded server ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def embedded(tmp_path_factory):
    work = tmp_path_factory.mktemp("dns-embedded")
    state = work / "state"
    setup_cluster(state)
    makedns(state)
    server = DnsHarness(state, work, "--host-name", "mgmt").start()
    yield server
    server.stop()


@pytest.mark.parametrize("transport", ["+notcp", "+tcp"])
def test_dig_gets_authoritative_a_aaaa_and_ptr(embedded, transport):
    port = embedded.port
    a = dig(port, "n1.cluster.test", "A", transport)
    assert a.status == "NOERROR" and "aa" in a.flags and "ra" not in a.flags
    assert a.answer == ["n1.cluster.test. 3600 IN A 10.0.0.1"]
    assert dig(port, "N1-IB.Cluster.Test", "A", transport).data() == ["10.0.0.1"]
    aaaa = dig(port, "v1.v6.test", "AAAA", transport)
    assert aaaa.data() == ["fd00::5"] and "aa" in aaaa.flags
    ptr = dig(port, "10.0.0.2", "-x", transport)
    assert ptr.data() == ["n2.cluster.test."] and "aa" in ptr.flags
    assert dig(port, "fd00::5", "-x", transport).data() == ["v1.v6.test."]


@pytest.mark.parametrize("transport", ["+notcp", "+tcp"])
def test_dig_nxdomain_nodata_and_refused(embedded, transport):
    port = embedded.port
    missing = dig(port, "nobody.cluster.test", "A", transport)
    assert missing.status == "NXDOMAIN" and "aa" in missing.flags
    assert missing.answer == [] and missing.authority[0].startswith("cluster.test. 300 IN SOA "
                                                                    "mgmt.cluster.test.")
    nodata = dig(port, "n1.cluster.test", "AAAA", transport)
    assert (nodata.status, nodata.answer) == ("NOERROR", [])
    assert " IN SOA " in nodata.authority[0]
    outside = dig(port, "www.example.org", "A", transport)
    assert outside.status == "REFUSED" and "aa" not in outside.flags
    assert dig(port, "10.0.1.1", "-x", transport).status == "REFUSED"


def test_dig_zone_apex_and_transfer(embedded):
    port = embedded.port
    ns = dig(port, "0.0.10.in-addr.arpa", "NS")
    assert ns.data() == ["mgmt.cluster.test."]
    assert dig(port, "mgmt.cluster.test", "A").data() == ["10.0.0.254"]
    axfr = subprocess.run(["dig", "@127.0.0.1", "-p", str(port), "cluster.test", "AXFR"],
                          capture_output=True, text=True, timeout=30).stdout
    assert "Transfer failed" in axfr and " IN A " not in axfr


def test_malformed_datagrams_are_counted_and_the_server_keeps_answering(embedded):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for junk in (b"", b"\x00", os.urandom(7), b"\x00\x01" + b"\xff" * 200,
                     b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\xc0\x0c\x00\x01"):
            s.sendto(junk, ("127.0.0.1", embedded.port))
    with socket.create_connection(("127.0.0.1", embedded.port)) as t:
        t.sendall(b"\x00\x05junk!")          # framed garbage over TCP
        t.settimeout(5)
        assert t.recv(100) == b""            # short header: connection closed, no reply
    assert dig(embedded.port, "n2.cluster.test").data() == ["10.0.0.2"]
    assert embedded.stats()["malformed"] >= 4


def test_a_bypass_mode_change_is_served_and_the_serial_moves(embedded):
    port, state = embedded.port, embedded.state
    before = soa_serial(port, "cluster.test")
    assert cli("nodech", "n2", "hosts.ip=10.0.0.12", state=state).rc == 0
    makedns(state, "n2")
    assert eventually(lambda: dig(port, "n2.cluster.test").data() == ["10.0.0.12"])
    assert dig(port, "10.0.0.12", "-x").data() == ["n2.cluster.test."]
    assert dig(port, "10.0.0.2", "-x").status == "NXDOMAIN"
    after = soa_serial(port, "cluster.test")
    assert after > before
    # A restart keeps the serial of unchanged zones.
    embedded.stop()
    embedded.start()
    assert soa_serial(embedded.port, "cluster.test") == after
    makedns(state, "-d", "n2")
    assert eventually(lambda: dig(embedded.port, "n2.cluster.test").status == "NXDOMAIN")
    assert soa_serial(embedded.port, "cluster.test") > after


def test_inside_xcatd_makedns_is_served_at_once(tmp_path):
    state = tmp_path / "state"
    subprocess.run([*command_path("xcatd"), "--init"], check=True, capture_output=True,
                   env=dict(os.environ, XCATPY_STATE=str(state)))
    setup_cluster(state)
    # DHCP on too, but with no interface named it must listen nowhere and say no port.
    daemon = Xcatd(state, "--dns-port", "0", "--dhcp-port", "0").start()
    try:
        assert "dns_port" in daemon.ports and "dhcp_port" not in daemon.ports, daemon.ports
        port = daemon.ports["dns_port"]
        assert dig(port, "n1.cluster.test").status == "NXDOMAIN"
        r = cli("makedns", "n1", state=state, bypass=False, extra_env={"HOME": str(tmp_path)})
        assert r.rc == 0, r.err
        # Through the daemon the commit listener reloads: no polling needed.
        assert dig(port, "n1.cluster.test").data() == ["10.0.0.1"]
    finally:
        daemon.stop()


# -- a real BIND, updated with RFC 2136 ------------------------------------------------------


@pytest.fixture(scope="module")
def bind(tmp_path_factory):
    if not have_bind():
        pytest.skip("needs named and tsig-keygen (bind9)")
    work = tmp_path_factory.mktemp("bind")
    clause, secret = keygen("xcat_key")
    (work / "xcat_key.conf").write_text(clause)
    server = Bind(work / "named", ZONES + XCAT_STYLE_ZONES, clause, "xcat_key").start()
    server.secret = secret
    server.keyfile = work / "xcat_key.conf"
    yield server
    server.stop()


@pytest.fixture
def ddns_state(bind, tmp_path):
    state = tmp_path / "state"
    setup_cluster(state,
                  ("tabch", "key=dnsupdateserver", f"site.value=127.0.0.1:{bind.port}"),
                  ("tabch", "key=omapi,username=xcat_key", f"passwd.password={bind.secret}"))
    yield state
    makedns(state, "-e", "-d", "all")      # leave BIND's zones as the next test expects


def table(state):
    lines = cli("tabdump", "dnsrecord", state=state).out.splitlines()[1:]
    return sorted(line.rsplit(",", 3)[0] for line in lines)


def test_makedns_e_lands_records_in_bind(bind, ddns_state):
    r = makedns(ddns_state, "-e")
    assert "DNS setup is completed" in r.out
    assert dig(bind.port, "n1.cluster.test").data() == ["10.0.0.1"]
    assert dig(bind.port, "n1-ib.cluster.test").data() == ["10.0.0.1"]
    assert dig(bind.port, "10.0.0.2", "-x").data() == ["n2.cluster.test."]
    assert dig(bind.port, "v1.v6.test", "AAAA").data() == ["fd00::5"]
    assert dig(bind.port, "fd00::5", "-x").data() == ["v1.v6.test."]
    assert len(table(ddns_state)) == 7


def test_replacing_and_deleting_in_bind(bind, ddns_state):
    cli("tabch", "key=dnshandler", "site.value=ddns", state=ddns_state)
    makedns(ddns_state, "n1,n2")                 # no -e: the site handler says ddns
    assert cli("nodech", "n1", "hosts.ip=10.0.0.11", "hosts.hostnames=n1-new",
               state=ddns_state).rc == 0
    makedns(ddns_state, "n1")
    assert dig(bind.port, "n1.cluster.test").data() == ["10.0.0.11"]
    assert dig(bind.port, "10.0.0.11", "-x").data() == ["n1.cluster.test."]
    assert dig(bind.port, "10.0.0.1", "-x").status == "NXDOMAIN"
    assert dig(bind.port, "n1-ib.cluster.test").status == "NXDOMAIN"
    assert dig(bind.port, "n1-new.cluster.test").data() == ["10.0.0.11"]
    makedns(ddns_state, "-d", "n2")
    assert dig(bind.port, "n2.cluster.test").status == "NXDOMAIN"
    assert dig(bind.port, "10.0.0.2", "-x").status == "NXDOMAIN"
    assert dig(bind.port, "n1.cluster.test").data() == ["10.0.0.11"]
    assert not any('"n2"' in row for row in table(ddns_state))


def test_zones_cut_differently_at_the_server_are_found_there(bind, ddns_state):
    assert cli("tabch", "net=10.1.0.0,mask=255.255.254.0", "networks.netname=wide",
               state=ddns_state).rc == 0
    assert cli("nodeadd", "w1,w2", "groups=other", "hosts.ip=|w(\\d+)|10.1.($1-1).5|",
               state=ddns_state).rc == 0
    makedns(ddns_state, "-e", "w1,w2")
    assert dig(bind.port, "10.1.0.5", "-x").data() == ["w1.cluster.test."]
    assert dig(bind.port, "10.1.1.5", "-x").data() == ["w2.cluster.test."]


@pytest.mark.parametrize("row, reason", [
    (("key=omapi,username=xcat_key", "passwd.password=" + "QUJD" * 11), "BADSIG"),
    (("key=omapi,username=xcat_key", "passwd.cryptmethod=hmac-sha512"), "BADKEY"),
])
def test_a_wrong_key_is_refused_clearly_and_nothing_is_recorded(bind, ddns_state, row, reason):
    makedns(ddns_state, "-e", "n1")
    before = table(ddns_state)
    assert cli("tabch", *row, state=ddns_state).rc == 0
    assert cli("nodech", "n1", "hosts.ip=10.0.0.21", state=ddns_state).rc == 0
    r = makedns(ddns_state, "-e", "n1", ok=False)
    assert r.rc == 1
    (error,) = [line for line in r.err.splitlines() if line.startswith("Error:")]
    assert error.startswith(f"Error: DNS server 127.0.0.1:{bind.port} refused the update of "
                            "zone ")
    assert reason in error
    assert table(ddns_state) == before
    assert dig(bind.port, "n1.cluster.test").data() == ["10.0.0.1"]
    assert cli("tabch", "key=omapi,username=xcat_key", f"passwd.password={bind.secret}",
               "passwd.cryptmethod=", state=ddns_state).rc == 0


def test_the_same_key_material_works_with_nsupdate(bind, ddns_state):
    if not shutil.which("nsupdate"):
        pytest.skip("needs nsupdate")
    makedns(ddns_state, "-e", "n1")
    script = (f"server 127.0.0.1 {bind.port}\nzone cluster.test\n"
              "update add by-y.cluster.test 60 A 10.0.0.98\nsend\n")
    y = subprocess.run(["nsupdate", "-y", f"hmac-sha256:xcat_key:{bind.secret}"],
                       input=script, capture_output=True, text=True, timeout=30)
    assert y.returncode == 0, y.stderr
    script = script.replace("by-y", "by-k").replace("add", "delete n1.cluster.test A\nupdate add")
    k = subprocess.run(["nsupdate", "-k", str(bind.keyfile)], input=script,
                       capture_output=True, text=True, timeout=30)
    assert k.returncode == 0, k.stderr
    assert dig(bind.port, "by-y.cluster.test").data() == ["10.0.0.98"]
    assert dig(bind.port, "by-k.cluster.test").data() == ["10.0.0.98"]
    assert dig(bind.port, "n1.cluster.test").status == "NXDOMAIN"   # nsupdate removed ours
    makedns(ddns_state, "-e", "n1")                                  # and makedns restores it
    assert dig(bind.port, "n1.cluster.test").data() == ["10.0.0.1"]


# -- a server that never answers ---------------------------------------------------------------


def test_an_update_server_that_never_answers_times_out_clearly(run, monkeypatch):
    """In-process, for a short timeout: real sockets on loopback that never reply (UDP
    bound, TCP accepting into the kernel backlog)."""
    monkeypatch.setattr(ddns, "TIMEOUT_S", 1.0)
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(4)
    port = silent.getsockname()[1]
    silent_udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent_udp.bind(("127.0.0.1", port))
    try:
        for args in (("tabch", "key=domain", "site.value=cluster.test"),
                     ("tabch", "key=dnsupdateserver", f"site.value=127.0.0.1:{port}"),
                     ("tabch", "key=omapi,username=k", "passwd.password=" + "QUJD" * 11),
                     ("tabch", "net=10.0.0.0,mask=255.255.255.0", "networks.netname=p"),
                     ("nodeadd", "n1", "groups=all", "hosts.ip=10.0.0.1")):
            assert run(*args).rc == 0
        r = run("makedns", "-e", "n1")
        assert r.rc == 1
        assert r.err == [f"Error: DNS server 127.0.0.1:{port} did not answer within 1 s "
                         "(query the zone of 0.0.10.in-addr.arpa)"]
        assert run("tabdump", "dnsrecord").out[1:] == []
        # Now queries are answered (the zone is the parent), only the update hangs.
        responder = threading.Thread(target=answer_soa, args=(silent_udp,), daemon=True)
        responder.start()
        r = run("makedns", "-e", "n1")
        assert r.err == [f"Error: DNS server 127.0.0.1:{port} did not answer within 1 s "
                         "(update zone 0.0.10.in-addr.arpa)"]
        assert run("tabdump", "dnsrecord").out[1:] == []
    finally:
        silent.close()
        silent_udp.close()


def answer_soa(sock):
    """Answer every SOA query on `sock` as if the asked name were a zone apex."""
    sock.settimeout(0.2)
    while sock.fileno() != -1:
        try:
            data, peer = sock.recvfrom(4096)
        except TimeoutError:
            continue
        except OSError:
            return
        query = dns.message.from_wire(data)
        reply = dns.message.make_response(query)
        reply.answer.append(dns.rrset.from_text(query.question[0].name, 300, "IN", "SOA",
                                                "ns. root. 1 3600 600 86400 300"))
        sock.sendto(reply.to_wire(), peer)
