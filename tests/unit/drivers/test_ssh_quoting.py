"""command_line: what a real /bin/sh makes of the line is exactly the argv, whatever it holds."""

import subprocess

from hypothesis import given, settings
from hypothesis import strategies as st

from xcatpy.drivers.remote import command_line

NASTY = ["; rm -rf /", "$(touch pwned)", "`touch pwned`", "it's", '"quoted"', "a\nb",
         "two words", "", "*", "~root", "$HOME", "a\\b", "-n", "|", "&&", "#comment", "\t"]


def _through_sh(argv: list[str], cwd=None) -> list[str]:
    """What a POSIX shell passes to the command named by the line (dash, as on hypervisors)."""
    script = "for a; do printf '%s\\0' \"$a\"; done"
    line = command_line(["sh", "-c", script, "sh", *argv])
    out = subprocess.run(["/bin/sh", "-c", line], capture_output=True, check=True,
                         cwd=cwd).stdout
    return out.decode().split("\0")[:-1]


def test_metacharacters_stay_single_arguments(tmp_path):
    assert _through_sh(NASTY, cwd=tmp_path) == NASTY
    assert list(tmp_path.iterdir()) == []  # no `touch pwned` ran


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(alphabet=st.characters(blacklist_characters="\0",
                                               blacklist_categories=("Cs",)),
                        max_size=12), min_size=1, max_size=5))
def test_any_argv_round_trips(argv):
    assert _through_sh(argv) == argv
