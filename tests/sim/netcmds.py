"""The network commands a simulated host offers: arping (Thomas Habets' arping 2.x).

Options are parsed as arping parses them (getopt with its option string) and the values
it checks are checked with its messages: `-i` refuses an alias name (with ':'), `-s` a MAC
it cannot read, `-S` and the target anything but an IPv4 address. Nothing is sent anywhere;
a valid command exits 0. (The real arping exits 1 when no reply came, which is usual for
-U; drivers accept both.) A host with an `interfaces` list has only those interfaces.
Usage: python -m tests.sim.netcmds arping args...
"""

from __future__ import annotations

import getopt
import ipaddress
import re
import sys

from tests.sim import hvstate

ARPING_OPTIONS = "0aAbBC:c:dDeFg:hi:I:m:pPqQ:rRs:S:t:T:uUvV:w:W:"
_USAGE = ("ARPing 2.21, by Thomas Habets <thomas@habets.se>\n"
          "usage: arping [ -0aAbdDeFpPqrRuUv ] [ -w <sec> ] [ -W <sec> ] [ -S <host/ip> ]\n"
          "              [ -T <host/ip ] [ -s <MAC> ] [ -t <MAC> ] [ -c <count> ]\n"
          "              [ -C <count> ] [ -i <interface> ] [ -m <type> ] [ -g <group> ]\n"
          "              [ -V <vlan> ] [ -Q <priority> ] <host/ip/MAC | -B>\n"
          "For complete usage info, use --help or check the manpage.\n")
# get_mac_addr(): sscanf with %x:%x:%x:%x:%x:%x, Cisco's 0016.3e00.0001 or Windows' dashes.
_MAC = re.compile(r"[0-9A-Fa-f]{1,2}(:[0-9A-Fa-f]{1,2}){5}|([0-9A-Fa-f]{4}\.){2}[0-9A-Fa-f]{4}"
                  r"|[0-9A-Fa-f]{1,2}(-[0-9A-Fa-f]{1,2}){5}")


def _fail(message: str) -> int:
    sys.stderr.write(f"arping: {message}\n")
    return 1


def _ipv4(text: str) -> bool:
    try:
        return (ipaddress.ip_address(text).version == 4
                and text != "255.255.255.255")  # libnet's -1, "is broadcast"
    except ValueError:
        return False


def arping(args: list[str]) -> int:
    if "--help" in args:
        sys.stdout.write(_USAGE)
        return 0
    try:
        opts, operands = getopt.gnu_getopt(args, ARPING_OPTIONS)
    except getopt.GetoptError as exc:
        problem = "option requires an argument" if "requires" in exc.msg else "invalid option"
        sys.stderr.write(f"arping: {problem} -- '{exc.opt}'\n")
        sys.stdout.write(_USAGE)
        return 1
    options = dict(opts)
    interface = options.get("-i")
    if interface is not None and ":" in interface:
        return _fail("If you're trying to feed me an interface alias then you don't really\n"
                     "know what this programs does, do you?\nUse -I if you really mean it "
                     "(undocumented on purpose)")
    if "-s" in options and not _MAC.fullmatch(options["-s"]):
        return _fail(f"Weird MAC addr {options['-s']}")
    if "-S" in options and not _ipv4(options["-S"]):
        source = options["-S"]
        return _fail(f"Can't resolve {source}, or {source} is broadcast. If it is, use -b "
                     "instead of -S")
    if len(operands) != 1:
        sys.stdout.write(_USAGE)
        return 1
    if not _ipv4(operands[0]):
        return _fail(f"Can't resolve {operands[0]}")
    known = hvstate.read()["hosts"][hvstate.current_host()].get("interfaces")
    name = interface or options.get("-I")
    if known is not None and name is not None and name not in known:
        return _fail(f"libnet_init(LIBNET_LINK, {name}): libnet_check_iface() ioctl: No such "
                     "device")
    if "-q" not in options:
        print(f"ARPING {operands[0]}\nTimeout\n\n--- {operands[0]} statistics ---\n"
              "1 packets transmitted, 0 packets received, 100% unanswered (0 extra)\n")
    return 0


COMMANDS = {"arping": arping}


def main(argv: list[str]) -> int:
    if (status := hvstate.enter(argv)) is not None:
        return status
    return COMMANDS[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
