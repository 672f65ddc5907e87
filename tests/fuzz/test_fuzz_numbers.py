"""Fuzzing the numbers in table values and command arguments, aimed at `s.isdigit()`
followed by `int(s)`: str.isdigit() is true for '²', '①' or '٣', int() takes only
decimal digits ('٣' is 3, '²' raises ValueError). Each place found with
`grep -rn isdigit xcatpy` that converts the text is a target, plus the VM size parser.

Property, for each: any text gives the parsed value or the place's own clean error
(XcatError, DriverError), never another exception; a value given is a sane number.
"""

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.harness import attempt, fuzz_settings
from xcatpy.boot import nodeset
from xcatpy.commands import chvm, mkvm
from xcatpy.drivers.base import DriverError
from xcatpy.drivers.ipmi import credentials
from xcatpy.errors import XcatError
from xcatpy.net import networks
from xcatpy.net.dhcp import view
from xcatpy.net.dns import ddns, records, zones
from xcatpy.net.exports import model
from xcatpy.virt import guest, vmcommon

DIGITS = [chr(c) for c in range(0x110000) if chr(c).isdigit()]
NOT_DECIMAL = [c for c in DIGITS if not c.isdecimal()]          # '²', '①', ...
NUMBERS = st.one_of(
    st.integers(-5, 70_000).map(str),
    st.text(st.sampled_from(DIGITS), min_size=1, max_size=5),
    st.text(st.sampled_from(NOT_DECIMAL + list("0123456789")), min_size=1, max_size=4),
    st.text(st.sampled_from(DIGITS + list("0123456789 +-.eEx_\t")), max_size=7),
    st.sampled_from(["²", "①", "١٢٣", "٣", "0", "", " 8 ", "9" * 400, "1e3", "0x10", "1_0",
                     "65536", "4294967296", "-1", "nan", "inf", "1.5", "512M", "2G", "--",
                     "-"]),
)


def _number(got, low=None, high=None) -> None:
    if got.ok and got.value is not None:
        assert isinstance(got.value, int)
        assert low is None or got.value >= low
        assert high is None or got.value <= high


@fuzz_settings(weight=0.5)
@given(NUMBERS)
def test_any_dhcp_view_site_lease(text):
    got = attempt("numbers.dhcp_view", lambda: view._site(
        [("dhcplease", text, None)], view._Resolver([]), []))
    if got.ok:
        assert 1 <= got.value.lease_time <= 0xFFFFFFFE


@fuzz_settings(weight=0.5)
@given(NUMBERS)
def test_any_exports_site_lease(text):
    _number(attempt("numbers.exports", lambda: model._lease({"dhcplease": text}),
                    (XcatError,)), 1)


@fuzz_settings(weight=0.5)
@given(NUMBERS)
def test_any_exports_site_httpport(text):
    net = networks.network_from_row({"net": "10.0.0.0", "mask": "255.255.255.0",
                                     "netname": "prov"})
    got = attempt("numbers.exports", lambda: model.build_subnet(
        net, {"httpport": text, "master": "10.0.0.1"}, []), (XcatError,))
    if got.ok:
        assert got.value.server == "10.0.0.1"


@fuzz_settings(weight=0.5)
@given(NUMBERS)
def test_any_networks_mtu(text):
    got = attempt("numbers.networks", lambda: networks.network_from_row(
        {"net": "10.0.0.0", "mask": "255.255.255.0", "netname": "prov", "mtu": text}),
        (XcatError,))
    if got.ok:
        assert got.value.mtu is None or got.value.mtu >= 0


@fuzz_settings(weight=0.5)
@given(NUMBERS)
def test_any_dnsrecord_ttl(text):
    got = attempt("numbers.dns", lambda: records.Record.from_row(
        {"name": "n1.cluster.test", "type": "A", "value": "10.0.0.1", "node": "n1",
         "ttl": text}))
    if got.ok:
        assert got.value.ttl is None or got.value.ttl >= 0


class FakeStore:
    def __init__(self, tables: dict[str, list[dict]]) -> None:
        self.tables = tables

    def rows(self, table: str) -> list[dict]:
        return self.tables.get(table, [])

    def get(self, table: str, key: dict):
        return next((r for r in self.tables.get(table, [])
                     if all(r.get(k) == v for k, v in key.items())), None)


