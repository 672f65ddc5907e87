#!/usr/bin/env python3
"""Run TftpService alone, for tests and benchmarks, until SIGTERM.

    python tests/integration/tftpserver_harness.py --root DIR --port 0 --portfile F \
        [--address 127.0.0.1 ...] [--max-sessions N] [--generators]

Writes the bound port to --portfile once listening. With --generators it registers the
sample generators the conformance tests use: `gen/hello-<word>` answers bytes naming the
client and local address, `gen/fail` errbacks, `gen/alias-<name>` answers Path(<name>)
and `gen/none/<name>` falls through to the static file.
"""

import argparse
import os
import re
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--portfile", required=True)
    ap.add_argument("--address", action="append")
    ap.add_argument("--max-sessions", type=int, default=4096)
    ap.add_argument("--generators", action="store_true")
    ap.add_argument("--statsfile", help="write counters here on SIGUSR1 and at exit")
    ap.add_argument("--verbose", action="store_true", help="log to stderr")
    args = ap.parse_args()

    from twisted.internet import defer, reactor, task
    from twisted.logger import globalLogBeginner, textFileLogObserver

    from xcatpy.boot.tftp.files import TftpRoot
    from xcatpy.boot.tftp.service import TftpService

    if args.verbose:
        globalLogBeginner.beginLoggingTo([textFileLogObserver(sys.stderr)],
                                         redirectStandardIO=False)
    else:
        globalLogBeginner.beginLoggingTo([], redirectStandardIO=False)
    root = TftpRoot(Path(args.root))
    if args.generators:
        def hello(match, client, local):
            text = f"hello {match['word']} from {client[0]} via {local}\n".encode()
            return task.deferLater(reactor, 0.01, lambda: text)

        def fail(match, client, local):
            return defer.fail(RuntimeError("generator exploded on purpose"))

        root.add_generator(re.compile(r"gen/hello-(?P<word>\w+)"), hello)
        root.add_generator(re.compile(r"gen/fail"), fail)
        root.add_generator(re.compile(r"gen/alias-(.+)"), lambda m, c, local: Path(m[1]))
        root.add_generator(re.compile(r"gen/none/.*"), lambda m, c, local: None)
    svc = TftpService(reactor, root, args.address or ["127.0.0.1"], args.port,
                      max_sessions=args.max_sessions)
    svc.startService()

    def write_stats(*_):
        if args.statsfile and svc.server is not None:
            s = svc.server
            Path(args.statsfile).write_text(
                f"sessions={s.session_count} completed={s.completed} failed={s.failed} "
                f"blocks_sent={s.blocks_sent} malformed={s.malformed} refused={s.refused}\n")

    signal.signal(signal.SIGUSR1, lambda *a: reactor.callFromThread(write_stats))
    reactor.addSystemEventTrigger("before", "shutdown", write_stats)
    reactor.addSystemEventTrigger("before", "shutdown", svc.stopService)
    tmp = args.portfile + ".tmp"
    Path(tmp).write_text(str(svc.port))
    os.replace(tmp, args.portfile)
    reactor.run()


if __name__ == "__main__":
    main()
