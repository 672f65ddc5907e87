"""mkdef: creating every type, stanza input, groups, and all-or-nothing on bad input."""

import pytest

STANZAS = """# <xCAT data object stanza file>

# two nodes, a group and a network
default-node:
    groups=all,compute

node1:
    objtype=node
    mgt=ipmi
    ip=10.0.0.1

node2:
    objtype=node
    groups=all
    mgt=kvm
    vmhost=host1

compute:
    objtype=group
    members=node1
    cons=ipmi

clusternet:
    objtype=network
    net=10.0.0.0
    mask=255.255.0.0
    gateway=10.0.0.254
"""


def _tables(run):
    """Every node-keyed table's dump, to show nothing changed."""
    return {t: run("tabdump", t).out for t in
            ("nodelist", "nodehm", "hosts", "vm", "nodegroup", "networks", "site")}


def test_create_nodes_from_a_range(run):
    r = run("mkdef", "-t", "node", "node[1-3]", "groups=all,compute", "mgt=ipmi")
    assert (r.rc, r.out, r.err) == (0, ["3 object definitions have been created or "
                                        "modified."], [])
    assert run("lsdef", "-s", "compute").out == ["node1  (node)", "node2  (node)",
                                                "node3  (node)"]
    assert run("nodels", "node2", "nodehm.mgt").out == ["node2: ipmi"]


def test_o_option_and_default_type(run):
    assert run("mkdef", "-o", "n1", "groups=all", "vmhost=h1").rc == 0
    assert run("lsdef", "n1", "-i", "vmhost").out == ["Object name: n1", "    vmhost=h1"]


def test_groups_are_required_and_nothing_is_written(run):
    before = _tables(run)
    r = run("mkdef", "node[1-2]", "mgt=ipmi")
    assert r.rc == 1
    assert r.err == ["Error: Attribute 'groups' is not specified for node 'node1,node2'; "
                     "mkdef needs groups=... for a node."]
    assert _tables(run) == before


def test_existing_object_needs_force(run):
    assert run("mkdef", "node1", "groups=all", "mgt=ipmi", "vmhost=h1").rc == 0
    r = run("mkdef", "node1", "groups=all")
    assert r.rc == 1
    assert r.err == ["Error: A definition for 'node1' already exists. To replace it use the "
                     "force '-f' option; to change it use the 'chdef' command."]
    assert run("mkdef", "-f", "node1", "groups=rack1", "mgt=kvm").rc == 0
    # -f removed the old definition: vmhost is gone, not merged.
    assert run("lsdef", "-z", "node1").out[2:] == ["node1:", "    objtype=node",
                                                   "    groups=rack1", "    mgt=kvm"]


def test_unknown_attribute_malformed_pair_and_type(run):
    r = run("mkdef", "node1", "groups=all", "vmfoo=1")
    assert (r.rc, r.err) == (1, ["Error: 'vmfoo' is not a valid attribute name for an "
                                 "object type of 'node'."])
    r = run("mkdef", "node1", "groups=all", "=1")
    assert (r.rc, r.err) == (1, ["Error: Incorrect 'attr=val' pair - =1."])
    r = run("mkdef", "-t", "rack", "-o", "r1")
    assert (r.rc, r.err) == (1, ["Error: Type 'rack' is not a valid xCAT object type."])
    r = run("mkdef", "groups=all")
    assert r.rc == 1 and r.err[0] == "Error: No object names were provided."
    r = run("mkdef", "-t", "node,group", "-o", "x", "groups=all")
    assert (r.rc, r.err[0]) == (1, "Error: Cannot combine multiple types with 'att=val' "
                                   "pairs on the command line.")
    r = run("mkdef", "node1", "node2", "groups=all")
    assert r.rc == 1 and r.err[0] == "Error: noderange can not contain spaces."
    assert run("lsdef").out == ["Could not find any object definitions to display."]


def test_a_value_that_breaks_a_regex_writes_nothing(run):
    r = run("mkdef", "node[1-2]", "groups=all", "ip=|node(\\d+|10.0.0.($1)|")
    assert r.rc == 1 and len(r.err) == 1
    assert r.err[0].startswith("Error: Invalid regular expression value '|node(\\d+|")
    assert run("lsdef").out == ["Could not find any object definitions to display."]


def test_plus_and_minus_are_not_for_mkdef(run):
    r = run("mkdef", "-p", "node1", "groups=all")
    assert r.rc == 1
    assert r.err[0] == "Error: The '-p' and '-m' options are not valid for the mkdef command."


def test_capital_letters_warn(run):
    r = run("mkdef", "Node1", "groups=all")
    assert r.rc == 0
    assert r.err == ["Warning: The node name 'Node1' contains capital letters which may not "
                     "be resolved correctly by the dns server."]


