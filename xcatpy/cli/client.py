"""The CLI's path to xcatd: one HTTPS request with our client certificate, lines streamed back.

Standard library only (ssl, http.client, json): a command must start fast, and nothing of
the server stack is imported here.
"""

import http.client
import json
import os
import re
import ssl
import sys
from pathlib import Path

from xcatpy.errors import XcatError
from xcatpy.server.protocol import API_PATH, CommandRequest, ProtocolError, decode_event
from xcatpy.userfiles import read_user_file, write_user_file

HOST_ENV = "XCATHOST"
DEFAULT_PORT = 3001
MAX_SHIPPED_FILE = 16 * 1024 * 1024
_CARET_FILE = re.compile(r"\^([^,@()]+)")


def locate(state_dir: Path) -> tuple[str, int]:
    """Where xcatd is: $XCATHOST (host[:port]), else the instance's run file, else
    localhost on xCAT's port."""
    env = os.environ.get(HOST_ENV)
    if env:
        host, _, port = env.rpartition(":") if ":" in env else (env, "", "")
        try:
            return host or "localhost", int(port) if port else DEFAULT_PORT
        except ValueError:
            raise XcatError(f"{HOST_ENV}={env}: expected host[:port]") from None
    try:
        info = json.loads((state_dir / "run" / "xcatd.json").read_text())
        return info.get("host") or "localhost", int(info["port"])
    except (OSError, ValueError, KeyError, TypeError):
        return "localhost", DEFAULT_PORT


def wants_stdin(command: str, args: list[str]) -> bool:
    """Only stanza input reads stdin; reading it otherwise would hang `ssh host nodels`."""
    if command not in ("mkdef", "chdef"):
        return False
    return any(a == "--stanza" or (a.startswith("-") and not a.startswith("--") and "z" in a)
               for a in args)


def files_to_ship(args: list[str], cwd: str) -> dict[str, str]:
    """Local files the command may read: arguments naming files, and `^file` noderanges."""
    names = set(args)
    for arg in args:
        names.update(_CARET_FILE.findall(arg))
    shipped = {}
    for name in names:
        path = Path(cwd, name)
        try:
            if path.is_file() and path.stat().st_size <= MAX_SHIPPED_FILE:
                shipped[name] = read_user_file(path, name)
        except (OSError, ValueError, XcatError):
            continue  # not ours to read: the daemon will say the file is missing if needed
    return shipped


def _context(state_dir: Path) -> ssl.SSLContext:
    from xcatpy.pki.paths import client_credentials

    creds = client_credentials(state_dir)
    if creds is None:
        raise XcatError("No client credentials for xcatd: run 'xcatpy-setup init' as the "
                        "admin, or set XCATPY_CREDS to a directory with ca.pem, "
                        "client-cert.pem and client-key.pem")
    try:
        ctx = ssl.create_default_context(cafile=str(creds.ca))
        ctx.load_cert_chain(str(creds.cert), str(creds.key))
    except (OSError, ssl.SSLError) as exc:
        raise XcatError(f"Cannot load client credentials from {creds.directory}: {exc}") from None
    return ctx


def run_remote(command: str, args: list[str], state_dir: Path) -> int:
    cwd = os.getcwd()
    host, port = locate(state_dir)
    stdin = sys.stdin.read() if wants_stdin(command, args) and sys.stdin else ""
    body = CommandRequest(command, args, cwd, stdin, files_to_ship(args, cwd)).encode()
    conn = http.client.HTTPSConnection(host, port, context=_context(state_dir), timeout=3600)
    where = f"xcatd at {host}:{port}"
    try:
        conn.request("POST", API_PATH.decode(), body,
                     {"Content-Type": "application/json"})
        response = conn.getresponse()
        return _stream(response, cwd)
    except ConnectionRefusedError:
        raise XcatError(f"cannot reach {where}: connection refused (is xcatd running? "
                        "XCATBYPASS=1 acts on the database directly)") from None
    except ssl.SSLCertVerificationError as exc:
        # We refused it: the server's certificate is not one our CA signed for this host.
        raise XcatError(f"the server at {host}:{port} is not this instance's xcatd: its "
                        f"certificate failed verification "
                        f"({exc.verify_message or exc.reason})") from None
    except ssl.SSLError as exc:
        raise XcatError(f"{where} refused the TLS connection: {exc.reason or exc}") from None
    except (TimeoutError, OSError, http.client.HTTPException) as exc:
        raise XcatError(f"lost the connection to {where}: {exc}") from None
    finally:
        conn.close()


def _stream(response, cwd: str) -> int:
    rc = None
    for line in response:
        try:
            event = decode_event(line)
        except ProtocolError as exc:
            raise XcatError(str(exc)) from None
        if "out" in event:
            sys.stdout.write(f"{event['out']}\n")
        elif "err" in event:
            sys.stdout.flush()
            sys.stderr.write(f"{event['err']}\n")
            sys.stderr.flush()
        elif "file" in event:
            name, content = event["file"], event.get("content", "")
            if not isinstance(name, str) or not isinstance(content, str):
                raise XcatError("bad response line from xcatd: 'file' and 'content' must be "
                                "strings")
            write_user_file(Path(cwd, name), content, name)
        elif "exit" in event:
            rc = _exit_code(event["exit"])
    if rc is None:
        raise XcatError("xcatd closed the connection before the command finished")
    return rc


def _exit_code(value) -> int:
    # bool is an int to Python but never an exit code; a value past 255 would wrap to
    # 0 in sys.exit and turn the daemon's failure into a success.
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 255:
        raise XcatError(f"bad response line from xcatd: exit code {json.dumps(value)[:40]} is "
                        "not a number from 0 to 255")
    return value
