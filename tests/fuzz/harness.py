"""What every fuzz target shares: its settings, the count of inputs tried, and the product
bugs found so far.

- `fuzz_settings(weight)` is the active profile (tests/fuzz/conftest.py registers them:
  `XCATPY_FUZZ=long` for the long run, the bounded CI one otherwise) with max_examples
  scaled by `weight`, for targets whose inputs cost more or less than most;
  XCATPY_FUZZ_EXAMPLES=N sets the inputs per target of either profile.
- `attempt(target, call, clean)` runs one input: it counts it, and sorts the outcome into a
  value, a clean error (an instance of `clean`), or a crash. A crash that matches a bug in
  KNOWN_BUGS is tolerated and counted (each such bug also has a strict xfail regression
  test, so it cannot be forgotten); any other crash fails the property. With
  XCATPY_FUZZ_STRICT=1 known bugs fail too, which is how to check that one is fixed.

When a known bug is fixed: drop its xfail mark, and its entry here.
"""

import os
import traceback
from collections import Counter
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, settings

PROFILE_ENV = "XCATPY_FUZZ"
STRICT_ENV = "XCATPY_FUZZ_STRICT"
EXAMPLES_ENV = "XCATPY_FUZZ_EXAMPLES"     # inputs per target instead of the profile's
CI_PROFILE, LONG_PROFILE = "xcatpy-fuzz-ci", "xcatpy-fuzz-long"
CI_EXAMPLES = 200          # per target, scaled by each target's weight
LONG_EXAMPLES = 20_000

# Inputs tried and known-bug crashes met, per target, for the session summary.
TRIED: Counter = Counter()
KNOWN_HITS: Counter = Counter()          # (target, bug id) -> crashes tolerated


def register_profiles() -> None:
    common = dict(deadline=None, derandomize=False, print_blob=True,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                         HealthCheck.filter_too_much,
                                         HealthCheck.function_scoped_fixture])
    settings.register_profile(CI_PROFILE, max_examples=CI_EXAMPLES, **common)
    settings.register_profile(LONG_PROFILE, max_examples=LONG_EXAMPLES, **common)


def profile_name() -> str:
    return LONG_PROFILE if os.environ.get(PROFILE_ENV, "").strip() == "long" else CI_PROFILE


def fuzz_settings(weight: float = 1.0, **overrides) -> settings:
    """The active profile, its max_examples (or XCATPY_FUZZ_EXAMPLES) scaled by `weight`
    (at least 10)."""
    try:
        parent = settings.get_profile(profile_name())
    except Exception:        # imported outside pytest (atheris_targets.py): register now
        register_profiles()
        parent = settings.get_profile(profile_name())
    base = int(os.environ.get(EXAMPLES_ENV) or parent.max_examples)
    return settings(parent, max_examples=max(10, int(base * weight)), **overrides)


def mostly(usual, other, percent: int = 80):
    """A strategy: `usual` about `percent` % of the time, else `other` (st.one_of would
    pick each about equally often)."""
    from hypothesis import strategies as st

    return st.integers(0, 99).flatmap(lambda n: usual if n < percent else other)


def tried(target: str, n: int = 1) -> None:
    TRIED[target] += n


# -- known product bugs ---------------------------------------------------------------------

@dataclass(frozen=True)
class KnownBug:
    id: str
    exc: type | tuple[type, ...] | None   # what the product lets out; None: a wrong result
    where: str | tuple[str, ...]   # "path.py:function" of the deepest xcatpy frame (or any)
    test: str                 # the xfail regression test that documents it


# Every bug fuzzing has found so far is fixed (share/doc/fuzzing.md lists them). A new one
# goes here, with its strict xfail regression test, until it is fixed.
KNOWN_BUGS: tuple[KnownBug, ...] = ()


def _deepest_product_frame(exc: BaseException) -> str | None:
    where = None
    for frame in traceback.extract_tb(exc.__traceback__):
        path = frame.filename.replace(os.sep, "/")
        # Generator expressions and lambdas count as the function they are written in.
        if "/xcatpy/" in path and "/tests/" not in path and not frame.name.startswith("<"):
            where = path[path.rindex("/xcatpy/") + 1:] + ":" + frame.name
    return where


def known_bug(exc: BaseException) -> KnownBug | None:
    """The known bug `exc` is an instance of, judged by its type and where it was raised."""
    where = _deepest_product_frame(exc)
    for bug in KNOWN_BUGS:
        places = bug.where if isinstance(bug.where, tuple) else (bug.where,)
        if bug.exc is not None and isinstance(exc, bug.exc) and where in places:
            return bug
    return None


def strict() -> bool:
    return os.environ.get(STRICT_ENV, "").strip() not in ("", "0")


@dataclass
class Outcome:
    value: Any = None
    error: BaseException | None = None      # a clean, documented error
    bug: KnownBug | None = None              # a known product bug was hit

    @property
    def ok(self) -> bool:
        return self.error is None and self.bug is None


def attempt(target: str, call, clean: tuple[type[BaseException], ...] = ()) -> Outcome:
    """Count one input of `target` and run it; anything but a value, a `clean` error or a
    tolerated known bug propagates (and fails the property)."""
    tried(target)
    try:
        return Outcome(value=call())
    except clean as exc:
        return Outcome(error=exc)
    except Exception as exc:
        bug = known_bug(exc)
        if bug is None or strict():
            raise
        KNOWN_HITS[(target, bug.id)] += 1
        return Outcome(bug=bug)


def violation(target: str, bug_id: str, message: str) -> None:
    """A property failed in the way known bug `bug_id` makes it fail: count it (or, with
    XCATPY_FUZZ_STRICT=1, fail). Callers test for that way precisely."""
    assert any(b.id == bug_id and b.exc is None for b in KNOWN_BUGS), bug_id
    if strict():
        raise AssertionError(f"{message} (known bug {bug_id})")
    KNOWN_HITS[(target, bug_id)] += 1