def test_static_group_members_get_the_group(run):
    assert run("mkdef", "node[1-3]", "groups=all").rc == 0
    r = run("mkdef", "-t", "group", "-o", "rack1", "members=node1,node3", "mgt=ipmi")
    assert r.rc == 0
    assert run("nodels", "node[1-3]", "nodelist.groups").out == [
        "node1: all,rack1", "node2: all", "node3: all,rack1"]
    # Members inherit the group's attributes.
    assert run("lsdef", "node3", "-i", "mgt").out == ["Object name: node3", "    mgt=ipmi"]
    assert run("tabdump", "nodegroup").out[1:] == ['"rack1","static","static",,,,']


def test_static_group_from_w(run):
    assert run("mkdef", "node[1-3]", "groups=all", "mgt=ipmi").rc == 0
    assert run("chdef", "node2", "mgt=kvm").rc == 0
    assert run("mkdef", "-t", "group", "-o", "ipmis", "-w", "mgt==ipmi").rc == 0
    assert run("lsdef", "-t", "group", "ipmis", "-i", "members,grouptype").out == [
        "Object name: ipmis", "    grouptype=static", "    members=node1,node3"]
    # Static: a later change of mgt does not change membership.
    assert run("chdef", "node1", "mgt=kvm").rc == 0
    assert run("nodels", "ipmis").out == ["node1", "node3"]


def test_group_members_must_exist(run):
    assert run("mkdef", "node1", "groups=all").rc == 0
    r = run("mkdef", "-t", "group", "-o", "g", "members=node1,ghost")
    assert (r.rc, r.err) == (1, ["Error: Invalid nodes and/or groups in noderange: ghost"])
    assert run("nodels", "node1", "groups").out == ["node1: all"]


def test_members_and_w_together_are_refused(run):
    r = run("mkdef", "-t", "group", "-o", "g", "members=a", "-w", "mgt==ipmi")
    assert r.rc == 1
    assert r.err == ["Error: Cannot use a list of members together with the '-w' option."]


def test_dynamic_group(run):
    assert run("mkdef", "node[1-3]", "groups=all", "mgt=ipmi").rc == 0
    assert run("chdef", "node2", "mgt=kvm", "os=rhels9").rc == 0
    assert run("mkdef", "-t", "group", "-o", "dg", "-d", "-w", "mgt==ipmi").rc == 0
    assert run("nodels", "dg").out == ["node1", "node3"]
    assert run("chdef", "node1", "mgt=xen").rc == 0
    assert run("nodels", "dg").out == ["node3"]
    assert run("tabdump", "nodegroup").out[1:] == ['"dg","dynamic","dynamic",,"mgt==ipmi",,']
    # grouptype=dynamic with wherevals as attributes does the same without -d.
    assert run("mkdef", "-t", "group", "-o", "rh", "grouptype=dynamic",
               "wherevals=os=~^rhels::mgt==kvm").rc == 0
    assert run("lsdef", "rh", "-s").out == ["node2  (node)"]


def test_dynamic_group_errors(run):
    r = run("mkdef", "-t", "group", "-o", "dg", "-d")
    assert r.rc == 1 and r.err == ["Error: The 'where' attributes and values were not "
                                   "provided for dynamic group 'dg'."]
    r = run("mkdef", "-t", "group", "-o", "dg", "-d", "-w", "mgt==ipmi", "cons=ipmi")
    assert r.rc == 1 and r.err == ["Error: Can not assign attributes to dynamic node group "
                                   "'dg'."]
    r = run("mkdef", "-t", "group", "-o", "dg", "-d", "-w", "bogus==1")
    assert r.rc == 1 and r.err == ["Error: Incorrect attribute 'bogus' in the selection "
                                   "string specified with -w flag."]
    assert run("lsdef", "-t", "group").out == ["Could not find any object definitions to "
                                               "display."]


def test_network_osimage_policy_site(run):
    assert run("mkdef", "-t", "network", "-o", "n1", "net=10.0.0.0", "mask=255.0.0.0").rc == 0
    r = run("mkdef", "-t", "network", "-o", "n2", "net=10.0.0.0", "mask=255.0.0.0")
    assert r.rc == 1 and r.err == [
        "Error: A network definition called 'n1' already exists that contains the same net "
        "and mask values. Cannot create a definition for 'n2'."]
    r = run("mkdef", "-t", "network", "-o", "n3", "gateway=1.1.1.1")
    assert r.rc == 1 and "The required attributes are: net mask" in r.err[0]
    r = run("mkdef", "-t", "osimage", "-o", "img", "template=/t")
    assert r.rc == 1 and r.err == ["Error: Cannot set the attr='template' attribute unless "
                                   "'imagetype=linux' (for 'img')."]
    assert run("mkdef", "-t", "osimage", "-o", "img", "imagetype=linux",
               "template=/t").rc == 0
    assert run("mkdef", "-t", "policy", "-o", "7.0", "name=admin1", "rule=allow").rc == 0
    assert run("tabdump", "-w", "priority==7.0", "policy").out[1:] == [
        '"7.0","admin1",,,,,,"allow",,']
    r = run("mkdef", "-t", "site", "domain=x")
    assert r.rc == 1 and "A definition for 'clustersite' already exists" in r.err[0]


