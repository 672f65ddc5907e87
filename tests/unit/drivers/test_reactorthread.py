"""ReactorRunner: blocking calls into a reactor from worker threads, in both situations xcatpy
meets (a reactor it must start itself, one somebody else runs), and never a deadlock.

Each test uses a private reactor instance, so the process's global reactor is left alone.
"""

import threading

import pytest
from twisted.internet import defer
from twisted.internet.pollreactor import PollReactor
from twisted.internet.task import deferLater
from twisted.python import threadable

from xcatpy.drivers.reactorthread import ReactorRunner, ReactorStopped, ReactorThreadError


def _private_reactor() -> PollReactor:
    reactor = PollReactor()
    # Twisted records "the" reactor thread globally; keep the global reactor's record intact.
    reactor._registerAsIOThread = False
    return reactor


@pytest.fixture
def own():
    """A runner that has to start its reactor itself (the XCATBYPASS=1 CLI case)."""
    runner = ReactorRunner(_private_reactor())
    yield runner
    runner._stop_own_reactor()


def test_starts_the_reactor_on_first_use_and_returns_values(own):
    assert not own.reactor.running
    assert own.call(lambda a, b: a + b, 2, b=3) == 5
    assert own.reactor.running
    assert own._thread is not None and own._thread.daemon


def test_waits_for_deferreds(own):
    assert own.call(lambda: deferLater(own.reactor, 0.01, lambda: "later")) == "later"


def test_work_runs_in_the_reactor_thread(own):
    seen = own.call(threading.current_thread)
    assert seen is own._thread and seen is not threading.current_thread()


def test_exceptions_arrive_with_their_type(own):
    def boom():
        raise KeyError("hv1")

    with pytest.raises(KeyError, match="hv1"):
        own.call(boom)
    with pytest.raises(ValueError, match="async"):
        own.call(lambda: defer.fail(ValueError("async")))


def test_calling_from_the_reactor_thread_raises_instead_of_deadlocking(own):
    with pytest.raises(ReactorThreadError, match="cannot be called from the reactor thread"):
        own.call(lambda: own.call(lambda: 1))


def test_many_threads_at_once(own):
    results = []

    def worker(i):
        results.append(own.call(lambda: deferLater(own.reactor, 0.001, lambda: i)))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == list(range(32))


def test_a_stopped_reactor_is_a_clear_error(own):
    own.call(lambda: None)
    own._stop_own_reactor()
    with pytest.raises(ReactorStopped, match="stopped"):
        own.call(lambda: None)


def test_a_waiting_caller_is_released_when_the_reactor_stops(own):
    own.call(lambda: None)
    never = defer.Deferred()
    own.reactor.callFromThread(own.reactor.callLater, 0.2, own.reactor.stop)
    with pytest.raises(ReactorStopped, match="shutting down: the work in progress was abandoned"):
        own.call(lambda: never)


def test_a_reactor_someone_else_runs_is_used_not_restarted():
    """The xcatd case: the reactor runs in another thread that Twisted registered."""
    reactor = PollReactor()
    saved = threadable.ioThread
    running = threading.Event()
    reactor.callWhenRunning(running.set)
    thread = threading.Thread(target=reactor.run, kwargs={"installSignalHandlers": False})
    thread.start()
    try:
        assert running.wait(10)
        runner = ReactorRunner(reactor)
        assert runner.call(threading.current_thread) is thread
        assert runner._thread is None
        with pytest.raises(ReactorThreadError):
            runner.call(lambda: runner.call(lambda: 1))
    finally:
        reactor.callFromThread(reactor.stop)
        thread.join(10)
        threadable.ioThread = saved
    assert not thread.is_alive()
