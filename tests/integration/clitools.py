"""Run the real command-line programs, as an admin would, against a private instance."""

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def command_path(name: str) -> list[str]:
    """The installed console script next to this Python, else the checkout's launcher."""
    installed = Path(sys.executable).parent / name
    if installed.exists():
        return [str(installed)]
    return [sys.executable, str(REPO / "bin" / name)]


@dataclass
class Completed:
    rc: int
    out: str
    err: str


def cli(name: str, *args: str, state: Path, stdin: str | None = None, bypass: bool = True,
        cwd: Path | None = None, extra_env: dict | None = None) -> Completed:
    env = {k: v for k, v in os.environ.items() if k not in ("XCATBYPASS", "XCATPY_STATE")}
    env["XCATPY_STATE"] = str(state)
    if bypass:
        env["XCATBYPASS"] = "1"
    env.update(extra_env or {})
    p = subprocess.run(command_path(name) + list(args), input=stdin, capture_output=True,
                       text=True, env=env, cwd=cwd, timeout=60)
    return Completed(p.returncode, p.stdout, p.stderr)
