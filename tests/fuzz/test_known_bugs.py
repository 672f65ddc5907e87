"""The known-bug list in harness.py stays honest: each entry names an existing strict
xfail regression test, and no two entries share an id (conftest.py also checks that each
such test fails with the exception and function its entry names)."""

import importlib
from pathlib import Path

from tests.fuzz.harness import KNOWN_BUGS


def test_ids_are_unique():
    ids = [bug.id for bug in KNOWN_BUGS]
    assert len(ids) == len(set(ids))


def test_each_known_bug_has_a_strict_xfail_test():
    # One test over the list rather than one per entry: the list is empty while every bug
    # found is fixed, and an empty parametrisation would be a skip.
    for bug in KNOWN_BUGS:
        module_file, _, name = bug.test.partition("::")
        module = importlib.import_module("tests.fuzz." + module_file.removesuffix(".py"))
        test = getattr(module, name)
        marks = [m for m in getattr(test, "pytestmark", []) if m.name == "xfail"]
        assert marks and marks[0].kwargs.get("strict") is True, bug.test
        assert "product bug" in marks[0].kwargs.get("reason", "")


def test_no_test_is_still_marked_as_a_known_bug_once_its_entry_is_gone():
    # A fixed bug's entry and its xfail mark go together; a mark left behind would hide a
    # regression test behind xfail.
    listed = {bug.test for bug in KNOWN_BUGS}
    for path in sorted(Path(__file__).parent.glob("test_*.py")):
        module = importlib.import_module("tests.fuzz." + path.stem)
        for name, test in vars(module).items():
            marks = [m for m in getattr(test, "pytestmark", []) if m.name == "xfail"]
            if name.startswith("test_") and marks:
                assert f"{path.name}::{name}" in listed, f"{path.name}::{name}"
