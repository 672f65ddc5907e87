"""RFC 2136 updates: server and key settings, the plan per zone, messages, and failures
(the real exchange with BIND is in tests/integration/test_dns.py)."""

import base64

import dns.exception
import dns.message
import dns.rcode
import dns.rrset
import dns.tsig
import pytest

from xcatpy.errors import XcatError
from xcatpy.net.dns import ddns
from xcatpy.net.dns.ddns import TsigKey, UpdateServer, key_from_passwd, parse_server, plan
from xcatpy.net.dns.records import Record

SECRET = base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()


@pytest.mark.parametrize("text, expected", [
    ("127.0.0.1", ("127.0.0.1", 53)),
    ("127.0.0.1:5353", ("127.0.0.1", 5353)),
    ("::1", ("::1", 53)),
    ("[::1]:5353", ("::1", 5353)),
    ("[fd00::1]", ("fd00::1", 53)),
    ("localhost:53", (None, 53)),
])
def test_parse_server(text, expected):
    server = parse_server(text, "site.dnsupdateserver")
    address, port = expected
    assert server.port == port
    if address:
        assert server.address == address
    else:
        assert server.address in ("127.0.0.1", "::1")


@pytest.mark.parametrize("text", ["host:", "host:99999", "host:x", "[::1]x", ":53"])
def test_parse_server_rejects_malformed(text):
    with pytest.raises(XcatError, match="site.dnsupdateserver '.*' is not host"):
        parse_server(text, "site.dnsupdateserver")


def test_server_str_brackets_ipv6():
    assert str(UpdateServer("::1", "::1", 53)) == "[::1]:53"
    assert str(UpdateServer("ns", "10.0.0.1", 5353)) == "ns:5353"


def row(**kw):
    return {"key": "omapi", "username": "xcat_key", "password": SECRET} | kw


def test_key_from_passwd_defaults_to_hmac_sha256():
    key = key_from_passwd([{"key": "system", "username": "root", "password": "x"}, row()])
    assert key == TsigKey("xcat_key", SECRET, "hmac-sha256")
    assert key.dnspython().algorithm == dns.tsig.HMAC_SHA256
    md5 = key_from_passwd([row(cryptmethod="HMAC-MD5")])
    assert md5.dnspython().algorithm == dns.tsig.HMAC_MD5


@pytest.mark.parametrize("rows, message", [
    ([], "Unable to find omapi key in passwd table"),
    ([row(password="")], "Unable to find omapi key"),
    ([row(username="")], "the omapi row has no username"),
    ([row(cryptmethod="sha256")], "cryptmethod 'sha256' is not a TSIG algorithm"),
    ([row(password="not base64!")], "not a base64 TSIG secret"),
])
def test_key_problems_are_clear(rows, message):
    with pytest.raises(XcatError, match=message):
        key_from_passwd(rows)


ZONES = {"cluster.test", "0.0.10.in-addr.arpa"}
OLD = [Record("n1.cluster.test", "A", "10.0.0.1", "n1"),
       Record("1.0.0.10.in-addr.arpa", "PTR", "n1.cluster.test", "n1"),
       Record("gone.old.test", "A", "10.0.0.1", "n1")]
NEW = [Record("N1.cluster.test", "A", "10.0.0.2", "n1"),
       Record("2.0.0.10.in-addr.arpa", "PTR", "n1.cluster.test", "n1")]


def test_plan_clears_old_and_new_rrsets_per_zone_then_adds():
    zones, unplaced = plan(OLD, NEW, ddns.zone_finder(ZONES))
    assert [z.zone for z in zones] == ["0.0.10.in-addr.arpa", "cluster.test"]
    rev, fwd = zones
    assert rev.deletes == [("1.0.0.10.in-addr.arpa", "PTR"), ("2.0.0.10.in-addr.arpa", "PTR")]
    assert fwd.deletes == [("n1.cluster.test", "A")]
    assert fwd.adds == [NEW[0]] and rev.adds == [NEW[1]]
    assert unplaced == [OLD[2]]


def test_messages_are_signed_and_split_past_max_ops(monkeypatch):
    monkeypatch.setattr(ddns, "MAX_OPS", 2)
    zones, _ = plan(OLD[:2], NEW, ddns.zone_finder(ZONES))
    key = TsigKey("xcat_key", SECRET, "hmac-sha256")
    rev = ddns._messages(zones[0], key)
    assert len(rev) == 2                       # 2 deletes + 1 add
    assert all(m.keyname.to_text() == "xcat_key." for m in rev)
    text = rev[0].to_text() + rev[1].to_text()
    assert "1.0.0.10.in-addr.arpa. ANY PTR" in text
    assert "2.0.0.10.in-addr.arpa. 3600 IN PTR n1.cluster.test." in text
    (fwd,) = ddns._messages(zones[1], key)
    assert "N1.cluster.test. 3600 IN A 10.0.0.2" in fwd.to_text()


SERVER = UpdateServer("127.0.0.1", "127.0.0.1", 5300)
KEY = TsigKey("xcat_key", SECRET, "hmac-sha256")


