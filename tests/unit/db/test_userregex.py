"""Compiling users' regular expressions: every way re.compile fails is one BadRegex."""

import re

import pytest

from xcatpy.db.userregex import MAX_REPEAT, BadRegex, compile_user_regex


def test_a_good_pattern_compiles_with_the_callers_flags():
    assert compile_user_regex(r"n\d+").fullmatch("n١")    # \d is Unicode unless told
    assert compile_user_regex(r"n\d+", re.ASCII).fullmatch("n١") is None
    assert compile_user_regex(f"a{{{MAX_REPEAT}}}").match("a" * 3) is None


@pytest.mark.parametrize("pattern, reason", [
    ("n(", "missing ), unterminated subpattern at position 1"),
    (f"a{{{MAX_REPEAT + 1}}}", f"repeat count too large (at most {MAX_REPEAT})"),
    (f"a{{1,{2**64}}}", f"repeat count too large (at most {MAX_REPEAT})"),
    ("(" * 1000 + ")" * 1000, "groups nested too deeply"),
    ("(?:" * 500 + "a" + ")" * 500, "groups nested too deeply"),
])
def test_each_failure_is_a_bad_regex_saying_why(pattern, reason):
    with pytest.raises(BadRegex) as exc:
        compile_user_regex(pattern)
    assert str(exc.value) == reason


def test_python_syntax_hints_are_not_shown_to_users(recwarn):
    compile_user_regex("[[a]")     # FutureWarning: possible nested set
    assert not recwarn.list
