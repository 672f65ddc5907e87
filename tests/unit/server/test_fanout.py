"""FanOut: bounded concurrency, timeouts, keyed limits, cancel; every node reported exactly once.

Time is a twisted.internet.task.Clock and work Deferreds are fired by hand: no reactor, no sleeps.
"""

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet.defer import Deferred, succeed
from twisted.internet.task import Clock
from twisted.logger import LogLevel, capturedLogs

from xcatpy.server.fanout import FanOut, KeyedLimit, NodeResult


class Manual:
    """work(node) hands out a Deferred per node for the test to fire; tracks what is in flight."""

    def __init__(self, key=None):
        self.key = key  # node -> key, to track per-key peaks
        self.calls: list[str] = []
        self.deferreds: dict[str, Deferred] = {}
        self.cancelled: list[str] = []
        self.active: set[str] = set()
        self.peak = 0
        self.key_peak: Counter = Counter()

    def __call__(self, node: str) -> Deferred:
        self.calls.append(node)
        d = Deferred(lambda _d: self.cancelled.append(node))
        self.deferreds[node] = d
        self.active.add(node)
        self.peak = max(self.peak, len(self.active))
        if self.key:
            k = self.key(node)
            same = sum(1 for n in self.active if self.key(n) == k)
            self.key_peak[k] = max(self.key_peak[k], same)
        d.addBoth(self._left, node)
        return d

    def _left(self, result, node):
        self.active.discard(node)
        return result

    def fire(self, node, value="on"):
        self.deferreds[node].callback(value)

    def fail(self, node, exc):
        self.deferreds[node].errback(exc)


def collect():
    seen: list[NodeResult] = []
    return seen, seen.append


def by_node(results):
    return {r.node: r for r in results}


def test_concurrency_never_exceeds_max_parallel_and_next_starts_at_once():
    work = Manual()
    seen, on_result = collect()
    done = FanOut(work, max_parallel=2, timeout=None, clock=Clock()).run(
        ["a", "b", "c", "d"], on_result
    )
    assert work.calls == ["a", "b"]
    work.fire("b")  # no barrier: c starts although a is still running
    assert work.calls == ["a", "b", "c"]
    assert [r.node for r in seen] == ["b"]
    work.fire("c")
    work.fire("a")
    work.fire("d")
    assert work.peak == 2
    results = done.result
    assert [r.node for r in results] == ["a", "b", "c", "d"]  # input order, not completion order
    assert [r.node for r in seen] == ["b", "c", "a", "d"]  # completion order
    assert all(r.ok and r.value == "on" and r.error is None for r in results)


def test_timeout_reports_once_and_cancels_the_work():
    clock = Clock()
    work = Manual()
    seen, on_result = collect()
    done = FanOut(work, max_parallel=4, timeout=5, clock=clock).run(["a", "b"], on_result)
    clock.advance(2)
    work.fire("b")
    clock.advance(2.9)
    assert not done.called and work.cancelled == []
    clock.advance(0.1)
    assert work.cancelled == ["a"]
    a, b = done.result
    assert a == NodeResult("a", False, error="timed out after 5s", elapsed=5.0)
    assert b == NodeResult("b", True, value="on", elapsed=2.0)
    assert [r.node for r in seen] == ["b", "a"]
    assert clock.getDelayedCalls() == []  # b's timeout was disarmed when it answered


def test_timeout_message_keeps_fractions_and_none_means_wait_forever():
    clock = Clock()
    done = FanOut(lambda n: Deferred(), timeout=2.5, clock=clock).run(["a"])
    clock.advance(2.5)
    assert done.result[0].error == "timed out after 2.5s"

    work = Manual()
    done = FanOut(work, timeout=None, clock=clock).run(["a"])
    clock.advance(10**6)
    assert not done.called
    work.fire("a")
    assert done.result[0].ok


def test_work_failing_with_timeout_error_is_not_our_timeout():
    from twisted.internet.defer import TimeoutError as DeferTimeout

    done = FanOut(lambda n: _raise(DeferTimeout("BMC said so")), clock=Clock()).run(["a"])
    assert done.result[0].error == "BMC said so"


def _raise(exc):
    raise exc


