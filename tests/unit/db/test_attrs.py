"""NodeAttrs against a real store: own row, then groups in order, regex values per node."""

import pytest

from xcatpy.db.attrs import NodeAttrs, split_list
from xcatpy.errors import XcatError


def put(store, table, *rows):
    store.begin()
    store.upsert_rows(table, list(rows))
    store.commit()


@pytest.fixture
def attrs(store):
    put(store, "nodelist",
        {"node": "node1", "groups": "compute,rack1,all"},
        {"node": "node2", "groups": "rack1, compute ,all"},
        {"node": "node10", "groups": "compute,all"},
        {"node": "mgmt-sw", "groups": "switch"})
    return NodeAttrs(store)


# -- own row, then groups -------------------------------------------------------------------


def test_node_row_wins_over_its_groups(store, attrs):
    put(store, "nodehm", {"node": "compute", "mgt": "ipmi"}, {"node": "node1", "mgt": "kvm"})
    assert attrs.lookup("node1", "nodehm", "mgt") == "kvm"
    assert attrs.lookup("node10", "nodehm", "mgt") == "ipmi"


def test_groups_are_tried_in_nodelist_order(store, attrs):
    put(store, "nodehm", {"node": "rack1", "mgt": "kvm"}, {"node": "compute", "mgt": "ipmi"})
    assert attrs.lookup("node1", "nodehm", "mgt") == "ipmi"    # compute,rack1
    assert attrs.lookup("node2", "nodehm", "mgt") == "kvm"     # rack1,compute


def test_first_group_with_a_non_empty_value_wins(store, attrs):
    put(store, "nodehm",
        {"node": "compute", "mgt": "", "serialspeed": "115200"},
        {"node": "rack1", "mgt": "kvm", "serialspeed": "9600"},
        {"node": "all", "mgt": "ipmi", "power": "ipmi"})
    assert attrs.lookup("node1", "nodehm", "mgt") == "kvm"
    assert attrs.lookup("node1", "nodehm", "serialspeed") == "115200"
    assert attrs.lookup("node1", "nodehm", "power") == "ipmi"
    assert attrs.lookup("node1", "nodehm", "cons") is None


def test_empty_column_in_node_row_falls_back_to_groups(store, attrs):
    put(store, "nodehm", {"node": "node1", "mgt": "", "cons": "ipmi"},
        {"node": "compute", "mgt": "ipmi"})
    assert attrs.lookup_with_source("node1", "nodehm", "mgt") == ("ipmi", "compute")
    assert attrs.lookup_with_source("node1", "nodehm", "cons") == ("ipmi", None)


def test_lookup_with_source_reports_the_group(store, attrs):
    put(store, "nodehm", {"node": "rack1", "mgt": "kvm"}, {"node": "node2", "cons": "kvm"})
    assert attrs.lookup_with_source("node1", "nodehm", "mgt") == ("kvm", "rack1")
    assert attrs.lookup_with_source("node2", "nodehm", "cons") == ("kvm", None)
    assert attrs.lookup_with_source("node10", "nodehm", "mgt") == (None, None)


def test_node_without_nodelist_row_reads_only_its_own_row(store, attrs):
    put(store, "nodehm", {"node": "ghost", "mgt": "ipmi"}, {"node": "compute", "cons": "ipmi"})
    assert attrs.groups_of("ghost") == []
    assert attrs.lookup("ghost", "nodehm", "mgt") == "ipmi"
    assert attrs.lookup("ghost", "nodehm", "cons") is None


# -- regular-expression values ------------------------------------------------------------


def test_regex_on_group_row_is_evaluated_per_node(store, attrs):
    put(store, "hosts", {"node": "compute", "ip": r"|node(\d+)|10.0.0.($1+0)|"})
    assert attrs.lookup("node1", "hosts", "ip") == "10.0.0.1"
    assert attrs.lookup("node2", "hosts", "ip") == "10.0.0.2"
    assert attrs.lookup_with_source("node10", "hosts", "ip") == ("10.0.0.10", "compute")


def test_regex_forms_through_attribute_names(store, attrs):
    put(store, "ipmi", {"node": "compute", "bmc": r"/\z/-bmc/"})
    put(store, "vm", {"node": "all", "host": "|hyp($1/10)|"})
    assert attrs.value("node2", "bmc") == "node2-bmc"
    assert attrs.value("node10", "vmhost") == "hyp1"
    assert attrs.value("node2", "vmhost") == "hyp0"


def test_regex_that_does_not_match_gives_node_name(store, attrs):
    put(store, "hosts", {"node": "switch", "ip": r"|node(\d+)|10.0.0.($1+0)|"})
    assert attrs.lookup("mgmt-sw", "hosts", "ip") == "mgmt-sw"


def test_regex_on_node_row_and_blank_result_is_unset(store, attrs):
    # Table.pm picks the raw value first and substitutes after: a rule on the node's own row
    # that comes out blank leaves the attribute unset, the groups are not asked.
    put(store, "hosts", {"node": "node1", "hostnames": "/node1//"},
        {"node": "compute", "hostnames": "c-node"}, {"node": "node2", "ip": "|10.1.0.($1)|"})
    assert attrs.lookup_with_source("node1", "hosts", "hostnames") == (None, None)
    assert attrs.lookup("node2", "hosts", "ip") == "10.1.0.2"


def test_blank_override_on_node_row_stops_inheritance(store, attrs):
    put(store, "nodehm", {"node": "compute", "mgt": "ipmi"}, {"node": "node1", "mgt": "|^.*$||"})
    assert attrs.lookup_with_source("node1", "nodehm", "mgt") == (None, None)
    assert attrs.lookup("node2", "nodehm", "mgt") == "ipmi"


