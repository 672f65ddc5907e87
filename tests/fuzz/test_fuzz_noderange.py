"""Fuzzing noderange expansion with texts from the real grammar (nodes, groups, numbers,
every range form, regexes, selectors, files, exclusion, intersection, parentheses), then
mutated, then anything. tests/unit/db/test_noderange_props.py holds the algebra on valid
noderanges; this goes after the edges.

Properties, for must_exist True and False:
- expand gives a sorted list without duplicates, or an XcatError (NoderangeError); parse
  gives a tree or NoderangeError; file_entries never raises. Inputs are bounded (a few
  hundred characters, ranges of a few thousand names, and a few 4400-digit numbers), so a
  hang shows as a stuck test.
- must_exist=True names only existing nodes, hidden ones only when named; expanding twice
  gives the same.
- `(a),-(b)` is A - B whenever a and b expand.
- A noderange without ASCII digits (nor files) does not produce new names with ASCII
  digits: digits in other scripts are not numbers to count with.
"""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.harness import attempt, fuzz_settings, tried
from xcatpy.db.attrs import NodeAttrs
from xcatpy.db.natural import natural_sorted
from xcatpy.db.noderange import NodeRange, file_entries, parse
from xcatpy.db.store import Store
from xcatpy.errors import NoderangeError, XcatError

NODES = [f"n{i}" for i in range(1, 21)] + ["n01", "node5", "r1u01", "r1u02", "r2u10",
                                           "a-b", "x@y", "c,d", "f1n1", "f1n2", "f2n1"]
HIDDEN = ["fsp1", "fsp2"]
GROUPS = {"even": [f"n{i}" for i in range(2, 21, 2)], "low": [f"n{i}" for i in range(1, 8)],
          "rack": ["r1u01", "r1u02", "r2u10"], "all": [], "fsp": HIDDEN}
FILES = {"list": "n1\nn2  # two\n-n1\n^list\n\nlow:\n", "self": "^self", "loop": "^loop2",
         "loop2": "^loop", "junk": "((\n[\n/(\n", "big": "\n".join(NODES)}


def _read_file(path: str) -> str:
    if path not in FILES:
        raise XcatError(f"Cannot read file {path}: not found")
    return FILES[path]


def build_store(state_dir) -> Store:
    """The nodes, groups (static, dynamic, broken) and attributes the texts name."""
    store = Store.open(state_dir)
    store.begin()
    store.upsert_rows("nodelist", [
        {"node": n, "groups": ",".join(g for g, members in GROUPS.items() if n in members)
         or None, "hidden": "1" if n in HIDDEN else None} for n in NODES + HIDDEN])
    store.upsert_rows("nodehm", [{"node": n, "mgt": "ipmi" if i % 2 else "kvm"}
                                 for i, n in enumerate(NODES)])
    store.upsert_rows("nodegroup", [
        {"groupname": "ipmis", "grouptype": "dynamic", "wherevals": "mgt==ipmi"},
        {"groupname": "broken", "grouptype": "dynamic", "wherevals": "nonsense"},
        {"groupname": "empty", "grouptype": "dynamic", "wherevals": ""},
        {"groupname": "spare", "grouptype": "static"}])
    store.commit()
    return store


@pytest.fixture(scope="module")
def attrs(tmp_path_factory):
    store = build_store(tmp_path_factory.mktemp("nrfuzz") / "state")
    yield NodeAttrs(store)
    store.close()


# -- the grammar -----------------------------------------------------------------------------

NUMBERS = st.one_of(st.integers(0, 60).map(str), st.integers(0, 2000).map(str),
                    st.sampled_from(["01", "007", "0", "00", "١", "٣", "١٢", "²", "５",
                                     "9" * 4400, "1" + "0" * 20]))
PREFIXES = st.sampled_from(["n", "r1u", "f1n", "node", "", "a-", "x", "é"])


