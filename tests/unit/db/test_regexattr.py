"""Regular-expression table values: the forms xCAT's Table.pm evaluates, and their errors."""

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from xcatpy.db import regexattr
from xcatpy.db.regexattr import evaluate, is_regex_value, validate
from xcatpy.errors import XcatError

# -- /pat/repl/ ---------------------------------------------------------------------------


@pytest.mark.parametrize("value, node, expected", [
    (r"/\z/-bmc/", "node1", "node1-bmc"),
    ("/$/-ib/", "node1", "node1-ib"),
    ("/^/mgmt-/", "node1", "mgmt-node1"),
    ("/node/bmc/", "node3", "bmc3"),
    (r"/\d+$/x/", "rack2n10", "rack2nx"),       # first match only, the rest kept
    (r"/(\d+)/$1/", "node5", "node$1"),          # replacement is literal, as in Perl
    ("/node1//", "node1", None),                 # an empty result is unset
])
def test_substitution_form(value, node, expected):
    assert evaluate(value, node) == expected


def test_substitution_that_does_not_match_gives_node_name():
    assert evaluate("/blade/bmc/", "node1") == "node1"


# -- |pat|expr| -----------------------------------------------------------------------------


@pytest.mark.parametrize("value, node, expected", [
    (r"|node(\d+)|10.0.0.($1+0)|", "node1", "10.0.0.1"),
    (r"|node(\d+)|10.0.0.($1+0)|", "node007", "10.0.0.7"),
    (r"|\D+(\d+)|10.0.($1/255).($1%255)|", "n600", "10.0.2.90"),
    (r"|\D+(\d+)|10.0.($1/255).($1%255)|", "n254", "10.0.0.254"),
    (r"|rack(\d+)node(\d+)|r($1)n($2*2+1)|", "rack3node4", "r3n9"),
    (r"|\D+(\d+)\D+(\d+)\D+(\d+)\D+(\d+)|c($1)f($2)x($3)|", "c01f02x03v04", "c01f02x03"),
    (r"|\D+(\d+)\D+(\d+)\D+(\d+)\D+(\d+)|dir:///install/vms/vm($4+0)|", "c01f02x03v04",
     "dir:///install/vms/vm4"),
    (r"|node(\d+)|($1)|", "node01", "01"),               # a bare group keeps its text
    (r"|node(\d+)|((($1)))|", "node01", "01"),
    (r"|node(\d+)|(+$1)|", "node01", "01"),              # unary plus leaves it alone
    (r"|node(\d+)|(-$1)|", "node01", "-1"),
    (r"|node(\d+)|(${1}*2)|", "node21", "42"),
    (r"|node(\d+)|bmc|", "node1", "bmc"),                # no parentheses: plain s///
    (r"|node(\d+)|host$1|", "node1", "host$1"),          # $n outside (...) is literal
    (r"|node(\d+)|($1+1)|", "node1-ib", "2-ib"),         # text around the match is kept
    (r"|(a)?node(\d+)|x($1)y($1+5)|", "node3", "xy5"),   # an unset group: '' or 0
    (r"|node(\d+)|10.0.0.( $1 + 1 )|", "node4", "10.0.0.5"),
    (r"|node(\d+)||", "node4", None),
])
def test_arithmetic_form(value, node, expected):
    assert evaluate(value, node) == expected


def test_xcat_blank_override_reads_as_unset():
    # What xCAT (and nodeops.BLANK_OVERRIDE) stores when a user blanks an inherited value.
    assert evaluate("|^.*$||", "node1") is None
    validate("|^.*$||")


def test_arithmetic_pattern_that_does_not_match_gives_node_name():
    assert evaluate(r"|node(\d+)|10.0.0.($1+0)|", "mgmt-switch") == "mgmt-switch"


@pytest.mark.parametrize("expr, expected", [
    ("2+3*4", 14), ("(2+3)*4", 20), ("10-4-3", 3), ("100/10/5", 2), ("2*3%4", 2),
    ("-2*3", -6), ("--5", 5), ("-(2+3)", -5), ("7/2", 3), ("-7/2", -3), ("7/-2", -3),
    ("-7%2", -1), ("7%-2", 1), ("-7%-2", -1), ("1+2*3-4/2", 5), ("010", 8), ("0", 0),
])
def test_arithmetic_precedence_and_perl_integer_semantics(expr, expected):
    assert evaluate(f"|n(\\d+)|({expr})|", "n1") == str(expected)


# -- |expr|: xCAT's easy regular expression ---------------------------------------------------


@pytest.mark.parametrize("value, node, expected", [
    ("|10.0.0.($1+0)|", "node1", "10.0.0.1"),
    ("|10.0.0.($1)|", "node007", "10.0.0.7"),           # leading zeros are dropped
    ("|10.0.0.($1)|", "node100", "10.0.0.100"),
    ("|10.0.0.($1)|", "node0", "10.0.0.0"),
    ("|c($1)f($2)x($3)|", "c01f02x03v04", "c1f2x3"),
    ("|($1*100+$2)|", "rack2-node07", "207"),
    ("|bmc|", "node1", "bmc"),                          # no parentheses: the literal
    ("|(1+2)|", "node1", "3"),
    ("||", "node1", None),
])
def test_easy_form(value, node, expected):
    assert evaluate(value, node) == expected


