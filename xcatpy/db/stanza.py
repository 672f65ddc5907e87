"""The stanza format of `lsdef -z` and `mkdef -z` / `chdef -z` (xCAT's xcatstanzafile(5)).

    # <xCAT data object stanza file>

    node1:
        objtype=node
        groups=all,compute

A header is an object name and a colon (the last colon: IPv6 network names contain
colons); attribute lines are `attr=value`, indented or not; `#` starts a comment line.
A `default-<type>:` stanza gives values to every later stanza of that type that does not
set them itself; defaults accumulate, and a blank value turns one off again.

xCAT skips lines it cannot read; here any such line is an error that names it, so a
half-read file never reaches the database.
"""

import re
from dataclasses import dataclass, field

from xcatpy.errors import XcatError

HEADER_COMMENT = "# <xCAT data object stanza file>"
INDENT = "    "

_DEFAULT = re.compile(r"^default-(\S+)$")


@dataclass
class Stanza:
    name: str
    line: int                         # where the header is, for error messages
    attrs: dict[str, str] = field(default_factory=dict)

    @property
    def objtype(self) -> str | None:
        return self.attrs.get("objtype")


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1].strip()
    return value


def _header(text: str) -> str | None:
    """The object name if the line is a stanza header, else None."""
    if not text.endswith(":"):
        return None
    name = text[:-1].strip()
    return name if name and "=" not in name else None


def parse(text: str) -> list[Stanza]:
    """Every object stanza, in file order, with defaults applied; errors name the line."""
    stanzas: list[tuple[Stanza, dict[str, dict[str, str]]]] = []
    # Replaced, never changed in place, so each stanza keeps the defaults it was given.
    defaults: dict[str, dict[str, str]] = {}
    current: Stanza | None = None
    default_type: str | None = None
    seen: dict[str, int] = {}
    # Only \n ends a line (as in xCAT): a value may hold other Unicode line separators.
    for lineno, raw in enumerate(text.split("\n"), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name = _header(line)
        if name is not None:
            m = _DEFAULT.match(name)
            if m:
                current, default_type = None, m.group(1)
                continue
            if name in seen:
                raise XcatError(f"Stanza line {lineno}: a second stanza for '{name}' "
                                f"(the first is at line {seen[name]}); only one stanza "
                                "may exist for each object name")
            seen[name] = lineno
            current, default_type = Stanza(name, lineno), None
            stanzas.append((current, defaults))
            continue
        attr, eq, value = line.partition("=")
        attr = attr.strip()
        if not eq or not attr or any(c.isspace() for c in attr):
            raise XcatError(f"Stanza line {lineno}: '{line}' is neither an "
                            "'<object name>:' header nor an 'attr=value' line")
        value = _unquote(value)
        if default_type is not None:
            typed = dict(defaults.get(default_type, {}))
            if value:
                typed[attr] = value
            else:
                typed.pop(attr, None)
            defaults = {**defaults, default_type: typed}
        elif current is not None:
            current.attrs[attr] = value
        else:
            raise XcatError(f"Stanza line {lineno}: '{line}' comes before any "
                            "'<object name>:' header")
    for stanza, given in stanzas:
        if not stanza.objtype:
            raise XcatError(f"Stanza line {stanza.line}: no objtype value was specified "
                            f"for '{stanza.name}'")
        for attr, value in given.get(stanza.objtype, {}).items():
            stanza.attrs.setdefault(attr, value)
    return [s for s, _ in stanzas]


def format_objects(objects: list[tuple[str, str, dict[str, str]]]) -> list[str]:
    """Lines of a stanza file for (name, type, attrs) objects, attributes sorted."""
    lines = [HEADER_COMMENT]
    for name, objtype, attrs in objects:
        lines += ["", f"{name}:", f"{INDENT}objtype={objtype}"]
        lines += [f"{INDENT}{a}={attrs[a]}" for a in sorted(attrs) if a != "objtype"]
    return lines