@st.composite
def ranges(draw) -> str:
    p, a, b = draw(PREFIXES), draw(NUMBERS), draw(NUMBERS)
    if len(a) > 100 and len(b) > 100:
        b = "1"                       # one huge number per range is enough
    form = draw(st.integers(0, 5))
    if form == 0:
        inner = draw(st.lists(st.one_of(st.builds(lambda x, y: f"{x}-{y}", NUMBERS, NUMBERS),
                                        NUMBERS, st.sampled_from(["a", "", "x:y", "1:3"])),
                              min_size=1, max_size=3))
        return f"{p}[{','.join(inner)}]" + draw(st.sampled_from(["", "x", "[1-2]", "]"]))
    if form == 1:
        return f"{p}{a}-{p}{b}"
    if form == 2:
        return f"{p}{a}:{p}{b}"
    if form == 3:
        return f"{p}{a}+{b if len(b) < 6 or len(a) < 100 else '3'}"
    if form == 4:
        return f"{a}-{b}"
    return f"{p}{a}-{draw(PREFIXES)}{b}"


REGEXES = st.one_of(
    st.sampled_from(["n.*", "n[0-9]+", "r\\d+u0[12]", "(n|r)1.*", "[", "(", "a{2,1}", "n{1,3}",
                     "x{4294967296}", "\\", "(?P<x>n)(?P=x)", "*", "n1|n2",
                     "(" * 600 + "n" + ")" * 600]),
    st.text(alphabet="n1.*+?()[]{}|\\^$0-9", max_size=12),
)
SELECTORS = st.one_of(
    st.sampled_from(["mgt==ipmi", "mgt!=ipmi", "mgt=~ip", "mgt!~^k", "groups=~even",
                     "nodehm.mgt==kvm", "mgt=ipmi", "mgt==", "==x", "1a==b", "mgt=~(",
                     "mgt=~a{4294967296}", "nosuch==x", "mgt>=a", "groups=~" + "(" * 5,
                     "groups=~" + "(" * 1000 + ")" * 1000]),
    st.builds(lambda a, op, v: a + op + v, st.sampled_from(["mgt", "groups", "x", "nodehm.mgt"]),
              st.sampled_from(["==", "!=", "=~", "!~", "="]), st.text(max_size=8)),
)
ATOMS = st.one_of(
    st.sampled_from(NODES + HIDDEN + list(GROUPS) + ["ipmis", "broken", "empty", "spare",
                                                     "nosuch", "ALL"]),
    NUMBERS, ranges(), REGEXES.map(lambda r: "/" + r), SELECTORS,
    st.sampled_from(list(FILES) + ["missing"]).map(lambda f: "^" + f),
    st.text(max_size=6),
)


def _item(operands: list[str], exclude: bool) -> str:
    return ("-" if exclude else "") + "@".join(operands)


def noderanges(depth: int = 2):
    operand = ATOMS if depth == 0 else st.one_of(
        ATOMS, ATOMS, ATOMS, st.deferred(lambda: noderanges(depth - 1)).map(
            lambda r: f"({r})"))
    item = st.builds(_item, st.lists(operand, min_size=1, max_size=3), st.booleans())
    return st.lists(item, min_size=1, max_size=4).map(",".join)


def _mutate(text: str, cuts: list[tuple[int, str]]) -> str:
    for where, what in cuts:
        i = where % (len(text) + 1)
        text = text[:i] + what + text[i:]
    return text


PUNCT = st.sampled_from([",", "@", "(", ")", "-", "^", "[", "]", "/", "\\", ":", "+", " ",
                         "\n", "{", "}", "=", "~", "!", "\0"])
# Ranges written only with digits of other scripts (Arabic-Indic, Devanagari, fullwidth).
OTHER_DIGITS = st.text(st.sampled_from("٠١٢٣٤٥٦٧٨٩०१२३४५६७८९０１２３４５６７８９"), min_size=1,
                       max_size=3)
unicode_ranges = st.builds(
    lambda p, a, b, form: [f"{p}{a}-{p}{b}", f"{p}{a}:{p}{b}", f"{p}{a}+{b}",
                           f"{p}[{a}-{b}]"][form],
    st.sampled_from(["n", "node", "x-", ""]), OTHER_DIGITS, OTHER_DIGITS, st.integers(0, 3))
texts = st.one_of(
    noderanges(), noderanges(), unicode_ranges,
    st.builds(_mutate, noderanges(), st.lists(st.tuples(st.integers(0, 500), PUNCT),
                                              min_size=1, max_size=3)),
    st.text(alphabet="n1r2u0[]-:+,@()^/=~!.x ١²", max_size=30),
    st.text(max_size=20),
    st.integers(1, 80).map(lambda n: "(" * n + "n1" + ")" * n),
)


# -- properties ------------------------------------------------------------------------------