def test_synchronous_values_exceptions_and_failed_deferreds():
    class Silent(Exception):
        pass

    def work(node):
        if node == "val":
            return "off"
        if node == "boom":
            raise RuntimeError("BMC 10.0.0.5 refused the session")
        if node == "silent":
            raise Silent()
        if node == "multi":
            raise ValueError("first line\n  second line\n")
        if node == "dval":
            return succeed(3)
        d = Deferred()
        d.errback(OSError("no route to host"))
        return d

    clock = Clock()
    nodes = ["val", "boom", "silent", "multi", "dval", "dfail"]
    with capturedLogs() as events:
        r = by_node(FanOut(work, clock=clock).run(nodes).result)
    assert r["val"] == NodeResult("val", True, value="off")
    assert r["dval"].value == 3
    assert r["boom"] == NodeResult("boom", False, error="BMC 10.0.0.5 refused the session")
    assert r["silent"].error == "Silent"  # no message: the class name, never an empty error
    assert r["multi"].error == "first line; second line"
    assert r["dfail"].error == "no route to host"
    # tracebacks go to the log at debug level, never to the user
    debug = [e for e in events if e.get("log_level") == LogLevel.debug and "log_failure" in e]
    assert {e["node"] for e in debug} == {"boom", "silent", "multi", "dfail"}
    assert clock.getDelayedCalls() == []


def test_many_synchronous_nodes_do_not_recurse():
    done = FanOut(lambda n: n.upper(), max_parallel=1, clock=Clock()).run(
        f"n{i}" for i in range(5000)
    )
    results = done.result
    assert len(results) == 5000 and results[-1].value == "N4999"


def test_duplicates_run_once_in_first_occurrence_order():
    work = Manual()
    seen, on_result = collect()
    done = FanOut(work, timeout=None, clock=Clock()).run(["b", "a", "b", "c", "a"], on_result)
    assert work.calls == ["b", "a", "c"]
    for n in ("c", "a", "b"):
        work.fire(n)
    assert [r.node for r in done.result] == ["b", "a", "c"]
    assert sorted(r.node for r in seen) == ["a", "b", "c"]


def test_empty_input_fires_at_once():
    assert FanOut(lambda n: 1, clock=Clock()).run([]).result == []


def test_rejects_nonsense_limits():
    with pytest.raises(ValueError, match="max_parallel"):
        FanOut(lambda n: 1, max_parallel=0, clock=Clock())
    with pytest.raises(ValueError, match="timeout"):
        FanOut(lambda n: 1, timeout=0, clock=Clock())
    with pytest.raises(ValueError, match="KeyedLimit"):
        KeyedLimit(lambda n: n, 0)


# -- keyed limits (migrations: per source host and per destination host) --

SRC = {"vm1": "hostA", "vm2": "hostA", "vm3": "hostA", "vm4": "hostB", "vm5": "hostC"}


def test_keyed_limit_does_not_block_other_keys():
    work = Manual(key=SRC.get)
    done = FanOut(
        work, max_parallel=10, timeout=None, clock=Clock(), limits=[KeyedLimit(SRC.get, 1)]
    ).run(["vm1", "vm2", "vm3", "vm4", "vm5"])
    # hostA is saturated by vm1; vm4 and vm5 (other hosts) start anyway
    assert work.calls == ["vm1", "vm4", "vm5"]
    work.fire("vm4")
    assert work.calls == ["vm1", "vm4", "vm5"]  # hostA still busy: vm2 waits
    work.fire("vm1")
    assert work.calls[-1] == "vm2"
    work.fire("vm2")
    work.fire("vm3")
    work.fire("vm5")
    assert len(done.result) == 5 and all(r.ok for r in done.result)
    assert work.key_peak["hostA"] == 1


def test_two_keyed_limits_source_and_destination():
    moves = {f"vm{i}": (f"src{i % 3}", f"dst{i % 2}") for i in range(12)}
    src = lambda n: moves[n][0]  # noqa: E731
    dst = lambda n: moves[n][1]  # noqa: E731
    work = Manual(key=src)
    fan = FanOut(
        work,
        max_parallel=5,
        timeout=None,
        clock=Clock(),
        limits=[KeyedLimit(src, 2), KeyedLimit(dst, 2)],
    )
    done = fan.run(list(moves))
    dst_peak: Counter = Counter()
    while not done.called:  # every in-flight state is seen here: only fire() changes it
        active = sorted(work.active)
        for k in {dst(n) for n in active}:
            dst_peak[k] = max(dst_peak[k], sum(1 for n in active if dst(n) == k))
        assert len(active) <= 4  # 2 destinations x 2 slots caps it below max_parallel
        work.fire(active[0])
    assert max(work.key_peak.values()) == 2
    assert max(dst_peak.values()) == 2
    assert len(done.result) == 12