def fake_tcp(monkeypatch, outcome):
    sent = []

    def tcp(msg, where, timeout=None, port=53):
        sent.append((msg, where, port, timeout))
        if isinstance(outcome, Exception):
            raise outcome
        reply = dns.message.make_response(msg)
        reply.set_rcode(outcome)
        return reply

    monkeypatch.setattr(ddns.dns.query, "tcp", tcp)
    return sent


def test_push_sends_one_message_per_zone(monkeypatch):
    sent = fake_tcp(monkeypatch, dns.rcode.NOERROR)
    zones, _ = plan(OLD[:2], NEW, ddns.zone_finder(ZONES))
    assert ddns.push(zones, SERVER, KEY) == 2
    assert [(m.origin.to_text(), where, port) for m, where, port, _ in sent] == [
        ("0.0.10.in-addr.arpa.", "127.0.0.1", 5300), ("cluster.test.", "127.0.0.1", 5300)]
    assert sent[0][3] == ddns.TIMEOUT_S


@pytest.mark.parametrize("outcome, message", [
    (dns.rcode.REFUSED, "refused the update of zone 0.0.10.in-addr.arpa: REFUSED"),
    (dns.rcode.NOTAUTH, "0.0.10.in-addr.arpa: NOTAUTH"),
    (dns.tsig.PeerBadKey(), "does not know TSIG key 'xcat_key' with hmac-sha256 \\(BADKEY"),
    (dns.tsig.PeerBadSignature(), "signature with TSIG key 'xcat_key' is wrong \\(BADSIG"),
    (dns.exception.Timeout(), "127.0.0.1:5300 did not answer within 10 s \\(update zone "
                              "0.0.10.in-addr.arpa\\)"),
    (ConnectionRefusedError(111, "Connection refused"),
     "cannot reach DNS server 127.0.0.1:5300 to update zone 0.0.10.in-addr.arpa: "
     "Connection refused"),
])
def test_push_failures_name_server_and_zone_and_stop(monkeypatch, outcome, message):
    sent = fake_tcp(monkeypatch, outcome)
    zones, _ = plan(OLD[:2], NEW, ddns.zone_finder(ZONES))
    with pytest.raises(XcatError, match=message):
        ddns.push(zones, SERVER, KEY)
    assert len(sent) == 1                      # the second zone is not tried


def fake_udp(monkeypatch, zones, fail_on=()):
    """A server holding `zones` (xCAT-style /24 reverse zones); names in `fail_on` time out."""
    asked = []

    def udp(query, where, port=53, timeout=None):
        name = query.question[0].name.to_text().rstrip(".")
        asked.append(name)
        if name in fail_on:
            raise dns.exception.Timeout()
        reply = dns.message.make_response(query)
        apex = ddns.zone_for(name, zones)
        if apex is None:
            reply.set_rcode(dns.rcode.REFUSED)
            return reply
        soa = dns.rrset.from_text(apex + ".", 300, "IN", "SOA",
                                  "ns. root. 1 3600 600 86400 300")
        (reply.answer if apex == name else reply.authority).append(soa)
        return reply

    monkeypatch.setattr(ddns.dns.query, "udp", udp)
    return asked


def test_zones_are_asked_of_the_server_once_per_parent(monkeypatch):
    asked = fake_udp(monkeypatch, {"cluster.test", "0.16.172.in-addr.arpa",
                                   "1.16.172.in-addr.arpa"})
    names = ["n1.cluster.test", "n2.cluster.test", "n1.sub.cluster.test",
             "5.0.16.172.in-addr.arpa", "7.1.16.172.in-addr.arpa", "x.example.org"]
    found = ddns.zones_at_server(names, SERVER)
    assert found == {"cluster.test": "cluster.test", "sub.cluster.test": "cluster.test",
                     "0.16.172.in-addr.arpa": "0.16.172.in-addr.arpa",
                     "1.16.172.in-addr.arpa": "1.16.172.in-addr.arpa"}
    assert sorted(asked) == sorted(set(asked)) and len(asked) == 5
    # Ours would be the /16 zone of a /20 network; the server's /24 zones win.
    zone_of = ddns.zone_finder({"cluster.test", "16.172.in-addr.arpa"}, found)
    assert zone_of("5.0.16.172.in-addr.arpa") == "0.16.172.in-addr.arpa"
    assert zone_of("9.2.16.172.in-addr.arpa") == "16.172.in-addr.arpa"
    assert zone_of("x.example.org") is None


def test_a_server_that_does_not_answer_queries_fails_at_the_first(monkeypatch):
    asked = fake_udp(monkeypatch, {"a.test", "b.test"}, fail_on={"a.test"})
    with pytest.raises(XcatError, match="127.0.0.1:5300 did not answer within 10 s "
                                        "\\(query the zone of a.test\\)"):
        ddns.zones_at_server(["x.a.test", "x.b.test"], SERVER)
    assert asked == ["a.test"]
