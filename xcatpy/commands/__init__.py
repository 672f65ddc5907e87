"""The command registry and the one place a command runs: inside one transaction.

Each command is a module here with `USAGE` and `run(ctx) -> int`. The registry says
which module serves a name and whether it writes, so read-only commands never take the
write lock. Commands that spend most of their time on hardware (rpower, mkvm, ...) are not
"writers": they record each node's result with Context.write_now as it happens.
"""

import importlib
from dataclasses import dataclass

from xcatpy.commands.base import Context, Output, Request
from xcatpy.commands.options import HelpRequested
from xcatpy.db.store import Store
from xcatpy.errors import UsageError, XcatError


@dataclass(frozen=True)
class CommandSpec:
    module: str
    writes: bool
    # The first positional argument is a noderange (policy rules can restrict by it).
    noderange: bool = False


COMMANDS: dict[str, CommandSpec] = {
    "nodeadd": CommandSpec("nodeadd", True),
    "nodech": CommandSpec("nodech", True, noderange=True),
    "noderm": CommandSpec("noderm", True, noderange=True),
    "nodels": CommandSpec("nodels", False, noderange=True),
    "tabdump": CommandSpec("tabdump", False),
    "tabrestore": CommandSpec("tabrestore", True),
    "tabch": CommandSpec("tabch", True),
    "mkdef": CommandSpec("mkdef", True),
    "chdef": CommandSpec("chdef", True),
    "lsdef": CommandSpec("lsdef", False),
    "rmdef": CommandSpec("rmdef", True),
    "nodeset": CommandSpec("nodeset", True, noderange=True),
    "rinstall": CommandSpec("rinstall", True, noderange=True),
    "copybootloaders": CommandSpec("copybootloaders", False),
    "makehosts": CommandSpec("makehosts", True, noderange=True),
    "makenetworks": CommandSpec("makenetworks", True),
    "makedhcp": CommandSpec("makedhcp", True, noderange=True),
    "makedns": CommandSpec("makedns", True, noderange=True),
    "rpower": CommandSpec("rpower", False, noderange=True),
    "rsetboot": CommandSpec("rsetboot", False, noderange=True),
    "mkvm": CommandSpec("mkvm", False, noderange=True),
    "rmvm": CommandSpec("rmvm", False, noderange=True),
    "lsvm": CommandSpec("lsvm", False, noderange=True),
    "chvm": CommandSpec("chvm", False, noderange=True),
    "makeknownhosts": CommandSpec("makeknownhosts", False, noderange=True),
    "rmigrate": CommandSpec("rmigrate", False, noderange=True),
    "revacuate": CommandSpec("revacuate", False, noderange=True),
    "chhypervisor": CommandSpec("chhypervisor", False, noderange=True),
}


def run_command(request: Request, out: Output, store: Store, write_now=None) -> int:
    """Run one command; commit if it succeeded, roll back everything if not.

    write_now: how a read-only command commits as it goes (see Context.write_now); the
    daemon passes its writer thread, and by default it is a second connection."""
    spec = COMMANDS.get(request.command)
    if spec is None:
        out.error(f"Error: Unknown command '{request.command}'")
        return 1
    module = importlib.import_module(f"xcatpy.commands.{spec.module}")
    ctx = Context(request, out, store, write_now)
    if spec.writes:
        ctx.write_inside_transaction()
    store.begin(write=spec.writes)
    try:
        rc = module.run(ctx)
        if rc == 0 and ctx.failed:
            rc = 1
    except HelpRequested as help_:
        out.data(help_.text)
        rc = 0
    except UsageError as exc:
        out.error(f"Error: {exc.message}")
        out.error(module.USAGE)
        rc = exc.exit_code
    except XcatError as exc:
        out.error(f"Error: {exc.message}")
        rc = exc.exit_code
    except BaseException:
        store.rollback()
        raise
    if getattr(out, "cancelled", False):
        # The client went away (Ctrl-C) before the command finished: nothing lands.
        store.rollback()
        return 130
    if rc == 0:
        try:
            store.commit()
        except XcatError as exc:    # a full disk: the store has rolled it all back
            out.error(f"Error: {exc.message}")
            rc = exc.exit_code
    else:
        store.rollback()
    return rc
