"""Regular-expression table values, evaluated per node the way xCAT's Table.pm does.

A value in a node-keyed table may be a rule that computes the value from the node's name,
so one group row serves every member (see xCAT's regexp_db.rst):

``/pat/repl/``
    Perl's ``s/pat/repl/`` on the node name: the first match of ``pat`` is replaced by
    ``repl``. ``/\\z/-bmc/`` gives node1-bmc. Like xCAT, a value is this form only when it
    holds exactly three slashes, the last at the end, so ``repl`` is plain text (``$1`` stays
    literal, as Perl does not interpolate a replacement twice). The price, also xCAT's: a path
    such as ``/install/custom/`` is read as a rule, not as a path.

``|pat|expr|``
    ``pat`` is matched against the node name; in ``expr`` each top-level ``(...)`` is integer
    arithmetic over numbers and the groups ``$1``, ``${12}``..., and text outside the
    parentheses is literal. The first match of ``pat`` is replaced by the result, so text of
    the node name around the match is kept. ``|node(\\d+)|10.0.0.($1+0)|`` on node07 gives
    10.0.0.7; ``|\\D+(\\d+)|10.0.($1/255).($1%255)|`` and ``|rack(\\d+)node(\\d+)|r($1)n($2*2+1)|``
    work the same way. ``pat`` ends at the first ``|``, so it cannot use alternation.

``|expr|`` (xCAT's "easy regular expression", since xCAT 2.8.1)
    When the text between the outer bars holds no ``|``, Table.pm builds the pattern itself
    from the node name: it counts the node's numbers with ``[\\D0]*(\\d+)`` and repeats that
    fragment once per number, followed by ``.*$``. ``$1``..``$n`` are then the node's numbers in
    order, with leading zeros dropped (``[\\D0]*`` eats them): ``|10.0.0.($1)|`` on node007
    gives 10.0.0.7 and ``|c($1)f($2)|`` on c01f02 gives c1f2. An expression that names more
    numbers than the node has treats the node like a pattern that does not match.

Arithmetic follows Perl under ``use integer``, which xCAT evaluates with: ``+ - * / %``,
unary minus and plus, parentheses; ``/`` truncates toward zero and ``%`` takes the sign of the
dividend (C semantics), results must fit in 64 bits. A bare ``($1)`` keeps the captured text
as it is (``01`` stays ``01``), any operator turns it into a number; an unset group is empty
text, or 0 in arithmetic. Number literals with a leading 0 are octal, as in Perl.

Results: a pattern that does not match yields the node name (Perl's ``s///`` leaves the string
alone); an empty result means the attribute is unset (None); a value of neither form passes
through unchanged, and an empty value is None.

Where xCAT hands Perl's ``eval`` whatever a value holds and silently produces garbage (a blank,
a bareword, ``print "... is bad"``), this module refuses the value with an XcatError naming it:
an invalid pattern, unbalanced parentheses, anything but arithmetic inside ``(...)``, a ``$n``
the pattern does not capture, division by zero, a captured text that is not a number. Nothing
is ever evaluated as code: expressions go through the small parser below. Perl pattern syntax
is translated where Python differs in common cases: ``\\z``, ``(?<name>...)``, ``\\k<name>``,
POSIX classes such as ``[[:digit:]]``.

Each distinct value is compiled once (``_compile`` is cached): attribute resolution runs
this for every node of a command, often ten thousand.
"""

import functools
import re
from dataclasses import dataclass

from xcatpy.db.userregex import BadRegex, compile_user_regex
from xcatpy.digits import decimal
from xcatpy.errors import XcatError

# The shapes Table.pm tests (/^\/[^\/]*\/[^\/]*\/$/ and /^\|.*\|$/).
_SUBST_FORM = re.compile(r"/[^/]*/[^/]*/\Z")
_ARITH_FORM = re.compile(r"\|.*\|\Z")

# The easy form's pattern fragment, one per number in the node name.
_EASY_FRAGMENT = r"[\D0]*(\d+)"
_NODE_NUMBER = re.compile(_EASY_FRAGMENT, re.ASCII)

