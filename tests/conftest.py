"""Shared fixtures: a private instance per test, and a way to run a command in-process.

Under CI (CI set in the environment) a skipped test fails: the README's test command
installs every program the tests use, so a skip there means a missing install step, and a
green run must not hide it. Tests that can only run as another user say so with
`@pytest.mark.may_skip`.
"""

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from xcatpy.commands import run_command
from xcatpy.commands.base import ListOutput, Request
from xcatpy.db.store import Store


@dataclass
class Result:
    rc: int
    out: list[str]
    err: list[str]

    @property
    def text(self) -> str:
        return "\n".join(self.out)


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def store(state_dir: Path):
    s = Store.open(state_dir)
    yield s
    s.close()


@pytest.fixture
def run(store: Store, tmp_path: Path):
    """run("nodels", "all", "groups", stdin="...") -> Result, exactly as bypass mode runs it."""

    def _run(command: str, *args: str, stdin: str = "") -> Result:
        out = ListOutput()
        req = Request(command, list(args), cwd=str(tmp_path), read_stdin=lambda: stdin)
        rc = run_command(req, out, store)
        return Result(rc, out.stdout, out.stderr)

    return _run


def _under_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def pytest_configure(config):
    config.addinivalue_line("markers", "may_skip: a skip that is right even under CI "
                            "(for example a test that cannot run as root)")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if (report.skipped and _under_ci() and not hasattr(report, "wasxfail")
            and item.get_closest_marker("may_skip") is None):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped under CI, where every prerequisite is installed: {reason}"
