"""Attribute selectors: `attr==val`, `attr!=val`, `attr=~regex`, `attr!~regex`.

One parser and one matcher for every place xCAT accepts them: noderange atoms, `nodels`
and `lsdef -w` filters, dynamic group `wherevals`, `tabdump -w` (which also compares
with > < >= <=).
"""

import re
from dataclasses import dataclass, field

from xcatpy.db.userregex import BadRegex, compile_user_regex
from xcatpy.errors import XcatError

MATCH_OPS = ("==", "!=", "=~", "!~")
COMPARE_OPS = (">=", "<=", ">", "<")
_OP_PATTERN = re.compile(r"==|!=|=~|!~|>=|<=|>|<")
_ATTR_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")
# xCAT's criteria (nodesbycriteria, dynamic groups' wherevals) also read `attr=val` as ==.
_LONE_EQ = re.compile(r"([A-Za-z_][A-Za-z0-9_.]*)=(?![=~])(.*)", re.S)
WHEREVALS_SEP = "::"


@dataclass(frozen=True)
class Selector:
    attr: str
    op: str
    value: str
    _regex: re.Pattern | None = field(default=None, compare=False, repr=False)

    def matches(self, actual: str | None) -> bool:
        actual = actual or ""
        if self.op == "==":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        if self.op == "=~":
            return self._regex.search(actual) is not None
        if self.op == "!~":
            return self._regex.search(actual) is None
        return _compare(actual, self.op, self.value)

    def __str__(self) -> str:
        return f"{self.attr}{self.op}{self.value}"


def _compare(actual: str, op: str, wanted: str) -> bool:
    try:
        left, right = float(actual), float(wanted)
    except ValueError:
        left, right = actual, wanted
    return {">": left > right, "<": left < right, ">=": left >= right, "<=": left <= right}[op]


def parse_selector(text: str, ops: tuple[str, ...] = MATCH_OPS) -> Selector | None:
    """A Selector if `text` is one (an attribute name, then an operator), else None.

    A malformed regular expression raises XcatError naming the selector.
    """
    m = _OP_PATTERN.search(text)
    if m is None or m.group() not in ops:
        return None
    attr, op, value = text[: m.start()], m.group(), text[m.end():]
    if not _ATTR_NAME.fullmatch(attr):
        return None
    regex = None
    if op in ("=~", "!~"):
        try:
            regex = compile_user_regex(value)
        except BadRegex as exc:
            raise XcatError(f"Invalid regular expression '{value}' in '{text}': {exc}") from None
    return Selector(attr, op, value, regex)


def parse_criterion(text: str) -> Selector | None:
    """A selector as xCAT's node criteria accept it: the match operators or a lone `=`."""
    sel = parse_selector(text)
    if sel is None and (m := _LONE_EQ.fullmatch(text)):
        sel = parse_selector(f"{m[1]}=={m[2]}")
    return sel


def split_wherevals(wherevals: str) -> list[str]:
    """A dynamic group's `attr==val::attr=~re` string as its clauses, blanks dropped."""
    return [c.strip() for c in wherevals.split(WHEREVALS_SEP) if c.strip()]


def parse_selectors(texts: list[str], ops: tuple[str, ...] = MATCH_OPS, *,
                    lone_eq: bool = False) -> list[Selector]:
    """Every text must be a selector (the -w option): anything else is named in the error.

    `lone_eq` also takes `attr=val` for ==, as dynamic groups' wherevals do."""
    out = []
    for text in texts:
        sel = parse_criterion(text) if lone_eq else parse_selector(text, ops)
        if sel is None:
            raise XcatError(f"Invalid selection string '{text}': expected "
                            f"<attr><op><value> with op one of {' '.join(ops)}")
        out.append(sel)
    return out