_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1
# More significant decimal digits than 2**63 has: an overflow, whatever the digits are (and
# int() refuses over 4300 of them).
_INT_DIGITS = len(str(_INT_MAX))
_CACHE_SIZE = 4096


class _BadValue(Exception):
    """Why a value cannot be used; turned into an XcatError that names the value."""


def is_regex_value(value: str) -> bool:
    """True when xCAT would evaluate `value` per node rather than use it as it is."""
    return bool(value) and bool(_SUBST_FORM.match(value) or _ARITH_FORM.match(value))


def evaluate(value: str, node: str) -> str | None:
    """The value of a table cell for `node`: the rule's result, or the value itself."""
    if not value:
        return None
    if value[0] not in "/|" or not is_regex_value(value):
        return value
    try:
        result = _compile(value).apply(node)
    except _BadValue as exc:
        raise XcatError(f"Invalid regular expression value '{value}' for {node}: {exc}") from None
    return result or None


def validate(value: str) -> None:
    """Refuse a malformed rule before it is stored; plain values always pass."""
    if not is_regex_value(value):
        return
    try:
        _compile(value)
    except _BadValue as exc:
        raise XcatError(f"Invalid regular expression value '{value}': {exc}") from None


# -- compiled rules -------------------------------------------------------------------------

@dataclass(frozen=True)
class _Rule:
    pattern: re.Pattern | None  # None: the easy form, built from each node's numbers
    pieces: tuple  # literal text (str) and expression trees (tuple), in order
    max_group: int  # the highest $n the expression uses

    def apply(self, node: str) -> str:
        pattern = self.pattern
        if pattern is None:
            pattern = _easy_pattern(len(_NODE_NUMBER.findall(node)))
        if self.max_group > pattern.groups:
            return node  # only the easy form gets here: the node has too few numbers
        match = pattern.search(node)
        if match is None:
            return node
        text = "".join(p if isinstance(p, str) else str(_eval(p, match)) for p in self.pieces)
        return node[:match.start()] + text + node[match.end():]


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _compile(value: str) -> _Rule:
    if value[0] == "/":
        pat, repl = value[1:-1].split("/", 1)
        return _Rule(_python_regex(pat), (repl,) if repl else (), 0)
    body = value[1:-1]
    if "|" in body:
        pat, expr = body.split("|", 1)
        pattern = _python_regex(pat)
    else:
        pattern, expr = None, body
    try:
        pieces, max_group = _split_expr(expr)
    except RecursionError:
        raise _BadValue("expression nested too deeply") from None
    if pattern is not None and max_group > pattern.groups:
        raise _BadValue(f"${max_group} names a group the pattern '{pat}' does not capture "
                        f"(it has {pattern.groups})")
    return _Rule(pattern, pieces, max_group)


@functools.lru_cache(maxsize=64)
def _easy_pattern(numbers: int) -> re.Pattern:
    return re.compile(_EASY_FRAGMENT * numbers + ".*$", re.ASCII)


# -- Perl pattern syntax --------------------------------------------------------------------

_POSIX_CLASSES = {
    "alpha": "a-zA-Z", "digit": "0-9", "alnum": "a-zA-Z0-9", "upper": "A-Z", "lower": "a-z",
    "space": r" \t\n\r\f\v", "blank": r" \t", "xdigit": "0-9A-Fa-f", "word": r"\w",
    "punct": r"!-/:-@\[-`{-~",
}
_NAMED_BACKREF = re.compile(r"k(?:<(\w+)>|\{(\w+)\}|'(\w+)')")


def _python_regex(pat: str) -> re.Pattern:
    """Compile a Perl pattern, translating the syntax Python spells differently."""
    out: list[str] = []
    i = 0
    while i < len(pat):
        ch = pat[i]
        if ch == "\\" and i + 1 < len(pat):
            backref = _NAMED_BACKREF.match(pat, i + 1)
            if backref:
                out.append(f"(?P={next(g for g in backref.groups() if g)})")
                i = backref.end()
                continue
            # Perl's \z is Python's \Z; Perl's \Z differs only before a final newline.
            out.append(r"\Z" if pat[i + 1] == "z" else pat[i:i + 2])
            i += 2
        elif ch == "[":
            i = _char_class(pat, i, out)
        elif pat.startswith("(?<", i) and not pat.startswith(("(?<=", "(?<!"), i):
            out.append("(?P<")
            i += 3
        else:
            out.append(ch)
            i += 1
    try:
        return compile_user_regex("".join(out), re.ASCII)
    except BadRegex as exc:
        raise _BadValue(f"pattern '{pat}': {exc}") from None


