"""The command API: POST a JSON request over mutually authenticated TLS, read JSON lines.

The user is the CN of the client certificate the TLS layer already verified against our
CA; the policy table is applied before any handler runs. Output streams to the client
as the handler produces it, and a client that disconnects (Ctrl-C) cancels the command:
its changes are rolled back.
"""

import re
import threading
from pathlib import Path

from twisted.logger import Logger
from twisted.web import resource, server

from xcatpy.commands import COMMANDS
from xcatpy.commands.base import Output, Request
from xcatpy.db.store import Store
from xcatpy.errors import XcatError
from xcatpy.server import policy
from xcatpy.server.executor import CommandExecutor
from xcatpy.server.protocol import (
    API_PATH,
    CommandRequest,
    ProtocolError,
    decode_request,
    encode_event,
)

log = Logger()
# Lines are sent in batches (a 10,000-line nodels is not 10,000 writes) but never held
# back for long: a revacuate's "migrating ..." line must reach the admin while the
# migration runs, not with the next 255 lines.
_FLUSH_LINES = 256
_FLUSH_AFTER = 0.05  # seconds


class StreamOutput(Output):
    """Collects a handler's lines in its thread; the reactor sends them in batches.

    Every write happens on the reactor thread, so batches go out in the order they were
    taken. A first line schedules a flush _FLUSH_AFTER later; a full batch, one at once.
    """

    def __init__(self, reactor, http_request) -> None:
        self.reactor = reactor
        self.http_request = http_request
        self.cancelled = False
        self._pending: list[bytes] = []
        self._lock = threading.Lock()
        self._flush_queued = False

    def _push(self, event: bytes) -> None:
        with self._lock:
            self._pending.append(event)
            first = len(self._pending) == 1
            full = len(self._pending) >= _FLUSH_LINES and not self._flush_queued
            if full:
                self._flush_queued = True
        if full:
            self.reactor.callFromThread(self.drain)
        elif first:
            self.reactor.callFromThread(self.reactor.callLater, _FLUSH_AFTER, self.drain)

    def drain(self) -> None:
        """Write what is buffered; on the reactor thread (also once the handler is done)."""
        with self._lock:
            chunk, self._pending = b"".join(self._pending), []
            self._flush_queued = False
        if chunk and not self.cancelled:
            self.http_request.write(chunk)

    def data(self, text: str) -> None:
        self._push(encode_event(out=text))

    def error(self, text: str) -> None:
        self._push(encode_event(err=text))

    def file(self, name: str, content: str) -> None:
        self._push(encode_event(file=name, content=content))


class RemoteRequest(Request):
    """A request whose files live on the client: read from what it shipped, written back."""

    def __init__(self, creq: CommandRequest, user: str, out: StreamOutput) -> None:
        super().__init__(creq.command, creq.args, cwd=creq.cwd, user=user,
                         read_stdin=lambda: creq.stdin)
        self._files = creq.files
        self._out = out

    def read_file(self, name: str) -> str:
        if name not in self._files:
            raise XcatError(f"Cannot read file {name}: not found on the client")
        return self._files[name]

    def write_file(self, name: str, text: str) -> None:
        self._out.file(name, text)


def peer_identity(http_request) -> tuple[str | None, int | None]:
    """The verified client certificate's CN and serial number."""
    transport = http_request.channel.transport
    get_cert = getattr(transport, "getPeerCertificate", None)
    cert = get_cert() if get_cert else None
    if cert is None:
        return None, None
    return cert.get_subject().CN, cert.get_serial_number()


class CommandResource(resource.Resource):
    isLeaf = True

    def __init__(self, reactor, executor: CommandExecutor, revoked=lambda serial: False):
        super().__init__()
        self.reactor = reactor
        self.executor = executor
        self.revoked = revoked

    def render_POST(self, http_request):
        http_request.setHeader(b"content-type", b"application/x-ndjson")
        if http_request.path != API_PATH:
            return self._refuse(http_request, 404, f"no such API path {http_request.path!r}")
        user, serial = peer_identity(http_request)
        if not user:
            return self._refuse(http_request, 403, "no client certificate was presented")
        if serial is not None and self.revoked(serial):
            return self._refuse(http_request, 403, f"the certificate of {user} is revoked")
        try:
            creq = decode_request(http_request.content.read())
        except ProtocolError as exc:
            return self._refuse(http_request, 400, f"bad request: {exc}")
        host = http_request.getClientAddress().host
        out = StreamOutput(self.reactor, http_request)
        http_request.notifyFinish().addErrback(lambda _: setattr(out, "cancelled", True))
        request = RemoteRequest(creq, user, out)
        gate = _policy_gate(request, host, out)
        d = self.executor.run(request, out, gate)
        d.addErrback(lambda f: (log.failure("command {cmd} crashed", f, cmd=creq.command),
                                out.error(f"Error: internal error running {creq.command}"),
                                1)[-1])
        d.addCallback(lambda rc: self._finish(http_request, out, rc))
        log.info("{user}@{host}: {cmd} {args}", user=user, host=host, cmd=creq.command,
                 args=" ".join(redact(creq.args)))
        return server.NOT_DONE_YET

    def _finish(self, http_request, out: StreamOutput, rc: int) -> None:
        if out.cancelled:
            return
        out.drain()
        http_request.write(encode_event(exit=rc))
        http_request.finish()

    @staticmethod
    def _refuse(http_request, code: int, message: str) -> bytes:
        http_request.setResponseCode(code)
        return encode_event(err=f"Error: {message}") + encode_event(exit=1)


def _policy_gate(request: RemoteRequest, host: str, out: StreamOutput):
    spec = COMMANDS.get(request.command)

    def gate(store: Store) -> bool:
        decision = policy.decide(store.rows("policy"), user=request.user, host=host,
                                 command=request.command, args=request.args,
                                 takes_nodes=bool(spec and spec.noderange))
        if not decision.allowed:
            out.error(f"Error: Permission denied for request: {decision.reason}")
            log.warn("denied: {reason}", reason=decision.reason)
            return False
        if decision.node_rules:
            request.node_policy = _node_policy(decision, request)
        return True

    return gate


def _node_policy(decision: policy.Decision, request: RemoteRequest):
    def check(attrs, nodes: list[str]) -> str | None:
        from xcatpy.db.noderange import NodeRange

        # A rule's noderange is the site's, never a file of the client's.
        expand = NodeRange(attrs, read_file=_no_files).expand
        refusal = policy.check_nodes(decision, nodes, expand,
                                     user=request.user, command=request.command)
        if refusal is not None:
            log.warn("denied: {reason}", reason=refusal)
        return refusal

    return check


def _no_files(name: str) -> str:
    raise XcatError(f"a policy noderange cannot read the file {name}")


# table.column (or object attribute) names whose values are secrets: a request's
# arguments are logged with these values replaced.
_SECRET_NAME = re.compile(r"(?i)(pass(word|wd)?|secret)$")


def redact(args: list[str]) -> list[str]:
    """The arguments as they may be logged: `passwd.password=x`, `bmcpassword=x`,
    `ipmi.password=x` (and `,=` forms) with their values hidden."""
    shown = []
    for arg in args:
        name, eq, _ = arg.partition("=")
        bare = name.rstrip(",^:!~").rsplit(".", 1)[-1]
        shown.append(f"{name}=***" if eq and _SECRET_NAME.search(bare) else arg)
    return shown


def build_site(reactor, executor: CommandExecutor, state_dir: Path, revoked) -> server.Site:
    root = CommandResource(reactor, executor, revoked)
    site = server.Site(root)
    site.displayTracebacks = False
    return site