def test_key_none_is_unlimited_and_a_failing_key_fails_only_that_node():
    def key(node):
        if node == "bad":
            raise LookupError("bad: no vm.host set; set it with chdef bad vmhost=...")
        return None

    work = Manual()
    seen, on_result = collect()
    done = FanOut(
        work, max_parallel=10, timeout=None, clock=Clock(), limits=[KeyedLimit(key, 1)]
    ).run(["a", "bad", "b"], on_result)
    assert work.calls == ["a", "b"]
    assert seen[0].node == "bad" and "no vm.host" in seen[0].error
    work.fire("a")
    work.fire("b")
    assert [r.ok for r in done.result] == [True, False, True]


# -- cancel --


def test_cancel_reports_in_flight_and_pending_once():
    clock = Clock()
    work = Manual()
    seen, on_result = collect()
    fan = FanOut(work, max_parallel=2, timeout=30, clock=clock)
    done = fan.run(["a", "b", "c", "d", "e"], on_result)
    work.fire("a")  # c starts
    clock.advance(3)
    fan.cancel()
    fan.cancel()  # idempotent
    assert sorted(work.cancelled) == ["b", "c"]
    assert work.calls == ["a", "b", "c"]  # d and e never ran
    r = by_node(done.result)
    assert r["a"].ok
    assert {n: r[n].error for n in "bcde"} == dict.fromkeys("bcde", "cancelled")
    assert r["b"].elapsed == 3 and r["d"].elapsed == 0.0
    assert Counter(x.node for x in seen) == Counter("abcde")
    assert clock.getDelayedCalls() == []  # no timeouts left armed


def test_cancelling_the_run_deferred_fires_it_with_results():
    work = Manual()
    done = FanOut(work, max_parallel=1, timeout=None, clock=Clock()).run(["a", "b"])
    done.cancel()
    assert [(r.node, r.error) for r in done.result] == [("a", "cancelled"), ("b", "cancelled")]


def test_cancel_does_not_wait_for_work_that_ignores_it():
    stuck = Deferred()
    stuck.pause()  # callbacks held: cancel cannot make it report
    seen, on_result = collect()
    fan = FanOut(lambda n: stuck, timeout=None, clock=Clock())
    done = fan.run(["a"], on_result)
    fan.cancel()
    assert done.result[0].error == "cancelled"
    stuck.unpause()  # the late outcome is swallowed, not reported twice nor logged as unhandled
    assert len(seen) == 1


def test_cancel_from_inside_on_result():
    work = Manual()
    fan = FanOut(work, max_parallel=1, timeout=None, clock=Clock())
    seen: list[NodeResult] = []

    def on_result(r):
        seen.append(r)
        if r.node == "a":
            fan.cancel()

    done = fan.run(["a", "b", "c"], on_result)
    work.fire("a")
    assert work.calls == ["a"]
    assert [(r.node, r.ok) for r in done.result] == [("a", True), ("b", False), ("c", False)]
    assert len(seen) == 3


def test_cancel_outside_a_run_is_harmless_and_the_engine_is_reusable():
    fan = FanOut(lambda n: n, clock=Clock())
    fan.cancel()
    assert [r.value for r in fan.run(["a"]).result] == ["a"]
    fan.cancel()
    assert [r.value for r in fan.run(["b"]).result] == ["b"]


def test_on_result_raising_loses_no_results():
    work = Manual()
    delivered: list[str] = []

    def on_result(r):
        delivered.append(r.node)
        raise BrokenPipeError("client went away")

    with capturedLogs() as events:
        done = FanOut(work, max_parallel=2, timeout=None, clock=Clock()).run("abc", on_result)
        for n in "bac":
            work.fire(n)
    assert delivered == ["b", "a", "c"]
    assert [r.ok for r in done.result] == [True, True, True]
    logged = [e["node"] for e in events if "log_failure" in e and e["log_level"] != LogLevel.debug]
    assert logged == ["b", "a", "c"]


# -- scale and random schedules --


