"""chdef: replace, -p, -m, -n, -w, -z, creation of missing objects, groups."""


import pytest


@pytest.fixture
def cluster(run):
    assert run("mkdef", "node[1-4]", "groups=compute,all", "mgt=ipmi").rc == 0
    assert run("chdef", "-t", "group", "compute", "postbootscripts=pb1",
               "vmhost=host1").rc == 0
    return run


def test_replace_is_the_default(cluster):
    r = cluster("chdef", "node1,node2", "mgt=kvm", "vmmemory=2048")
    assert (r.rc, r.out) == (0, ["2 object definitions have been created or modified."])
    assert cluster("nodels", "node[1-3]", "nodehm.mgt", "vm.memory").out == [
        "node1: nodehm.mgt: kvm", "node1: vm.memory: 2048",
        "node2: nodehm.mgt: kvm", "node2: vm.memory: 2048",
        "node3: nodehm.mgt: ipmi", "node3: vm.memory: "]


def test_missing_node_is_created_in_group_all(cluster):
    r = cluster("chdef", "node9", "mgt=kvm")
    assert r.rc == 0
    assert r.out == ["1 object definitions have been created or modified.",
                     "New object definitions 'node9' have been created."]
    assert cluster("nodels", "node9", "groups").out == ["node9: all"]
    # A range may mix existing and new nodes; a group among them means its members.
    r = cluster("chdef", "compute,node[4-5]", "cons=ipmi")
    assert r.out[-1] == "New object definitions 'node5' have been created."
    assert cluster("nodels", "nodehm.cons==ipmi").out == ["node1", "node2", "node3",
                                                         "node4", "node5"]


def test_plus_appends_at_the_end_without_duplicates(cluster):
    assert cluster("chdef", "-p", "node1", "groups=rack1,compute").rc == 0
    assert cluster("nodels", "node1", "groups").out == ["node1: compute,all,rack1"]
    # -p starts from what the node inherits and writes the result into its own row.
    assert cluster("chdef", "-p", "node2", "postbootscripts=pb2").rc == 0
    assert cluster("lsdef", "-z", "node2", "-i", "postbootscripts").out[-1] == \
        "    postbootscripts=pb1,pb2"
    assert cluster("lsdef", "-z", "node3", "-i", "postbootscripts").out[-1] == \
        "    postbootscripts=pb1"


def test_minus_removes_and_warns(cluster):
    r = cluster("chdef", "-m", "node1,node2", "groups=compute,rack7")
    assert r.rc == 0
    assert r.err == ["Warning: rack7 is not in the attribute of 'groups' for the "
                     "'node1,node2' definition."]
    assert cluster("nodels", "compute").out == ["node3", "node4"]
    r = cluster("chdef", "-m", "ghost", "groups=all")
    assert r.rc == 1
    assert r.err == ["Error: The '-m' option is not valid since the 'ghost' definition does "
                     "not exist."]


def test_p_and_m_together_are_refused(cluster):
    r = cluster("chdef", "-p", "-m", "node1", "groups=x")
    assert r.rc == 1 and r.err[0] == "Error: Cannot combine the '-p' and '-m' options."


def test_blank_value_unsets_even_an_inherited_one(cluster):
    assert cluster("chdef", "node1", "vmhost=", "mgt=").rc == 0
    got = cluster("lsdef", "node1,node2", "-i", "vmhost,mgt", "-c").out
    assert got == ["node1: mgt=", "node1: vmhost=", "node2: mgt=ipmi",
                   "node2: vmhost=host1"]


def test_bad_input_changes_nothing(cluster):
    before = cluster("lsdef", "-l", "all").out
    for args, message in [
        (("node1", "mgt=kvm", "bogus=1"),
         "Error: 'bogus' is not a valid attribute name for an object type of 'node'."),
        (("node1", "mgt=kvm", "ip=|node(\\d+|x|"), None),
        (("-t", "nosuch", "-o", "x", "a=b"),
         "Error: Type 'nosuch' is not a valid xCAT object type."),
        (("mgt=kvm",), "Error: No object names were provided."),
        (("-f", "node1", "mgt=kvm"),
         "Error: The '-f' option is not valid for the chdef command."),
    ]:
        r = cluster("chdef", *args)
        assert r.rc == 1, args
        assert r.err[0] == message if message else r.err[0].startswith(
            "Error: Invalid regular expression value")
    assert cluster("lsdef", "-l", "all").out == before


