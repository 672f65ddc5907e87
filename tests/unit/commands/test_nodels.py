"""nodels: output shapes, selections, inheritance blame, hidden nodes."""

import pytest


@pytest.fixture
def cluster(run, store):
    assert run("nodeadd", "node[1-10]", "groups=compute,all").rc == 0
    assert run("nodeadd", "sw1", "groups=switch,all", "nodelist.hidden=1").rc == 0
    store.begin()
    store.upsert_rows("nodehm", [{"node": "compute", "mgt": "ipmi", "power": "ipmi"}])
    store.upsert_rows("hosts", [{"node": "compute", "ip": "|node(\\d+)|10.0.0.($1+100)|"}])
    store.commit()
    assert run("nodech", "node10", "nodehm.mgt=xen").rc == 0
    return run


def test_all_nodes_in_natural_order_without_hidden(cluster):
    out = cluster("nodels").out
    assert out == [f"node{i}" for i in range(1, 11)]


def test_hidden_nodes_with_S(cluster):
    assert cluster("nodels", "-S").out[-1] == "sw1"
    assert "sw1" in cluster("nodels", "all", "-S").out


def test_one_attribute_is_terse(cluster):
    assert cluster("nodels", "node[1-2]", "nodehm.mgt").out == ["node1: ipmi", "node2: ipmi"]


def test_shortname_and_regex_value(cluster):
    assert cluster("nodels", "node2", "mgt").out == ["node2: ipmi"]
    assert cluster("nodels", "node2", "hosts.ip").out == ["node2: 10.0.0.102"]


def test_several_attributes_are_labelled(cluster):
    out = cluster("nodels", "node10", "nodehm.mgt", "groups").out
    assert out == ["node10: nodehm.mgt: xen", "node10: groups: compute,all"]


def test_H_labels_a_single_attribute(cluster):
    assert cluster("nodels", "-H", "node1", "nodehm.power").out == [
        "node1: nodehm.power: ipmi"]


def test_whole_table(cluster):
    out = cluster("nodels", "node1", "nodehm").out
    assert "node1: nodehm.node: node1" in out
    assert "node1: nodehm.mgt: ipmi" in out
    assert "node1: nodehm.cons: " in out
    from xcatpy.db.schema import TABLES

    assert len(out) == len(TABLES["nodehm"].colnames)


def test_blame_shows_inheritance(cluster):
    out = cluster("nodels", "node9,node10", "nodehm.mgt", "-b").out
    assert out == ["node9: ipmi (inherited from group compute)", "node10: xen"]


def test_selection_filters_and_is_not_shown(cluster):
    assert cluster("nodels", "all", "nodehm.mgt==xen").out == ["node10"]
    assert cluster("nodels", "all", "nodehm.mgt!=ipmi", "groups").out == [
        "node10: groups: compute,all"]
    assert cluster("nodels", "compute", "hosts.ip=~\\.10[12]$").out == ["node1", "node2"]
    assert len(cluster("nodels", "compute", "nodehm.mgt!~xen").out) == 9


def test_unknown_attribute_is_an_error(cluster):
    r = cluster("nodels", "node1", "nodehm.bogus")
    assert r.rc == 1 and r.err == ["Error: Unknown column 'bogus' in table 'nodehm'"]
    r = cluster("nodels", "node1", "bogus")
    assert r.rc == 1 and r.err == ["Error: bogus not a valid table.column description"]


def test_bad_regex_selection_is_an_error(cluster):
    r = cluster("nodels", "all", "nodehm.mgt=~(")
    assert r.rc == 1 and "nodehm.mgt=~(" in r.err[0]


def test_unknown_nodes(cluster):
    r = cluster("nodels", "node1,nodeX")
    assert r.rc == 1 and r.err == ["Error: Invalid nodes and/or groups in noderange: nodeX"]
    assert r.out == []
