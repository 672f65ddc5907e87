"""The IPMI engine: one IO thread per process owns every pyghmi session.

Command threads (xcatd's, or a bypass-mode CLI's main thread) hand the engine a batch of
jobs, one per node: a BMC, a login and a flow (flows.py). The engine runs each job on a
fresh pyghmi session in asynchronous mode, feeds the flow the BMC's answers, logs out, and
reports the node's Reply through the job's callback, exactly once and by its deadline.

Limits, per batch (one rpower command is one batch), from credentials.IpmiSettings:
- at most `maxp` nodes in flight; a node whose BMC has stayed silent for a whole try stops
  counting, so a hundred dead BMCs cost one deadline rather than holding every slot;
- a try lasts `timeout` seconds; a BMC silent for a whole try gets a fresh session, up to
  `tries` sessions; a session that fails (pyghmi gave up, or the BMC answered with an
  RMCP+ error) is retried the same way; a node is reported by `timeout * tries` after it
  started, whatever its BMC does;
- nothing is retried once a request that changes state (chassis control, set boot flags)
  has gone out: a BMC that executed it and lost the answer must not get it twice.
Across batches, the engine talks to one BMC for one node at a time: nodes sharing a BMC
(a multi-node chassis, or a typo) wait their turn instead of sharing a pyghmi session.

The thread is a daemon: a CLI exits without stopping it.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from xcatpy.drivers.base import DriverError, Reply
from xcatpy.drivers.ipmi import sessions
from xcatpy.drivers.ipmi.credentials import BmcTarget, IpmiSettings
from xcatpy.drivers.ipmi.flows import Flow, Response

log = logging.getLogger(__name__)

# Longest the IO thread waits for packets before it looks for new batches again.
MAX_WAIT = 0.05
# pyghmi's words for a BMC that does not accept this login.
CREDENTIAL_ERRORS = ("password", "Unauthorized name", "Unauthorized role", "Invalid role",
                     "privilege", "RAKP4 integrity")
# pyghmi's words for a session that died without an answer.
SILENCE_ERRORS = ("timeout", "Session no longer connected", "Session failed to initialize")

Reporter = Callable[[str, Reply], None]


@dataclass(eq=False)
class Job:
    """One node's work. The fields after `report` belong to the IO thread."""

    node: str
    target: BmcTarget
    make_flow: Callable[[], Flow]
    report: Reporter
    batch: _Batch | None = None
    session: object = None
    flow: Flow | None = None
    request: object = None
    started: float = 0.0
    deadline: float = 0.0
    try_started: float = 0.0
    tries: int = 0
    generation: int = 0
    logged_in: bool = False
    committed: bool = False
    parked: bool = False
    done: bool = False
    last_error: str | None = None


@dataclass(eq=False)
class _Batch:
    settings: IpmiSettings
    pending: deque = field(default_factory=deque)
    active: int = 0
    remaining: int = 0