def test_w_selects_the_nodes_to_change(cluster):
    assert cluster("chdef", "node2", "mgt=kvm").rc == 0
    assert cluster("chdef", "-w", "mgt==ipmi", "power=ipmi").rc == 0
    assert cluster("nodels", "all", "nodehm.power").out == [
        "node1: ipmi", "node2: ", "node3: ipmi", "node4: ipmi"]
    assert cluster("chdef", "node[1-2]", "-w", "mgt!=ipmi", "cons=kvm").rc == 0
    assert cluster("nodels", "nodehm.cons==kvm").out == ["node2"]


def test_rename_a_node_moves_every_row(cluster):
    assert cluster("chdef", "node1", "ip=10.0.0.1", "mac=aa:bb:cc:dd:ee:01").rc == 0
    r = cluster("chdef", "-t", "node", "-o", "node1", "-n", "node01")
    assert (r.rc, r.out) == (0, ["Changed the object name from node1 to node01."])
    assert cluster("lsdef", "-z", "node01", "-i", "ip,mac,groups").out[2:] == [
        "node01:", "    objtype=node", "    groups=compute,all", "    ip=10.0.0.1",
        "    mac=aa:bb:cc:dd:ee:01"]
    assert cluster("lsdef", "node1").rc == 1


def test_rename_errors(cluster):
    r = cluster("chdef", "node1", "-n", "node2")
    assert r.rc == 1 and r.err == ["Error: Cannot rename 'node1' to 'node2': an object of "
                                   "type 'node' named 'node2' already exists."]
    r = cluster("chdef", "ghost", "-n", "node9")
    assert r.rc == 1 and r.err == ["Error: Could not find an object named 'ghost' of type "
                                   "'node'."]
    r = cluster("chdef", "node1,node2", "-n", "x")
    assert r.rc == 1 and r.err[0] == "Error: The '-n' option (changing object name) can " \
        "only work on one object."
    r = cluster("chdef", "-p", "node1", "-n", "x")
    assert r.rc == 1 and r.err[0] == "Error: Cannot combine '-n' and '-d','-p','-m','-z'," \
        "'-w' options."
    r = cluster("chdef", "-t", "group", "compute", "-n", "c2")
    assert r.rc == 1 and r.err == ["Error: Objects of type 'group' cannot be renamed with "
                                   "the -n option."]


def test_rename_network_and_policy(run):
    assert run("mkdef", "-t", "network", "-o", "a", "net=10.0.0.0", "mask=255.0.0.0").rc == 0
    assert run("chdef", "-t", "network", "-o", "a", "-n", "b").rc == 0
    assert run("lsdef", "-t", "network").out == ["b  (network)"]
    assert run("chdef", "-t", "policy", "-o", "2.3", "-n", "2.35").rc == 0
    assert run("lsdef", "-t", "policy", "2.35").out == ["Object name: 2.35",
                                                       "    commands=lsxcatd", "    rule=allow"]


def test_group_members_replace_add_remove(cluster):
    run = cluster
    assert run("chdef", "-t", "group", "-o", "rack1", "members=node1,node2").rc == 0
    assert run("nodels", "rack1").out == ["node1", "node2"]
    assert run("chdef", "-t", "group", "-o", "rack1", "members=node2,node3").rc == 0
    assert run("nodels", "rack1").out == ["node2", "node3"]
    assert run("nodels", "node1", "groups").out == ["node1: compute,all"]
    assert run("chdef", "-t", "group", "-p", "-o", "rack1", "members=node4").rc == 0
    assert run("nodels", "rack1").out == ["node2", "node3", "node4"]
    r = run("chdef", "-t", "group", "-m", "-o", "rack1", "members=node2,node1")
    assert r.err == ["Warning: 'node1' is not a member of group 'rack1'."]
    assert run("nodels", "rack1").out == ["node3", "node4"]


def test_group_attributes_and_list_operators(cluster):
    assert cluster("chdef", "-t", "group", "compute", "-p", "postbootscripts=pb2").rc == 0
    assert cluster("lsdef", "-t", "group", "compute", "-i", "postbootscripts").out[1] == \
        "    postbootscripts=pb1,pb2"
    # A blank on a group clears its value, so members inherit from the next group.
    assert cluster("chdef", "-t", "group", "all", "vmhost=host9").rc == 0
    assert cluster("chdef", "-t", "group", "compute", "vmhost=").rc == 0
    assert cluster("nodels", "node1", "vm.host").out == ["node1: host9"]


