"""pyghmi's IPMI client session, adapted for one thread driving a thousand BMCs.

Everything here touches pyghmi internals (pyghmi 1.6.19, pinned by setup.cfg's floor and
checked by tests/unit/drivers/test_ipmi_sessions.py); nothing else in xcatpy does.

Measured on pyghmi 1.6.19, and why this module exists:
- Its synchronous client (Command, or Session without onlogon) deadlocks when several
  threads use it once a retransmit timer fires: WAITING_SESSIONS and KEEPALIVE_SESSIONS are
  taken in opposite orders by different paths. So only the engine's IO thread touches
  pyghmi, in its asynchronous mode (onlogon and raw_command callbacks, pumped with
  Session.wait_for_rsp).
- Even in asynchronous mode the last login step, Set Session Privilege, is sent
  synchronously from inside the packet handler: the thread then waits for that one BMC
  while every other BMC's packets queue and no retry timer runs. AsyncSession makes that
  step a callback too.
- Session.__new__ hands back an existing object for the same BMC and login from its
  class-level maps (bmc_handlers, initting_sessions), including one whose login just
  failed. `discard` removes a session from every map, and `forget_bmc` drops whatever is
  left for a BMC before a new session to it, so a retry always starts clean.
- Session.logout decrements the socket pool count twice for a session that was not yet
  broken; `recount_sockets` puts the counts back, or pyghmi would pile every session onto
  one socket.
"""

from __future__ import annotations

import socket
import struct

from pyghmi.ipmi.private import session as pyghmi_session
from pyghmi.ipmi.private import util
from pyghmi.ipmi.private.util import get_ipmi_error

Session = pyghmi_session.Session

NETFN_APP = 0x06
CMD_SET_SESSION_PRIVILEGE = 0x3B
CMD_CLOSE_SESSION = 0x3C
PRIV_ADMINISTRATOR = 4
PRIV_OPERATOR = 3


class AsyncSession(Session):
    """A pyghmi Session whose whole login runs from callbacks. Create it with onlogon."""

    def logout(self, sessionok=True):
        # pyghmi logs out (also when it gives up on a silent BMC mid-command) by sending
        # Close Session through raw_command, which first waits, pumping packets, until the
        # command in flight expires: seconds in which no other BMC is served. The command
        # in flight is abandoned anyway, so it is marked finished first.
        finish_command(self)
        return super().logout(sessionok)

    def _req_priv_level(self):
        # pyghmi's version of this step, with the wait replaced by a callback.
        self.logged = 1
        self.logoutexpiry = None
        self.maxtimeout = 4
        self.logontries = 1
        self._request_privilege()

    def _request_privilege(self):
        self.raw_command(netfn=NETFN_APP, command=CMD_SET_SESSION_PRIVILEGE,
                         data=[self.privlevel], callback=self._got_privilege)

    def _got_privilege(self, response):
        finish_command(self)
        if "error" in response:
            self.onlogon({"error": response["error"]})
            return
        code = response.get("code")
        if code in (0x80, 0x81) and self.privlevel == PRIV_ADMINISTRATOR:
            # As pyghmi does: some BMCs log a user in but refuse administrator.
            self.privlevel = PRIV_OPERATOR
            self._request_privilege()
            return
        if code:
            self.logged = 0
            self.onlogpayload = None
            self.logging = False
            suffix = f" while requesting privilege level {self.privlevel}"
            self.onlogon({"error": get_ipmi_error(response, suffix=suffix)
                          or f"privilege level refused (code 0x{code:02x})"})
            return
        # Not registered for pyghmi's keepalives: the engine logs out after one command.
        self.logging = False
        self.onlogon({"success": True})


def finish_command(session: Session) -> None:
    """What raw_command leaves to a caller that passed a callback."""
    session.incommand = False
    while session.evq:
        session.evq.popleft().set()


def has_heard_from_bmc(session: Session | None) -> bool:
    """Whether any packet from the BMC reached this session (pyghmi records the sender)."""
    return session is not None and getattr(session, "sockaddr", None) is not None


