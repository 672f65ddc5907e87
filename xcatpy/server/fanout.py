"""Fan-out: run one piece of work per node, boundedly parallel, reporting every node exactly once.

Used by rpower, nodeset and (with per-host limits) live migration. It runs in the reactor and never
blocks it: ``work(node)`` returns a value or a Deferred; blocking drivers wrap themselves in
deferToThreadPool before they get here.

Semantics a caller can rely on:
- Duplicate node names are run once: the input is deduplicated keeping first occurrences, so a
  noderange like ``n1,n1`` never power-cycles n1 twice. Results follow that deduplicated order.
- ``on_result`` is called once per node as it finishes (completion order, for streaming); the
  Deferred from ``run`` fires once with every node's result in input order and never errbacks
  because a node failed.
- ``cancel()`` (or cancelling the Deferred ``run`` returned) cancels in-flight work and reports it
  and every node not yet started as ``"cancelled"``, synchronously, so the run ends at once even
  if some work ignores cancellation (its late result is then dropped).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from twisted.internet import defer
from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger, LogLevel
from twisted.python.failure import Failure

log = Logger()

Work = Callable[[str], "Deferred[object] | object"]
OnResult = Callable[["NodeResult"], None]

CANCELLED = "cancelled"


@dataclass(frozen=True)
class NodeResult:
    node: str
    ok: bool
    value: object = None  # what the work returned (e.g. "on")
    error: str | None = None  # one line for the user: "timed out after 5s", the exception's message
    elapsed: float = 0.0  # seconds on the engine's clock; 0.0 for nodes that never started


@dataclass(frozen=True)
class KeyedLimit:
    """At most ``max_parallel`` nodes in flight per distinct ``key(node)``.

    E.g. ``KeyedLimit(source_host_of, 2)``: two migrations per source host. A key of None means
    the limit does not apply to that node. Keys are computed once per node when a run starts, so
    the slot a node takes is the slot it gives back.
    """

    key: Callable[[str], str | None]
    max_parallel: int

    def __post_init__(self) -> None:
        if self.max_parallel < 1:
            raise ValueError(f"KeyedLimit max_parallel must be at least 1, not {self.max_parallel}")


# Returned by addTimeout's onTimeoutCancel so a timeout is told apart from cancel() and from
# work that itself fails with a TimeoutError.
_TIMED_OUT = object()


def _one_line(exc: BaseException) -> str:
    """The exception's message as one line; its class name when it has no message."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return "; ".join(lines) or type(exc).__name__


class FanOut:
    """Runs ``work`` for many nodes with bounded concurrency and a per-node timeout."""

    def __init__(
        self,
        work: Work,
        *,
        max_parallel: int = 64,
        timeout: float | None = 30.0,
        clock: IReactorTime | None = None,
        limits: Sequence[KeyedLimit] = (),
    ) -> None:
        if max_parallel < 1:
            raise ValueError(f"max_parallel must be at least 1, not {max_parallel}")
        if timeout is not None and timeout <= 0:
            raise ValueError(f"timeout must be positive or None, not {timeout}")
        if clock is None:
            # Imported here, not at module level, so importing this module never installs the
            # default reactor before xcatd has chosen one.
            from twisted.internet import reactor as clock  # type: ignore[assignment]
        self.work = work
        self.max_parallel = max_parallel
        self.timeout = timeout
        self.clock: IReactorTime = clock  # type: ignore[assignment]
        self.limits = tuple(limits)
        self._runs: list[_Run] = []

    def run(
        self, nodes: Iterable[str], on_result: OnResult | None = None
    ) -> Deferred[list[NodeResult]]:
        """Start the work for every node; fires with all results (input order) when all are done.

        Cancelling the returned Deferred is the same as ``cancel()`` for this run: it then fires
        (with results, not CancelledError) with the unfinished nodes marked cancelled.
        """
        run = _Run(self, nodes, on_result)
        self._runs.append(run)
        run.start()
        return run.done

    def cancel(self) -> None:
        """Cancel every run in progress (e.g. the client pressed Ctrl-C)."""
        for run in list(self._runs):
            run.cancel()


