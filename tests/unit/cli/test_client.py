"""The real CLI reading a daemon's response stream over mutual TLS: a stand-in xcatd (an
HTTPS server with the instance's own certificates, on a loopback port) sends response
lines a real xcatd never would, and the CLI must end each with one `Error:` line and
exit 1, keeping what it printed before and leaving no file behind."""

import json
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.integration.clitools import cli
from xcatpy.pki.ca import init_pki
from xcatpy.pki.paths import PkiPaths
from xcatpy.server.protocol import API_PATH


class StandIn(ThreadingHTTPServer):
    """Answers every command request with `self.lines` (bytes, one response line each)."""

    daemon_threads = True

    def __init__(self, pki: PkiPaths) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(pki.server_cert, pki.server_key)
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(pki.ca_cert)
        self.socket = ctx.wrap_socket(self.socket, server_side=True)
        self.lines: list[bytes] = []
        self.requests: list[dict] = []


class Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.requests.append(json.loads(body))
        assert self.path == API_PATH.decode()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.end_headers()
        for line in self.server.lines:
            self.wfile.write(line + b"\n")

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def stand_in(tmp_path_factory):
    state = tmp_path_factory.mktemp("cli") / "state"
    pki = init_pki(state, server_names=["localhost", "127.0.0.1"])
    server = StandIn(pki)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, state
    server.shutdown()
    server.server_close()
    thread.join(10)


def run(stand_in, tmp_path: Path, lines: list[bytes], *args: str):
    server, state = stand_in
    server.lines = lines
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    env = {"XCATHOST": f"127.0.0.1:{server.server_address[1]}", "HOME": str(tmp_path),
           "XCATPY_CREDS": str(PkiPaths(state).user_creds("root").directory)}
    result = cli("tabdump", *(args or ("site",)), state=state, bypass=False, extra_env=env,
                 cwd=work)
    return result, work


def test_a_well_formed_stream_is_printed_and_written(stand_in, tmp_path):
    result, work = run(stand_in, tmp_path, [b'{"out": "#key,value"}', b'{"err": "n1: Error: x"}',
                                            b'{"file": "site.csv", "content": "a,b\\n"}',
                                            b'{"exit": 3}'], "-f", "site.csv", "site")
    assert (result.rc, result.out, result.err) == (3, "#key,value\n", "n1: Error: x\n")
    assert (work / "site.csv").read_text() == "a,b\n" and len(list(work.iterdir())) == 1
    assert stand_in[0].requests[-1]["args"] == ["-f", "site.csv", "site"]


@pytest.mark.parametrize("bad, message", [
    (b'{"exit": "x"}', 'bad response line from xcatd: exit code "x" is not a number'),
    (b'{"exit": null}', "bad response line from xcatd: exit code null is not a number"),
    (b'{"exit": 1e999}', "bad response line from xcatd: exit code Infinity is not a number"),
    (b'{"exit": 256}', "bad response line from xcatd: exit code 256 is not a number"),
    (b'{"file": 7, "content": "x"}', "bad response line from xcatd: 'file' and 'content'"),
    (b"[" * 100_000, "bad response line from xcatd: nested too deeply"),
    (b'{"file": "' + b"x" * 300 + b'", "content": "x"}', "Cannot write file xxx"),
    (b'{"file": "a\\u0000b", "content": "x"}', "Cannot write file a\0b: embedded null byte"),
    (b'{"file": ".", "content": "x"}', "Cannot write file .: Is a directory"),
])
def test_a_malformed_line_ends_the_command_with_one_error(stand_in, tmp_path, bad, message):
    result, work = run(stand_in, tmp_path, [b'{"out": "before"}', bad, b'{"out": "after"}',
                                            b'{"exit": 0}'])
    assert result.rc == 1
    assert result.out == "before\n"
    assert result.err.count("\n") == 1 and result.err.startswith("Error: " + message)
    assert "Traceback" not in result.err
    assert list(work.iterdir()) == [] and [p.name for p in tmp_path.iterdir()] == ["work"]


def test_a_stream_without_exit_is_an_error(stand_in, tmp_path):
    result, _ = run(stand_in, tmp_path, [b'{"out": "partial"}'])
    assert (result.rc, result.out) == (1, "partial\n")
    assert result.err == "Error: xcatd closed the connection before the command finished\n"