def test_stanza_input_creates_every_object(run):
    r = run("mkdef", "-z", stdin=STANZAS)
    assert (r.rc, r.out) == (0, ["4 object definitions have been created or modified."])
    assert run("lsdef", "-z", "node1,node2").out == [
        "# <xCAT data object stanza file>", "",
        "node1:", "    objtype=node", "    cons=ipmi", "    groups=all,compute",
        "    ip=10.0.0.1", "    mgt=ipmi", "",
        "node2:", "    objtype=node", "    groups=all", "    mgt=kvm", "    vmhost=host1"]
    assert run("lsdef", "-t", "network", "-o", "clusternet", "-i", "gateway").out[1] == \
        "    gateway=10.0.0.254"


@pytest.mark.parametrize("text, message", [
    ("n1:\n objtype=node\n groups=all\n junk line\n",
     "Error: Stanza line 7: 'junk line' is neither an '<object name>:' header nor an "
     "'attr=value' line"),
    ("n1:\n objtype=node\n groups=all\n bogus=1\n",
     "Error: Stanza line 4 ('n1'): 'bogus' is not a valid attribute name for an object "
     "type of 'node'."),
    ("n1:\n objtype=bogus\n", "Error: Type 'bogus' is not a valid xCAT object type."),
    ("n1:\n groups=all\n", "Error: Stanza line 4: no objtype value was specified for 'n1'"),
    ("good:\n objtype=node\n", "Error: Stanza line 4: a second stanza for 'good' (the "
     "first is at line 1); only one stanza may exist for each object name"),
])
def test_malformed_stanzas_write_nothing(run, text, message):
    # A good stanza (three lines) first: nothing of it may land either.
    r = run("mkdef", "-z", stdin="good:\n objtype=node\n groups=all\n" + text)
    assert (r.rc, r.err) == (1, [message])
    assert run("lsdef").out == ["Could not find any object definitions to display."]


def test_stanza_from_a_real_xcat_skips_what_xcatpy_does_not_store(run):
    text = ("r1:\n objtype=route\n net=10.1.0.0\n"
            "n1:\n objtype=node\n groups=all\n serial=XYZ\n nicips.eth1=10.1.0.1\n"
            " mgt=ipmi\n")
    r = run("mkdef", "-z", stdin=text)
    assert r.rc == 0
    assert r.err == ["Warning: skipped the route objects 'r1': xcatpy has no route objects.",
                     "Warning: skipped attribute 'serial' of 'n1': xcatpy does not store it.",
                     "Warning: skipped attribute 'nicips.eth1' of 'n1': xcatpy does not "
                     "store it."]
    assert run("lsdef", "-z", "n1").out[2:] == ["n1:", "    objtype=node", "    groups=all",
                                                "    mgt=ipmi"]
    # On the command line the same attribute is an error.
    r = run("chdef", "n1", "serial=XYZ")
    assert r.rc == 1


def test_empty_stanza_input(run):
    r = run("mkdef", "-z", stdin="")
    assert (r.rc, r.err) == (1, ["Error: No stanza data was given on standard input (-z "
                                 "reads it there)."])


def test_z_excludes_names_type_and_attrs(run):
    r = run("mkdef", "-z", "node1", stdin=STANZAS)
    assert r.rc == 1 and r.err[0].startswith("Error: Cannot use '-z' with '-o' or a noderange.")
    r = run("mkdef", "-z", "-t", "node", stdin=STANZAS)
    assert r.rc == 1 and r.err[0] == "Error: Cannot combine '-t' and '-a', '-z', or '-x' " \
        "options."


def test_round_trip_through_an_emptied_database(run):
    assert run("mkdef", "-z", stdin=STANZAS).rc == 0
    assert run("chdef", "-t", "group", "compute", "ip=|node(\\d+)|10.1.0.($1)|",
               "postscripts=custom").rc == 0
    assert run("mkdef", "-t", "group", "-o", "kvms", "-d", "-w", "mgt==kvm").rc == 0
    assert run("mkdef", "-t", "osimage", "-o", "img", "imagetype=linux",
               "template=/t").rc == 0
    assert run("chdef", "node2", "hidden=1").rc == 0
    saved = run("lsdef", "-a", "-l", "-z", "-S")
    assert saved.rc == 0
    assert run("rmdef", "-a", "-f").rc == 0
    assert run("lsdef", "-a").out == ["Could not find any object definitions to display."]
    r = run("mkdef", "-z", stdin="\n".join(saved.out))
    assert r.rc == 0, r.err
    assert run("lsdef", "-a", "-l", "-z", "-S").out == saved.out