def test_easy_form_with_too_few_numbers_gives_node_name():
    assert evaluate("|10.0.($1).($2)|", "node1") == "node1"
    assert evaluate("|10.0.0.($1)|", "mn") == "mn"


# -- plain values -------------------------------------------------------------------------


@pytest.mark.parametrize("value", [
    "ipmi", "10.0.0.1", "/install", "/install/", "a|b", "|abc", "abc|", "|", "/a/b", "//",
])
def test_plain_values_pass_through(value):
    assert not is_regex_value(value)
    assert evaluate(value, "node1") == value
    validate(value)


def test_empty_value_is_unset():
    assert evaluate("", "node1") is None
    assert not is_regex_value("")


def test_three_slash_path_is_a_rule_as_in_xcat():
    # Table.pm reads any /x/y/ as s/x/y/; a path of that shape does not match the node.
    assert is_regex_value("/install/custom/")
    assert evaluate("/install/custom/", "node1") == "node1"


@pytest.mark.parametrize("value", [r"/\z/-bmc/", "///", "||", "|x|", r"|n(\d+)|($1)|"])
def test_is_regex_value(value):
    assert is_regex_value(value)


# -- Perl pattern syntax ------------------------------------------------------------------


@pytest.mark.parametrize("value, node, expected", [
    (r"|[[:alpha:]]+([[:digit:]]+)|($1*2)|", "ab12", "24"),
    (r"|[^[:digit:]]+(\d+)|($1)|", "ab12", "12"),
    (r"|(?<num>\d+)\k<num>|($1)|", "n77", "n7"),
    (r"/\\z/x/", "a\\z", "ax"),                          # an escaped backslash, then z
    (r"|[]x]+(\d)|($1)|", "]x5", "5"),
])
def test_perl_pattern_syntax(value, node, expected):
    assert evaluate(value, node) == expected


# -- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize("value, reason", [
    ("|(..|x|", "unterminated subpattern"),
    ("/(/x/", "unterminated subpattern"),
    (r"|n(\d+)|($2)|", "$2 names a group"),
    (r"|n(\d+)|($0)|", "$0 is not a group"),
    (r"|n(\d+)|(1/0)|", "division by zero"),
    (r"|n(\d+)|($1/(2-2))|", "division by zero"),
    (r"|n(\d+)|a($1+1|", "unbalanced '('"),
    (r"|n(\d+)|a)($1)|", "unbalanced ')'"),
    (r"|n(\d+)|($1 $1)|", "unexpected"),
    (r"|n(\d+)|($1+)|", "unexpected ')'"),
    (r"|n(\d+)|(($1+1)|", "unbalanced '('"),
    (r"|n(\d+)|()|", "not integer arithmetic"),
    (r"|n(\d+)|($1**2)|", "unexpected '*'"),
    (r"|n(\d+)|(08)|", "octal"),
    (r"|n(\d+)|(abc)|", "not integer arithmetic"),
    ("|[[:bogus:]]|x|", "unknown POSIX class"),
    ("|(" + "(" * 5000 + "1" + ")" * 5000 + ")|", "nested too deeply"),
    ("|(99999999999*99999999999)|", "overflow"),
    ("|" + "(" * 5000 + "a" + ")" * 5000 + "|x|", "nested too deeply"),
    ("/a{4294967296}/x/", "repeat count too large (at most 4294967294)"),
    ("|a{1,4294967296}|x|", "repeat count too large"),
    ("|(" + "1" * 4400 + ")|", "integer overflow (a number of 4,400 digits does not fit"),
    ("|(" + "9" * 20 + "-1)|", "integer overflow (a number of 20 digits"),
    ("|n(\\d+)|($" + "1" * 4400 + ")|", "a group number of 4,400 digits is not a group"),
    ("|n(\\d+)|(${" + "1" * 19 + "})|", "a group number of 19 digits is not a group"),
])
def test_malformed_values_are_refused(value, reason):
    with pytest.raises(XcatError) as exc:
        validate(value)
    assert f"Invalid regular expression value '{value}'" in exc.value.message
    assert reason in exc.value.message
    with pytest.raises(XcatError) as exc:
        evaluate(value, "n1")
    assert f"Invalid regular expression value '{value}' for n1: " in exc.value.message
    assert "\n" not in exc.value.message


def test_captured_text_that_is_not_a_number():
    value = r"|(\w+)|($1+1)|"
    validate(value)  # the pattern is fine; only some node names break it
    with pytest.raises(XcatError, match="for node1: captured text 'node1' is not a number"):
        evaluate(value, "node1")
    assert evaluate(value, "41") == "42"


