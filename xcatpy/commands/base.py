"""What a command handler sees: the request, an output sink, the store, noderange.

Handlers are plain synchronous functions `run(ctx) -> exit code`. The CLI calls them
directly with XCATBYPASS=1; the daemon calls the same functions for remote clients, so
a command's output and exit code cannot differ between the two.
"""

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from xcatpy.db.attrs import NodeAttrs
from xcatpy.db.store import Store
from xcatpy.errors import XcatError
from xcatpy.userfiles import read_user_file, write_user_file


class Output:
    """Where a command's lines go. The CLI prints them; the daemon streams them."""

    def data(self, text: str) -> None:
        raise NotImplementedError

    def error(self, text: str) -> None:
        raise NotImplementedError


class ListOutput(Output):
    """Collects lines; used by tests and by callers that post-process output."""

    def __init__(self) -> None:
        self.stdout: list[str] = []
        self.stderr: list[str] = []

    def data(self, text: str) -> None:
        self.stdout.append(text)

    def error(self, text: str) -> None:
        self.stderr.append(text)


def _no_stdin() -> str:
    return ""


@dataclass
class Request:
    """One command invocation: what the user typed, and how to reach their files.

    Files named on the command line (`tabrestore file.csv`, `^nodefile`, `tabdump -f`)
    belong to the user's side; `read_file`/`write_file` resolve them there.
    """

    command: str
    args: list[str]
    cwd: str = field(default_factory=os.getcwd)
    user: str = "root"
    read_stdin: Callable[[], str] = _no_stdin
    # Set by the daemon when the policy allows this user only some nodes: given the
    # attributes and the nodes the command resolved, why it may not touch them, or None.
    node_policy: Callable[[NodeAttrs, list[str]], str | None] | None = None

    def _path(self, name: str) -> Path:
        return Path(self.cwd, name)

    def read_file(self, name: str) -> str:
        return read_user_file(self._path(name), name)

    def write_file(self, name: str, text: str) -> None:
        write_user_file(self._path(name), text, name)


WriteNow = Callable[[Callable[[Store], object]], object]


def write_on_own_connection(state_dir: Path) -> WriteNow:
    """Runs a write in its own transaction on a second connection: what a read-only command
    does outside the daemon (WAL lets it write while its own read snapshot stays open)."""

    def write_now(fn: Callable[[Store], object]) -> object:
        store = Store.open(state_dir)
        try:
            return store.write(fn)
        finally:
            store.close()

    return write_now


class Context:
    """A handler's view of one request; attribute caches live as long as the request.

    `write_now(fn)` commits `fn(store)` at once, on its own, while the command goes on: how
    a long-running command that talks to hardware (rpower, mkvm, rmigrate) records each
    node's result as it happens, without holding the single writer for minutes and without
    losing what already happened if a later node fails. In a command that itself writes,
    it is part of that command's transaction instead.
    """

    def __init__(self, request: Request, out: Output, store: Store,
                 write_now: WriteNow | None = None) -> None:
        self.request = request
        self.out = out
        self.store = store
        self._attrs: NodeAttrs | None = None
        self.failed = False
        self._write_now = write_now
        self._own_snapshot = write_now is not None

    def write_inside_transaction(self) -> None:
        """For commands that write: write_now joins the command's own transaction."""
        self._write_now = lambda fn: fn(self.store)
        self._own_snapshot = False

    def write_now(self, fn: Callable[[Store], object]) -> object:
        if self._write_now is None:
            self._write_now = write_on_own_connection(self.store.state_dir)
            self._own_snapshot = True
        result = self._write_now(fn)
        if self._own_snapshot:
            # The write went through another connection; a new read snapshot sees it.
            self.store.rollback()
            self.store.begin(write=False)
        self.attrs.invalidate()
        return result

    @property
    def args(self) -> list[str]:
        return self.request.args

    @property
    def attrs(self) -> NodeAttrs:
        if self._attrs is None:
            self._attrs = NodeAttrs(self.store)
        return self._attrs

    def noderange(self, text: str, *, must_exist: bool = True,
                  include_hidden: bool = False) -> list[str]:
        from xcatpy.db.noderange import NodeRange

        expand = NodeRange(self.attrs, read_file=self.request.read_file).expand
        try:
            nodes = expand(text, must_exist=must_exist, include_hidden=include_hidden)
        except XcatError:
            # A user held to some nodes must not learn which other names exist: the
            # policy judges the names as typed before "no such node" is said.
            self._permitted(text.split(","))
            raise
        return self._permitted(nodes)

    def all_nodes(self, include_hidden: bool = False) -> list[str]:
        """Every node, for commands whose noderange may be left out: under a policy that
        allows this user only some nodes, that is a request for all of them."""
        return self._permitted(self.attrs.node_names(include_hidden=include_hidden))

    def _permitted(self, nodes: list[str]) -> list[str]:
        check = self.request.node_policy
        if check is not None:
            refusal = check(self.attrs, nodes)
            if refusal is not None:
                raise XcatError(f"Permission denied for request: {refusal}")
        return nodes

    def node_error(self, node: str, text: str) -> None:
        """A per-node failure: reported as `node: Error: text`, and the command fails."""
        self.failed = True
        self.out.error(f"{node}: Error: {text}")