@fuzz_settings(weight=0.5)
@given(NUMBERS)
def test_any_dns_zone_ttl(text):
    store = FakeStore({"site": [{"key": "domain", "value": "cluster.test"}],
                       "dnsrecord": [{"name": "n1.cluster.test", "type": "A",
                                      "value": "10.0.0.1", "ttl": text}]})
    got = attempt("numbers.dns", lambda: zones.zone_data(store, "head"))
    if got.ok:
        assert all(0 <= ttl < 2**31 for _, _, ttl, _ in got.value.records)


@fuzz_settings(weight=0.5)
@given(NUMBERS)
def test_any_ddns_server_port(text):
    got = attempt("numbers.dns", lambda: ddns.parse_server(f"10.0.0.53:{text}", "site.x"),
                  (XcatError,))
    if got.ok:
        assert 0 < got.value.port < 65536


class FakeAttrs:
    def __init__(self, site: dict[str, str] | None = None,
                 values: dict[tuple[str, str, str], str] | None = None) -> None:
        self._site, self._values = site or {}, values or {}

    def site(self, key: str) -> str | None:
        return self._site.get(key)

    def table(self, name: str) -> dict:
        assert name == "site"
        return {k: {"key": k, "value": v} for k, v in self._site.items()}

    def lookup(self, node: str, table: str, column: str) -> str | None:
        return self._values.get((node, table, column))


@fuzz_settings(weight=0.5)
@given(NUMBERS)
def test_any_site_vmmaxp(text):
    _number(attempt("numbers.virt", lambda: vmcommon.max_parallel(
        FakeAttrs({"vmmaxp": text}))), 1)


@fuzz_settings(weight=0.5)
@given(NUMBERS)
def test_any_nodeset_site_httpport(text):
    got = attempt("numbers.nodeset", lambda: nodeset.site_paths(
        FakeAttrs({"httpport": text}), Path("/nonexistent")))
    if got.ok:
        assert got.value.http_port >= 0


@fuzz_settings(weight=0.5)
@given(NUMBERS)
def test_any_ipmi_bmc_port(text):
    got = attempt("numbers.ipmi", lambda: credentials.parse_bmc_address(f"10.0.0.9:{text}"),
                  (DriverError,))
    if got.ok:
        assert 0 < got.value[1] < 65536


@fuzz_settings(weight=0.5)
@given(NUMBERS, NUMBERS)
def test_any_vm_cpus_and_sizes(cpus, memory):
    values = {("v1", "vm", "host"): "h1", ("v1", "vm", "cpus"): cpus,
              ("v1", "vm", "memory"): memory}
    identity = guest.Identity(uuid="00000000-0000-0000-0000-000000000001",
                              macs=("42:00:00:00:00:01",))
    got = attempt("numbers.virt", lambda: guest.guest_spec(
        FakeAttrs(values=values), "v1", identity, toolstack="kvm"), (DriverError,))
    assert got.bug is None          # was vm-size-overflow
    if got.ok:
        assert got.value.vcpus >= 1 and 1 <= got.value.memory_mb <= guest.MAX_SIZE_MB
    size = attempt("numbers.virt", lambda: vmcommon.disk_size_mb(memory, "mkvm -s"),
                   (DriverError,))
    assert size.bug is None
    _number(size, 1)


@fuzz_settings(weight=0.5)
@given(NUMBERS, NUMBERS)
def test_any_chvm_and_mkvm_options(cpus, memory):
    for module, parse in ((chvm, chvm._parse_change), (mkvm, mkvm._options)):
        def run(module=module, parse=parse):
            return parse(module._parser.parse(["v1", f"--cpus={cpus}", f"--mem={memory}"]))
        # Were bugs: option-double-dash ("--"), vm-size-overflow (400 digits).
        assert attempt("numbers.vm_commands", run, (XcatError,)).bug is None


# -- regressions: '²' is a digit to isdigit(), not to int() --------------------------------

# Each of these places once tested its text with str.isdigit() and then called int(),
# which raises ValueError for '²' (isdigit() is also true for superscripts and circled
# digits); they now read numbers with xcatpy.digits.decimal.


