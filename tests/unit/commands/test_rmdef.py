"""rmdef: removing every type, group membership, -a -f, refused flags."""

import pytest

NODE_TABLES = ("nodelist", "nodehm", "hosts", "vm", "mac", "ipmi")


@pytest.fixture
def cluster(run):
    assert run("mkdef", "node[1-3]", "groups=compute,all", "mgt=ipmi", "ip=10.0.0.9",
               "vmhost=h1", "mac=aa:bb:cc:dd:ee:ff", "bmc=b1").rc == 0
    assert run("chdef", "-t", "group", "compute", "vmstorage=nfs://s/vm").rc == 0
    return run


def _rows_for(run, name):
    return [ln for t in NODE_TABLES for ln in run("tabdump", t).out if f'"{name}"' in ln]


def test_remove_nodes_from_every_table(cluster):
    r = cluster("rmdef", "-t", "node", "node1,node2")
    assert (r.rc, r.out) == (0, ["2 object definitions have been removed."])
    assert _rows_for(cluster, "node1") == [] and _rows_for(cluster, "node2") == []
    assert cluster("lsdef").out == ["node3  (node)"]
    assert _rows_for(cluster, "node3") != []


def test_remove_nodes_named_by_a_group(cluster):
    assert cluster("rmdef", "-t", "node", "-o", "compute").rc == 0
    assert cluster("lsdef").out == ["Could not find any object definitions to display."]


def test_unknown_objects_are_errors_and_nothing_is_removed(cluster):
    r = cluster("rmdef", "node1,ghost")
    assert (r.rc, r.err) == (1, ["Error: Invalid nodes and/or groups in noderange: ghost"])
    r = cluster("rmdef", "-t", "network", "-o", "nonet")
    assert (r.rc, r.err) == (1, ["Error: Could not find an object named 'nonet' of type "
                                 "'network'."])
    assert len(cluster("lsdef").out) == 3


def test_remove_static_group_updates_members(cluster):
    assert cluster("chdef", "-t", "group", "-o", "rack1", "members=node1,node2").rc == 0
    r = cluster("rmdef", "-t", "group", "-o", "rack1,compute")
    assert r.out == ["2 object definitions have been removed."]
    assert cluster("nodels", "node[1-3]", "groups").out == [
        "node1: all", "node2: all", "node3: all"]
    # The group's own attribute rows are gone, the nodes remain.
    assert [ln for ln in cluster("tabdump", "vm").out if "compute" in ln] == []
    assert cluster("tabdump", "nodegroup").out == [
        "#groupname,grouptype,members,membergroups,wherevals,comments,disable"]


def test_remove_dynamic_group_leaves_nodes_alone(cluster):
    assert cluster("mkdef", "-t", "group", "-o", "dg", "-d", "-w", "mgt==ipmi").rc == 0
    assert cluster("rmdef", "-t", "group", "dg").rc == 0
    assert cluster("nodels", "node1", "groups").out == ["node1: compute,all"]
    assert cluster("lsdef", "-t", "group").out == ["all  (group)", "compute  (group)"]


def test_remove_network_osimage_policy(cluster):
    run = cluster
    assert run("mkdef", "-t", "network", "-o", "n1", "net=10.0.0.0", "mask=255.0.0.0").rc == 0
    assert run("mkdef", "-t", "osimage", "-o", "img", "imagetype=linux",
               "template=/t").rc == 0
    assert run("rmdef", "-t", "network", "n1").rc == 0
    assert run("rmdef", "-t", "osimage", "-o", "img").rc == 0
    assert run("rmdef", "-t", "policy", "4.9").rc == 0
    assert run("tabdump", "networks").out[1:] == []
    assert run("tabdump", "linuximage").out[1:] == []
    assert "4.9  (policy)" not in run("lsdef", "-t", "policy").out


def test_all_needs_force_and_clears_everything(cluster):
    r = cluster("rmdef", "-a")
    assert r.rc == 1
    assert r.err[0] == "Error: You must use the '-f' option when using the '-a' option."
    assert len(cluster("lsdef").out) == 3
    r = cluster("rmdef", "-a", "-f")
    assert r.rc == 0 and r.out[0].endswith(" object definitions have been removed.")
    assert cluster("lsdef", "-a").out == ["Could not find any object definitions to display."]
    for table in NODE_TABLES + ("site", "policy", "nodegroup"):
        assert cluster("tabdump", table).out[1:] == [], table


def test_refused_flags_and_missing_names(cluster):
    for flag in ("-w", "-d", "-l", "-z"):
        args = (flag, "mgt==ipmi") if flag == "-w" else (flag,)
        r = cluster("rmdef", *args)
        assert r.rc == 1
        assert r.err[0] == "Error: Invalid flag specified, see rmdef manpage for details."
    r = cluster("rmdef", "-t", "node")
    assert r.rc == 1 and r.err[0] == "Error: No object names were provided."
    r = cluster("rmdef", "-a", "-f", "node1")
    assert r.rc == 1 and r.err[0] == "Error: Cannot use '-a' with '-o', a noderange or " \
        "file input."
    assert len(cluster("lsdef").out) == 3
