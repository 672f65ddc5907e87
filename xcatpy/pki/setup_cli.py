"""xcatpy-setup: create the instance's CA and credentials, issue and revoke users' ones.

    xcatpy-setup [--state-dir DIR] init [--force] [--server-name NAME ...] [--days N]
                                        [--home | --no-home]
    xcatpy-setup [--state-dir DIR] issue USER [--days N] [--out DIR]
    xcatpy-setup [--state-dir DIR] revoke USER|SERIAL
    xcatpy-setup [--state-dir DIR] show [--json]
"""

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

from xcatpy import state as statemod
from xcatpy.errors import XcatError

PROG = "xcatpy-setup"


class _Parser(argparse.ArgumentParser):
    """argparse whose errors are one ``Error:`` line and exit status 1, like every CLI."""

    def error(self, message: str):  # type: ignore[override]
        raise XcatError(f"{message} (see '{self.prog} --help')")


def _parser() -> argparse.ArgumentParser:
    common = _Parser(add_help=False)
    common.add_argument("--state-dir", default=argparse.SUPPRESS, metavar="DIR",
                        help=f"instance state directory (default ${statemod.STATE_ENV}, "
                             f"else {statemod.DEFAULT_STATE_DIR})")
    p = _Parser(prog=PROG, parents=[common],
                description="Certificates for xcatd's mutually authenticated API.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    init = sub.add_parser("init", parents=[common], help="create the CA, server certificate "
                          "and root's credentials (keeps what exists)")
    init.add_argument("--force", action="store_true",
                      help="replace the CA and everything it issued (old files set aside)")
    init.add_argument("--server-name", action="append", metavar="NAME",
                      help="DNS name or IP address xcatd is reached by (repeatable; "
                           "default localhost, this host's name, 127.0.0.1, ::1)")
    init.add_argument("--days", type=int, default=3650,
                      help="lifetime of the CA and certificates (default 3650)")
    init.add_argument("--home", action=argparse.BooleanOptionalAction, default=None,
                      help="copy root's credentials into ~/.xcatpy (default: only for the "
                           f"system instance {statemod.DEFAULT_STATE_DIR})")

    issue = sub.add_parser("issue", parents=[common],
                           help="issue client credentials for a user")
    issue.add_argument("user")
    issue.add_argument("--days", type=int, default=365,
                       help="certificate lifetime (default 365)")
    issue.add_argument("--out", type=Path, metavar="DIR",
                       help="write ca.pem, client-cert.pem, client-key.pem here "
                            "(default <state>/pki/users/USER)")

    revoke = sub.add_parser("revoke", parents=[common],
                            help="revoke a user's certificates, or one by serial")
    revoke.add_argument("target", metavar="USER|SERIAL")

    show = sub.add_parser("show", parents=[common], help="print paths, fingerprints, expiry")
    show.add_argument("--json", action="store_true", help="machine-readable output")
    return p


def _ca_fingerprint(path: Path) -> str | None:
    from xcatpy.pki.certs import fingerprint, load_cert

    return fingerprint(load_cert(path, "CA certificate")) if path.is_file() else None


def _cmd_init(args: argparse.Namespace, state: Path) -> int:
    from xcatpy.pki.ca import init_pki, install_client_creds
    from xcatpy.pki.paths import PkiPaths, home_creds

    before = _ca_fingerprint(PkiPaths(state).ca_cert)
    paths = init_pki(state, server_names=args.server_name, days=args.days, force=args.force)
    after = _ca_fingerprint(paths.ca_cert)
    verb = "kept" if before == after else ("replaced" if before else "created")
    print(f"CA {verb}: {paths.ca_cert} (SHA256 {after})")
    if verb == "replaced":
        print(f"  the previous CA was set aside under {paths.root / 'replaced'}; "
              "credentials it issued no longer work")
    print(f"Server certificate: {paths.server_cert}")
    print(f"root's credentials: {paths.root_creds.directory}")
    home = args.home
    if home is None:
        home = state.resolve() == Path(statemod.DEFAULT_STATE_DIR).resolve()
    if home:
        dest = home_creds().directory
        outcome = install_client_creds(paths.root_creds, dest, replace=args.force)
        if outcome == "conflict":
            sys.stderr.write(f"Warning: {dest} holds credentials for another CA; kept them "
                             "(init --force replaces them)\n")
        else:
            print(f"root's credentials {outcome} in {dest}")
    return 0


def _cmd_issue(args: argparse.Namespace, state: Path) -> int:
    from xcatpy.pki.ca import issue_client
    from xcatpy.pki.certs import load_cert, serial_text

    creds = issue_client(state, args.user, days=args.days, out_dir=args.out)
    cert = load_cert(creds.cert, "client certificate")
    print(f"Issued {args.user}'s certificate {serial_text(cert.serial_number)}, expires "
          f"{cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC: {creds.directory}")
    return 0


def _cmd_revoke(args: argparse.Namespace, state: Path) -> int:
    from xcatpy.pki.paths import PkiPaths
    from xcatpy.pki.revocation import revoke

    for record in revoke(state, args.target):
        print(f"Revoked {record.serial} (CN={record.cn}, {record.kind})")
    print(f"Revocation list updated: {PkiPaths(state).crl}")
    return 0


def _cmd_show(args: argparse.Namespace, state: Path) -> int:
    from xcatpy.pki.ca import describe

    paths, infos, index = describe(state)
    if args.json:
        data = {"state_dir": str(paths.state_dir), "crl": str(paths.crl),
                "certificates": [dict(asdict(i), path=str(i.path)) for i in infos],
                "issued": [asdict(r) for r in index.records]}
        print(json.dumps(data, indent=2))
        return 0
    print(f"State directory: {paths.state_dir}")
    for info in infos:
        print(f"{info.label}: {info.path}")
        print(f"  CN {info.cn}, serial {info.serial}, expires {info.not_after}")
        print(f"  SHA256 {info.fingerprint}")
        if info.names:
            print(f"  names: {', '.join(info.names)}")
    print(f"CRL: {paths.crl} ({len(index.revoked())} revoked)")
    print("Issued:")
    for r in index.records:
        status = f"revoked {r.revoked}" if r.revoked else f"expires {r.not_after}"
        print(f"  {r.serial}  {r.kind:<6}  {r.cn}  {status}")
    return 0


_COMMANDS = {"init": _cmd_init, "issue": _cmd_issue, "revoke": _cmd_revoke,
             "show": _cmd_show}


def main(argv: list[str] | None = None) -> int:
    try:
        args = _parser().parse_args(sys.argv[1:] if argv is None else argv)
        state = statemod.state_dir(getattr(args, "state_dir", None))
        return _COMMANDS[args.command](args, state)
    except XcatError as exc:
        sys.stdout.flush()
        sys.stderr.write(f"Error: {exc.message}\n")
        return exc.exit_code
    except SystemExit as exc:  # --help
        return exc.code if isinstance(exc.code, int) else 0


if __name__ == "__main__":
    sys.exit(main())
