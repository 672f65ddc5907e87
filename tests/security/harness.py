"""What the security tests share: a private xcatd, users with certificates from its CA, a
raw API client that can choose its source address, table snapshots, and a tally of the
attacks tried and refused (printed at the end of the run, see conftest.py).

Every attacker here is a real client: the CLI, curl, tftp-hpa, OpenSSL, Python's ssl and
sockets. Each attack is recorded once with `TALLY.record(category, refused)`; a test
asserts that it was refused, so a green run means every recorded attack was.
"""

from __future__ import annotations

import http.client
import json
import os
import sqlite3
import ssl
import subprocess
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from tests.integration.clitools import Completed, cli, command_path
from tests.integration.xcatd import Xcatd
from xcatpy.pki.paths import ClientCreds
from xcatpy.server.protocol import API_PATH, CommandRequest


class Tally:
    """Attacks per category: how many were tried and how many were refused."""

    def __init__(self) -> None:
        self.tried: dict[str, int] = defaultdict(int)
        self.refused: dict[str, int] = defaultdict(int)

    def record(self, category: str, refused: bool) -> bool:
        self.tried[category] += 1
        if refused:
            self.refused[category] += 1
        return refused

    def lines(self) -> list[str]:
        return [f"{category}: {self.refused[category]}/{self.tried[category]} refused"
                for category in sorted(self.tried)]


TALLY = Tally()


def init_state(state: Path) -> Path:
    """`xcatd --init`: the database, the CA, the server's and root's credentials."""
    subprocess.run([*command_path("xcatd"), "--init"], check=True, capture_output=True,
                   env=dict(os.environ, XCATPY_STATE=str(state)))
    return state


def start_daemon(state: Path, *extra: str) -> Xcatd:
    if not (state / "pki").exists():
        init_state(state)
    return Xcatd(state, *extra).start()


def via(daemon: Xcatd, *args: str, creds: Path | None = None, cwd: Path | None = None,
        stdin: str | None = None) -> Completed:
    """A command through xcatd as the user whose credentials are in `creds` (root's when
    None), exactly as that user types it."""
    env = {"HOME": str(daemon.state.parent)}
    if creds is not None:
        env["XCATPY_CREDS"] = str(creds)
    return cli(args[0], *args[1:], state=daemon.state, bypass=False, extra_env=env, cwd=cwd,
               stdin=stdin)


def local(state: Path, *args: str, stdin: str | None = None) -> Completed:
    """A command on the database directly (XCATBYPASS=1): the admin setting up a scene."""
    r = cli(args[0], *args[1:], state=state, bypass=True, stdin=stdin)
    assert r.rc == 0, (args, r.out, r.err)
    return r


def setup_cli(state: Path, *args: str) -> Completed:
    """`xcatpy-setup --state-dir STATE ARGS`, the real program."""
    p = subprocess.run([*command_path("xcatpy-setup"), "--state-dir", str(state), *args],
                       capture_output=True, text=True, timeout=60)
    return Completed(p.returncode, p.stdout, p.stderr)


def issue(state: Path, user: str, out_dir: Path) -> ClientCreds:
    """`xcatpy-setup issue USER --out DIR`, as the admin gives a user credentials."""
    r = setup_cli(state, "issue", user, "--out", str(out_dir))
    assert r.rc == 0, r.err
    return ClientCreds.in_dir(out_dir)


@dataclass
class ApiAnswer:
    status: int  # HTTP status
    rc: int | None  # the command's exit code, None if no exit event came
    out: str
    err: str


def client_context(creds: ClientCreds | None, *, cafile: Path | None = None,
                   check_hostname: bool = True) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(cafile or creds.ca))
    ctx.check_hostname = check_hostname
    if creds is not None:
        ctx.load_cert_chain(str(creds.cert), str(creds.key))
    return ctx


def api(port: int, ctx: ssl.SSLContext, command: str, *args: str,
        source: str = "127.0.0.1", host: str = "127.0.0.1",
        conn: http.client.HTTPSConnection | None = None,
        files: dict[str, str] | None = None) -> ApiAnswer:
    """One request on the wire format the CLI uses, from `source` (any 127.0.0.0/8 address
    reaches a daemon listening on 127.0.0.1). Pass `conn` to reuse a kept-alive connection."""
    own = conn is None
    if own:
        conn = http.client.HTTPSConnection(host, port, context=ctx, timeout=30,
                                           source_address=(source, 0))
    try:
        body = CommandRequest(command, list(args), "/", "", files or {}).encode()
        conn.request("POST", API_PATH.decode(), body, {"Content-Type": "application/json"})
        response = conn.getresponse()
        rc, out, err = None, [], []
        for line in response.read().splitlines():
            event = json.loads(line)
            if "out" in event:
                out.append(event["out"])
            elif "err" in event:
                err.append(event["err"])
            elif "exit" in event:
                rc = event["exit"]
        return ApiAnswer(response.status, rc, "".join(f"{x}\n" for x in out),
                         "".join(f"{x}\n" for x in err))
    finally:
        if own:
            conn.close()


def snapshot(state: Path) -> dict[str, list[tuple]]:
    """Every row of every table, read straight from SQLite (WAL lets us read while xcatd
    runs): what "nothing changed" is compared on."""
    conn = sqlite3.connect(f"file:{state / 'xcatdb.sqlite'}?mode=ro", uri=True)
    try:
        tables = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")]
        return {t: sorted(map(tuple, conn.execute(f"SELECT * FROM [{t}]")), key=repr)
                for t in sorted(tables)}
    finally:
        conn.close()


def column(state: Path, node: str, attr: str) -> str:
    """One node attribute as `nodels` prints it (bypass, so it works with xcatd stopped)."""
    out = local(state, "nodels", node, attr).out.strip()
    return out.split(": ", 1)[1] if ": " in out else ""
