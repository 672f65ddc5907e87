"""Fuzzing the command API: the request decoder, the HTTP resource in front of it with the
policy gate (which expands the request's noderange), the response-line decoder, and the
CLI reading a response stream.

Properties:
- decode_request gives a valid CommandRequest or ProtocolError for any bytes; what it
  gives encodes and decodes to itself; any CommandRequest survives encode/decode.
- render_POST answers any body: a refusal is status 400/403/404 with an error line and
  `{"exit": 1}`, anything else runs the command through the policy gate, which must not
  raise for any noderange a client sends.
- decode_event gives a dict or ProtocolError.
- The CLI's stream reader gives an exit code or an XcatError for any response lines.
"""

import contextlib
import io
import json
import os
import shutil

import pytest
from hypothesis import given
from hypothesis import strategies as st
from twisted.internet import defer
from twisted.web import server

from tests.fuzz.harness import attempt, fuzz_settings, mostly, tried
from xcatpy.cli.client import _stream
from xcatpy.commands import COMMANDS
from xcatpy.db.store import Store
from xcatpy.errors import XcatError
from xcatpy.server.api import CommandResource
from xcatpy.server.protocol import (
    API_PATH,
    CommandRequest,
    ProtocolError,
    decode_event,
    decode_request,
)
from xcatpy.userfiles import write_user_file

# -- strategies ------------------------------------------------------------------------------

# Any text, lone surrogates included (JSON can carry them as \udxxx escapes).
TEXT = st.text(st.characters(blacklist_categories=()), max_size=20)
json_leaves = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), TEXT)
json_values = st.recursive(json_leaves, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(TEXT, inner, max_size=4)), max_leaves=12)
COMMAND_NAMES = st.one_of(st.sampled_from(sorted(COMMANDS)), TEXT)
NODERANGES = st.one_of(
    st.sampled_from(["n1", "n1-n3", "compute", "all", "n[1-5]", "/n.*", "-n1", "n1@compute",
                     "mgt==ipmi", "groups=~comp", "^file", "(n1,n2)", "n1+2", "/a{4294967296}",
                     "n[1-" + "9" * 4400 + "]"]),
    st.text(alphabet="n1[]-:+,@()^/=~!.x", max_size=15),
    TEXT)
ARGS = st.lists(st.one_of(NODERANGES, TEXT, st.sampled_from(["-l", "--stanza", "-z"])),
                max_size=4)


@st.composite
def request_objects(draw) -> dict:
    obj = {}
    if draw(st.integers(0, 5)):
        obj["command"] = draw(COMMAND_NAMES)
    if draw(st.integers(0, 5)):
        obj["args"] = draw(st.one_of(ARGS, ARGS, json_values))
    for key in ("cwd", "stdin"):
        if draw(st.booleans()):
            obj[key] = draw(st.one_of(TEXT, TEXT, json_values))
    if draw(st.booleans()):
        obj["files"] = draw(st.one_of(st.dictionaries(TEXT, TEXT, max_size=3), json_values))
    for key, value in draw(st.dictionaries(TEXT, json_values, max_size=2)).items():
        obj.setdefault(key, value)
    return obj


def _nested(depth: int, kind: str) -> bytes:
    if kind == "[":
        return b"[" * depth + b"]" * depth
    return b'{"a":' * depth + b"1" + b"}" * depth


bodies = st.one_of(
    request_objects().map(lambda o: json.dumps(o).encode()),
    request_objects().map(lambda o: json.dumps(o, ensure_ascii=False).encode("utf-8",
                                                                              "surrogatepass")),
    request_objects().map(lambda o: json.dumps(o).encode("utf-16")),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=60),
    st.builds(_nested, st.integers(1, 3000), st.sampled_from("[{")),
    st.sampled_from([b"", b"{}", b"null", b"\xef\xbb\xbf{}", b'{"command": "nodels"}',
                     b'{"command": "' + b"1" * 5000 + b'"}', b"1" * 5000, b"[1e999]",
                     b'{"command": "x", "args": NaN}', b'{"command":"a","command":"b"}']),
)


# -- the decoder -----------------------------------------------------------------------------

def _valid(req: CommandRequest) -> None:
    assert isinstance(req.command, str) and req.command
    assert isinstance(req.args, list) and all(isinstance(a, str) for a in req.args)
    assert isinstance(req.cwd, str) and req.cwd and isinstance(req.stdin, str)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in req.files.items())