def _char_class(pat: str, start: int, out: list[str]) -> int:
    """Copy the bracket expression at `start`, expanding POSIX classes; returns its end."""
    i = start + 1
    out.append("[")
    if pat.startswith("^", i):
        out.append("^")
        i += 1
    if pat.startswith("]", i):
        out.append(r"\]")
        i += 1
    while i < len(pat) and pat[i] != "]":
        if pat[i] == "\\":
            out.append(pat[i:i + 2])
            i += 2
        elif pat.startswith("[:", i):
            end = pat.find(":]", i + 2)
            name = pat[i + 2:end] if end >= 0 else ""
            if name not in _POSIX_CLASSES:
                raise _BadValue(f"pattern '{pat}': unknown POSIX class at position {i}")
            out.append(_POSIX_CLASSES[name])
            i = end + 2
        else:
            out.append(r"\[" if pat[i] == "[" else pat[i])
            i += 1
    return i  # at the closing "]" (copied by the caller's loop) or the end of the pattern


# -- the expression language ----------------------------------------------------------------

_TOKEN = re.compile(r"\s*(?:(\d+)|\$(\d+)|\$\{(\d+)\}|([-+*/%()]))", re.ASCII)


def _split_expr(expr: str) -> tuple[tuple, int]:
    """Split `expr` into literal text and parsed top-level (...) groups."""
    pieces: list = []
    max_group = 0
    literal_start = i = 0
    while i < len(expr):
        if expr[i] == ")":
            raise _BadValue(f"unbalanced ')' at position {i} of '{expr}'")
        if expr[i] != "(":
            i += 1
            continue
        end = _closing_paren(expr, i)
        if expr[literal_start:i]:
            pieces.append(expr[literal_start:i])
        tree, used = _Parser(expr[i:end + 1]).parse()
        max_group = max(max_group, used)
        # A group without captures is a constant: evaluate it now, so validate() sees 1/0.
        pieces.append(str(_eval(tree, None)) if used == 0 else tree)
        literal_start = i = end + 1
    if expr[literal_start:]:
        pieces.append(expr[literal_start:])
    return tuple(pieces), max_group


def _closing_paren(expr: str, start: int) -> int:
    depth = 0
    for j in range(start, len(expr)):
        depth += {"(": 1, ")": -1}.get(expr[j], 0)
        if depth == 0:
            return j
    raise _BadValue(f"unbalanced '(' at position {start} of '{expr}'")


