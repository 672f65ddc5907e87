"""Run reactor-side code from a synchronous command thread and wait for its result.

Command handlers are synchronous and run on worker threads; network drivers built on Twisted
need the reactor. In xcatd the reactor already runs in the main thread. A CLI in bypass mode
(XCATBYPASS=1) has no reactor running, so the first call starts one in a daemon thread and
stops it at interpreter exit (after the pools have said goodbye to their peers).

Calling from the reactor's own thread would wait for itself forever, so it raises instead.
"""

from __future__ import annotations

import atexit
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from twisted.internet.defer import maybeDeferred
from twisted.python import threadable
from twisted.python.failure import Failure

from xcatpy.drivers.base import DriverError

T = TypeVar("T")

# How often a waiting thread looks whether the reactor is shutting down: xcatd's shutdown
# joins the command threads from the reactor thread, so a thread waiting for the reactor must
# notice by itself, or the daemon would hang until every command's own timeout.
_SHUTDOWN_POLL = 0.25
_START_TIMEOUT = 30.0
_STOP_TIMEOUT = 5.0


class ReactorThreadError(RuntimeError):
    """A blocking call made from the reactor thread (a programming error, not a user's)."""


class ReactorStopped(DriverError):
    """The reactor is shutting down or has stopped: the work was abandoned."""


class ReactorRunner:
    """`call(fn, ...)` runs fn in the reactor thread and returns (or raises) its outcome;
    fn may return a Deferred, which is waited for."""

    def __init__(self, reactor=None) -> None:
        self._given = reactor
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @property
    def reactor(self):
        if self._given is None:
            from twisted.internet import reactor

            self._given = reactor
        return self._given

    def in_reactor_thread(self) -> bool:
        if self._thread is not None:
            return threading.current_thread() is self._thread
        # Someone else (xcatd's main thread) runs it; Twisted records which thread that is.
        return self.reactor.running and threadable.isInIOThread()

    def _stopping(self) -> bool:
        reactor = self.reactor
        # _startedBefore turns true as soon as reactor.stop() is called; _started is true from
        # reactor.run() on, a little before `running`.
        return (getattr(reactor, "_startedBefore", False)
                or not getattr(reactor, "_started", reactor.running))

    def _ensure_running(self) -> None:
        reactor = self.reactor
        if getattr(reactor, "_startedBefore", False):
            raise ReactorStopped("the reactor is stopping or has stopped; no network work can "
                                 "be done")
        if getattr(reactor, "_started", False):
            return
        with self._lock:
            if getattr(reactor, "_started", False):
                return
            running = threading.Event()
            reactor.callWhenRunning(running.set)
            thread = threading.Thread(target=reactor.run, kwargs={"installSignalHandlers": False},
                                      name="xcatpy-reactor", daemon=True)
            thread.start()
            if not running.wait(_START_TIMEOUT):
                raise ReactorStopped("the reactor thread did not start")
            self._thread = thread
            atexit.register(self._stop_own_reactor)

    def _stop_own_reactor(self) -> None:
        reactor, thread = self.reactor, self._thread
        if thread is None or not thread.is_alive() or not reactor.running:
            return
        reactor.callFromThread(_stop_quietly, reactor)
        thread.join(_STOP_TIMEOUT)

    def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if self.in_reactor_thread():
            raise ReactorThreadError(
                f"{getattr(fn, '__qualname__', fn)!s} blocks until the reactor has done the "
                "work, so it cannot be called from the reactor thread; call it from a worker "
                "thread (deferToThread) or use the Deferred API")
        self._ensure_running()
        done = threading.Event()
        outcome: list[Any] = []

        def start() -> None:
            d = maybeDeferred(fn, *args, **kwargs)

            def finish(result):
                outcome.append(result)
                done.set()

            d.addBoth(finish)

        self.reactor.callFromThread(start)
        while not done.wait(_SHUTDOWN_POLL):
            if self._stopping():
                raise ReactorStopped("shutting down: the work in progress was abandoned")
        result = outcome[0]
        if isinstance(result, Failure):
            result.raiseException()
        return result


def _stop_quietly(reactor) -> None:
    if reactor.running:
        reactor.stop()


_default: ReactorRunner | None = None
_default_lock = threading.Lock()


def default_runner() -> ReactorRunner:
    """The process-wide runner on the global reactor."""
    global _default
    with _default_lock:
        if _default is None:
            _default = ReactorRunner()
        return _default