def test_broken_regex_value_names_value_and_node(store, attrs):
    put(store, "hosts", {"node": "compute", "ip": "|(..|x|"})
    with pytest.raises(XcatError, match=r"Invalid regular expression value '\|\(\.\.\|x\|' "
                                        r"for node1: "):
        attrs.lookup("node1", "hosts", "ip")


def test_nodelist_values_are_not_inherited(store, attrs):
    put(store, "nodelist", {"node": "compute", "status": "booted"})
    assert attrs.lookup("node1", "nodelist", "status") is None
    assert attrs.lookup("node1", "nodelist", "groups") == "compute,rack1,all"


# -- disabled rows ------------------------------------------------------------------------


@pytest.mark.parametrize("disable", ["1", "yes"])
def test_disabled_rows_are_ignored(store, attrs, disable):
    put(store, "nodehm",
        {"node": "node1", "mgt": "kvm", "disable": disable},
        {"node": "compute", "mgt": "ipmi", "disable": disable},
        {"node": "rack1", "mgt": "xen"})
    assert attrs.lookup_with_source("node1", "nodehm", "mgt") == ("xen", "rack1")


@pytest.mark.parametrize("disable", ["0", "no", ""])
def test_rows_with_enabling_disable_values_count(store, attrs, disable):
    put(store, "nodehm", {"node": "node1", "mgt": "kvm", "disable": disable})
    assert attrs.lookup("node1", "nodehm", "mgt") == "kvm"


def test_disabled_nodelist_row_is_not_a_node(store, attrs):
    put(store, "nodelist", {"node": "node2", "disable": "1"})
    attrs.invalidate("nodelist")
    assert not attrs.is_node("node2")
    assert "node2" not in attrs.node_names(include_hidden=True)
    assert attrs.groups_of("node2") == []


# -- value() by column and by object attribute ---------------------------------------------


def test_value_by_table_column_and_by_attribute_name(store, attrs):
    put(store, "nodehm", {"node": "compute", "mgt": "kvm"})
    put(store, "vm", {"node": "node1", "host": "hyp1", "memory": "4096"})
    assert attrs.value("node1", "nodehm.mgt") == "kvm"
    assert attrs.value("node1", "mgt") == "kvm"
    assert attrs.value("node1", "vm.host") == "hyp1"
    assert attrs.value("node1", "vmhost") == "hyp1"
    assert attrs.value("node1", "vmmemory") == "4096"
    assert attrs.value("node1", "groups") == "compute,rack1,all"
    assert attrs.value("node1", "nodelist.groups") == "compute,rack1,all"
    assert attrs.value("node1", "node") == "node1"
    assert attrs.value("node2", "vmhost") is None


@pytest.mark.parametrize("attr, message", [
    ("nosuch", "Unknown node attribute 'nosuch'"),
    ("nosuch.mgt", "Unknown table 'nosuch'"),
    ("nodehm.nosuch", "Unknown column 'nosuch' in table 'nodehm'"),
])
def test_value_of_unknown_attribute(attrs, attr, message):
    with pytest.raises(XcatError, match=message):
        attrs.value("node1", attr)


# -- node names and groups ------------------------------------------------------------------


def test_node_names_in_natural_order(attrs):
    assert attrs.node_names() == ["mgmt-sw", "node1", "node2", "node10"]


@pytest.mark.parametrize("hidden", ["1", "yes"])
def test_hidden_nodes_only_when_asked(store, attrs, hidden):
    put(store, "nodelist", {"node": "fsp1", "groups": "fsp", "hidden": hidden},
        {"node": "node3", "groups": "compute", "hidden": "0"})
    attrs.invalidate("nodelist")
    assert "fsp1" not in attrs.node_names()
    assert "node3" in attrs.node_names()
    assert attrs.node_names(include_hidden=True) == [
        "fsp1", "mgmt-sw", "node1", "node2", "node3", "node10"]
    assert attrs.is_node("fsp1")


def test_groups_of_and_static_groups(attrs):
    assert attrs.groups_of("node2") == ["rack1", "compute", "all"]
    groups = attrs.static_groups()
    assert groups["compute"] == ["node1", "node2", "node10"]
    assert groups["rack1"] == ["node1", "node2"]
    assert groups["switch"] == ["mgmt-sw"]


def test_split_list():
    assert split_list(" a, ,b,,c ") == ["a", "b", "c"]
    assert split_list(None) == []


# -- caching ----------------------------------------------------------------------------------


def test_tables_are_read_once_until_invalidated(store, attrs):
    put(store, "nodehm", {"node": "compute", "mgt": "ipmi"})
    assert attrs.lookup("node1", "nodehm", "mgt") == "ipmi"
    put(store, "nodehm", {"node": "compute", "mgt": "kvm"})
    assert attrs.lookup("node1", "nodehm", "mgt") == "ipmi"
    attrs.invalidate("nodehm")
    assert attrs.lookup("node1", "nodehm", "mgt") == "kvm"


def test_invalidate_nodelist_rereads_groups(store, attrs):
    assert attrs.groups_of("node10") == ["compute", "all"]
    put(store, "nodelist", {"node": "node10", "groups": "rack2"})
    attrs.invalidate("nodelist")
    assert attrs.groups_of("node10") == ["rack2"]
    put(store, "nodelist", {"node": "node10", "groups": "rack3"})
    attrs.invalidate()
    assert attrs.groups_of("node10") == ["rack3"]
