"""decimal(): the numbers admins write in tables and options, and nothing else."""

import pytest

from xcatpy.digits import MAX_DIGITS, decimal


@pytest.mark.parametrize("text, value", [
    ("0", 0), ("80", 80), ("007", 7), ("9" * MAX_DIGITS, int("9" * MAX_DIGITS)),
    ("", None), (None, None), ("²", None), ("①", None), ("١٢", None), ("５", None),
    (" 8", None), ("-1", None), ("+1", None), ("1_0", None), ("0x10", None), ("1e3", None),
    ("9" * (MAX_DIGITS + 1), None), ("9" * 5000, None),
])
def test_decimal(text, value):
    assert decimal(text) == value
