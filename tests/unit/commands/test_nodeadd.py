"""nodeadd: ranges, groups, attributes, and refusals that leave the database unchanged."""


def test_adds_a_range_with_groups_and_attributes(run):
    r = run("nodeadd", "node[01-03]", "groups=compute,all", "nodehm.mgt=ipmi",
            "nodetype.arch=x86_64")
    assert (r.rc, r.err) == (0, [])
    assert run("nodels").out == ["node01", "node02", "node03"]
    assert run("nodels", "node02", "nodehm.mgt").out == ["node02: ipmi"]
    assert run("nodels", "node03", "groups").out == ["node03: compute,all"]


def test_xen_guest_flow_from_the_howto(run):
    r = run("nodeadd", "xen1", "groups=compute", "vm.host=node01", "vm.storage=/vms/vm_disk",
            "nodehm.mgt=xen", "nodehm.power=xen", "vm.memory=1024")
    assert r.rc == 0
    out = run("nodels", "xen1", "vm.host", "vm.storage", "nodehm.power").out
    assert out == ["xen1: vm.host: node01", "xen1: vm.storage: /vms/vm_disk",
                   "xen1: nodehm.power: xen"]


def test_missing_groups_is_refused(run):
    r = run("nodeadd", "node1", "nodehm.mgt=ipmi")
    assert r.rc == 1
    assert len(r.err) == 1 and "groups" in r.err[0] and r.err[0].startswith("Error:")
    assert run("nodels").out == []


def test_unknown_table_and_column_are_named(run):
    r = run("nodeadd", "node1", "groups=all", "nodehx.mgt=ipmi")
    assert r.rc == 1 and r.err == ["Error: Unknown table 'nodehx'"]
    r = run("nodeadd", "node1", "groups=all", "nodehm.mgx=ipmi")
    assert r.rc == 1 and r.err == ["Error: Unknown column 'mgx' in table 'nodehm'"]
    assert run("nodels").out == []


def test_malformed_assignment(run):
    r = run("nodeadd", "node1", "groups=all", "nodehm.mgt")
    assert r.rc == 1 and "nodehm.mgt" in r.err[0]
    assert run("nodels").out == []


def test_value_that_breaks_a_regex_is_refused(run):
    r = run("nodeadd", "node1", "groups=all", "hosts.ip=|node(\\d+|10.0.0.($1)|")
    assert r.rc == 1 and len(r.err) == 1
    assert run("nodels").out == []


def test_reversed_range_is_refused(run):
    r = run("nodeadd", "node[10-01]", "groups=all")
    assert r.rc == 1 and r.err[0].startswith("Error:")
    assert run("nodels").out == []


def test_capital_letters_warn_but_add(run):
    r = run("nodeadd", "Node1", "groups=all")
    assert r.rc == 0
    assert r.err and r.err[0].startswith("Warning:") and "Node1" in r.err[0]
    assert run("nodels").out == ["Node1"]


def test_static_add_to_dynamic_group_is_refused(run, store):
    store.begin()
    store.upsert_rows("nodegroup", [{"groupname": "ipmis", "grouptype": "dynamic",
                                     "wherevals": "mgt==ipmi"}])
    store.commit()
    r = run("nodeadd", "node1", "groups=ipmis,all")
    assert r.rc == 1 and "ipmis" in r.err[0]
    assert run("nodels").out == []


def test_existing_node_is_updated_not_duplicated(run):
    assert run("nodeadd", "node1", "groups=all").rc == 0
    assert run("nodeadd", "node1", "groups=all,compute", "nodehm.mgt=ipmi").rc == 0
    assert run("nodels").out == ["node1"]
    assert run("nodels", "node1", "groups", "mgt").out == [
        "node1: groups: all,compute", "node1: mgt: ipmi"]
