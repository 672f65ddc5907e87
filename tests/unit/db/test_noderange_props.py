"""Noderange properties: set algebra holds for any names, every range form agrees."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xcatpy.db.attrs import NodeAttrs
from xcatpy.db.natural import natural_sorted
from xcatpy.db.noderange import NodeRange
from xcatpy.db.store import Store
from xcatpy.errors import XcatError

NAMES = [f"n{i}" for i in range(1, 31)] + [f"r{r}u{u:02d}" for r in (1, 2) for u in (1, 2, 10)]
GROUPS = {"even": [f"n{i}" for i in range(2, 31, 2)], "low": [f"n{i}" for i in range(1, 11)]}

names = st.lists(st.sampled_from(NAMES), min_size=1, max_size=8)
atoms = st.sampled_from(NAMES + list(GROUPS) + ["n1-n5", "n[3-7]", "n2+3", "/r1.*"])
PROPS = settings(max_examples=150, deadline=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def noderange(tmp_path_factory):
    store = Store.open(tmp_path_factory.mktemp("nr") / "state")
    store.begin()
    store.upsert_rows("nodelist", [
        {"node": n, "groups": ",".join(g for g, ms in GROUPS.items() if n in ms)}
        for n in NAMES])
    store.commit()
    yield NodeRange(NodeAttrs(store), read_file=lambda path: "")
    store.close()


def _set(noderange, text: str) -> set[str]:
    return set(noderange.expand(text))


@PROPS
@given(a=names, b=names)
def test_comma_is_sorted_union(noderange, a, b):
    assert noderange.expand(",".join(a + b)) == natural_sorted(set(a) | set(b))


@PROPS
@given(a=names)
def test_name_minus_itself_is_empty(noderange, a):
    text = ",".join(a)
    assert noderange.expand(f"{text},-({text})") == []
    assert noderange.expand(",".join(a + [f"-{n}" for n in a])) == []


@PROPS
@given(a=atoms, b=atoms)
def test_exclusion_is_set_difference_in_any_order(noderange, a, b):
    expected = _set(noderange, a) - _set(noderange, b)
    assert _set(noderange, f"{a},-{b}") == expected
    assert _set(noderange, f"-{b},{a}") == expected


@PROPS
@given(a=atoms, b=atoms, c=atoms)
def test_intersection_binds_tighter_than_comma(noderange, a, b, c):
    sa, sb, sc = (_set(noderange, x) for x in (a, b, c))
    assert _set(noderange, f"{a}@{b},{c}") == (sa & sb) | sc
    assert _set(noderange, f"{c},{a}@{b}") == (sa & sb) | sc
    assert _set(noderange, f"{a}@({b},{c})") == sa & (sb | sc)


@PROPS
@given(a=atoms, b=atoms)
def test_result_is_sorted_and_unique(noderange, a, b):
    got = noderange.expand(f"{a},{b},{a}")
    assert got == natural_sorted(set(got))


ranges = st.tuples(st.sampled_from(["n", "rack", "c-", "x1y"]),
                   st.integers(0, 500), st.integers(0, 40), st.integers(0, 4))


@PROPS
@given(spec=ranges)
def test_every_range_form_agrees(noderange, spec):
    prefix, lo, count, extra_width = spec
    hi = lo + count
    width = len(str(hi)) + extra_width
    a, b = f"{lo:0{width}d}", f"{hi:0{width}d}"
    expected = [f"{prefix}{n:0{width}d}" for n in range(lo, hi + 1)]
    forms = [f"{prefix}[{a}-{b}]", f"{prefix}[{a}:{b}]", f"{prefix}{a}-{prefix}{b}",
             f"{prefix}{a}:{prefix}{b}", f"{prefix}{a}+{count}"]
    for form in forms:
        got = noderange.expand(form, must_exist=False)
        assert got == natural_sorted(expected), form


@PROPS
@given(lo=st.integers(0, 200), count=st.integers(1, 300))
def test_unpadded_range_grows_in_width(noderange, lo, count):
    hi = lo + count
    assert noderange.expand(f"q[{lo}-{hi}]", must_exist=False) == [
        f"q{n}" for n in range(lo, hi + 1)]


@PROPS
@given(lo=st.integers(1, 99), hi=st.integers(0, 98))
def test_reversed_ranges_always_fail(noderange, lo, hi):
    if hi < lo:
        with pytest.raises(XcatError, match="backwards"):
            noderange.expand(f"z{lo}-z{hi}", must_exist=False)


@PROPS
@given(st.text(alphabet="n1r2u0[]-:+,@()^/=~!.x ", max_size=20))
def test_any_text_expands_or_fails_cleanly(noderange, text):
    # Whatever users type, the answer is a node list or an error they can read.
    for must_exist in (True, False):
        try:
            got = noderange.expand(text, must_exist=must_exist)
        except XcatError as exc:
            assert exc.message
        else:
            assert got == natural_sorted(set(got))