def test_thousand_bmcs_hundred_dead():
    clock = Clock()
    dead = {f"bmc{i:04d}" for i in range(0, 1000, 10)}
    cancelled: list[str] = []
    active: set[str] = set()
    peak = 0

    def work(node):
        nonlocal peak
        active.add(node)
        peak = max(peak, len(active))
        if node in dead:
            d = Deferred(lambda _d: cancelled.append(node))
        else:
            d = Deferred()
            clock.callLater(1, d.callback, "on")
        return d.addBoth(lambda r: (active.discard(node), r)[1])

    seen, on_result = collect()
    done = FanOut(work, max_parallel=64, timeout=5, clock=clock).run(
        [f"bmc{i:04d}" for i in range(1000)], on_result
    )
    ticks = 0
    while not done.called:
        clock.advance(1)
        ticks += 1
        assert ticks <= 5 * -(-1000 // 64)  # never worse than every slot held by a dead BMC
    results = done.result
    assert len(results) == 1000 and len({r.node for r in seen}) == 1000 and len(seen) == 1000
    timed_out = {r.node for r in results if r.error == "timed out after 5s"}
    assert timed_out == dead and sorted(cancelled) == sorted(dead)
    assert all(r.ok for r in results if r.node not in dead)
    assert peak == 64
    assert ticks < 30  # dead BMCs hold slots for 5s, but live ones keep flowing past them
    assert clock.getDelayedCalls() == []


OUTCOMES = st.one_of(
    st.tuples(st.just("value"), st.integers()),
    st.tuples(st.just("raise"), st.text(min_size=1, max_size=5)),
    st.tuples(st.just("later-ok"), st.integers(0, 9).filter(lambda t: t != 5)),
    st.tuples(st.just("later-fail"), st.integers(0, 9).filter(lambda t: t != 5)),
    st.tuples(st.just("never"), st.none()),
)


@settings(max_examples=200, deadline=None)
@given(
    plan=st.lists(st.tuples(st.sampled_from([f"n{i}" for i in range(12)]), OUTCOMES), max_size=25),
    max_parallel=st.integers(1, 6),
    per_key=st.one_of(st.none(), st.integers(1, 3)),
    cancel_at=st.one_of(st.none(), st.integers(0, 12)),
)
def test_every_node_reported_exactly_once(plan, max_parallel, per_key, cancel_at):
    clock = Clock()
    outcome = {}
    for node, how in plan:
        outcome.setdefault(node, how)  # duplicates run once, with their first plan
    order = list(dict.fromkeys(node for node, _ in plan))
    key = lambda n: f"host{int(n[1:]) % 3}"  # noqa: E731
    active: set[str] = set()
    peaks = {"all": 0}
    key_peak: Counter = Counter()

    def track(node):
        active.add(node)
        peaks["all"] = max(peaks["all"], len(active))
        k = key(node)
        key_peak[k] = max(key_peak[k], sum(1 for n in active if key(n) == k))

    def work(node):
        kind, arg = outcome[node]
        track(node)
        if kind in ("value", "raise"):
            active.discard(node)
            if kind == "raise":
                raise RuntimeError(arg)
            return arg
        call = []
        d = Deferred(lambda _d: call and call[0].active() and call[0].cancel())
        if kind != "never":
            fire = d.callback if kind == "later-ok" else d.errback
            call.append(clock.callLater(arg, fire, "ok" if kind == "later-ok" else OSError("x")))
        return d.addBoth(lambda r: (active.discard(node), r)[1])

    seen, on_result = collect()
    limits = [KeyedLimit(key, per_key)] if per_key else []
    fan = FanOut(work, max_parallel=max_parallel, timeout=5, clock=clock, limits=limits)
    done = fan.run([node for node, _ in plan], on_result)
    ticks = 0
    while not done.called:
        if ticks == cancel_at:
            fan.cancel()
        clock.advance(1)
        ticks += 1
        assert ticks <= 6 * (len(order) + 1)

    results = done.result
    assert [r.node for r in results] == order
    assert Counter(r.node for r in seen) == Counter(order)
    assert peaks["all"] <= max_parallel
    if per_key:
        assert all(p <= per_key for p in key_peak.values())
    for r in results:
        kind, arg = outcome[r.node]
        if r.error == "cancelled":
            assert cancel_at is not None  # in flight or not yet started when cancelled
        elif kind in ("value", "later-ok") and (kind == "value" or arg < 5):
            assert r.ok and r.value == ("ok" if kind == "later-ok" else arg)
        elif kind in ("never", "later-ok", "later-fail") and (kind == "never" or arg > 5):
            assert r.error == "timed out after 5s" and r.elapsed == 5
        else:
            assert not r.ok and r.error
    assert clock.getDelayedCalls() == []
