"""The object view: xCAT's object vocabulary, reading objects and writing them."""

import pytest

from xcatpy.db.attrs import NodeAttrs
from xcatpy.db.nodeops import BLANK_OVERRIDE
from xcatpy.db.objdefs import NODE_ATTRS, TYPES, node_attr, obj_type, obj_types
from xcatpy.db.objects import ObjectView, where_selectors, with_xcatdefaults
from xcatpy.db.objwrite import MINUS, PLUS, ObjectWriter
from xcatpy.db.schema import TABLES
from xcatpy.errors import XcatError

# -- the vocabulary (Schema.pm's defspec) ------------------------------------------------------


def test_every_attribute_maps_to_a_real_column():
    for otype in TYPES.values():
        for spec in otype.attrs.values():
            if spec.table is not None:
                assert TABLES[spec.table].has_column(spec.column), (otype.name, spec)


@pytest.mark.parametrize("name, column", [
    ("groups", "nodelist.groups"), ("usercomment", "nodelist.comments"),
    ("mgt", "nodehm.mgt"), ("cons", "nodehm.cons"), ("os", "nodetype.os"),
    ("provmethod", "nodetype.provmethod"), ("xcatmaster", "noderes.xcatmaster"),
    ("supportproxydhcp", "noderes.proxydhcp"), ("installnic", "noderes.installnic"),
    ("mac", "mac.mac"), ("interface", "mac.interface"), ("ip", "hosts.ip"),
    ("kcmdline", "bootparams.kcmdline"), ("currstate", "chain.currstate"),
    ("postbootscripts", "postscripts.postbootscripts"), ("bmc", "ipmi.bmc"),
    ("bmcusername", "ipmi.username"), ("bmcpassword", "ipmi.password"),
    ("vmhost", "vm.host"), ("vmstorage", "vm.storage"), ("vmnicnicmodel", "vm.nicmodel"),
    ("vmothersetting", "vm.othersettings"), ("vmuuid", "vm.uuid"),
    ("vmmaxmem", "vm.maxmem"), ("vmautostart", "vm.autostart"),
    ("hosttype", "hypervisor.type"), ("hostmemory", "hypervisor.memory"),
    ("hostdom0mem", "hypervisor.dom0mem"), ("setupdhcp", "servicenode.dhcpserver"),
])
def test_node_attribute_names_are_xcats(name, column):
    spec = node_attr(name)
    assert f"{spec.table}.{spec.column}" == column
    assert NODE_ATTRS[name] is spec


def test_group_carries_node_attributes_but_not_nodelist_ones():
    group = TYPES["group"].attrs
    assert group["mgt"].table == "nodehm" and group["vmhost"].column == "host"
    assert group["usercomment"].table == "nodegroup"
    for nodelist_only in ("groups", "status", "hidden", "node"):
        assert nodelist_only not in group
    assert {"grouptype", "members", "membergroups", "wherevals"} <= group.keys()


def test_other_types_and_their_keys():
    assert obj_type("network").key == "netname"
    assert obj_type("network").attrs["mask"].table == "networks"
    assert obj_type("osimage").attrs["template"].table == "linuximage"
    assert obj_type("osimage").attrs["template"].only_if == ("imagetype", ("linux",))
    assert obj_type("policy").key == "priority"
    assert obj_type("site").free_form
    assert [t.name for t in obj_types("node,group")] == ["node", "group"]


def test_unknown_type_and_attribute_are_named():
    with pytest.raises(XcatError, match="Type 'route' is not a valid xCAT object type"):
        obj_type("route")
    with pytest.raises(XcatError, match="'vmfoo' is not a valid attribute name for an "
                       "object type of 'node'"):
        TYPES["node"].attr("vmfoo")


# -- reading --------------------------------------------------------------------------------


@pytest.fixture
def view(store):
    store.upsert_rows("nodelist", [{"node": f"n{i}", "groups": "compute,all"}
                                   for i in (1, 2, 10)])
    store.upsert_rows("nodelist", [{"node": "fsp1", "groups": "all", "hidden": "1"}])
    store.upsert_rows("nodehm", [{"node": "compute", "mgt": "ipmi"},
                                 {"node": "n2", "mgt": "kvm"}])
    store.upsert_rows("ipmi", [{"node": "compute", "bmc": "|n(\\d+)|bmc($1)|"}])
    store.upsert_rows("hosts", [{"node": "all", "ip": "|n(\\d+)|10.0.0.($1)|"}])
    store.upsert_rows("nodegroup", [{"groupname": "dyn", "grouptype": "dynamic",
                                     "members": "dynamic", "wherevals": "mgt==ipmi"}])
    return ObjectView(NodeAttrs(store))


def test_names_in_natural_order_and_hidden_on_request(view):
    node = TYPES["node"]
    assert view.names(node, include_hidden=False) == ["n1", "n2", "n10"]
    assert view.names(node) == ["fsp1", "n1", "n2", "n10"]
    assert view.names(TYPES["group"]) == ["all", "compute", "dyn"]


