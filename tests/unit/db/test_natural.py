"""Natural order: numbers in names compare as numbers, however long, ASCII digits only."""

from hypothesis import given
from hypothesis import strategies as st

from xcatpy.db.natural import natural_key, natural_sorted


def _int_key(name: str) -> tuple:
    # The order as it was defined with int(): the reference for names int() can read.
    import re

    parts = re.split(r"([0-9]+)", name)
    return tuple((0, int(p), len(p)) if i % 2 else (1, p, 0) for i, p in enumerate(parts))


def test_numbers_compare_as_numbers():
    assert natural_sorted(["node10", "node2", "node1", "node01", "node001", "node0"]) == \
        ["node0", "node1", "node01", "node001", "node2", "node10"]
    assert natural_sorted(["r10n1", "r2n10", "r2n9", "rack", "r"]) == \
        ["r", "r2n9", "r2n10", "r10n1", "rack"]


def test_numbers_of_thousands_of_digits_sort_without_int():
    huge, huger = "9" * 4400, "1" + "0" * 4400
    names = [f"n{huger}", f"n{huge}", "n1", f"n0{huge}", f"n{huge}x", f"n{huge[:-1]}8"]
    # The number first, its written width next (n0999... after n999...x), as for short ones.
    assert natural_sorted(names) == ["n1", f"n{huge[:-1]}8", f"n{huge}", f"n{huge}x",
                                     f"n0{huge}", f"n{huger}"]
    assert natural_sorted(["n09x", "n9", "n9x"]) == ["n9", "n9x", "n09x"]


def test_digits_of_other_scripts_are_text():
    # '١' is Arabic-Indic one: it does not sort as 1 (and noderanges do not count with it).
    assert natural_key("n١") != natural_key("n1")
    assert natural_sorted(["n١", "n2", "n10"]) == ["n2", "n10", "n١"]


@given(st.lists(st.text(alphabet="n0123456789-.x", max_size=12), max_size=20))
def test_same_order_as_comparing_with_int(names):
    assert natural_sorted(names) == sorted(names, key=_int_key)


@given(st.text(max_size=30), st.text(max_size=30))
def test_equal_keys_only_for_equal_names(a, b):
    assert (natural_key(a) == natural_key(b)) == (a == b)
