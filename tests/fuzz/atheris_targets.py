"""Coverage-guided fuzzing of xcatpy's parsers with atheris (libFuzzer), on demand.

The hypothesis suite (tests/fuzz/test_fuzz_*.py) runs in CI; this runs the same targets,
with the same properties and the same list of known bugs, for as long as you like, guided
by coverage of xcatpy's code. atheris is not a dependency of the project:

    .venv/bin/pip install atheris
    .venv/bin/python -m tests.fuzz.atheris_targets --list
    .venv/bin/python -m tests.fuzz.atheris_targets tftp.parse -runs=200000
    .venv/bin/python -m tests.fuzz.atheris_targets noderange -max_total_time=600 corpus/nr
    XCATPY_FUZZ_STRICT=1 .venv/bin/python -m tests.fuzz.atheris_targets regexattr -runs=1000

Run it from the top of the checkout. The first argument is the target; everything after
it goes to libFuzzer (-runs=N, -max_total_time=S, -max_len=N, -jobs=N, a corpus
directory to grow, or a crash file to replay). A crash (an exception other than the
target's clean error, or a failed property) stops the run and leaves a crash-<sha1> file
with the input that reproduces it. Known bugs (tests/fuzz/harness.py) are tolerated unless
XCATPY_FUZZ_STRICT=1 (the first hit of each is printed). libFuzzer's own last line, "Done N
runs", is the number of inputs tried. Inputs start small and grow (libFuzzer's length
control): give -len_control=0 -max_len=1500 to reach whole DHCP packets (240 bytes of
header) early.
"""

import os
import sys
import tempfile
from pathlib import Path

try:
    import atheris
except ImportError:          # the module stays importable (and listable) without it
    atheris = None


def _instrumented_imports():
    """Import what the targets use, with xcatpy's modules instrumented for coverage."""
    import contextlib

    ctx = atheris.instrument_imports(include=["xcatpy"]) if atheris else \
        contextlib.nullcontext()
    with ctx:
        import xcatpy.boot.directives  # noqa: F401
        import xcatpy.boot.monitor  # noqa: F401
        import xcatpy.boot.nodeindex  # noqa: F401
        import xcatpy.boot.tftp.files  # noqa: F401
        import xcatpy.boot.tftp.packets  # noqa: F401
        import xcatpy.boot.tftp.protocol  # noqa: F401
        import xcatpy.boot.tftp.session  # noqa: F401
        import xcatpy.cli.client  # noqa: F401
        import xcatpy.db.csvformat  # noqa: F401
        import xcatpy.db.noderange  # noqa: F401
        import xcatpy.db.regexattr  # noqa: F401
        import xcatpy.db.selectors  # noqa: F401
        import xcatpy.db.stanza  # noqa: F401
        import xcatpy.net.dhcp.packet  # noqa: F401
        import xcatpy.net.dhcp.responder  # noqa: F401
        import xcatpy.net.dns.server  # noqa: F401
        import xcatpy.server.protocol  # noqa: F401


# -- targets: name -> setup() returning one_input(data: bytes) -----------------------------

def _text(fdp, most: int = 200) -> str:
    return fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, most))


def tftp_parse():
    from tests.fuzz.harness import attempt
    from xcatpy.boot.tftp import packets

    def one(data: bytes) -> None:
        attempt("tftp.parse", lambda: packets.parse(data), (packets.MalformedPacket,))
    return one


def tftp_server():
    from tests.fuzz import test_fuzz_tftp as t
    from xcatpy.boot.tftp import packets

    tree = t.build_tree(Path(tempfile.mkdtemp(prefix="xcatpy-atheris-")))
    sink = t.Sink(3)
    kinds = ["request", "good-ack", "ack", "packet", "tick"]

    def one(data: bytes) -> None:
        fdp = atheris.FuzzedDataProvider(data)
        name = fdp.PickValueInList([b"small", b"mid", b"big", b"empty", b"dir/sub.txt",
                                    b"escape", b"gen/x"])
        steps = [("request", 0, packets.request(name, "octet", {
            "blksize": fdp.ConsumeIntInRange(0, 70000),
            "windowsize": fdp.ConsumeIntInRange(0, 80)}))]
        while fdp.remaining_bytes() and len(steps) < 40:
            kind, who = fdp.PickValueInList(kinds), fdp.ConsumeIntInRange(0, 2)
            if kind in ("request", "packet"):
                arg = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 80))
            elif kind == "ack":
                arg = fdp.ConsumeIntInRange(-3, 70)
            elif kind == "tick":
                arg = fdp.ConsumeFloatInRange(0, 400)
            else:
                arg = b""
            steps.append((kind, who, arg))
        t.tried("tftp.server")
        t.run_server(tree, sink, steps, fdp.ConsumeBool())
    return one


