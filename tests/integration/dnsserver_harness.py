#!/usr/bin/env python3
"""Run DnsService alone over a state directory, for tests and benchmarks, until SIGTERM.

    python tests/integration/dnsserver_harness.py --state DIR --portfile F [--port 0] \
        [--address 127.0.0.1 ...] [--check-interval 1.0] [--statsfile F]

It builds a CommandExecutor on the state directory as xcatd does, so commands run through
the executor (`--command-fifo`) trigger the commit listener, and commands run by a
separate bypass-mode process are noticed through PRAGMA data_version. Writes the bound
port to --portfile once listening; on SIGUSR1 (and at exit) writes the counters and the
current serial to --statsfile.
"""

import argparse
import os
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--state", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--portfile", required=True)
    ap.add_argument("--address", action="append")
    ap.add_argument("--check-interval", type=float, default=1.0)
    ap.add_argument("--host-name", default="mgmt")
    ap.add_argument("--statsfile")
    ap.add_argument("--verbose", action="store_true", help="log to stderr")
    args = ap.parse_args()

    from twisted.internet import reactor
    from twisted.logger import globalLogBeginner, textFileLogObserver

    from xcatpy.net.dns.server import DnsService
    from xcatpy.server.executor import CommandExecutor

    observers = [textFileLogObserver(sys.stderr)] if args.verbose else []
    globalLogBeginner.beginLoggingTo(observers, redirectStandardIO=False)
    executor = CommandExecutor(reactor, Path(args.state), readers=2)
    executor.start()
    svc = DnsService(reactor, executor, args.address or ["127.0.0.1"], args.port,
                     check_interval=args.check_interval, host_name=args.host_name)
    svc.startService()

    def write_stats(*_):
        if args.statsfile:
            c = svc.counters
            serial = svc.snapshot.serial if svc.snapshot else 0
            # Whole or not at all: the reader waits for the file to exist, then reads it.
            partial = Path(args.statsfile + ".part")
            partial.write_text(
                f"queries={c.queries} malformed={c.malformed} refused={c.refused} "
                f"nxdomain={c.nxdomain} truncated={c.truncated} failed={c.failed} "
                f"serial={serial}\n")
            partial.replace(args.statsfile)

    signal.signal(signal.SIGUSR1, lambda *a: reactor.callFromThread(write_stats))
    reactor.addSystemEventTrigger("before", "shutdown", write_stats)
    reactor.addSystemEventTrigger("before", "shutdown", svc.stopService)
    reactor.addSystemEventTrigger("after", "shutdown", executor.stop)

    def ready():
        tmp = args.portfile + ".tmp"
        Path(tmp).write_text(str(svc.port))
        os.replace(tmp, args.portfile)

    # The port file appears once the first snapshot is in memory, so a test's first
    # query is answered from the zones, not SERVFAIL.
    def wait_loaded():
        if svc.snapshot is None:
            reactor.callLater(0.01, wait_loaded)
        else:
            ready()

    reactor.callWhenRunning(wait_loaded)
    reactor.run()


if __name__ == "__main__":
    main()
