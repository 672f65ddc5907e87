"""The real console scripts in bypass mode: exit codes, stdout/stderr, state selection."""

import pytest

from tests.integration.clitools import cli


@pytest.fixture
def state(tmp_path):
    return tmp_path / "state"


def test_nodeadd_then_nodels_across_processes(state):
    r = cli("nodeadd", "node[01-12]", "groups=compute,all", "nodehm.mgt=ipmi", state=state)
    assert (r.rc, r.out, r.err) == (0, "", "")
    r = cli("nodels", "compute", "nodehm.mgt", state=state)
    assert r.rc == 0
    assert r.out.splitlines()[:2] == ["node01: ipmi", "node02: ipmi"]
    assert len(r.out.splitlines()) == 12
    assert (state / "xcatdb.sqlite").exists()


def test_errors_go_to_stderr_with_exit_code_1(state):
    cli("nodeadd", "n1", "groups=all", state=state)
    r = cli("nodels", "n1,ghost", state=state)
    assert r.rc == 1 and r.out == ""
    assert r.err == "Error: Invalid nodes and/or groups in noderange: ghost\n"


def test_state_dir_flag_overrides_environment(tmp_path, state):
    other = tmp_path / "other"
    r = cli("nodeadd", "--state-dir", str(other), "x1", "groups=all", state=state)
    assert r.rc == 0
    assert cli("nodels", state=state).out == ""
    assert cli("nodels", f"--state-dir={other}", state=state).out == "x1\n"


def test_without_bypass_or_credentials_the_client_says_what_to_do(state, tmp_path):
    r = cli("nodels", state=state, bypass=False, extra_env={"HOME": str(tmp_path)})
    assert r.rc == 1 and r.out == ""
    assert r.err.count("\n") == 1 and "xcatpy-setup init" in r.err


def test_help_exits_zero(state):
    r = cli("nodeadd", "-h", state=state)
    assert r.rc == 0 and r.out.startswith("Usage: nodeadd")


def test_unwritable_state_dir_is_one_clear_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    r = cli("nodels", state=blocker / "state")
    assert r.rc == 1
    assert r.err.count("\n") == 1 and str(blocker / "state") in r.err


def test_output_into_a_closed_pipe_is_quiet(state):
    cli("nodeadd", "n[1-3000]", "groups=all", state=state)
    import subprocess

    from tests.integration.clitools import command_path

    env = {"XCATPY_STATE": str(state), "XCATBYPASS": "1", "PATH": "/usr/bin:/bin"}
    p = subprocess.run(" ".join(command_path("nodels")) + " all groups | head -1", shell=True,
                       capture_output=True, text=True, env=env, timeout=60)
    assert p.stdout == "n1: all\n"
    assert "Traceback" not in p.stderr
