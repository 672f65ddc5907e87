"""Noderange expansion: xCAT's grammar for naming sets of nodes.

    noderange := item (',' item)*
    item      := ['-'] operand ('@' operand)*      '-' excludes, '@' intersects
    operand   := '(' noderange ')' | '^' file | atom

An atom is, in this order: an existing node name, a group name (dynamic groups from the
nodegroup table, static ones from nodelist.groups, `all`), a bare number (`5` is
`node5`), a `/regex` anchored at both ends, an attribute selector (`mgt==ipmi`,
`vmhost!~x`), or a range (`node[01-10]`, `f[1-2]n[1-3]`, `node01-node10`,
`node01:node10`, `node10+3`) whose names are resolved one by one as nodes or groups.
Within one comma level exclusions are applied after every inclusion, so `-x` always
wins; parentheses open a new level.

Deliberate departures from xCAT's NodeRange.pm, which behaves by accident here:
reversed ranges and ranges whose ends have different zero-padded widths are errors, not
guesses; `a,,b` skips the empty item instead of dropping everything after it; a file's
lines form one sub-list, so a `-name` line excludes from the file's own names. Only
ASCII digits count (`n١-n٣` is a name, not n1..n3), and a number longer than a host name
label could hold (63 digits) is an error rather than arithmetic on it.
"""

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import product
from math import prod

from xcatpy.db.attrs import NodeAttrs
from xcatpy.db.natural import natural_sorted
from xcatpy.db.selectors import Selector, parse_criterion, parse_selector, split_wherevals
from xcatpy.db.userregex import BadRegex, compile_user_regex
from xcatpy.errors import NoderangeError, XcatError

NODE_PREFIX = "node"       # xCAT's prefix for bare numbers (`10-20`, `10+3`)
MAX_RANGE = 1_000_000      # names one range may produce: beyond this it is a typo
MAX_LISTED = 100           # unknown names quoted in the error before summarising
MAX_NESTING = 50           # parentheses deep enough to exhaust the stack are not a noderange
MAX_NAME_DIGITS = 63       # a number to count with: no host name label holds a longer one

# Only ASCII digits are numbers to count with: `n١-n٣` is two names, not n1..n3.
_DIGITS = re.compile(r"(\d+)", re.ASCII)
_PLUS_FRONT = re.compile(r"(.*?)(\d+)(\D*)", re.S | re.ASCII)
_CLOSERS = {"(": ")", "[": "]", "{": "}"}


# -- syntax tree ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Atom:
    text: str


@dataclass(frozen=True)
class FileRef:
    path: str


@dataclass(frozen=True)
class Paren:
    items: tuple["Item", ...]


Operand = Atom | FileRef | Paren


@dataclass(frozen=True)
class Item:
    exclude: bool
    operands: tuple[Operand, ...]   # intersected, left to right


# -- parser --------------------------------------------------------------------------------

