"""StreamOutput: a command's lines reach the client in order, batched, and soon."""

import json

from twisted.internet.task import Clock

from xcatpy.server.api import _FLUSH_AFTER, _FLUSH_LINES, StreamOutput


class ThreadedClock(Clock):
    """A reactor whose callFromThread calls wait, like the real one's, until it runs."""

    def __init__(self) -> None:
        super().__init__()
        self.from_threads: list = []

    def callFromThread(self, f, *args) -> None:
        self.from_threads.append((f, args))

    def run_thread_calls(self) -> None:
        calls, self.from_threads = self.from_threads, []
        for f, args in calls:
            f(*args)


class Client:
    def __init__(self) -> None:
        self.writes: list[bytes] = []

    def write(self, chunk: bytes) -> None:
        self.writes.append(chunk)

    def lines(self) -> list[str]:
        return [json.loads(line)["out"] for w in self.writes for line in w.splitlines()]


def test_a_single_line_goes_out_soon_without_waiting_for_more():
    reactor, client = ThreadedClock(), Client()
    out = StreamOutput(reactor, client)
    out.data("xen3: migrating from h1 to h3 (1 of 4)")
    reactor.run_thread_calls()
    assert client.writes == []
    reactor.advance(_FLUSH_AFTER)
    assert client.lines() == ["xen3: migrating from h1 to h3 (1 of 4)"]


def test_lines_are_batched_and_keep_their_order_across_both_kinds_of_flush():
    reactor, client = ThreadedClock(), Client()
    out = StreamOutput(reactor, client)
    total = _FLUSH_LINES * 2 + 10
    for i in range(total):
        out.data(f"n{i}")
    reactor.run_thread_calls()       # the full batches, and the timer of the first line
    reactor.advance(_FLUSH_AFTER)
    out.drain()                      # the handler is done
    assert client.lines() == [f"n{i}" for i in range(total)]
    assert len(client.writes) <= 3


def test_a_cancelled_request_gets_no_writes():
    reactor, client = ThreadedClock(), Client()
    out = StreamOutput(reactor, client)
    out.cancelled = True
    out.data("x")
    reactor.run_thread_calls()
    reactor.advance(_FLUSH_AFTER)
    out.drain()
    assert client.writes == []
