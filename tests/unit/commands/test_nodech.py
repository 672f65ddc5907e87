"""nodech: every operator, selections, -d, and all-or-nothing on bad input."""

import pytest


@pytest.fixture
def cluster(run):
    assert run("nodeadd", "node[1-4]", "groups=compute,all", "nodehm.mgt=ipmi").rc == 0
    assert run("nodech", "node4", "nodehm.mgt=xen").rc == 0
    return run


def test_set_and_show(cluster):
    run = cluster
    assert run("nodech", "node1,node2", "nodetype.os=rhels9", "nodetype.arch=x86_64").rc == 0
    assert run("nodels", "node[1-3]", "nodetype.os").out == [
        "node1: rhels9", "node2: rhels9", "node3: "]


def test_append_prepends_without_duplicates_like_xcat(cluster):
    run = cluster
    assert run("nodech", "node1", "groups,=rack1").rc == 0
    assert run("nodels", "node1", "groups").out == ["node1: rack1,compute,all"]
    assert run("nodech", "node1", "groups,=compute").rc == 0
    assert run("nodels", "node1", "groups").out == ["node1: rack1,compute,all"]


def test_remove_from_list(cluster):
    run = cluster
    assert run("nodech", "node2", "groups^=compute").rc == 0
    assert run("nodels", "node2", "groups").out == ["node2: all"]
    assert run("nodels", "compute").out == ["node1", "node3", "node4"]


def test_at_assignment_allows_a_leading_equals(cluster):
    run = cluster
    assert run("nodech", "node1", "nodetype.profile=@=odd").rc == 0
    assert run("nodels", "node1", "nodetype.profile").out == ["node1: =odd"]


def test_selection_limits_the_nodes_changed(cluster):
    run = cluster
    assert run("nodech", "all", "nodehm.mgt==ipmi", "nodehm.power=ipmi").rc == 0
    assert run("nodels", "all", "nodehm.power").out == [
        "node1: ipmi", "node2: ipmi", "node3: ipmi", "node4: "]
    assert run("nodech", "all", "nodehm.mgt=~/^x/", "nodehm.cons=kvm").rc == 0
    assert run("nodels", "all", "nodehm.cons==kvm").out == ["node4"]


def test_blank_overrides_group_value(run):
    assert run("nodeadd", "n[1-2]", "groups=compute").rc == 0
    assert run("tabch", "node=compute", "nodehm.mgt=ipmi").rc == 0
    assert run("nodels", "n1", "nodehm.mgt").out == ["n1: ipmi"]
    assert run("nodech", "n1", "nodehm.mgt=").rc == 0
    assert run("nodels", "n[1-2]", "nodehm.mgt").out == ["n1: ", "n2: ipmi"]


def test_delete_rows_of_a_table(cluster):
    run = cluster
    assert run("nodech", "-d", "node1", "nodehm").rc == 0
    assert run("nodels", "node[1-2]", "nodehm.mgt").out == ["node1: ", "node2: ipmi"]
    assert run("nodels").out == ["node1", "node2", "node3", "node4"]


def test_delete_mode_rejects_columns(cluster):
    r = cluster("nodech", "-d", "node1", "nodehm.mgt")
    assert r.rc == 1 and "nodehm.mgt" in r.err[0]


def test_bad_column_changes_nothing(cluster):
    run = cluster
    r = run("nodech", "node1", "nodetype.os=rhels9", "nodehm.nosuch=1")
    assert r.rc == 1 and r.err == ["Error: Unknown column 'nosuch' in table 'nodehm'"]
    assert run("nodels", "node1", "nodetype.os").out == ["node1: "]


def test_unknown_nodes_fail_the_command(cluster):
    run = cluster
    r = run("nodech", "node1,ghost,phantom", "nodetype.os=rhels9")
    assert r.rc == 1
    assert r.err == ["Error: Invalid nodes and/or groups in noderange: ghost,phantom"]
    assert run("nodels", "node1", "nodetype.os").out == ["node1: "]


def test_usage_and_help(cluster):
    r = cluster("nodech", "node1")
    assert r.rc == 1 and any("Usage" in line for line in r.err)
    r = cluster("nodech", "-h")
    assert r.rc == 0 and r.out[0].startswith("Usage: nodech")
