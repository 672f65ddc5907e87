"""Shared fixtures: a private instance per test, and a way to run a command in-process."""

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