def _expand(attrs, text: str, target: str, **kw):
    nr = NodeRange(attrs, read_file=_read_file)
    return attempt(target, lambda: nr.expand(text, **kw), (XcatError,))


@fuzz_settings(weight=1.5)
@given(texts)
def test_expand_gives_nodes_or_an_error(attrs, text):
    check_expand(attrs, text)


def check_expand(attrs, text: str) -> None:
    existing = set(NODES) | set(HIDDEN)
    for must_exist in (True, False):
        got = _expand(attrs, text, "noderange.expand", must_exist=must_exist)
        if got.error is not None:
            assert got.error.message
        if not got.ok:
            continue
        names = got.value
        assert names == natural_sorted(set(names))
        if must_exist:
            assert set(names) <= existing, set(names) - existing
            # Hidden nodes come only when named (or in a range); groups, regexes and
            # selectors leave them out.
            assert "fsp" in text or not set(names) & set(HIDDEN)
            again = _expand(attrs, text, "noderange.expand", must_exist=True)
            assert again.value == names
        elif "^" not in text and not any(c.isascii() and c.isdigit() for c in text) and \
                any(c.isascii() and c.isdigit() for n in names for c in n):
            raise AssertionError(f"digits of other scripts counted as numbers: {text!r} "
                                 f"gave {names[:5]}")


@fuzz_settings()
@given(texts)
def test_parse_gives_a_tree_or_noderange_error(text):
    got = attempt("noderange.parse", lambda: parse(text), (NoderangeError,))
    assert got.ok or got.error is not None


@fuzz_settings()
@given(st.text(max_size=60))
def test_file_entries_never_raise(text):
    got = attempt("noderange.file_entries", lambda: file_entries(text))
    for number, entry in got.value:
        assert number >= 1 and entry and not entry.startswith("^") and "#" not in entry


@fuzz_settings(weight=0.7)
@given(noderanges(1), noderanges(1))
def test_exclusion_is_set_difference(attrs, a, b):
    tried("noderange.algebra")
    sa = NodeRange(attrs, read_file=_read_file)
    try:
        first, second = set(sa.expand(a)), set(sa.expand(b))
    except Exception:          # errors and known bugs are the other tests' business
        return
    got = _expand(attrs, f"({a}),-({b})", "noderange.algebra")
    if got.ok:
        assert set(got.value) == first - second


# -- regressions -----------------------------------------------------------------------------

def _fresh(attrs) -> NodeRange:
    return NodeRange(attrs, read_file=_read_file)


def test_regex_atom_with_huge_repeat(attrs):
    with pytest.raises(XcatError):
        _fresh(attrs).expand("/n{4294967296}")


def test_regex_atom_nested_too_deep(attrs):
    with pytest.raises(XcatError):
        _fresh(attrs).expand("/" + "(" * 500 + "n1" + ")" * 500)


def test_range_with_over_4300_digits(attrs):
    with pytest.raises(XcatError):
        _fresh(attrs).expand("n[1-" + "9" * 4400 + "]", must_exist=False)


def test_plus_range_with_over_4300_digits(attrs):
    with pytest.raises(XcatError):
        _fresh(attrs).expand("n1+" + "9" * 4400, must_exist=False)


def test_new_name_with_over_4300_digits(attrs):
    with pytest.raises(XcatError):
        _fresh(attrs).expand("9" * 4400, must_exist=False)


def test_selector_with_huge_repeat(attrs):
    with pytest.raises(XcatError):
        _fresh(attrs).expand("mgt=~a{4294967296}")


def test_selector_regex_nested_too_deep(attrs):
    with pytest.raises(XcatError):
        _fresh(attrs).expand("groups=~" + "(" * 1000 + ")" * 1000)


def test_ranges_of_unicode_digits_make_no_ascii_names(attrs):
    for text in ("n١-n٣", "n١+2", "n١:n٣"):
        try:
            names = _fresh(attrs).expand(text, must_exist=False)
        except XcatError:
            continue
        assert names == [text]


def test_huge_ranges_are_refused_not_expanded(attrs):
    # The size check comes before any name is made (no hang on a typo).
    for text in ("n[1-100000000]", "n1-n100000000", "n1+100000000", "f[1-10000]n[1-10000]"):
        tried("noderange.expand")
        with pytest.raises(NoderangeError, match="limit"):
            _fresh(attrs).expand(text, must_exist=False)