def test_dhcp_view_lease_time():
    warnings = []
    site = view._site([("dhcplease", "²", None)], view._Resolver([]), warnings)
    assert site.lease_time == view.DEFAULT_LEASE_TIME and "dhcplease" in warnings[0]


def test_exports_lease_time():
    with pytest.raises(XcatError):
        model._lease({"dhcplease": "²"})


def test_exports_http_port():
    net = networks.network_from_row({"net": "10.0.0.0", "mask": "255.255.255.0"})
    subnet = model.build_subnet(net, {"httpport": "²", "master": "10.0.0.1"}, [])
    assert subnet.ipxe_url.startswith("http://10.0.0.1/")     # port 80, not "²"


def test_networks_mtu():
    with pytest.raises(XcatError):
        networks.network_from_row({"net": "10.0.0.0", "mask": "255.255.255.0", "mtu": "²"})


def test_dnsrecord_ttl():
    assert records.Record.from_row({"name": "n1", "type": "A", "value": "10.0.0.1",
                                    "ttl": "²"}).ttl is None
    assert records.Record.from_row({"name": "n1", "type": "A", "value": "10.0.0.1",
                                    "ttl": "٣"}).ttl is None   # not read as 3


def test_dns_zone_record_ttl():
    data = zones.zone_data(FakeStore({"dnsrecord": [{"name": "n1.cluster.test", "type": "A",
                                                     "value": "10.0.0.1", "ttl": "²"}]}),
                           "head")
    assert [ttl for _, _, ttl, _ in data.records] == [zones.DEFAULT_TTL] * len(data.records)


def test_ddns_server_port():
    with pytest.raises(XcatError):
        ddns.parse_server("10.0.0.53:²", "site.x")


def test_site_vmmaxp():
    assert vmcommon.max_parallel(FakeAttrs({"vmmaxp": "²"})) == vmcommon.DEFAULT_VMMAXP
    assert vmcommon.max_parallel(FakeAttrs({"vmmaxp": "١٢"})) == vmcommon.DEFAULT_VMMAXP


def test_nodeset_http_port():
    assert nodeset.site_paths(FakeAttrs({"httpport": "²"}), Path("/nonexistent")).http_port \
        == 80


def test_ipmi_bmc_port():
    with pytest.raises(DriverError):
        credentials.parse_bmc_address("10.0.0.9:²")


def test_vm_cpus():
    with pytest.raises(DriverError):
        guest.guest_spec(FakeAttrs(values={("v1", "vm", "host"): "h1",
                                           ("v1", "vm", "cpus"): "²"}), "v1",
                         guest.Identity("u", ("42:00:00:00:00:01",)), toolstack="kvm")


def test_chvm_cpus():
    with pytest.raises(XcatError):
        chvm._parse_change(chvm._parser.parse(["v1", "--cpus=²"]))


def test_mkvm_cpus():
    with pytest.raises(XcatError):
        mkvm._options(mkvm._parser.parse(["v1", "--cpus=²"]))


@pytest.mark.parametrize("module, parse, option", [
    (chvm, chvm._parse_change, "--mem=--"), (chvm, chvm._parse_change, "--cpus=--"),
    (mkvm, mkvm._options, "--cpus=--"), (mkvm, mkvm._options, "-s--")])
def test_option_value_double_dash(module, parse, option):
    """argparse 3.11 stored [] for `--opt=--` and the handlers fell over it; '--' is now
    the option's value, and refused as a number like any other word."""
    with pytest.raises(XcatError, match="'--'"):
        parse(module._parser.parse(["v1", option]))


def test_vm_size_with_400_digits():
    # float() made 400 digits inf, and int(inf) raised OverflowError.
    for text in ("9" * 400, "9" * 5000 + "G", "1" + "0" * 30 + ".5k", "1048577T"):
        with pytest.raises(DriverError, match="^mkvm --mem is too large: "):
            guest.size_mb(text, "mkvm --mem")
    assert guest.size_mb("1048576T", "mkvm --mem") == guest.MAX_SIZE_MB
    assert guest.size_mb("0.5G", "mkvm --mem") == 512


def test_the_unicode_digits_are_there():
    assert "²" in NOT_DECIMAL and "①" in NOT_DECIMAL and "٣" in DIGITS
