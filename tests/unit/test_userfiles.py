"""The user's files: written whole or not at all, and every failure one XcatError naming
the file, with no temporary file left (a NUL in the name, non-text content and names at
the length limit used to escape as ValueError, TypeError or OSError)."""

import os

import pytest

from xcatpy.errors import XcatError
from xcatpy.userfiles import read_user_file, write_user_file


def test_a_write_replaces_the_file_whole(tmp_path):
    target = tmp_path / "site.csv"
    target.write_text("old\n")
    write_user_file(target, "new\r\nline\n", "site.csv")
    assert read_user_file(target, "site.csv") == "new\r\nline\n"
    assert os.listdir(tmp_path) == ["site.csv"]


@pytest.mark.parametrize("name, text, reason", [
    ("a\0b", "x", "embedded null byte"),
    ("x" * 256, "x", "File name too long"),
    ("missing/x.csv", "x", "No such file or directory"),
    ("site.csv", "lone \udc80 surrogate", "can't encode character"),
    ("site.csv", None, "its content is not text"),
    ("site.csv", b"bytes", "its content is not text"),
    ("", "x", "Is a directory"),
    ("dir", "x", "Is a directory"),
])
def test_a_failed_write_is_one_error_and_keeps_the_old_file(tmp_path, name, text, reason):
    work = tmp_path / "work"
    work.mkdir()
    (work / "site.csv").write_text("old\n")
    (work / "dir").mkdir()
    with pytest.raises(XcatError) as err:
        write_user_file(work / name, text, name)
    assert err.value.message.startswith(f"Cannot write file {name}: ")
    assert reason in err.value.message and "\n" not in err.value.message
    assert sorted(os.listdir(work)) == ["dir", "site.csv"]
    assert (work / "site.csv").read_text() == "old\n"
    assert os.listdir(tmp_path) == ["work"]


def test_a_name_at_the_length_limit_is_written(tmp_path):
    # Its temporary name would be longer than 255 bytes: it gets a short one.
    for name in ("x" * 255, "é" * 127):
        write_user_file(tmp_path / name, "ok", name)
        assert (tmp_path / name).read_text() == "ok"
    assert len(os.listdir(tmp_path)) == 2
