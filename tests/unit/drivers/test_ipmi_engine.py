"""The IPMI engine's deadlines, tries, slots and per-BMC turns, on a scripted transport.

Time is a fake clock that moves only when the engine waits for packets (transport.pump), so
a 6 s deadline takes milliseconds and every time asserted is exact, not measured. The real
engine thread runs; only pyghmi is replaced, by BMCs that answer from a script.
"""

import threading
from dataclasses import dataclass, field

import pytest

from xcatpy.drivers.base import ReplyQueue
from xcatpy.drivers.ipmi.credentials import BmcTarget, IpmiSettings
from xcatpy.drivers.ipmi.engine import IpmiEngine, Job
from xcatpy.drivers.ipmi.flows import power_flow

RTT = 0.01  # how long a scripted BMC takes to answer
DEFAULTS = IpmiSettings(64, 2.0, 3)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.lock = threading.Lock()

    def __call__(self) -> float:
        with self.lock:
            return self.now

    def advance(self, seconds: float) -> None:
        with self.lock:
            self.now += seconds


@dataclass(eq=False)
class FakeSession:
    key: tuple
    onlogon: object
    opened: float
    heard: bool = False
    closed: float | None = None


@dataclass
class ScriptedTransport:
    """BMC behaviours by address: on, off, silent, badpass, flaky, slow, losecontrol, busy."""

    clock: FakeClock
    behaviour: dict
    sessions: list = field(default_factory=list)
    sent: list = field(default_factory=list)
    due: list = field(default_factory=list)  # (time, callback, payload)

    def _later(self, delay, callback, payload):
        self.due.append((self.clock() + delay, callback, payload))

    def open(self, target, onlogon):
        session = FakeSession(target.key, onlogon, self.clock())
        self.sessions.append(session)
        kind = self.behaviour[target.address]
        if kind == "silent":
            return session
        session.heard = kind != "slow"
        if kind == "badpass":
            self._later(RTT, onlogon, {"error": "Incorrect password provided"})
        elif kind == "busy":
            self._later(RTT, onlogon, {"error": "Insufficient resources to create new session"})
        elif kind == "flaky" and len([s for s in self.sessions if s.key == target.key]) == 1:
            self._later(RTT, onlogon, {"error": "Session failed to initialize"})
        elif kind == "slow":
            self._later(0.1, lambda _: setattr(session, "heard", True), None)
            self._later(3.0, onlogon, {"success": True})
        else:
            self._later(RTT, onlogon, {"success": True})
        return session

    def send(self, session, request, callback):
        self.sent.append((session, request))
        kind = self.behaviour[session.key[0]]
        if request.command == 1:
            power = 1 if kind in ("on", "slow", "losecontrol") else 0
            self._later(RTT, callback, {"code": 0, "data": bytearray([power, 0, 0])})
        elif kind == "losecontrol":
            self._later(0.5, callback, {"error": "timeout", "code": 0xFFFF})
        else:
            self._later(RTT, callback, {"code": 0, "data": bytearray()})

    def command_done(self, session):
        pass

    def close(self, session):
        if session.closed is None:
            session.closed = self.clock()

    def heard_from_bmc(self, session):
        return session.heard

    def pump(self, timeout):
        self.clock.advance(max(timeout, 0.001))
        now = self.clock()
        ready = [d for d in self.due if d[0] <= now]
        self.due = [d for d in self.due if d[0] > now]
        for _, callback, payload in sorted(ready, key=lambda d: d[0]):
            callback(payload)

    def tidy(self, live_sessions):
        list(live_sessions)

    def opens(self, address):
        return [round(s.opened, 2) for s in self.sessions if s.key[0] == address]


@pytest.fixture
def clock():
    return FakeClock()


def run_jobs(clock, behaviour, nodes, action="stat", settings=DEFAULTS):
    """nodes: {node: bmc address}. Returns ({node: (reply, clock at reply)}, transport)."""
    transport = ScriptedTransport(clock, behaviour)
    engine = IpmiEngine(transport=transport, clock=clock)
    replies = ReplyQueue(nodes)
    seen = {}

    def report(node, reply):
        seen.setdefault(node, []).append(clock())
        replies.post(node, reply)

    jobs = [Job(node, BmcTarget(address, 623, "USERID", "PASSW0RD", address),
                lambda: power_flow(action), report) for node, address in nodes.items()]
    try:
        engine.submit(jobs, settings)
        results = {node: (reply, seen[node][0]) for node, reply in replies}
    finally:
        engine.close()
    assert all(len(times) == 1 for times in seen.values()), seen
    return results, transport


def test_silent_bmc_gets_a_fresh_session_each_try_and_times_out_at_the_deadline(clock):
    results, transport = run_jobs(clock, {"10.0.0.1": "silent"}, {"n1": "10.0.0.1"})
    reply, at = results["n1"]
    assert reply.error and reply.text == "timed out talking to BMC 10.0.0.1 after 6s"
    assert 6.0 <= at < 6.1
    assert transport.opens("10.0.0.1") == [0.0, 2.0, 4.0]
    assert all(s.closed is not None for s in transport.sessions)