@fuzz_settings()
@given(bodies)
def test_decode_request_gives_a_request_or_protocol_error(body):
    got = attempt("api.decode_request", lambda: decode_request(body), (ProtocolError,))
    assert got.bug is None          # was api-request-recursion
    if got.ok:
        _valid(got.value)
        assert decode_request(got.value.encode()) == got.value


@fuzz_settings()
@given(st.builds(CommandRequest, TEXT.filter(bool), st.lists(TEXT, max_size=4),
                 TEXT.filter(bool), TEXT, st.dictionaries(TEXT, TEXT, max_size=3)))
def test_request_round_trip(req):
    tried("api.roundtrip")
    assert decode_request(req.encode()) == req


@fuzz_settings()
@given(st.one_of(bodies, json_values.map(lambda v: json.dumps(v).encode())))
def test_decode_event_gives_a_dict_or_protocol_error(line):
    got = attempt("api.decode_event", lambda: decode_event(line), (ProtocolError,))
    assert got.bug is None          # was api-event-recursion
    assert got.value is None or isinstance(got.value, dict)


def test_deeply_nested_request():
    with pytest.raises(ProtocolError):
        decode_request(b"[" * 100_000)


def test_deeply_nested_response_line():
    with pytest.raises(ProtocolError):
        decode_event(b'{"a":' * 100_000)


# -- the HTTP resource and the policy gate ---------------------------------------------------

class Cert:
    def __init__(self, cn: str, serial: int) -> None:
        self.cn, self.serial = cn, serial

    def get_subject(self):
        return type("Subject", (), {"CN": self.cn})()

    def get_serial_number(self) -> int:
        return self.serial


class FakeHttpRequest:
    """What render_POST uses of twisted.web's Request."""

    def __init__(self, path: bytes, body: bytes, cert: Cert | None) -> None:
        self.path = path
        self.content = io.BytesIO(body)
        self.code = 200
        self.headers: dict[bytes, bytes] = {}
        self.written: list[bytes] = []
        self.finished = False
        transport = type("T", (), {"getPeerCertificate": lambda _self: cert})()
        self.channel = type("C", (), {"transport": transport})()

    def setHeader(self, name: bytes, value: bytes) -> None:
        self.headers[name] = value

    def setResponseCode(self, code: int) -> None:
        self.code = code

    def getClientAddress(self):
        return type("A", (), {"host": "10.0.0.9"})()

    def notifyFinish(self):
        return defer.Deferred()

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def finish(self) -> None:
        self.finished = True


