"""The pyghmi internals the engine relies on, against a real pyghmi session.

The BMC is a UDP socket that never answers, so every session stays mid-login with its
retransmit timer armed: the state a dead BMC leaves behind. These tests trip first if a
pyghmi upgrade renames or reshapes what sessions.py touches.
"""

import socket
import threading

import pytest
from pyghmi.ipmi.private.util import _monotonic_time as pyghmi_clock

from xcatpy.drivers.ipmi import sessions
from xcatpy.drivers.ipmi.credentials import BmcTarget

Session = sessions.Session


@pytest.fixture
def silent_bmc():
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    yield BmcTarget("127.0.0.1", sock.getsockname()[1], "USERID", "PASSW0RD", "127.0.0.1")
    sock.close()


def filed_under(session) -> list:
    return [addr for addr, handlers in Session.bmc_handlers.items()
            if isinstance(handlers, dict) and session in handlers.values()]


def test_new_session_is_filed_and_waiting_then_discard_forgets_it(silent_bmc):
    transport = sessions.PyghmiTransport()
    logons = []
    session = transport.open(silent_bmc, logons.append)
    try:
        assert isinstance(session, sessions.AsyncSession)
        assert filed_under(session) == [("::ffff:127.0.0.1", silent_bmc.port, 0, 0)]
        assert session in Session.waiting_sessions  # its retransmit timer is armed
        assert not transport.heard_from_bmc(session)
    finally:
        transport.close(session)
    assert filed_under(session) == []
    assert session not in Session.waiting_sessions
    assert session.broken and not session.logged
    assert logons == []  # discarding is not a login failure to report


def test_forget_bmc_drops_a_stale_session_so_the_next_one_is_new(silent_bmc):
    transport = sessions.PyghmiTransport()
    stale = sessions.AsyncSession(bmc=silent_bmc.address, userid=silent_bmc.username,
                                  password=silent_bmc.password, port=silent_bmc.port,
                                  onlogon=lambda _: None)
    fresh = transport.open(silent_bmc, lambda _: None)  # forget_bmc runs first
    try:
        assert fresh is not stale
        assert filed_under(stale) == [] and stale not in Session.waiting_sessions
        assert filed_under(fresh) != []
    finally:
        transport.close(fresh)
        transport.close(stale)


def test_recount_sockets_sets_pool_counts_to_live_sessions(silent_bmc):
    transport = sessions.PyghmiTransport()
    live = transport.open(silent_bmc, lambda _: None)
    try:
        for sock in Session.socketpool:
            Session.socketpool[sock] = -7  # what pyghmi's double decrement drifts towards
        transport.tidy([live])
        assert Session.socketpool[live.socket] == 1
        assert all(count == 0 for sock, count in Session.socketpool.items()
                   if sock is not live.socket)
    finally:
        transport.close(live)
        transport.tidy([])


def test_logout_mid_command_does_not_wait_for_the_command(silent_bmc):
    # pyghmi gives up on a BMC that stops answering mid-command by logging out, and its
    # logout first waits (pumping packets) until the command in flight expires. The engine
    # thread must never sit in that wait: AsyncSession abandons the command instead.
    session = sessions.AsyncSession(bmc=silent_bmc.address, userid=silent_bmc.username,
                                    password=silent_bmc.password, port=silent_bmc.port,
                                    onlogon=lambda _: None)
    session.logged = 1  # as if logged in, with a command that would not expire for a minute
    session.incommand = pyghmi_clock() + 60
    worker = threading.Thread(target=session.logout, args=(False,), daemon=True)
    worker.start()
    worker.join(10)  # liveness, not speed: stock pyghmi would still be waiting
    try:
        assert not worker.is_alive()
        assert session.incommand is False and session.broken
    finally:
        sessions.discard(session)