class IpmiEngine:
    def __init__(self, transport=None, clock: Callable[[], float] = time.monotonic) -> None:
        self._transport = transport or sessions.PyghmiTransport()
        self._clock = clock
        self._inbox: queue.SimpleQueue = queue.SimpleQueue()
        self._batches: list[_Batch] = []
        self._running: set[Job] = set()
        self._busy: dict[tuple, Job] = {}  # BMC key -> the job talking to it
        self._queued_for_bmc: dict[tuple, deque[Job]] = {}
        self._events: deque = deque()
        self._sockets_dirty = False
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._closing = False

    # -- command threads ------------------------------------------------------------------

    def submit(self, jobs: list[Job], settings: IpmiSettings) -> None:
        """Start jobs; each reports through its own callback, from the IO thread."""
        if not jobs:
            return
        with self._start_lock:
            if self._closing:
                raise RuntimeError("the IPMI engine is closed")
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="xcatpy-ipmi",
                                                daemon=True)
                self._thread.start()
        self._inbox.put(_Batch(settings, deque(jobs), remaining=len(jobs)))

    def close(self, timeout: float = 10.0) -> None:
        """Fail what is still running and stop the thread (tests; xcatd never stops it)."""
        with self._start_lock:
            self._closing = True
            thread = self._thread
        if thread is not None:
            self._inbox.put(None)
            thread.join(timeout)

    # -- the IO thread --------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            idle = not self._running and not any(b.pending for b in self._batches)
            if not self._take_inbox(block=idle):
                self._fail_all("the IPMI engine was stopped")
                return
            try:
                self._admit()
                self._handle_events()
                if self._running:
                    self._transport.pump(self._next_wait())
                self._handle_events()
                self._check_timers()
                if self._sockets_dirty:
                    self._transport.tidy(j.session for j in self._running if j.session)
                    self._sockets_dirty = False
            except Exception:
                # A bug here must not leave command threads waiting forever.
                log.exception("IPMI engine iteration failed")
                self._fail_all("internal error in the IPMI engine (see xcatd's log)")

    def _take_inbox(self, block: bool) -> bool:
        """Move new batches in; False when asked to stop."""
        try:
            item = self._inbox.get() if block else self._inbox.get_nowait()
        except queue.Empty:
            return True
        while True:
            if item is None:
                return False
            for job in item.pending:
                job.batch = item
            self._batches.append(item)
            try:
                item = self._inbox.get_nowait()
            except queue.Empty:
                return True

    def _admit(self) -> None:
        for batch in list(self._batches):  # a job failing at once can end its batch
            while batch.active < batch.settings.maxp and batch.pending:
                job = batch.pending.popleft()
                key = job.target.key
                if key in self._busy:
                    self._queued_for_bmc.setdefault(key, deque()).append(job)
                else:
                    self._start(job)

    def _start(self, job: Job) -> None:
        job.started = self._clock()
        job.deadline = job.started + job.batch.settings.deadline
        self._busy[job.target.key] = job
        self._running.add(job)
        job.batch.active += 1
        self._open_session(job)

    def _open_session(self, job: Job) -> None:
        self._drop_session(job)
        job.generation += 1
        job.tries += 1
        job.try_started = self._clock()
        job.flow = job.request = None
        job.logged_in = False
        try:
            job.session = self._transport.open(
                job.target, partial(self._post, job, job.generation, "logon"))
        except Exception as exc:  # pyghmi raises IpmiException, socket errors, ...
            job.session = None
            self._finish(job, Reply.fail(f"cannot talk to BMC {job.target.label}: {exc}"))

    def _drop_session(self, job: Job) -> None:
        if job.session is not None:
            self._transport.close(job.session)
            job.session = None
            self._sockets_dirty = True

    def _post(self, job: Job, generation: int, kind: str, payload: dict) -> None:
        # Called from inside pyghmi; handled after it returns, never re-entering it.
        self._events.append((job, generation, kind, payload))

    def _handle_events(self) -> None:
        while self._events:
            job, generation, kind, payload = self._events.popleft()
            if job.done or generation != job.generation:
                continue  # a session already replaced or finished
            try:
                if kind == "logon":
                    self._on_logon(job, payload)
                else:
                    self._on_response(job, payload)
            except Exception as exc:
                log.exception("IPMI job for %s failed", job.node)
                self._finish(job, Reply.fail(
                    f"internal error talking to BMC {job.target.label}: {exc}"))

    def _on_logon(self, job: Job, result: dict) -> None:
        if "error" in result:
            self._session_failed(job, str(result["error"]))
        elif not job.logged_in:  # pyghmi reports a re-login after a lost packet twice
            job.logged_in = True
            job.flow = job.make_flow()
            self._advance(job, None)

    def _on_response(self, job: Job, response: dict) -> None:
        self._transport.command_done(job.session)
        if "error" in response:
            self._session_failed(job, str(response["error"]))
        else:
            self._advance(job, Response(response["code"], bytes(response.get("data", b""))))

    def _advance(self, job: Job, response: Response | None) -> None:
        try:
            request = next(job.flow) if response is None else job.flow.send(response)
        except StopIteration as done:
            self._finish(job, Reply(done.value))
            return
        except DriverError as exc:
            self._finish(job, Reply.fail(f"BMC {job.target.label} {exc}"))
            return
        job.request = request
        job.committed = job.committed or request.changes_state
        try:
            self._transport.send(job.session, request,
                                 partial(self._post, job, job.generation, "response"))
        except Exception as exc:  # pyghmi: IpmiException('Session no longer connected')
            self._session_failed(job, str(exc))

    def _session_failed(self, job: Job, error: str) -> None:
        job.last_error = error
        target = job.target
        if any(words in error for words in CREDENTIAL_ERRORS):
            self._finish(job, Reply.fail(
                f"BMC {target.label} rejected the credentials (user {target.username})"))
        elif job.committed:
            self._finish(job, Reply.fail(self._unknown_outcome(job)))
        elif job.tries < job.batch.settings.tries and self._clock() < job.deadline:
            self._open_session(job)
        elif any(words in error for words in SILENCE_ERRORS):
            self._finish(job, Reply.fail(self._failure_text(job)))
        else:
            self._finish(job, Reply.fail(f"BMC {target.label}: {error}"))

    def _check_timers(self) -> None:
        now = self._clock()
        for job in list(self._running):
            if job.done:
                continue
            if now >= job.deadline:
                # A BMC gone silent after a state change went out: whether it acted is
                # what the admin must know, not merely that time ran out.
                text = self._unknown_outcome(job) if job.committed else self._failure_text(job)
                self._finish(job, Reply.fail(text))
                continue
            silent = not job.logged_in and not self._transport.heard_from_bmc(job.session)
            if silent and now >= job.try_started + job.batch.settings.timeout:
                if not job.parked:
                    job.parked = True
                    job.batch.active -= 1
                if job.tries < job.batch.settings.tries:
                    self._open_session(job)

    def _next_wait(self) -> float:
        now = self._clock()
        wait = MAX_WAIT
        for job in self._running:
            wait = min(wait, job.deadline - now)
            try_ends = job.try_started + job.batch.settings.timeout
            if not job.logged_in and try_ends > now:  # a try already over is no alarm
                wait = min(wait, try_ends - now)
        return max(wait, 0.0)

    @staticmethod
    def _unknown_outcome(job: Job) -> str:
        return (f"BMC {job.target.label} did not answer {job.request.what}; "
                "whether it was done is unknown")

    def _failure_text(self, job: Job) -> str:
        elapsed = _seconds(self._clock() - job.started)
        label = job.target.label
        error = job.last_error
        if error is None or any(words in error for words in SILENCE_ERRORS):
            return f"timed out talking to BMC {label} after {elapsed}s"
        return f"timed out talking to BMC {label} after {elapsed}s (last error: {error})"

    def _finish(self, job: Job, reply: Reply) -> None:
        if job.done:
            return
        job.done = True
        self._drop_session(job)
        batch = job.batch
        if job in self._running:
            self._running.discard(job)
            if not job.parked:
                batch.active -= 1
        key = job.target.key
        if self._busy.get(key) is job:
            del self._busy[key]
            waiting = self._queued_for_bmc.get(key)
            if waiting:
                waiting_job = waiting.popleft()
                if not waiting:
                    del self._queued_for_bmc[key]
                waiting_job.batch.pending.appendleft(waiting_job)
        batch.remaining -= 1
        if batch.remaining == 0:
            self._batches.remove(batch)
        try:
            job.report(job.node, reply)
        except Exception:
            log.exception("reporting %s failed", job.node)

    def _fail_all(self, text: str) -> None:
        jobs = list(self._running)
        for batch in self._batches:
            jobs.extend(batch.pending)
        for waiting in self._queued_for_bmc.values():
            jobs.extend(waiting)
        self._queued_for_bmc.clear()
        for batch in self._batches:
            batch.pending.clear()
        for job in jobs:
            self._finish(job, Reply.fail(text))
        self._events.clear()


def _seconds(value: float) -> str:
    """6.02 -> '6', 1.5 -> '1.5': how long, as a person would say it."""
    if value >= 10:
        return f"{value:.0f}"
    return f"{value:.1f}".rstrip("0").rstrip(".")


_shared: IpmiEngine | None = None
_shared_lock = threading.Lock()


def shared_engine() -> IpmiEngine:
    """The process's engine: every ipmi driver instance in a process uses this one."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = IpmiEngine()
        return _shared