def test_node_values_are_resolved_with_inheritance_and_regexes(view):
    got = view.read(TYPES["node"], ["n1", "n2", "nosuch"])
    assert got == {
        "n1": {"groups": "compute,all", "mgt": "ipmi", "bmc": "bmc1", "ip": "10.0.0.1"},
        # n2's own mgt wins, and bmc only exists for ipmi-managed nodes (only_if).
        "n2": {"groups": "compute,all", "mgt": "kvm", "ip": "10.0.0.2"},
    }
    assert view.read(TYPES["node"], ["n10"], wanted={"bmc"}) == {"n10": {"bmc": "bmc10"}}


def test_blank_override_reads_as_unset(view, store):
    store.upsert_rows("hosts", [{"node": "n1", "ip": BLANK_OVERRIDE}])
    view.attrs.invalidate()
    assert "ip" not in view.read(TYPES["node"], ["n1"])["n1"]


def test_group_values_are_its_own_rows_unevaluated(view):
    got = view.read(TYPES["group"], ["compute", "all", "dyn"])
    assert got["compute"] == {"grouptype": "static", "mgt": "ipmi",
                              "bmc": "|n(\\d+)|bmc($1)|", "members": "n1,n2,n10"}
    assert got["all"]["members"] == "fsp1,n1,n2,n10"
    # A dynamic group's members are the nodes its wherevals select.
    assert got["dyn"] == {"grouptype": "dynamic", "wherevals": "mgt==ipmi",
                          "members": "n1,n10"}


def test_xcatdefaults_scripts_come_first(view):
    defaults = view.xcatdefaults()
    assert defaults == {"postscripts": "syslog,remoteshell,syncfiles",
                        "postbootscripts": "otherpkgs"}
    assert with_xcatdefaults({"postscripts": "mine"}, defaults) == {
        "postscripts": "syslog,remoteshell,syncfiles,mine", "postbootscripts": "otherpkgs"}


def test_wherevals_accept_a_lone_equals_and_reject_garbage():
    assert [str(s) for s in where_selectors("mgt=ipmi::os=~^rh")] == ["mgt==ipmi",
                                                                      "os=~^rh"]
    with pytest.raises(XcatError):
        where_selectors("mgt")


# -- writing --------------------------------------------------------------------------------


@pytest.fixture
def writer(view):
    warnings = []
    w = ObjectWriter(view, warnings.append)
    w.warnings = warnings
    return w


def test_plus_appends_to_the_resolved_value_without_duplicates(writer, view):
    writer.write_nodes({n: {"groups": "rack1,all"} for n in ("n1", "n2")}, PLUS)
    assert view.attrs.groups_of("n1") == ["compute", "all", "rack1"]
    writer.write_nodes({"n1": {"ip": "10.9.9.9"}}, PLUS)
    assert view.node_value("n1", "ip") == "10.0.0.1,10.9.9.9"


def test_minus_removes_items_and_warns_about_missing_ones(writer, view):
    writer.write_nodes({"n1": {"groups": "compute,rack9"}}, MINUS)
    writer.flush_warnings()
    assert view.attrs.groups_of("n1") == ["all"]
    assert writer.warnings == ["Warning: rack9 is not in the attribute of 'groups' for "
                               "the 'n1' definition."]


def test_only_if_is_enforced_on_write(writer):
    with pytest.raises(XcatError, match=r"Cannot set the attr='bmc' attribute unless "
                       r"'mgt=ipmi"):
        writer.write_nodes({"n2": {"bmc": "10.1.1.1"}})
    writer.write_nodes({"n2": {"bmc": "10.1.1.1", "mgt": "ipmi"}})


def test_membership_goes_to_the_end_of_groups(writer, view):
    writer.set_membership("rack1", ["n1", "n10"], [])
    writer.set_membership("compute", [], ["n10"])
    assert view.attrs.groups_of("n1") == ["compute", "all", "rack1"]
    assert view.attrs.groups_of("n10") == ["all", "rack1"]


def test_network_needs_net_and_mask_and_a_free_pair(writer):
    net = TYPES["network"]
    with pytest.raises(XcatError, match="The required attributes are: net mask"):
        writer.write_row_object(net, "a", {"net": "10.0.0.0"})
    writer.write_row_object(net, "a", {"net": "10.0.0.0", "mask": "255.0.0.0"})
    with pytest.raises(XcatError, match="called 'a' already exists that contains the same "
                       "net and mask"):
        writer.write_row_object(net, "b", {"net": "10.0.0.0", "mask": "255.0.0.0"})
    # Changing net/mask moves the row (they are the table's keys).
    writer.write_row_object(net, "a", {"net": "10.1.0.0"})
    assert writer.view.read(net, ["a"])["a"] == {"net": "10.1.0.0", "mask": "255.0.0.0"}
    assert len(writer.store.rows("networks")) == 1


def test_rename_moves_every_row(writer, view):
    writer.write_row_object(TYPES["osimage"], "img", {"imagetype": "linux",
                                                      "template": "/t.tmpl"})
    writer.rename(TYPES["osimage"], "img", "img2")
    assert view.read(TYPES["osimage"], ["img", "img2"]) == {
        "img2": {"imagetype": "linux", "template": "/t.tmpl"}}
    with pytest.raises(XcatError, match="named 'n2' already exists"):
        writer.rename(TYPES["node"], "n1", "n2")
    with pytest.raises(XcatError, match="cannot be renamed"):
        writer.rename(TYPES["group"], "compute", "c2")
