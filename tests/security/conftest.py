"""Prints, at the end of the run, how many attacks of each kind the security tests tried
and how many were refused (tests/security/harness.py keeps the tally)."""

from tests.security.harness import TALLY


def pytest_terminal_summary(terminalreporter):
    lines = TALLY.lines()
    if lines:
        terminalreporter.section("security: attacks tried and refused")
        for line in lines:
            terminalreporter.write_line(line)