class _Parser:
    """Recursive descent over the text; atoms are scanned, not split, so commas and
    parentheses inside brackets, regexes and selector values stay in their atom."""

    def __init__(self, text: str, where: str = "") -> None:
        self.text = text
        self.where = where
        self.pos = 0
        self.depth = 0

    def parse(self) -> tuple[Item, ...]:
        items = self._list()
        if self.pos < len(self.text):
            raise self._error(f"unexpected '{self.text[self.pos]}' at position {self.pos + 1}")
        return items

    def _peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def _list(self) -> tuple[Item, ...]:
        items = []
        while True:
            if self._peek() not in (",", ")", ""):   # empty items (`a,,b`, `a,`) are skipped
                items.append(self._item())
            if self._peek() != ",":
                return tuple(items)
            self.pos += 1

    def _item(self) -> Item:
        exclude = self._peek() == "-"
        if exclude:
            self.pos += 1
        operands = [self._operand()]
        while self._peek() == "@":
            self.pos += 1
            operands.append(self._operand())
        return Item(exclude, tuple(operands))

    def _operand(self) -> Operand:
        start, c = self.pos, self._peek()
        if c == "(":
            self.pos += 1
            self.depth += 1
            if self.depth > MAX_NESTING:
                raise self._error(f"parentheses nest more than {MAX_NESTING} deep")
            items = self._list()
            self.depth -= 1
            if self._peek() != ")":
                raise self._error(f"the '(' at position {start + 1} is never closed")
            self.pos += 1
            return Paren(items)
        if c == "-":
            raise self._error(f"'-' at position {start + 1}: an exclusion can only start "
                              "a comma-separated item")
        if c == "^":
            self.pos += 1
            path = self._scan()
            if not path:
                raise self._error(f"'^' at position {start + 1} needs a file name")
            return FileRef(path)
        text = self._scan()
        if not text:
            raise self._error(f"expected a node, group or range at position {start + 1}")
        return Atom(text)

    def _scan(self) -> str:
        """An atom runs to the next `,` `@` `)` outside any (), [] or {} it opened."""
        text, i, stack = self.text, self.pos, []
        while i < len(text):
            c = text[i]
            if c == "\\":
                i += 2
                continue
            if stack and stack[-1] == "]":
                # Inside [...] (a regex class or a bracket range) only ']' means anything.
                if c == "]":
                    stack.pop()
            elif c in _CLOSERS:
                stack.append(_CLOSERS[c])
            elif stack and c == stack[-1]:
                stack.pop()
            elif not stack and c in ",@)":
                break
            i += 1
        i = min(i, len(text))
        atom, self.pos = text[self.pos:i], i
        return atom

    def _error(self, what: str) -> NoderangeError:
        where = f" in {self.where}" if self.where else ""
        return NoderangeError(f"Invalid noderange '{self.text}'{where}: {what}")


def parse(text: str, where: str = "") -> tuple[Item, ...]:
    """The syntax tree of a noderange; NoderangeError says where it does not parse."""
    return _Parser(text, where).parse()


def file_entries(text: str) -> list[tuple[int, str]]:
    """(line number, noderange) for each entry of a `^file`.

    As in xCAT: `#` starts a comment, only the first word of a line counts (a trailing
    `:` is dropped, so `node01: text` output works), and lines starting with `^` are
    ignored rather than included.
    """
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        words = line.split("#", 1)[0].split()
        if not words or words[0].startswith("^"):
            continue
        entry = words[0].removesuffix(":")
        if entry:
            out.append((number, entry))
    return out


# -- ranges (pure syntax) ------------------------------------------------------------------

