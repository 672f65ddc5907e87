"""The dispatcher: one transaction per command, rollback on failure, errors as one line."""

import pytest


@pytest.fixture
def statements(store):
    seen: list[str] = []
    store.conn.set_trace_callback(seen.append)
    yield seen
    store.conn.set_trace_callback(None)


def test_a_command_commits_exactly_once(run, statements):
    assert run("nodeadd", "n[1-500]", "groups=all", "nodehm.mgt=ipmi", "nodetype.os=x",
               "hosts.ip=|n(\\d+)|10.0.($1/256).($1%256)|").rc == 0
    verbs = [s.split()[0].upper() for s in statements]
    assert verbs.count("COMMIT") == 1 and verbs.count("BEGIN") == 1
    assert "ROLLBACK" not in verbs


def test_a_failed_command_rolls_back(run, statements):
    r = run("nodeadd", "n1", "groups=all", "nodehm.mgt=ipmi", "nodetype.nosuch=1")
    assert r.rc == 1
    verbs = [s.split()[0].upper() for s in statements]
    assert "COMMIT" not in verbs
    assert run("nodels").out == []


def test_read_only_commands_do_not_take_the_write_lock(run, statements):
    run("nodels")
    assert "BEGIN IMMEDIATE" not in statements


def test_unknown_command(run):
    r = run("nodefrob", "x")
    assert (r.rc, r.err) == (1, ["Error: Unknown command 'nodefrob'"])


@pytest.mark.parametrize("command", ["nodeadd", "nodech", "noderm", "nodels", "tabdump",
                                     "tabrestore", "tabch", "mkdef", "chdef", "lsdef",
                                     "rmdef"])
def test_every_command_has_help(run, command):
    for flag in ("-h", "--help", "-?"):
        r = run(command, flag)
        assert r.rc == 0, (command, flag, r.err)
        assert r.out and "Usage" in r.out[0], (command, flag)