def test_dynamic_group_wherevals_plus(cluster):
    run = cluster
    assert run("chdef", "node2", "os=rhels9").rc == 0
    assert run("chdef", "-t", "group", "-o", "dg", "-d", "-w", "mgt==ipmi").rc == 0
    assert run("nodels", "dg").out == ["node1", "node2", "node3", "node4"]
    assert run("chdef", "-t", "group", "-o", "dg", "-d", "-p", "-w", "os==rhels9").rc == 0
    assert run("lsdef", "-t", "group", "dg", "-i", "wherevals,members").out == [
        "Object name: dg", "    members=node2", "    wherevals=mgt==ipmi::os==rhels9"]
    r = run("chdef", "-t", "group", "dg", "cons=ipmi")
    assert r.rc == 1 and r.err == ["Error: Can not assign attributes to dynamic node group "
                                   "'dg'."]


def test_site_and_other_types(run):
    assert run("chdef", "-t", "site", "-o", "clustersite", "domain=lab.example",
               "mykey=v1").rc == 0
    assert run("lsdef", "-t", "site", "-i", "domain,mykey", "-c").out == [
        "clustersite: domain=lab.example", "clustersite: mykey=v1"]
    assert run("chdef", "-t", "site", "-p", "mykey=v2").rc == 0
    assert run("chdef", "-t", "site", "mykey=").rc == 0
    assert run("tabdump", "-w", "key==mykey", "site").out == ['#key,value,comments,disable']
    r = run("chdef", "-t", "network", "-o", "net9", "gateway=1.1.1.1")
    assert r.rc == 1 and "The required attributes are: net mask" in r.err[0]
    r = run("chdef", "-t", "network", "-o", "net9", "net=10.9.0.0", "mask=255.255.0.0")
    assert r.out[-1] == "New object definitions 'net9' have been created."
    assert run("chdef", "-t", "osimage", "-o", "img", "imagetype=linux",
               "pkglist=/p").rc == 0
    assert run("chdef", "-t", "osimage", "-o", "img", "-p", "pkglist=/q").rc == 0
    assert run("lsdef", "-t", "osimage", "img", "-i", "pkglist").out[1] == \
        "    pkglist=/p,/q"


def test_stanza_input_changes_and_creates(cluster):
    text = "node1:\n objtype=node\n mgt=kvm\n\nnode7:\n objtype=node\n vmhost=h7\n"
    r = cluster("chdef", "-z", stdin=text)
    assert r.out == ["2 object definitions have been created or modified.",
                     "New object definitions 'node7' have been created."]
    assert cluster("lsdef", "node1,node7", "-i", "mgt,groups,vmhost", "-c").out == [
        "node1: groups=compute,all", "node1: mgt=kvm", "node1: vmhost=host1",
        "node7: groups=all", "node7: mgt=", "node7: vmhost=h7"]


def test_chdef_of_ten_thousand_nodes(run):
    # Timing lives in tests/bench/bench_tables.py; this checks correctness at scale.
    assert run("mkdef", "n[1-10000]", "groups=all,compute").rc == 0
    r = run("chdef", "compute", "mgt=ipmi", "vmhost=h1", "vmmemory=4096", "os=rhels9")
    assert r.out == ["10000 object definitions have been created or modified."]
    assert run("chdef", "-p", "all", "groups=rack1").rc == 0
    assert run("nodels", "n9999", "groups", "vm.host").out == [
        "n9999: groups: all,compute,rack1", "n9999: vm.host: h1"]


def test_scripts_the_xcatdefaults_run_are_not_stored_again(cluster):
    r = cluster("chdef", "node1,node2", "postscripts=syslog,mine")
    assert r.rc == 0
    assert r.err == ["Warning: node1,node2: postscripts 'syslog' is already included in "
                     "the 'xcatdefaults'."]
    assert cluster("lsdef", "node1", "-i", "postscripts", "-z").out[-1] == \
        "    postscripts=mine"
    assert cluster("lsdef", "node1", "-i", "postscripts").out[-1] == \
        "    postscripts=syslog,remoteshell,syncfiles,mine"