def test_silent_bmcs_stop_holding_slots_after_one_try(clock):
    behaviour = {"10.0.0.1": "silent", "10.0.0.2": "on"}
    results, transport = run_jobs(clock, behaviour, {"dead": "10.0.0.1", "live": "10.0.0.2"},
                                  settings=IpmiSettings(1, 2.0, 3))
    assert results["live"][0].text == "on"
    assert transport.opens("10.0.0.2") == [2.0]  # one slot: taken by dead until its try ended
    assert results["live"][1] < 2.5
    assert results["dead"][0].error and results["dead"][1] >= 6.0


def test_bmc_that_answers_slowly_keeps_its_session(clock):
    results, transport = run_jobs(clock, {"10.0.0.1": "slow"}, {"n1": "10.0.0.1"})
    assert results["n1"][0].text == "on"
    assert transport.opens("10.0.0.1") == [0.0]
    assert 3.0 <= results["n1"][1] < 3.1


def test_wrong_password_fails_at_once_and_is_not_retried(clock):
    results, transport = run_jobs(clock, {"10.0.0.1": "badpass"}, {"n1": "10.0.0.1"})
    assert results["n1"][0].text == "BMC 10.0.0.1 rejected the credentials (user USERID)"
    assert results["n1"][1] < 0.1
    assert len(transport.opens("10.0.0.1")) == 1


def test_failed_session_before_any_change_is_retried(clock):
    results, transport = run_jobs(clock, {"10.0.0.1": "flaky"}, {"n1": "10.0.0.1"}, "on")
    assert results["n1"][0].text == "on"
    assert len(transport.opens("10.0.0.1")) == 2


def test_lost_answer_to_a_state_change_is_reported_not_repeated(clock):
    results, transport = run_jobs(clock, {"10.0.0.1": "losecontrol"}, {"n1": "10.0.0.1"}, "off")
    assert results["n1"][0].text == ("BMC 10.0.0.1 did not answer chassis control off; "
                                     "whether it was done is unknown")
    controls = [r for _, r in transport.sent if r.command == 2]
    assert len(controls) == 1 and len(transport.opens("10.0.0.1")) == 1


def test_bmc_refusing_sessions_is_reported_with_its_words_after_the_tries(clock):
    results, transport = run_jobs(clock, {"10.0.0.1": "busy"}, {"n1": "10.0.0.1"})
    assert results["n1"][0].text == ("BMC 10.0.0.1: Insufficient resources to create new "
                                     "session")
    assert len(transport.opens("10.0.0.1")) == 3


def test_nodes_sharing_a_bmc_take_turns(clock):
    behaviour = {"10.0.0.1": "on", "10.0.0.2": "off"}
    nodes = {"a": "10.0.0.1", "b": "10.0.0.1", "c": "10.0.0.1", "d": "10.0.0.2"}
    results, transport = run_jobs(clock, behaviour, nodes)
    assert {n: r.text for n, (r, _) in results.items()} == {"a": "on", "b": "on", "c": "on",
                                                            "d": "off"}
    shared = sorted((s.opened, s.closed) for s in transport.sessions if s.key[0] == "10.0.0.1")
    assert len(shared) == 3
    for (_, closed), (opened, _) in zip(shared, shared[1:], strict=False):
        assert closed <= opened  # never two sessions to one BMC at once


def test_every_node_is_reported_exactly_once_whatever_its_bmc_does(clock):
    kinds = ["on", "off", "silent", "badpass", "flaky", "busy", "slow", "losecontrol"]
    behaviour = {f"10.0.1.{i}": kinds[i % len(kinds)] for i in range(40)}
    nodes = {f"n{i}": f"10.0.1.{i}" for i in range(40)}
    nodes.update({f"twin{i}": f"10.0.1.{i}" for i in range(0, 40, 5)})
    results, _ = run_jobs(clock, behaviour, nodes, "boot", IpmiSettings(4, 2.0, 3))
    assert set(results) == set(nodes)
    expected = {"on": "on reset", "off": "off on", "silent": "timed out", "badpass": "rejected",
                "flaky": "off on", "busy": "Insufficient", "slow": "on reset",
                "losecontrol": "did not answer chassis control reset"}
    for node, address in nodes.items():
        assert expected[behaviour[address]] in results[node][0].text, node


def test_closing_the_engine_fails_what_is_still_running(clock):
    transport = ScriptedTransport(clock, {"10.0.0.1": "silent"})
    engine = IpmiEngine(transport=transport, clock=lambda: 0.0)  # time stands still
    replies = ReplyQueue(["n1"])
    engine.submit([Job("n1", BmcTarget("10.0.0.1", 623, "u", "p", "10.0.0.1"),
                       lambda: power_flow("stat"), replies.post)], IpmiSettings())
    while not transport.sessions:
        threading.Event().wait(0.001)
    engine.close()
    assert [(n, r.text) for n, r in replies] == [("n1", "the IPMI engine was stopped")]
    with pytest.raises(RuntimeError, match="closed"):
        engine.submit([Job("n2", BmcTarget("10.0.0.1", 623, "u", "p", "10.0.0.1"),
                           lambda: power_flow("stat"), replies.post)], IpmiSettings())