class GateExecutor:
    """Runs the policy gate against a real store, as the executor does before a handler;
    the handler itself is not run (an allowed request exits 0, a denied one 1)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.outcome = None

    def run(self, request, out, gate):
        self.outcome = attempt("api.policy_gate", lambda: gate(self.store))
        return defer.succeed(0 if self.outcome.value else 1)


class Reactor:
    """Runs what the handler's thread hands over at once; a delayed flush, too (the
    output is only collected here)."""

    def callFromThread(self, fn, *args) -> None:
        fn(*args)

    def callLater(self, _delay, fn, *args) -> None:
        fn(*args)


@pytest.fixture(scope="module")
def policy_store(tmp_path_factory):
    store = Store.open(tmp_path_factory.mktemp("api") / "state")
    store.begin()
    store.upsert_rows("nodelist", [{"node": f"n{i}", "groups": "compute,all"}
                                   for i in range(1, 6)])
    store.upsert_rows("policy", [
        {"priority": "1", "name": "root", "rule": "allow"},
        {"priority": "2", "name": "op", "noderange": "compute", "rule": "allow"},
        {"priority": "3", "name": "op", "commands": "nodels", "parameters": "^-l",
         "rule": "deny"},
        {"priority": "4", "name": "*", "noderange": "n1-n2", "rule": "allow"},
    ])
    store.commit()
    yield store
    store.close()


@fuzz_settings()
@given(mostly(st.just(API_PATH), st.sampled_from([b"/", b"/xcatpy/v1/other", API_PATH + b"/"])),
       mostly(st.builds(Cert, st.sampled_from(["root", "op", "nobody", "", "*"]),
                        st.integers(1, 5)), st.none()),
       mostly(st.builds(lambda c, a: json.dumps({"command": c, "args": a}).encode(),
                        st.sampled_from(sorted(COMMANDS)), ARGS), bodies))
def test_render_post_refuses_or_runs_through_the_gate(policy_store, path, cert, body):
    executor = GateExecutor(policy_store)
    resource = CommandResource(Reactor(), executor, revoked=lambda serial: serial == 5)
    request = FakeHttpRequest(path, body, cert)
    got = attempt("api.http", lambda: resource.render_POST(request))
    if not got.ok:
        return
    result = got.value
    if result == server.NOT_DONE_YET:
        assert executor.outcome is not None and request.finished
        lines = b"".join(request.written).splitlines()
    else:
        assert executor.outcome is None and request.code in (400, 403, 404)
        lines = result.splitlines()
        assert json.loads(lines[0])["err"].startswith("Error: ")
    assert lines and all(isinstance(json.loads(line), dict) for line in lines)
    assert "exit" in json.loads(lines[-1])


# -- the CLI reading a response --------------------------------------------------------------

# File names a (trusted) daemon might send back; never absolute or with '..': the test
# writes into a temporary directory and must stay there.
FILE_NAMES = st.sampled_from(["out.csv", "sub/x.csv", "", ".", "a\0b", "x" * 300, "é.csv"])
events = st.one_of(
    st.builds(lambda v: {"out": v}, json_values),
    st.builds(lambda v: {"err": v}, json_values),
    st.builds(lambda n, c: {"file": n, "content": c}, FILE_NAMES, st.one_of(TEXT, TEXT,
                                                                             json_values)),
    st.builds(lambda v: {"exit": v}, st.one_of(st.integers(-300, 300), st.integers(-300, 300),
                                               json_values)),
    json_values.filter(lambda v: isinstance(v, dict)),
)
@pytest.fixture(scope="module")
def cli_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("cli")


lines = st.one_of(events.map(lambda e: json.dumps(e).encode() + b"\n"),
                  st.binary(max_size=20).map(lambda b: b + b"\n"))


@fuzz_settings(weight=0.7)
@given(st.lists(lines, max_size=6))
def test_cli_reads_any_response_stream(cli_dir, stream):
    cwd = cli_dir
    for entry in cwd.iterdir():            # each input starts in an empty directory
        shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        got = attempt("cli.stream", lambda: _stream(iter(stream), str(cwd)), (XcatError,))
    # Were bugs: cli-event-types, cli-write-file, userfiles-unlink.
    assert got.bug is None
    if got.ok:
        assert isinstance(got.value, int) and 0 <= got.value <= 255
    assert not [e for e in os.listdir(cwd) if ".tmp" in e]     # no temporary file left
    assert not [e for e in os.listdir(cwd.parent) if ".tmp" in e]


@pytest.mark.parametrize("line", [b'{"exit": "x"}', b'{"exit": null}', b'{"exit": 1e999}',
                                  b'{"exit": 1.0}', b'{"exit": true}', b'{"exit": 256}',
                                  b'{"exit": -1}', b'{"file": 1, "content": "x"}',
                                  b'{"file": "f", "content": ["x"]}'])
def test_response_exit_code_not_a_number(tmp_path, line):
    """Found by the properties: the CLI took these with int() and Path() unchecked. A
    malformed line is an XcatError (the CLI prints `Error: ...`, exits 1); 256 would have
    wrapped to exit status 0."""
    with contextlib.redirect_stdout(io.StringIO()), pytest.raises(XcatError, match="xcatd"):
        _stream(iter([line + b"\n", b'{"exit": 0}\n']), str(tmp_path))
    assert list(tmp_path.iterdir()) == []
    assert _stream(iter([b'{"exit": 255}\n']), str(tmp_path)) == 255


@pytest.mark.parametrize("name, content", [("a\0b", "x"), ("lone", "\udc00"), ("", "x"),
                                           (".", "x"), ("nodir/x.csv", "x")])
def test_response_file_name_with_nul(tmp_path, name, content):
    """A file event the CLI cannot write is an XcatError naming the file, and leaves no
    temporary file behind, here or in the parent directory."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    line = json.dumps({"file": name, "content": content}).encode() + b"\n"
    with contextlib.redirect_stdout(io.StringIO()), \
            pytest.raises(XcatError, match="^Cannot write file "):
        _stream(iter([line, b'{"exit": 0}\n']), str(cwd))
    assert list(cwd.iterdir()) == [] and list(tmp_path.iterdir()) == [cwd]


def test_write_user_file_name_too_long(tmp_path):
    with pytest.raises(XcatError, match="File name too long"):
        write_user_file(tmp_path / ("x" * 300), "", "x" * 300)
    assert list(tmp_path.iterdir()) == []
    write_user_file(tmp_path / ("x" * 255), "ok", "x" * 255)    # the temporary name is
    assert (tmp_path / ("x" * 255)).read_text() == "ok"         # longer, not the file's
