"""The fuzz suite's profiles and its tally.

Profiles (hypothesis settings, applied per test through harness.fuzz_settings so the rest
of the test suite keeps its own settings; not called plain "ci" because hypothesis has a
built-in "ci" profile it loads for everything when CI is set, and re-registering that
name would reload it for every test):
- xcatpy-fuzz-ci, the default: bounded so that all of tests/fuzz runs in about a minute;
  not derandomized, so every run tries new inputs, and a failure prints the blob that
  reproduces it (@reproduce_failure).
- xcatpy-fuzz-long, chosen with XCATPY_FUZZ=long: 20000 inputs per target.

At the end of the session the terminal summary says how many inputs were tried, over how
many targets, and how many crashes of known product bugs were met (each has an xfail
regression test). XCATPY_FUZZ_REPORT=<file> also writes those figures as JSON.

A known bug's xfail test must also fail the way harness.KNOWN_BUGS says it does (see
pytest_runtest_makereport below).
"""

import json
import os

import pytest

from tests.fuzz import harness

harness.register_profiles()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A known bug's xfail test must fail the way KNOWN_BUGS says (the exception type and
    function the fuzz properties tolerate), or the list and the tests have drifted apart."""
    outcome = yield
    report = outcome.get_result()
    if call.when != "call" or not hasattr(report, "wasxfail") or call.excinfo is None:
        return
    name = f"{item.path.name}::{item.name}"
    bug = next((b for b in harness.KNOWN_BUGS if b.test == name and b.exc is not None), None)
    if bug is None:
        return
    found = harness.known_bug(call.excinfo.value)
    if found is None or found.id != bug.id:
        report.outcome = "failed"
        report.longrepr = (f"{name} is the regression test of known bug {bug.id}, but it "
                           f"failed with {call.excinfo.typename} at "
                           f"{harness._deepest_product_frame(call.excinfo.value)}, which "
                           f"KNOWN_BUGS matches to {found.id if found else 'no bug'}")


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not harness.TRIED:
        return
    write = terminalreporter.write_line
    total = sum(harness.TRIED.values())
    hits = sum(harness.KNOWN_HITS.values())
    terminalreporter.section("fuzz")
    write(f"fuzz: {total} inputs over {len(harness.TRIED)} targets "
          f"(profile {harness.profile_name()})")
    width = max(len(t) for t in harness.TRIED)
    for target in sorted(harness.TRIED):
        bugs = {b: n for (t, b), n in harness.KNOWN_HITS.items() if t == target}
        extra = "; known bugs hit: " + ", ".join(f"{b} x{n}" for b, n in sorted(bugs.items())) \
            if bugs else ""
        write(f"  {target:<{width}}  {harness.TRIED[target]:>7} inputs{extra}")
    write(f"fuzz: {hits} inputs hit {len({b for _, b in harness.KNOWN_HITS})} known bugs "
          f"(tolerated; {len(harness.KNOWN_BUGS)} listed in tests/fuzz/harness.py, each with "
          "an xfail test); any other crash fails its test")
    report = os.environ.get("XCATPY_FUZZ_REPORT")
    if report:
        with open(report, "w") as f:
            json.dump({"profile": harness.profile_name(), "total": total,
                       "targets": dict(sorted(harness.TRIED.items())),
                       "known_hits": {f"{t} {b}": n
                                      for (t, b), n in sorted(harness.KNOWN_HITS.items())}},
                      f, indent=1)
