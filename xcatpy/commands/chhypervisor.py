"""chhypervisor: put hypervisors into maintenance, take them out, or show which are in it.

xCAT's own spellings are kept: ESXi's -m/--maintenance and -o/--online, and RHEV-H's
-d/--deactivate (into maintenance) and -e/--activate (out of it), so an admin's habit from
either works. A hypervisor in maintenance is never chosen by rmigrate or revacuate, and
rpower will not start guests on it. The flag is hypervisor.maintenance (also `chdef node
hostmaintenance=yes`). On XenServer the pool is told too (host-disable / host-enable), so its
own placement keeps off the host as well.
"""

from xcatpy.commands.base import Context
from xcatpy.commands.options import CommandParser
from xcatpy.drivers.base import DriverError
from xcatpy.errors import UsageError
from xcatpy.virt.evacuation import set_maintenance
from xcatpy.virt.fleet import Fleet, yes_no
from xcatpy.virt.vmcommon import each_in_parallel, error_text

USAGE = """Usage:
  chhypervisor noderange -m|--maintenance|-d|--deactivate   enter maintenance mode
  chhypervisor noderange -o|--online|-e|--activate          leave maintenance mode
  chhypervisor noderange -s|--show                          show maintenance mode
  chhypervisor [-?|-h|--help]"""

APPLICATION = "chhypervisor"

_parser = CommandParser("chhypervisor", USAGE)
_parser.add_argument("noderange", nargs="?")
_parser.add_argument("-m", "--maintenance", "-d", "--deactivate", action="store_true",
                     dest="enter")
_parser.add_argument("-o", "--online", "-e", "--activate", action="store_true", dest="leave")
_parser.add_argument("-s", "--show", action="store_true")


def run(ctx: Context) -> int:
    opts = _parser.parse(ctx.args)
    if not opts.noderange:
        raise UsageError("chhypervisor: a noderange is required")
    if opts.enter + opts.leave + opts.show != 1:
        raise UsageError("chhypervisor: give exactly one of -m (enter maintenance), -o (leave "
                         "maintenance) and -s (show)")
    fleet = Fleet(ctx)
    # Only the toolstack is needed: a host whose other hypervisor columns are wrong (even
    # its maintenance value) can still be put into maintenance or taken out of it.
    toolstacks = {host: fleet.toolstack(host) for host in ctx.noderange(opts.noderange)}
    hosts = []
    for host, toolstack in toolstacks.items():
        if toolstack is None:
            ctx.node_error(host, "not a hypervisor: hypervisor.type is not set, and no guest "
                                 "placed there has a nodehm.mgt that implies one")
        else:
            hosts.append(host)
    if opts.show:
        _show(ctx, hosts)
        return 0
    # The pool first: a XenServer that refuses host-disable is not marked in the table.
    pools = [h for h in hosts if toolstacks[h] == "xenserver"]
    drivers = {h: fleet.drivers.for_host(h, "xenserver") for h in pools}

    def tell_pool(host: str, _lines) -> None:
        driver = drivers[host]
        (driver.disable_host if opts.enter else driver.enable_host)(host)

    for done in each_in_parallel(ctx, pools, tell_pool):
        if done.error:
            ctx.node_error(done.item, error_text(done.item, done.error))
            hosts.remove(done.item)
    if not hosts:
        return 0
    set_maintenance(ctx, hosts, opts.enter, APPLICATION)
    return 0


def _show(ctx: Context, hosts: list[str]) -> None:
    for host in hosts:
        try:
            on = yes_no(ctx.attrs.lookup(host, "hypervisor", "maintenance"),
                        f"{host}: hypervisor.maintenance")
        except DriverError as exc:
            ctx.node_error(host, error_text(host, exc))
            continue
        ctx.out.data(f"{host}: {'in maintenance' if on else 'online'}")
