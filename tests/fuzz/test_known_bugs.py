"""The known-bug list in harness.py stays honest: each entry names an existing strict
xfail regression test, and no two entries share an id (conftest.py also checks that each
such test fails with the exception and function its entry names)."""

import importlib

import pytest

from tests.fuzz.harness import KNOWN_BUGS


def test_ids_are_unique():
    ids = [bug.id for bug in KNOWN_BUGS]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("bug", KNOWN_BUGS, ids=lambda b: b.id)
def test_each_known_bug_has_a_strict_xfail_test(bug):
    module_file, _, name = bug.test.partition("::")
    module = importlib.import_module("tests.fuzz." + module_file.removesuffix(".py"))
    test = getattr(module, name)
    marks = [m for m in getattr(test, "pytestmark", []) if m.name == "xfail"]
    assert marks and marks[0].kwargs.get("strict") is True, bug.test
    assert "product bug" in marks[0].kwargs.get("reason", "")