class _Parser:
    """Recursive descent over integer arithmetic; trees are tuples, never code.

    sum     := product (("+" | "-") product)*
    product := unary (("*" | "/" | "%") unary)*
    unary   := ("-" | "+") unary | primary
    primary := NUMBER | $n | ${n} | "(" sum ")"
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: list[tuple[str, str]] = []
        pos = 0
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if m is None:
                if not text[pos:].strip():
                    break
                bad = text[pos:].lstrip()
                raise _BadValue(f"'{text}' is not integer arithmetic (at '{bad[:20]}')")
            number, group, braced, op = m.groups()
            if number is not None:
                self.tokens.append(("num", number))
            elif op is None:
                self.tokens.append(("group", group or braced))
            else:
                self.tokens.append(("op", op))
            pos = m.end()
        self.pos = 0
        self.max_group = 0

    def parse(self) -> tuple[tuple, int]:
        tree = self._sum()
        if self.pos != len(self.tokens):
            raise self._error()
        return tree, self.max_group

    def _peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _take_op(self, ops: str) -> str | None:
        tok = self._peek()
        if tok is not None and tok[0] == "op" and tok[1] in ops:
            self.pos += 1
            return tok[1]
        return None

    def _error(self) -> _BadValue:
        tok = self._peek()
        where = f"unexpected '{tok[1]}'" if tok else "it ends too early"
        return _BadValue(f"'{self.text}' is not integer arithmetic ({where})")

    def _sum(self) -> tuple:
        tree = self._product()
        while op := self._take_op("+-"):
            tree = _fold((op, tree, self._product()))
        return tree

    def _product(self) -> tuple:
        tree = self._unary()
        while op := self._take_op("*/%"):
            right = self._unary()
            if op in "/%" and right == ("num", 0):
                raise _BadValue("division by zero")  # caught when stored, not per node
            tree = _fold((op, tree, right))
        return tree

    def _unary(self) -> tuple:
        if op := self._take_op("+-"):
            return _fold(("u" + op, self._unary()))
        return self._primary()

    def _primary(self) -> tuple:
        tok = self._peek()
        if tok is None:
            raise self._error()
        kind, text = tok
        self.pos += 1
        if kind == "num":
            return ("num", _perl_literal(text))
        if kind == "group":
            n = decimal(text)
            if n is None:
                raise _BadValue(f"'{self.text}': a group number of {len(text):,} digits is "
                                "not a group; groups are $1, $2, ...")
            if n == 0:
                raise _BadValue(f"'{self.text}': $0 is not a group; groups are $1, $2, ...")
            self.max_group = max(self.max_group, n)
            return ("group", n)
        if text == "(":
            tree = self._sum()
            if self._take_op(")") is None:
                raise self._error()
            return tree
        self.pos -= 1
        raise self._error()


def _fold(tree: tuple) -> tuple:
    """An operation on constants is computed once, when the value is compiled."""
    if all(child[0] == "num" for child in tree[1:]):
        return ("num", _eval(tree, None))
    return tree


def _perl_literal(text: str) -> int:
    if len(text) > 1 and text[0] == "0":
        try:
            return _checked(int(text, 8))  # Perl reads 010 as eight
        except ValueError:
            raise _BadValue(f"illegal octal number {text} (a leading 0 means octal)") from None
    return _checked(_decimal_int(text))


def _decimal_int(digits: str) -> int:
    """ASCII digits (a sign allowed) as an int, or the overflow error if they cannot fit."""
    sign = "-" if digits.startswith("-") else ""
    # Leading zeros count towards int()'s limit too: leave them out.
    significant = digits.lstrip("+-").lstrip("0")
    if len(significant) > _INT_DIGITS:
        raise _BadValue(f"integer overflow (a number of {len(significant):,} digits does not "
                        "fit in 64 bits)")
    return int(sign + (significant or "0"))


# -- evaluation -----------------------------------------------------------------------------

def _eval(tree: tuple, match: re.Match | None) -> int | str:
    kind = tree[0]
    if kind == "num":
        return tree[1]
    if kind == "group":
        return match.group(tree[1]) or ""
    if kind == "u+":
        return _eval(tree[1], match)  # Perl's unary plus leaves its operand alone
    if kind == "u-":
        return _checked(-_number(_eval(tree[1], match)))
    left, right = _number(_eval(tree[1], match)), _number(_eval(tree[2], match))
    if kind == "+":
        return _checked(left + right)
    if kind == "-":
        return _checked(left - right)
    if kind == "*":
        return _checked(left * right)
    if right == 0:
        raise _BadValue("division by zero")
    quotient = abs(left) // abs(right)
    if (left < 0) != (right < 0):
        quotient = -quotient
    return _checked(quotient if kind == "/" else left - right * quotient)


def _number(value: int | str) -> int:
    if isinstance(value, int):
        return value
    text = value.strip()
    if not text:
        return 0  # an unset group, as Perl's undef
    if re.fullmatch(r"[+-]?\d+", text, re.ASCII) is None:
        raise _BadValue(f"captured text '{value}' is not a number")
    return _checked(_decimal_int(text))


def _checked(n: int) -> int:
    if not _INT_MIN <= n <= _INT_MAX:
        raise _BadValue("integer overflow (results must fit in 64 bits)")
    return n