def dhcp_decode():
    from tests.fuzz.harness import attempt
    from xcatpy.net.dhcp import packet as p

    def one(data: bytes) -> None:
        if data[:1] and data[0] & 1 and len(data) > 236:     # the magic cookie in place
            data = data[1:237] + p.MAGIC_COOKIE + data[237:]
        got = attempt("dhcp.decode", lambda: p.decode(data), (p.MalformedPacket,))
        if got.ok:
            assert p.decode(p.encode(got.value)) == got.value
    return one


def dhcp_service():
    from tests.fuzz import test_fuzz_dhcp as t
    from xcatpy.net.dhcp import packet as p

    def one(data: bytes) -> None:
        fdp = atheris.FuzzedDataProvider(data)
        mode = fdp.PickValueInList(["server", "server", "proxy"])
        steps = []
        while fdp.remaining_bytes() > p.OPTIONS_START and len(steps) < 8:
            header = bytearray(fdp.ConsumeBytes(p.OPTIONS_START))
            header[0:4] = bytes((1, 1, 6, header[3]))       # mostly a plausible request
            header[236:240] = p.MAGIC_COOKIE
            body = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 300))
            steps.append((bytes(header) + body, fdp.ConsumeIntInRange(0, 2),
                          fdp.ConsumeBool(), fdp.ConsumeFloatInRange(0, 4000)))
        t.run_service(mode, steps)
    return one


def dns_datagram():
    from tests.fuzz import test_fuzz_dns as t
    from tests.fuzz.harness import attempt

    def one(data: bytes) -> None:
        factory = t.DnsFactory(lambda: t.SNAPSHOT)
        udp = bool(data[:1] and data[0] & 1)
        got = attempt("dns.datagram", lambda: factory.datagram(data[1:], udp))
        if got.bug is None and t._check_internal_errors(factory, [data[1:]], udp):
            t._check_reply(data[1:], got.value, udp)
    return one


def api_request():
    import json

    from tests.fuzz.harness import attempt
    from xcatpy.server.protocol import ProtocolError, decode_event, decode_request

    def one(data: bytes) -> None:
        if data[:1] and data[0] & 1:          # a request object, its fields from the data
            fdp = atheris.FuzzedDataProvider(data[1:])
            fields = {"command": _text(fdp, 20),
                      "args": [_text(fdp, 30) for _ in range(fdp.ConsumeIntInRange(0, 3))],
                      "cwd": _text(fdp, 10), "stdin": _text(fdp, 10),
                      "files": {_text(fdp, 5): _text(fdp, 10)}}
            for key in list(fields):
                if fdp.ConsumeBool():
                    del fields[key]
            data = json.dumps(fields).encode()
        got = attempt("api.decode_request", lambda: decode_request(data), (ProtocolError,))
        if got.ok:
            assert decode_request(got.value.encode()) == got.value
        attempt("api.decode_event", lambda: decode_event(data), (ProtocolError,))
    return one


def noderange():
    from tests.fuzz import test_fuzz_noderange as t
    from xcatpy.db.attrs import NodeAttrs

    store = t.build_store(Path(tempfile.mkdtemp(prefix="xcatpy-atheris-")) / "state")
    attrs = NodeAttrs(store)

    def one(data: bytes) -> None:
        fdp = atheris.FuzzedDataProvider(data)
        t.check_expand(attrs, _text(fdp, 300))
    return one


def regexattr():
    from tests.fuzz.harness import attempt
    from xcatpy.db import regexattr as r
    from xcatpy.errors import XcatError

    def one(data: bytes) -> None:
        fdp = atheris.FuzzedDataProvider(data)
        value, node = _text(fdp, 100), _text(fdp, 14)
        stored = attempt("regexattr", lambda: r.validate(value), (XcatError,))
        got = attempt("regexattr", lambda: r.evaluate(value, node), (XcatError,))
        if stored.error is not None:
            assert got.error is not None or got.bug is not None
    return one