def _is_number(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _check_digits(number: str, label: str) -> None:
    # Before any int(): it refuses over 4300 digits, and no node name holds such a number.
    if len(number) > MAX_NAME_DIGITS:
        raise NoderangeError(f"Invalid noderange '{label}': a number of {len(number):,} "
                             f"digits is longer than any node name's (at most {MAX_NAME_DIGITS})")


def _bare_number(number: str, label: str) -> str:
    """`5` is node5."""
    _check_digits(number, label)
    return NODE_PREFIX + number


def _check_size(count: int, label: str) -> None:
    if count > MAX_RANGE:
        raise NoderangeError(f"Invalid range '{label}': it names {count:,} nodes, more than "
                             f"the limit of {MAX_RANGE:,}")


def _numbers(lo_text: str, hi_text: str, label: str) -> list[str]:
    """The numbers lo..hi as text, zero-padded to lo's width (a no-op when unpadded)."""
    _check_digits(lo_text, label)
    _check_digits(hi_text, label)
    lo, hi = int(lo_text), int(hi_text)
    if lo > hi:
        raise NoderangeError(f"Invalid range '{label}': it runs backwards ({lo_text} is "
                             f"greater than {hi_text}); write the lower end first")
    padded = any(len(t) > 1 and t[0] == "0" for t in (lo_text, hi_text))
    if padded and len(lo_text) != len(hi_text):
        width = max(len(lo_text), len(hi_text))
        raise NoderangeError(f"Invalid range '{label}': {lo_text} and {hi_text} are padded "
                             f"to different widths; write both ends with {width} digits "
                             f"({lo:0{width}d} and {hi:0{width}d})")
    _check_size(hi - lo + 1, label)
    width = len(lo_text)
    return [str(n).zfill(width) for n in range(lo, hi + 1)]


def _span(left: str, right: str, label: str) -> list[str] | None:
    """`left-right`: names equal but for one number; None if they are not a range."""
    if not left or not right:
        return None
    if left == right:
        return [left]
    lparts, rparts = _DIGITS.split(left), _DIGITS.split(right)
    if len(lparts) != len(rparts):
        return None
    for i, (a, b) in enumerate(zip(lparts, rparts, strict=True)):
        if a == b:
            continue
        # The first difference must be a number, and everything after it identical.
        if i % 2 == 0 or lparts[i + 1:] != rparts[i + 1:]:
            return None
        prefix, suffix = "".join(lparts[:i]), "".join(lparts[i + 1:])
        return [prefix + n + suffix for n in _numbers(a, b, label)]
    return None


def _bracket_items(spec: str, label: str) -> list[str]:
    """`01-10,15,20:22` inside brackets; single items are literal text (`n[a,b]`)."""
    out: list[str] = []
    for item in spec.split(","):
        if not item or "[" in item:
            raise NoderangeError(f"Invalid range '{label}': empty or nested item in [{spec}]")
        sep = "-" if "-" in item else ":" if ":" in item else ""
        if not sep:
            out.append(item)
            continue
        lo, _, hi = item.partition(sep)
        if not (_is_number(lo) and _is_number(hi)):
            raise NoderangeError(f"Invalid range '{label}': '{item}' in brackets must be "
                                 "two numbers, like 01-10")
        out.extend(_numbers(lo, hi, label))
        _check_size(len(out), label)
    return out


def _brackets(text: str) -> list[str]:
    """`f[1-2]n[1-3]`: the cartesian product of every bracket group."""
    segments: list[list[str]] = []
    pos = 0
    while (start := text.find("[", pos)) >= 0:
        end = text.find("]", start)
        if end < 0:
            raise NoderangeError(f"Invalid range '{text}': the '[' at position {start + 1} "
                                 "is never closed")
        segments += [[text[pos:start]], _bracket_items(text[start + 1:end], text)]
        pos = end + 1
    segments.append([text[pos:]])
    _check_size(prod(len(s) for s in segments), text)
    if len(segments) == 3:  # one bracket group: skip product() for the common case
        (head,), middle, (tail,) = segments
        return [head + m + tail for m in middle]
    return ["".join(parts) for parts in product(*segments)]


def _plus(text: str) -> list[str] | None:
    """`node10+3`: node10..node13, counting on the name's last number."""
    front, _, count = text.partition("+")
    m = _PLUS_FRONT.fullmatch(front)
    if m is None or not _is_number(count):
        return None
    prefix, start, suffix = m.groups()
    _check_digits(start, text)
    _check_digits(count, text)
    lo = int(start)
    _check_size(int(count) + 1, text)
    return [prefix + str(n).zfill(len(start)) + suffix
            for n in range(lo, lo + int(count) + 1)]


def expand_pattern(text: str) -> list[str] | None:
    """The names a range atom stands for, or None if `text` is not range syntax."""
    if "[" in text:
        return _brackets(text)
    if "+" in text:
        return _plus(text)
    if ":" in text:
        left, _, right = text.partition(":")
        return None if ":" in right else _span(left, right, text)
    dashes = text.count("-")
    if dashes % 2 == 0:   # no middle dash: `a-b-c-d` has no one right reading
        return None
    cut = -1
    for _ in range(dashes // 2 + 1):   # the middle dash: node1-a-node9-a
        cut = text.index("-", cut + 1)
    return _span(text[:cut], text[cut + 1:], text)


# -- evaluation ----------------------------------------------------------------------------

class NodeRange:
    """Expands noderanges against one NodeAttrs; tables are read once, on first need.

    Group memberships are cached on the instance: after writing nodelist or nodegroup,
    make a new NodeRange (Context.noderange does, per call).
    """

    def __init__(self, attrs: NodeAttrs, read_file: Callable[[str], str]) -> None:
        self.attrs = attrs
        self.read_file = read_file
        self._group_names: set[str] | None = None
        self._static: dict[str, list[str]] | None = None
        self._hidden: set[str] | None = None
        self._dynamic: dict[str, set[str]] = {}
        self._missing: dict[str, None] = {}
        self._files: list[str] = []
        self._must_exist = True
        self._include_hidden = False

    def expand(self, text: str, *, must_exist: bool = True,
               include_hidden: bool = False) -> list[str]:
        """The nodes `text` names, in natural order, without duplicates.

        must_exist=False (nodeadd) expands lists and ranges as plain names that need not
        exist; groups, regexes and selectors are then meaningless.
        """
        self._must_exist, self._include_hidden = must_exist, include_hidden
        self._missing, self._files = {}, []
        text = text.strip()
        if not text:
            raise NoderangeError("Empty noderange: name at least one node or group")
        # A whole-text name wins before any parsing: a node may be called `a,b` or `x@y`.
        found = self._known(text)
        if found is None:
            found = self._items(parse(text))
        if self._missing:
            raise NoderangeError(f"Invalid nodes and/or groups in noderange: "
                                 f"{_listing(list(self._missing))}")
        return natural_sorted(found)

    # -- the tree --------------------------------------------------------------------------

    def _items(self, items: tuple[Item, ...]) -> set[str]:
        included: set[str] = set()
        excluded: set[str] = set()
        for item in items:
            names = self._operand(item.operands[0])
            for operand in item.operands[1:]:
                names &= self._operand(operand)
            (excluded if item.exclude else included).update(names)
        return included - excluded

    def _operand(self, operand: Operand) -> set[str]:
        if isinstance(operand, Paren):
            return self._items(operand.items)
        if isinstance(operand, FileRef):
            return self._file(operand.path)
        return self._atom(operand.text) if self._must_exist else self._literal(operand.text)

    def _file(self, path: str) -> set[str]:
        if path in self._files:
            raise NoderangeError(f"Noderange file {path} includes itself")
        text = self.read_file(path)
        self._files.append(path)
        try:
            items: list[Item] = []
            for number, entry in file_entries(text):
                items.extend(parse(entry, f"{path} line {number}"))
            return self._items(tuple(items))
        finally:
            self._files.pop()

    # -- atoms -----------------------------------------------------------------------------

    def _atom(self, text: str) -> set[str]:
        found = self._known(text)
        if found is not None:
            return found
        if _is_number(text):
            return self._names([_bare_number(text, text)])
        if text.startswith("/"):
            return self._regex(text)
        sel = parse_criterion(text)
        if sel is not None:
            return self._select([sel], self._visible())
        names = expand_pattern(text)
        if names is None:
            self._missing[text] = None
            return set()
        return self._names(names)

    def _literal(self, text: str) -> set[str]:
        """must_exist=False: the atom as names to be, without looking anything up."""
        if text in self._nodes():
            return {text}
        if text.startswith("/") or parse_selector(text) is not None:
            raise NoderangeError(f"Invalid noderange '{text}': regular expressions and "
                                 "attribute selectors match existing nodes; give the new "
                                 "nodes' names or a range")
        names = expand_pattern(text) or [text]
        return {_bare_number(n, text) if _is_number(n) else n for n in names}

    def _known(self, name: str) -> set[str] | None:
        """A node or group called exactly `name`, else None."""
        if name in self._nodes():
            return {name}
        if not self._must_exist:
            return None
        return self._group(name)

    def _names(self, names: list[str]) -> set[str]:
        """Names a range produced: each is a node, a group, or unknown."""
        nodes = self._nodes()
        found = {n for n in names if n in nodes}
        if len(found) == len(names):
            return found
        for name in names:
            if name in found:
                continue
            members = self._group(name)
            if members is None and _is_number(name):
                members = self._known(NODE_PREFIX + name)
                name = NODE_PREFIX + name
            if members is None:
                self._missing[name] = None
            else:
                found |= members
        return found

    def _regex(self, text: str) -> set[str]:
        try:
            regex = compile_user_regex(text[1:])
        except BadRegex as exc:
            raise NoderangeError(f"Invalid regular expression '{text}' in noderange: "
                                 f"{exc}") from None
        return {n for n in self._visible() if regex.fullmatch(n)}

    def _select(self, selectors: list[Selector], candidates: Iterable[str]) -> set[str]:
        value = self.attrs.value
        return {n for n in candidates if all(s.matches(value(n, s.attr)) for s in selectors)}

    # -- groups ----------------------------------------------------------------------------

    def _group(self, name: str) -> set[str] | None:
        """Members of group `name`, hidden nodes left out; None if no such group."""
        row = self.attrs.table("nodegroup").get(name)
        if row is not None and (row.get("grouptype") or "").strip().lower() == "dynamic":
            return self._dynamic_members(name, row)
        if name == "all":
            return self._visible()
        if name in self._static_names():
            return self._unhidden(self._static_members()[name])
        # Defined in the nodegroup table but nobody is in it yet: empty, not unknown.
        return set() if row is not None else None

    def _static_names(self) -> set[str]:
        # Names alone are cheap (one join and split); the member lists wait until a
        # group is actually used, so `node[1-10000]` never builds them.
        if self._group_names is None:
            joined = ",".join(r.get("groups") or "" for r in self._nodes().values())
            self._group_names = {g.strip() for g in joined.split(",")} - {""}
        return self._group_names

    def _static_members(self) -> dict[str, list[str]]:
        if self._static is None:
            self._static = {}
            for node in self._nodes():
                for group in self.attrs.groups_of(node):
                    self._static.setdefault(group, []).append(node)
        return self._static

    def _dynamic_members(self, name: str, row: dict) -> set[str]:
        if name not in self._dynamic:
            selectors = []
            for clause in split_wherevals(row.get("wherevals") or ""):
                sel = parse_criterion(clause)
                if sel is None:
                    raise XcatError(f"Dynamic group '{name}' has an invalid wherevals clause "
                                    f"'{clause}': expected attr==val, attr!=val, attr=~re "
                                    "or attr!~re")
                selectors.append(sel)
            if not selectors:
                raise XcatError(f"Dynamic group '{name}' has no wherevals; set them with "
                                f"chdef -t group {name} -w attr==value")
            # Dynamic members are computed among every node, hidden ones filtered after.
            self._dynamic[name] = self._select(selectors, self._nodes())
        return self._unhidden(self._dynamic[name])

    # -- node sets -------------------------------------------------------------------------

    def _nodes(self) -> dict[str, dict]:
        return self.attrs.table("nodelist")

    def _hidden_nodes(self) -> set[str]:
        if self._hidden is None:
            self._hidden = self.attrs.hidden_nodes()
        return self._hidden

    def _visible(self) -> set[str]:
        return self._unhidden(self._nodes())

    def _unhidden(self, names: Iterable[str]) -> set[str]:
        if self._include_hidden or not self._hidden_nodes():
            return set(names)
        return set(names) - self._hidden_nodes()


def _listing(names: list[str]) -> str:
    if len(names) <= MAX_LISTED:
        return ",".join(names)
    return ",".join(names[:MAX_LISTED]) + f",... ({len(names) - MAX_LISTED} more)"
