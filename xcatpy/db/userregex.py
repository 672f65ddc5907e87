"""Regular expressions users write: noderange `/regex` atoms, `attr=~regex` selectors and
regular-expression table values.

re.compile fails in three ways, not one: re.error for bad syntax, OverflowError for a
repeat count re cannot hold (`a{4294967296}`), and RecursionError for groups nested a few
hundred deep (its parser recurses). compile_user_regex turns all three into BadRegex, whose
text says what was wrong, for the caller to wrap in an error naming the noderange, selector
or table value.
"""

import re
import warnings

# re refuses a repeat count of 2**32-1 or more (its MAXREPEAT means "unbounded").
MAX_REPEAT = 2**32 - 2


class BadRegex(Exception):
    """Why a user's pattern does not compile, worded for the user."""


def compile_user_regex(pattern: str, flags: int = 0) -> re.Pattern:
    """`pattern` compiled, or BadRegex."""
    try:
        with warnings.catch_warnings():
            # Python's hints (a "possible nested set" in a class, ...) are not for our users.
            warnings.simplefilter("ignore")
            return re.compile(pattern, flags)
    except re.error as exc:
        raise BadRegex(str(exc)) from None
    except OverflowError:
        raise BadRegex(f"repeat count too large (at most {MAX_REPEAT})") from None
    except RecursionError:
        raise BadRegex("groups nested too deeply") from None
