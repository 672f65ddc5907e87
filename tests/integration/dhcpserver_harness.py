#!/usr/bin/env python3
"""Run DhcpService alone on a state directory, for tests and benchmarks, until SIGTERM.

    python tests/integration/dhcpserver_harness.py --state DIR --portfile F \
        [--interface IF ...] [--port 67] [--client-port 68] [--proxy-port 4011|off] \
        [--http-port 80] [--log FILE] [--statsfile F]

Without --interface the service reads site.dhcpinterfaces, as xcatd does. Writes
{"port", "interfaces", "proxy_port", "mode"} as JSON to --portfile once listening; --log
gets the service's log lines (one per OFFER/ACK/NAK); --statsfile gets the counters on
SIGUSR1 and at exit.
"""

import argparse
import json
import os
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--state", required=True)
    ap.add_argument("--portfile", required=True)
    ap.add_argument("--interface", action="append")
    ap.add_argument("--port", type=int, default=67)
    ap.add_argument("--client-port", type=int, default=68)
    ap.add_argument("--proxy-port", default="4011")
    ap.add_argument("--http-port", type=int, default=80)
    ap.add_argument("--log", help="write log lines here")
    ap.add_argument("--statsfile")
    args = ap.parse_args()

    from twisted.internet import reactor
    from twisted.logger import (
        FilteringLogObserver,
        LogLevel,
        LogLevelFilterPredicate,
        globalLogBeginner,
        textFileLogObserver,
    )

    from xcatpy.net.dhcp.server import DhcpService
    from xcatpy.server.executor import CommandExecutor

    observers = []
    if args.log:
        out = open(args.log, "a", buffering=1)
        observers.append(FilteringLogObserver(
            textFileLogObserver(out), [LogLevelFilterPredicate(LogLevel.info)]))
    globalLogBeginner.beginLoggingTo(observers, redirectStandardIO=False)

    executor = CommandExecutor(reactor, Path(args.state))
    executor.start()
    proxy = None if args.proxy_port == "off" else int(args.proxy_port)
    svc = DhcpService(reactor, executor, interfaces=args.interface, port=args.port,
                      client_port=args.client_port, proxy_port=proxy,
                      http_port=lambda: args.http_port)
    svc.startService()

    def write_stats(*_):
        if args.statsfile and svc.server is not None:
            s = svc.server
            stats = dict(s.responder.stats, malformed=s.malformed, errors=s.errors,
                         send_errors=s.send_errors)
            Path(args.statsfile).write_text(json.dumps(stats) + "\n")

    def stop():
        write_stats()
        d = svc.stopService()
        if d is not None:
            return d.addBoth(lambda _: executor.stop())
        executor.stop()

    signal.signal(signal.SIGUSR1, lambda *a: reactor.callFromThread(write_stats))
    reactor.addSystemEventTrigger("before", "shutdown", stop)
    tmp = args.portfile + ".tmp"
    Path(tmp).write_text(json.dumps({"port": svc.port, "interfaces": svc.interfaces,
                                     "proxy_port": svc.bound_proxy_port, "mode": svc.mode}))
    os.replace(tmp, args.portfile)
    reactor.run()


if __name__ == "__main__":
    main()
