"""Fuzzing regular-expression table values (`/pat/repl/`, `|pat|expr|`, `|expr|`):
validate() when a value is stored, evaluate() for each node.

Properties:
- validate gives None or XcatError; evaluate gives text, None or XcatError; a value
  validate refuses, evaluate refuses too (for any node); plain values pass through.
- With literal patterns, `/pat/repl/` is str.replace of the first match.
- Arithmetic is Perl's `use integer`: + - * truncating / and % with the dividend's sign,
  checked against Python on the same numbers, through captured groups and the easy form.
Node names stay short (backtracking patterns are the admin's own business).
"""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.harness import attempt, fuzz_settings, tried
from xcatpy.db import regexattr
from xcatpy.errors import XcatError

NODES = st.one_of(
    st.sampled_from(["node01", "n7", "rack2node3", "c01f02", "x", "node١٢", "n0", "n-5",
                     "r10u20n30", "node001a"]),
    st.text(alphabet="nodeabcrf0123456789-._", max_size=14),
)
PATTERN_PIECES = st.sampled_from(
    ["node", "n", "(\\d+)", "(\\d*)", "\\D+", "[0-9]", "[[:digit:]]+", "[[:alpha:]]", "\\z",
     "$", "^", "(?<num>\\d+)", "\\k<num>", "\\k{num}", "(?:x)", "[^/]", ".", ".*", "+", "*",
     "(", ")", "[", "]", "{2}", "{4294967296}", "[[:bogus:]]", "[[:", "\\", "(?P<a>",
     "(?<=n)", "(?<!x)", "\\1", "\\2", "\\Z", "[]a]", "[^]a]", "(" * 300, ")" * 300])
patterns = st.one_of(st.lists(PATTERN_PIECES, max_size=5).map("".join),
                     st.text(alphabet="nod0123456789()[]{}\\.*+?^$:<>k", max_size=10))
EXPR_PIECES = st.sampled_from(
    ["10.0.0.", "(", ")", "$1", "$2", "$0", "${1}", "${12}", "+", "-", "*", "/", "%", "0",
     "1", "07", "08", "255", "9223372036854775807", "9223372036854775808", " ", "x", "-bmc",
     "(1/0)", "($1/0)", "(0-$1)", "($1+1)", "$", "{", "١", "9" * 4400, "0" + "7" * 4400,
     "$" + "1" * 4400, "-" * 300, "(" + "9" * 4400 + ")", "($" + "1" * 4400 + ")"])
exprs = st.one_of(st.lists(EXPR_PIECES, max_size=6).map("".join),
                  st.text(alphabet="$(){}+-*/%0123456789 x.", max_size=14))
VALUES = st.one_of(
    st.builds(lambda p, r: f"/{p}/{r}/", patterns.map(lambda p: p.replace("/", "")),
              st.text(alphabet="ab-.$1\\", max_size=6)),
    st.builds(lambda p, e: f"|{p}|{e}|", patterns.map(lambda p: p.replace("|", "")),
              exprs.map(lambda e: e.replace("|", ""))),
    exprs.map(lambda e: f"|{e.replace('|', '')}|"),
    st.text(max_size=12),
    st.sampled_from(["", "/", "//", "///", "|", "||", "|||", "/install/custom/", "a/b/c/"]),
)


@fuzz_settings(weight=1.5)
@given(VALUES, st.lists(NODES, min_size=1, max_size=3))
def test_values_validate_and_evaluate_cleanly(value, nodes):
    stored = attempt("regexattr", lambda: regexattr.validate(value), (XcatError,))
    for node in nodes:
        got = attempt("regexattr", lambda n=node: regexattr.evaluate(value, n), (XcatError,))
        if stored.error is not None:
            assert got.error is not None or got.bug is not None, (value, node)
        if got.ok:
            assert got.value is None or (isinstance(got.value, str) and got.value)
            if not regexattr.is_regex_value(value):
                assert got.value == (value or None)


LITERAL = st.text(alphabet="abnode0123456789-", max_size=5)


@fuzz_settings()
@given(LITERAL, LITERAL, st.text(alphabet="abnode0123456789-", min_size=1, max_size=12))
def test_substitution_with_a_literal_pattern_is_replace(pat, repl, node):
    tried("regexattr.semantics")
    got = regexattr.evaluate(f"/{pat}/{repl}/", node)
    assert got == (node.replace(pat, repl, 1) or None)


def _perl_div(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


OPS = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b,
       "/": _perl_div, "%": lambda a, b: a - b * _perl_div(a, b)}


@fuzz_settings()
@given(st.integers(0, 10**6), st.integers(-10**6, 10**6), st.sampled_from(sorted(OPS)),
       st.booleans(), st.integers(0, 3))
def test_arithmetic_is_perl_integer_arithmetic(n, k, op, negate, width):
    tried("regexattr.semantics")
    if op in "/%" and k == 0:
        k = 7
    left = "(0-$1)" if negate else "$1"
    a = -n if negate else n
    node = f"node{n:0{width}d}"
    expected = OPS[op](a, k)
    value = f"|node(\\d+)|ip({left}{op}({k}))|"
    assert regexattr.evaluate(value, node) == f"ip{expected}"
    # The easy form: $1 is the node's first number, leading zeros dropped.
    assert regexattr.evaluate(f"|ip({left}{op}({k}))|", node) == f"ip{expected}"


# -- regressions -----------------------------------------------------------------------------

def test_pattern_with_huge_repeat():
    with pytest.raises(XcatError):
        regexattr.validate("/a{4294967296}/x/")


def test_number_with_over_4300_digits():
    with pytest.raises(XcatError):
        regexattr.validate("|(" + "1" * 4400 + ")|")


def test_group_number_with_over_4300_digits():
    with pytest.raises(XcatError):
        regexattr.validate("|n(\\d+)|($" + "1" * 4400 + ")|")