def import_stanza():
    from tests.fuzz.harness import attempt
    from xcatpy.db import stanza
    from xcatpy.errors import XcatError

    def one(data: bytes) -> None:
        fdp = atheris.FuzzedDataProvider(data)
        attempt("import.stanza", lambda: stanza.parse(_text(fdp, 400)), (XcatError,))
    return one


def import_csv():
    from tests.fuzz.harness import attempt
    from xcatpy.db import csvformat
    from xcatpy.db.schema import TABLES

    def one(data: bytes) -> None:
        fdp = atheris.FuzzedDataProvider(data)
        table = TABLES[fdp.PickValueInList(["nodelist", "site", "hosts", "networks"])]
        text = _text(fdp, 400)
        attempt("import.csv", lambda: csvformat.parse(text, "f.csv", table),
                (csvformat.CSVError,))
    return one


def directives():
    from tests.fuzz.harness import attempt
    from xcatpy.boot.directives import Directive, DirectiveError, parse

    def one(data: bytes) -> None:
        fdp = atheris.FuzzedDataProvider(data)
        text = _text(fdp, 400)
        got = attempt("directives.parse", lambda: parse(text, Path("t.tmpl")),
                      (DirectiveError,))
        if got.ok:
            assert "".join(s.text if isinstance(s, Directive) else s
                           for s in got.value) == text
    return one


def boot_monitor():
    from tests.fuzz import test_fuzz_boot as t

    def one(data: bytes) -> None:
        fdp = atheris.FuzzedDataProvider(data)
        chunks = [fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 200))
                  for _ in range(fdp.ConsumeIntInRange(1, 5))]
        t.tried("boot.monitor")
        t.check_monitor(chunks, fdp.ConsumeBool(), fdp.ConsumeBool())
    return one


def numbers():
    from tests.fuzz import test_fuzz_numbers as t

    props = [t.test_any_dhcp_view_site_lease, t.test_any_exports_site_lease,
             t.test_any_networks_mtu, t.test_any_dnsrecord_ttl, t.test_any_ddns_server_port,
             t.test_any_site_vmmaxp, t.test_any_nodeset_site_httpport,
             t.test_any_ipmi_bmc_port]

    def one(data: bytes) -> None:
        fdp = atheris.FuzzedDataProvider(data)
        prop = fdp.PickValueInList(props)
        prop.hypothesis.inner_test(_text(fdp, 12))     # the property without hypothesis
    return one


TARGETS = {
    "tftp.parse": tftp_parse, "tftp.server": tftp_server, "dhcp.decode": dhcp_decode,
    "dhcp.service": dhcp_service, "dns.datagram": dns_datagram, "api.request": api_request,
    "noderange": noderange, "regexattr": regexattr, "import.stanza": import_stanza,
    "import.csv": import_csv, "directives": directives, "boot.monitor": boot_monitor,
    "numbers": numbers,
}


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[1] in ("-h", "--help", "--list"):
        print(__doc__.split("\n\n")[0])
        print("targets: " + " ".join(TARGETS))
        return 0 if len(argv) >= 2 else 2
    name = argv[1]
    if name not in TARGETS:
        print(f"unknown target {name!r}; targets: {' '.join(TARGETS)}", file=sys.stderr)
        return 2
    if atheris is None:
        print("atheris is not installed: .venv/bin/pip install atheris", file=sys.stderr)
        return 2
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    _instrumented_imports()
    from tests.fuzz import harness

    target_input = TARGETS[name]()
    seen: set[str] = set()

    def one_input(data: bytes) -> None:
        target_input(data)
        if len(harness.KNOWN_HITS) != len(seen):      # say so when a known bug shows up
            for _, bug in list(harness.KNOWN_HITS):
                if bug not in seen:
                    seen.add(bug)
                    print(f"fuzz: known bug {bug} hit (tolerated)", file=sys.stderr)
    atheris.Setup([argv[0]] + argv[2:], one_input)
    atheris.Fuzz()
    return 0


if __name__ == "__main__":
    os.environ.setdefault("XCATPY_FUZZ", "")
    sys.exit(main(sys.argv))
