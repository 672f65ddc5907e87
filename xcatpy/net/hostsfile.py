"""/etc/hosts as makehosts edits it: a node's lines replaced where they are, the rest kept.

A line belongs to a host when it has the host's address, or when its first name is the
host's name or starts with it and a dot (`n1.cluster.com` is n1's line even when written
long name first). That is xCAT's rule, so a file xCAT's makehosts wrote is updated in
place, not duplicated. Comments, blank lines, localhost and every line of other hosts stay
as they are, in their order.
"""

from dataclasses import dataclass

import netaddr

LOOPBACK = (netaddr.IPNetwork("127.0.0.0/8"), netaddr.IPNetwork("::1/128"))
NEW_FILE_LOOPBACK = "127.0.0.1 localhost"


@dataclass(frozen=True)
class HostLine:
    name: str                   # the host the line belongs to: a node or an interface name
    ip: str
    names: tuple[str, ...]

    def text(self) -> str:
        return " ".join((self.ip, *self.names))


def build_names(node: str, domain: str | None, aliases: tuple[str, ...] = (), *,
                longname_first: bool = False, othernames_first: bool = False,
                add_domain: bool = False) -> tuple[str, ...]:
    """The names of a node's line, in xCAT's order: `short long aliases` (`-l`: long first;
    `-o`: aliases first). The first alias with a dot, or the node's own FQDN among the
    aliases, is its long name, as xCAT's makehosts has it. ValueError if the short name
    would contain a dot."""
    longname = None
    others: list[str] = []
    for alias in aliases:
        if alias == node:
            continue
        if domain and alias == f"{node}.{domain}":
            longname = alias
        elif "." in alias and longname is None:
            longname = alias
        elif alias not in others:
            others.append(alias)
    if add_domain and domain:
        others = [f"{a}.{domain}" for a in others if "." not in a] + others
    short = node
    if domain and node.lower().endswith(f".{domain.lower()}"):
        longname, short = node, node[:-len(domain) - 1]
    elif domain and longname is None:
        longname = f"{node}.{domain}"
    if "." in short:
        raise ValueError(f"Invalid short node name '{short}'. The short node name may not "
                         "contain a dot. The short node name is considered to be anything "
                         "preceeding the network domain name in the fully qualified node "
                         f"name '{longname or node}'.")
    long_ = [longname] if longname and longname != short else []
    if longname_first:
        ordered = [*long_, short, *others]
    elif othernames_first:
        ordered = [*others, *long_, short]
    else:
        ordered = [short, *long_, *others]
    return tuple(dict.fromkeys(ordered))


def normal_ip(text: str) -> str | None:
    """The address in its canonical spelling, or None if it is not one."""
    try:
        return str(netaddr.IPAddress(text.split("%")[0], flags=netaddr.INET_PTON))
    except (netaddr.AddrFormatError, ValueError, TypeError):
        return None


def _parse(line: str) -> tuple[str | None, list[str]]:
    """(normalised address, names) of a host line; (None, []) for anything else."""
    fields = line.split("#", 1)[0].split()
    if len(fields) < 2:
        return None, []
    ip = normal_ip(fields[0])
    return (ip, fields[1:]) if ip else (None, [])


def _is_loopback(ip: str) -> bool:
    address = netaddr.IPAddress(ip)
    return any(address.version == n.version and address in n for n in LOOPBACK)


class HostsFile:
    def __init__(self, text: str = "") -> None:
        self.lines: list[str] = text.splitlines()

    def _matching(self, name: str, ip: str | None) -> list[int]:
        ip = normal_ip(ip) if ip else None
        found = []
        for i, line in enumerate(self.lines):
            line_ip, names = _parse(line)
            if line_ip is None:
                continue
            if (ip and line_ip == ip) or names[0] == name or names[0].startswith(name + "."):
                found.append(i)
        return found

    def set(self, entry: HostLine) -> None:
        """Put `entry` where the host's first line is (dropping any others), or at the end."""
        found = self._matching(entry.name, entry.ip)
        if not found:
            self.lines.append(entry.text())
            return
        self.lines[found[0]] = entry.text()
        for i in reversed(found[1:]):
            del self.lines[i]

    def delete(self, name: str, ip: str | None = None) -> int:
        found = self._matching(name, ip)
        for i in reversed(found):
            del self.lines[i]
        return len(found)

    def start_over(self) -> None:
        """makehosts -n: nothing but the loopback lines (xCAT's `127.0.0.1 localhost` if
        there were none)."""
        kept = [line for line in self.lines
                if (ip := _parse(line)[0]) is not None and _is_loopback(ip)]
        self.lines = kept or [NEW_FILE_LOOPBACK]

    def text(self) -> str:
        return "".join(f"{line}\n" for line in self.lines)