def test_captured_number_too_long_for_64_bits_names_the_node():
    node = "n" + "9" * 4400              # int() would refuse it: over 4300 digits
    with pytest.raises(XcatError, match=r"for n9+: integer overflow \(a number of 4,400 "):
        evaluate(r"|n(\d+)|($1+0)|", node)
    assert evaluate(r"|n(\d+)|($1)|", node) == "9" * 4400     # text, no arithmetic
    assert evaluate(r"|n(\d+)|($1+0)|", "n" + "0" * 4400 + "7") == "7"
    assert evaluate(r"|n(\d+)|($1+0)|", "n9223372036854775807") == "9223372036854775807"


def test_literals_at_the_64_bit_edge():
    assert evaluate("|(9223372036854775807)|", "n1") == "9223372036854775807"
    assert evaluate("|(-9223372036854775807-1)|", "n1") == "-9223372036854775808"
    assert evaluate("|(0" + "0" * 4400 + "17)|", "n1") == "15"        # octal, as in Perl


def test_division_by_a_captured_zero_names_the_node():
    with pytest.raises(XcatError, match=r"for n0: division by zero"):
        evaluate(r"|n(\d+)|(100/$1)|", "n0")


@pytest.mark.parametrize("value", [
    r"|(\d+)|(__import__('os'))|",
    r"|(\d+)|(__import__('os').system('touch /tmp/pwned'))|",
    r"|(\d+)|(open('/etc/passwd'))|",
    r"|(\d+)|(`id`)|",
    r"|(\d+)|(system(1))|",
    r"|(\d+)|($1;1)|",
    r"|(\d+)|(lambda: 1)|",
    r"|(\d+)|(1 if 1 else 2)|",
    r"|(\d+)|([x for x in ()])|",
    r"|(\d+)|(0x10)|",
    r"|(\d+)|(1e3)|",
])
def test_code_is_never_executed(value):
    with pytest.raises(XcatError, match="not integer arithmetic|unbalanced"):
        evaluate(value, "node1")


# -- properties -----------------------------------------------------------------------------


@given(a=st.integers(0, 10**12), b=st.integers(-(10**12), 10**12))
def test_property_group_plus_constant(a, b):
    assert evaluate(f"|n(\\d+)|($1+{b})|", f"n{a}") == str(a + b)


def _trunc_div(a: int, b: int) -> int:
    """Perl's / under `use integer`, which xCAT evaluates with: truncation toward zero."""
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


def _c_mod(a: int, b: int) -> int:
    """Perl's % under `use integer`: the remainder takes the dividend's sign."""
    return a - b * _trunc_div(a, b)


_OPS = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b,
        "/": _trunc_div, "%": _c_mod}


def _combine(children):
    (ltext, lval), op, (rtext, rval) = children
    if op in "/%" and rval == 0:
        return ("0", 0)  # keep the tree defined; division by zero has its own test
    return (f"({ltext}{op}{rtext})", _OPS[op](lval, rval))


_LEAVES = st.integers(-50, 50).map(lambda n: (str(n) if n >= 0 else f"-{-n}", n))
_EXPRS = st.recursive(
    _LEAVES,
    lambda inner: st.tuples(inner, st.sampled_from(sorted(_OPS)), inner).map(_combine),
    max_leaves=8,
)


@given(expr=_EXPRS, a=st.integers(0, 1000))
def test_property_arithmetic_agrees_with_perl_integer_semantics(expr, a):
    text, expected = expr
    assert evaluate(f"|n(\\d+)|({text})|", f"n{a}") == str(expected)
    assert evaluate(f"|n(\\d+)|(($1-$1)+{text})|", f"n{a}") == str(expected)


@given(st.text(max_size=30), st.text(alphabet="abcdefnode0123456789-", min_size=1, max_size=12))
def test_property_any_value_gives_text_none_or_xcaterror(body, node):
    for value in (f"|{body}|", f"/{body}/", f"|n(\\d+)|{body}|"):
        try:
            result = evaluate(value, node)
        except XcatError as exc:
            assert "\n" not in exc.message
        else:
            assert result is None or isinstance(result, str)


# -- caching --------------------------------------------------------------------------------


def test_each_value_is_compiled_once():
    regexattr._compile.cache_clear()
    value = r"|node(\d+)|10.1.($1/250).($1%250)|"
    results = [evaluate(value, f"node{i}") for i in range(1, 10_001)]
    assert results[0] == "10.1.0.1" and results[-1] == "10.1.40.0"
    info = regexattr._compile.cache_info()
    assert info.misses == 1 and info.hits == 9_999


def test_ten_thousand_nodes_is_fast():
    nodes = [f"c{r:02d}n{i:03d}" for r in range(1, 101) for i in range(1, 101)]
    start = time.perf_counter()
    for node in nodes:
        evaluate(r"|c(\d+)n(\d+)|10.($1+0).($2/256).($2%256)|", node)
        evaluate("|bmc($1)-($2)|", node)
        evaluate(r"/\z/-ib/", node)
        evaluate("ipmi", node)
    assert time.perf_counter() - start < 2.0
