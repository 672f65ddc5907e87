"""The API's wire format: what decode_request and decode_event accept and refuse, and the
real xcatd refusing a request nested too deeply for json (was a RecursionError out of the
decoder: the request then ended as an internal error)."""

import http.client
import json
import os
import ssl
import subprocess

import pytest

from tests.integration.clitools import cli, command_path
from tests.integration.xcatd import Xcatd
from xcatpy.pki.paths import PkiPaths
from xcatpy.server.protocol import (
    API_PATH,
    CommandRequest,
    ProtocolError,
    decode_event,
    decode_request,
)

DEEP = [b"[" * 100_000, b'{"a":' * 100_000, b"[" * 100_000 + b"]" * 100_000,
        b'{"command": "nodels", "args": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"]


@pytest.mark.parametrize("body", DEEP)
def test_a_request_nested_too_deeply_is_a_protocol_error(body):
    with pytest.raises(ProtocolError, match="^request is not JSON: nested too deeply$"):
        decode_request(body)


@pytest.mark.parametrize("line", DEEP)
def test_a_response_line_nested_too_deeply_is_a_protocol_error(line):
    with pytest.raises(ProtocolError, match="^bad response line from xcatd: nested too deeply$"):
        decode_event(line)


def test_ordinary_nesting_still_decodes():
    nested = {"out": [[[[["x"]]]]]}
    assert decode_event(json.dumps(nested).encode()) == nested
    req = CommandRequest("nodels", ["n1", "groups"], "/tmp", "", {"f": "x"})
    assert decode_request(req.encode()) == req
    with pytest.raises(ProtocolError, match="'args' must be a list of strings"):
        decode_request(b'{"command": "nodels", "args": [[[["x"]]]]}')
    with pytest.raises(ProtocolError, match="^request is not JSON: "):
        decode_request(b'{"command": ')


def _post(port: int, context: ssl.SSLContext, body: bytes) -> tuple[int, list[dict]]:
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=30)
    try:
        conn.request("POST", API_PATH.decode(), body, {"Content-Type": "application/json"})
        response = conn.getresponse()
        return response.status, [json.loads(line) for line in response.read().splitlines()]
    finally:
        conn.close()


def test_xcatd_refuses_a_deeply_nested_request_and_keeps_serving(tmp_path):
    daemon = Xcatd(tmp_path / "state")
    env = dict(os.environ, XCATPY_STATE=str(daemon.state))
    subprocess.run([*command_path("xcatd"), "--init"], check=True, capture_output=True,
                   env=env)
    daemon.start()
    try:
        creds = PkiPaths(daemon.state).user_creds("root")
        ctx = ssl.create_default_context(cafile=str(creds.ca))
        ctx.load_cert_chain(str(creds.cert), str(creds.key))
        status, events = _post(daemon.port, ctx, b"[" * 100_000)
        assert status == 400
        assert events == [{"err": "Error: bad request: request is not JSON: nested too "
                                  "deeply"}, {"exit": 1}]
        status, events = _post(daemon.port, ctx, CommandRequest("nodels", []).encode())
        assert status == 200 and events == [{"exit": 0}]
        added = cli("nodeadd", "n1", "groups=all", state=daemon.state, bypass=False,
                    extra_env={"HOME": str(tmp_path), "XCATPY_CREDS": str(creds.directory)})
        assert (added.rc, added.err) == (0, "")
    finally:
        assert daemon.stop() == 0
    log = daemon.log.read_text()
    assert "Traceback" not in log and "RecursionError" not in log