class _Run:
    """The state of one ``FanOut.run`` call."""

    def __init__(self, fanout: FanOut, nodes: Iterable[str], on_result: OnResult | None) -> None:
        self.fanout = fanout
        self.on_result = on_result
        self.order = list(dict.fromkeys(nodes))  # dedupe, first occurrence wins
        self.results: dict[str, NodeResult] = {}
        # Not yet started: (node, its slots), a slot being (limit index, key).
        self.pending: deque[tuple[str, tuple[tuple[int, str], ...]]] = deque()
        # Started and unreported: node -> (work Deferred, slots, start time).
        self.inflight: dict[str, tuple[Deferred, tuple[tuple[int, str], ...], float]] = {}
        self.counts: list[dict[str, int]] = [{} for _ in fanout.limits]
        self.cancelled = False
        self.pumping = False
        self.done: Deferred[list[NodeResult]] = Deferred(lambda _d: self.cancel())

    def start(self) -> None:
        for node in self.order:
            try:
                slots = tuple(
                    (i, key)
                    for i, limit in enumerate(self.fanout.limits)
                    if (key := limit.key(node)) is not None
                )
            except Exception as exc:
                # A node we cannot place (e.g. no vm.host) fails alone; the others still run.
                self.report(NodeResult(node, False, error=_one_line(exc)))
                continue
            self.pending.append((node, slots))
        self.pump()
        self.maybe_done()  # an empty or all-failed input finishes here

    def pump(self) -> None:
        """Start startable nodes until max_parallel are in flight.

        Work that completes synchronously finishes inside start_node and calls pump again; the
        flag turns that into another turn of this loop instead of recursion, so 10,000 instant
        nodes cannot overflow the stack.
        """
        if self.pumping:
            return
        self.pumping = True
        try:
            while not self.cancelled and len(self.inflight) < self.fanout.max_parallel:
                picked = self.take_startable()
                if picked is None:
                    break
                self.start_node(*picked)
        finally:
            self.pumping = False

    def take_startable(self) -> tuple[str, tuple[tuple[int, str], ...]] | None:
        """The first pending node whose keyed slots are all free; skipping blocked nodes is what
        keeps one saturated host from stalling nodes bound elsewhere (no head-of-line blocking)."""
        limits = self.fanout.limits
        for index, (node, slots) in enumerate(self.pending):
            if all(self.counts[i].get(key, 0) < limits[i].max_parallel for i, key in slots):
                del self.pending[index]
                return node, slots
        return None

    def start_node(self, node: str, slots: tuple[tuple[int, str], ...]) -> None:
        for i, key in slots:
            self.counts[i][key] = self.counts[i].get(key, 0) + 1
        clock = self.fanout.clock
        started = clock.seconds()
        d = defer.maybeDeferred(self.fanout.work, node)
        if self.fanout.timeout is not None:
            # addTimeout cancels the work's Deferred, so its canceller can close sockets etc.
            d.addTimeout(self.fanout.timeout, clock, onTimeoutCancel=lambda _r, _t: _TIMED_OUT)
        self.inflight[node] = (d, slots, started)  # before addBoth: it may fire right away
        d.addBoth(self.finished, node, started)

    def finished(self, outcome: object, node: str, started: float) -> None:
        if node in self.results:
            return None  # already reported as cancelled; swallow the late outcome
        elapsed = self.fanout.clock.seconds() - started
        if outcome is _TIMED_OUT:
            error = f"timed out after {self.fanout.timeout:g}s"
            result = NodeResult(node, False, error=error, elapsed=elapsed)
        elif isinstance(outcome, Failure):
            if outcome.check(CancelledError):
                error = CANCELLED
            else:
                # Users see one line; keep the traceback where a developer can find it.
                log.failure("fan-out work for {node} failed", outcome, LogLevel.debug, node=node)
                error = _one_line(outcome.value)
            result = NodeResult(node, False, error=error, elapsed=elapsed)
        else:
            result = NodeResult(node, True, value=outcome, elapsed=elapsed)
        self.report(result)
        self.pump()
        return None  # the outcome is consumed: no "Unhandled error in Deferred"

    def report(self, result: NodeResult) -> None:
        entry = self.inflight.pop(result.node, None)
        if entry is not None:
            for i, key in entry[1]:
                self.counts[i][key] -= 1
        self.results[result.node] = result
        if self.on_result is not None:
            try:
                self.on_result(result)
            except Exception:
                # A broken output stream must not cost the other nodes their results.
                log.failure("on_result raised for {node}", node=result.node)
        self.maybe_done()

    def maybe_done(self) -> None:
        if len(self.results) == len(self.order) and not self.done.called:
            if self in self.fanout._runs:
                self.fanout._runs.remove(self)
            self.done.callback([self.results[node] for node in self.order])

    def cancel(self) -> None:
        if self.cancelled or self.done.called:
            return
        self.cancelled = True
        # In-flight first: stopping work that is running matters more than bookkeeping.
        for node, (d, _slots, started) in list(self.inflight.items()):
            d.cancel()  # normally fires at once, through finished(), as "cancelled"
            if node in self.inflight:  # work that ignores cancel: do not wait for it
                elapsed = self.fanout.clock.seconds() - started
                self.report(NodeResult(node, False, error=CANCELLED, elapsed=elapsed))
        pending, self.pending = self.pending, deque()
        for node, _slots in pending:
            self.report(NodeResult(node, False, error=CANCELLED))