def discard(session: Session) -> None:
    """Log out if logged in (without waiting for the answer) and forget the session."""
    finish_command(session)
    with util.protect(pyghmi_session.WAITING_SESSIONS):
        Session.waiting_sessions.pop(session, None)
    with util.protect(pyghmi_session.KEEPALIVE_SESSIONS):
        Session.keepalive_sessions.pop(session, None)
    session.lastpayload = None
    session.onlogpayload = None
    session.pendingpayloads.clear()
    session.logonwaiters = []
    if session.logged and not session.broken:
        try:
            session.raw_command(netfn=NETFN_APP, command=CMD_CLOSE_SESSION,
                                data=struct.unpack("4B", struct.pack("I", session.sessionid)),
                                retry=False)
        except Exception:  # a courtesy to the BMC; its session times out anyway
            pass
        finish_command(session)
    session.logged = 0
    session.logging = False
    session.broken = True
    for sockaddr, handlers in list(Session.bmc_handlers.items()):
        if isinstance(handlers, dict):
            for port, handler in list(handlers.items()):
                if handler is session:
                    del handlers[port]
            if not handlers:
                del Session.bmc_handlers[sockaddr]
    for key, initting in list(Session.initting_sessions.items()):
        if initting is session:
            del Session.initting_sessions[key]


def forget_bmc(address: str, port: int) -> None:
    """Discard every session pyghmi still holds for a BMC. The engine talks to one BMC one
    node at a time, so before it opens a session to a BMC, anything left there is stale."""
    for sockaddr in _pyghmi_sockaddrs(address, port):
        for stale in list((Session.bmc_handlers.get(sockaddr) or {}).values()):
            discard(stale)
    for key, stale in list(Session.initting_sessions.items()):
        if key[0] == address and key[3] == port:
            discard(stale)
            Session.initting_sessions.pop(key, None)


def recount_sockets(live_sessions) -> None:
    """Set pyghmi's per-socket session counts to the sessions actually alive."""
    counts: dict = {}
    for session in live_sessions:
        sock = getattr(session, "socket", None)
        if sock is not None:
            counts[sock] = counts.get(sock, 0) + 1
    for sock in Session.socketpool:
        Session.socketpool[sock] = counts.get(sock, 0)


def _pyghmi_sockaddrs(address: str, port: int) -> list[tuple]:
    # The keys pyghmi files a BMC's sessions under: getaddrinfo's sockaddrs, IPv4 ones
    # written as IPv4-mapped IPv6 once pyghmi has found the kernel does IPv6.
    try:
        infos = socket.getaddrinfo(address, port, 0, socket.SOCK_DGRAM,
                                   flags=socket.AI_NUMERICHOST)
    except socket.gaierror:
        return []
    keys = []
    for family, _, _, _, sockaddr in infos:
        if family == socket.AF_INET:
            keys.append(sockaddr)
            keys.append(("::ffff:" + sockaddr[0], sockaddr[1], 0, 0))
        else:
            keys.append(sockaddr)
    return keys


class PyghmiTransport:
    """How the engine reaches BMCs: pyghmi sessions, pumped on the engine's thread.

    The engine's only seam to pyghmi; unit tests give the engine a scripted transport
    with the same methods.
    """

    def open(self, target, onlogon) -> AsyncSession:
        forget_bmc(target.address, target.port)
        return AsyncSession(bmc=target.address, userid=target.username,
                            password=target.password, port=target.port, onlogon=onlogon)

    def send(self, session: AsyncSession, request, callback) -> None:
        session.raw_command(netfn=request.netfn, command=request.command,
                            data=list(request.data), callback=callback)

    def command_done(self, session: AsyncSession) -> None:
        finish_command(session)

    def close(self, session: AsyncSession) -> None:
        discard(session)

    def heard_from_bmc(self, session: AsyncSession) -> bool:
        return has_heard_from_bmc(session)

    def pump(self, timeout: float) -> None:
        Session.wait_for_rsp(timeout)

    def tidy(self, live_sessions) -> None:
        recount_sockets(live_sessions)
