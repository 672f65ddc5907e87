"""xcatd: the daemon. Reads its configuration, assembles the services, runs the reactor.

Precedence for every setting: command-line flag, then the config file, then (for the
port) site.xcatdport, then the embedded default.
"""

import argparse
import configparser
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

from xcatpy import state as statemod
from xcatpy.errors import XcatError

CONF_ENV = "XCATPY_CONF"
SYSTEM_CONF = Path("/etc/xcatpy/xcatd.conf")
DEFAULT_PORT = 3001


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="xcatd", description="The xcatpy daemon.")
    p.add_argument("--foreground", "-f", action="store_true",
                   help="stay in the foreground (systemd, containers, tests)")
    p.add_argument("--state-dir", help="state directory (default: $XCATPY_STATE or "
                   "/var/lib/xcatpy)")
    p.add_argument("--config", help="config file (default: $XCATPY_CONF or "
                   "/etc/xcatpy/xcatd.conf if present)")
    p.add_argument("--listen", help="API address (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="API port (default site.xcatdport, 3001; "
                   "0 picks a free port)")
    p.add_argument("--readers", type=int, help="threads for read-only commands")
    p.add_argument("--boot-listen", metavar="ADDR[,ADDR]",
                   help="addresses of the TFTP, HTTP and install-monitor services "
                   "(default: the API address); the provisioning network's own address")
    p.add_argument("--tftp-port", metavar="N|off", help="TFTP port (default 69)")
    p.add_argument("--http-port", metavar="N|off",
                   help="HTTP port for install trees and answer files (default 80)")
    p.add_argument("--monitor-port", metavar="N|off",
                   help="install monitor port (default site.xcatiport, 3002)")
    p.add_argument("--dns-port", metavar="N|off",
                   help="embedded DNS port on the boot addresses (default 53)")
    p.add_argument("--dhcp-port", metavar="N|off", help="DHCP server port (default 67)")
    p.add_argument("--dhcp-client-port", metavar="N",
                   help="port DHCP replies go to (default 68; tests and benchmarks)")
    p.add_argument("--dhcp-proxy-port", metavar="N|off",
                   help="proxyDHCP port for site.dhcpmode=proxy (default 4011)")
    p.add_argument("--dhcp-interfaces", metavar="IF[,IF]",
                   help="interfaces to answer DHCP on (default site.dhcpinterfaces; "
                   "none named: no DHCP answers)")
    p.add_argument("--idle-timeout", metavar="SECONDS",
                   help="close a TCP connection that sends nothing while a request is "
                   "expected (or reads nothing of an HTTP boot response) this long "
                   "(default 30)")
    p.add_argument("--request-timeout", metavar="SECONDS",
                   help="a request must arrive complete within this time of its first "
                   "byte, however it trickles (default 60)")
    p.add_argument("--max-connections", metavar="N",
                   help="open connections per TCP listener (default 10000, less if the "
                   "open-files limit is lower)")
    p.add_argument("--log", choices=["stderr", "syslog"], help="where logs go")
    p.add_argument("--pidfile", help="pid file (default <state>/run/xcatd.pid)")
    p.add_argument("--init", action="store_true",
                   help="create the database, CA and certificates if absent, then exit")
    return p.parse_args(argv)


def load_config(path: str | None) -> dict[str, str]:
    chosen = path or os.environ.get(CONF_ENV) or (str(SYSTEM_CONF) if SYSTEM_CONF.exists()
                                                  else None)
    if not chosen:
        return {}
    parser = configparser.ConfigParser()
    try:
        with open(chosen) as f:
            parser.read_file(f)
    except (OSError, configparser.Error) as exc:
        raise XcatError(f"Cannot read config file {chosen}: {exc}") from None
    return dict(parser["xcatd"]) if parser.has_section("xcatd") else {}


def _int(value: str | int | None, name: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise XcatError(f"Invalid {name} '{value}': expected a number") from None


def _seconds(flag: str | None, conf: dict, key: str, default: float) -> float:
    value = flag if flag is not None else conf.get(key)
    if value is None or value == "":
        return default
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds < 86400 * 365:
        where = f"--{key.replace('_', '-')}" if flag is not None else key
        raise XcatError(f"Invalid {where} '{value}': expected a number of seconds above 0")
    return seconds


def _max_connections(flag: str | None, conf: dict) -> int | None:
    where = "--max-connections" if flag is not None else "max_connections"
    value = _int(flag if flag is not None else conf.get("max_connections"), where)
    if value is not None and value < 1:
        raise XcatError(f"Invalid {where} '{value}': expected a number of 1 or more")
    return value


def resolve(args: argparse.Namespace):
    from xcatpy.server.services import Settings

    conf = load_config(args.config)
    state_dir = statemod.state_dir(args.state_dir or conf.get("state_dir"))
    port = _int(args.port, "--port")
    if port is None:
        port = _int(conf.get("port"), "port") or _site_port(state_dir, "xcatdport") or \
            DEFAULT_PORT
    listen = args.listen or conf.get("listen") or "127.0.0.1"
    boot_listen = args.boot_listen or conf.get("boot_listen") or listen
    settings = Settings(state_dir=state_dir, listen=listen, port=port,
                        readers=_int(args.readers, "--readers") or _int(
                            conf.get("readers"), "readers") or 4,
                        boot_listen=[a.strip() for a in boot_listen.split(",") if a.strip()],
                        tftp_port=_service_port(args.tftp_port, conf, "tftp_port", lambda: 69),
                        http_port=_service_port(args.http_port, conf, "http_port", lambda: 80),
                        monitor_port=_service_port(
                            args.monitor_port, conf, "monitor_port",
                            lambda: _site_port(state_dir, "xcatiport") or 3002),
                        dns_port=_service_port(args.dns_port, conf, "dns_port", lambda: 53),
                        dhcp_port=_service_port(args.dhcp_port, conf, "dhcp_port", lambda: 67),
                        dhcp_client_port=_service_port(
                            args.dhcp_client_port, conf, "dhcp_client_port", lambda: 68) or 68,
                        dhcp_proxy_port=_service_port(
                            args.dhcp_proxy_port, conf, "dhcp_proxy_port", lambda: 4011),
                        dhcp_interfaces=_list(args.dhcp_interfaces
                                              or conf.get("dhcp_interfaces")),
                        idle_timeout=_seconds(args.idle_timeout, conf, "idle_timeout",
                                              Settings.idle_timeout),
                        request_timeout=_seconds(args.request_timeout, conf,
                                                 "request_timeout", Settings.request_timeout),
                        max_connections=_max_connections(args.max_connections, conf))
    log = args.log or conf.get("log") or "stderr"
    pidfile = Path(args.pidfile or conf.get("pidfile") or state_dir / "run" / "xcatd.pid")
    return settings, log, pidfile


def _list(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


def _service_port(flag: str | None, conf: dict, key: str,
                  default: Callable[[], int]) -> int | None:
    """A boot service's port: flag, then config, then default (only computed when
    needed: it may read the database); 'off' disables it."""
    value = flag if flag is not None else conf.get(key)
    if value is None or value == "":
        return default()
    if str(value).strip().lower() in ("off", "no", "none", "disabled"):
        return None
    port = _int(value, f"--{key.replace('_', '-')}" if flag is not None else key)
    if port is None or not 0 <= port <= 65535:
        raise XcatError(f"Invalid {key} '{value}': expected 0-65535 or off")
    return port


def _site_port(state_dir: Path, key: str) -> int | None:
    from xcatpy.db.store import Store

    store = Store.open(state_dir)
    try:
        row = store.get("site", {"key": key})
    finally:
        store.close()
    return _int(row["value"], f"site.{key}") if row and row.get("value") else None


def initialise(state_dir: Path) -> None:
    from xcatpy.db.store import Store
    from xcatpy.pki.ca import init_pki

    Store.open(state_dir).close()
    init_pki(state_dir)


def run_file(state_dir: Path) -> Path:
    """Where a running xcatd says how to reach it; the CLI reads it for private instances."""
    return state_dir / "run" / "xcatd.json"


def _start_logging(where: str) -> None:
    from twisted.logger import globalLogBeginner, textFileLogObserver

    if where == "syslog":
        import syslog

        from twisted.logger import formatEvent

        syslog.openlog("xcatd", syslog.LOG_PID, syslog.LOG_DAEMON)

        def observer(event):
            text = formatEvent(event)
            if text:
                syslog.syslog(text)

        globalLogBeginner.beginLoggingTo([observer], redirectStandardIO=False)
    else:
        globalLogBeginner.beginLoggingTo([textFileLogObserver(sys.stderr)],
                                         redirectStandardIO=False)


def _print_how_to_connect(settings, ports: dict[str, int]) -> None:
    bindir = Path(sys.executable).parent
    port = ports["port"]
    boot = ", ".join(f"{name[:-5]} {value}" for name, value in ports.items() if name != "port")
    sys.stderr.write(
        f"xcatd: serving {settings.state_dir} on {settings.listen}:{port}\n"
        + (f"xcatd: boot services on {','.join(settings.boot_listen)}: {boot}\n"
           if boot else "") +
        f"xcatd: point the CLIs at it with:\n"
        f"    export PATH={bindir}:$PATH XCATPY_STATE={settings.state_dir}\n"
        f"    nodeadd node[01-04] groups=compute,all && nodels compute\n")
    sys.stderr.flush()


def _daemonize() -> None:
    if os.fork():
        os._exit(0)
    os.setsid()
    if os.fork():
        os._exit(0)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)


def serve(settings, log: str, pidfile: Path, foreground: bool) -> int:
    if not foreground:
        _daemonize()
    from twisted.internet import reactor
    from twisted.internet.error import CannotListenError

    from xcatpy.server.limits import raise_fd_limit
    from xcatpy.server.services import build
    from xcatpy.virt.journal import report_interrupted

    _start_logging(log)
    report_interrupted(settings.state_dir)  # a migration xcatd died under: warn and log it
    # Before build(): the connection caps are sized from the limit in force.
    raise_fd_limit()
    root, running = build(reactor, settings)
    try:
        root.startService()
    except CannotListenError as exc:
        root.stopService()
        raise XcatError(f"cannot listen on {exc.interface or '*'}:{exc.port}: "
                        f"{exc.socketError}") from None
    runinfo = run_file(settings.state_dir)
    pidfile.parent.mkdir(parents=True, exist_ok=True)
    runinfo.parent.mkdir(parents=True, exist_ok=True)
    pidfile.write_text(f"{os.getpid()}\n")
    ports = running.ports()
    runinfo.write_text(json.dumps({"pid": os.getpid(), "host": settings.listen, **ports,
                                   "boot_listen": settings.boot_listen}))

    def cleanup():
        for path in (pidfile, runinfo):
            path.unlink(missing_ok=True)

    if foreground:
        _print_how_to_connect(settings, ports)
    reactor.addSystemEventTrigger("before", "shutdown", root.stopService)
    reactor.addSystemEventTrigger("after", "shutdown", cleanup)
    reactor.run()
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        settings, log, pidfile = resolve(args)
        if args.init:
            initialise(settings.state_dir)
            print(f"xcatd: initialised {settings.state_dir}")
            return 0
        from xcatpy.pki.paths import PkiPaths

        if not PkiPaths(settings.state_dir).ca_cert.exists():
            initialise(settings.state_dir)
        return serve(settings, log, pidfile, args.foreground)
    except XcatError as exc:
        print(f"xcatd: Error: {exc.message}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"xcatd: Error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
