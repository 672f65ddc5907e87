"""Entry point for every xCAT-style command: dispatches on the name it was started as.

With XCATBYPASS=1 the command runs in this process on the database directly; otherwise
it goes to xcatd. Either way the output and the exit code are the same.
"""

import os
import sys

BYPASS_ENV = "XCATBYPASS"
USAGE = "Usage: xcatpy [--state-dir DIR] <command> [args...]"


def _split_state_dir(args: list[str]) -> tuple[str | None, list[str]]:
    """Take a leading --state-dir DIR (or --state-dir=DIR) off the arguments."""
    if args and args[0].startswith("--state-dir"):
        if "=" in args[0]:
            return args[0].split("=", 1)[1], args[1:]
        if len(args) > 1:
            return args[1], args[2:]
    return None, args


def _bypass_enabled() -> bool:
    return os.environ.get(BYPASS_ENV, "").strip().lower() not in ("", "0", "no", "false")


class _StdOutput:
    def data(self, text: str) -> None:
        sys.stdout.write(text + "\n")

    def error(self, text: str) -> None:
        sys.stdout.flush()
        sys.stderr.write(text + "\n")
        sys.stderr.flush()


def _read_stdin() -> str:
    return "" if sys.stdin is None or sys.stdin.isatty() else sys.stdin.read()


def run_local(command: str, args: list[str], state: str | None) -> int:
    from xcatpy import state as statemod
    from xcatpy.commands import run_command
    from xcatpy.commands.base import Request
    from xcatpy.db.store import Store
    from xcatpy.errors import XcatError

    out = _StdOutput()
    try:
        store = Store.open(statemod.state_dir(state))
    except XcatError as exc:
        out.error(f"Error: {exc.message}")
        return 1
    try:
        return run_command(Request(command, args, read_stdin=_read_stdin), out, store)
    finally:
        store.close()


def run_client(command: str, args: list[str], state: str | None) -> int:
    from xcatpy import state as statemod
    from xcatpy.cli.client import run_remote
    from xcatpy.errors import XcatError

    try:
        return run_remote(command, args, statemod.state_dir(state))
    except XcatError as exc:
        sys.stdout.flush()
        sys.stderr.write(f"Error: {exc.message}\n")
        return 1


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv if argv is None else argv)
    command = os.path.basename(argv[0])
    args = argv[1:]
    if command in ("xcatpy", "xcatclient"):
        if not args or args[0] in ("-h", "--help"):
            print(USAGE)
            return 0 if args else 1
        state, args = _split_state_dir(args)
        command, args = args[0], args[1:]
    else:
        state, args = _split_state_dir(args)
    try:
        if _bypass_enabled():
            rc = run_local(command, args, state)
        else:
            rc = run_client(command, args, state)
        sys.stdout.flush()
    except BrokenPipeError:
        # `nodels | head` closed the pipe: not an error worth a traceback.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        rc = 0
    except KeyboardInterrupt:
        rc = 130
    return rc


if __name__ == "__main__":
    sys.exit(main())
