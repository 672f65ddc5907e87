"""lsdef: listing styles, selection, every type, and xCAT's exact output."""


import pytest

DEFAULT_PS = "postscripts=syslog,remoteshell,syncfiles"
DEFAULT_PBS = "postbootscripts=otherpkgs"


@pytest.fixture
def cluster(run):
    assert run("mkdef", "node[1-3]", "groups=compute,all").rc == 0
    assert run("mkdef", "node10", "groups=all", "mgt=kvm", "vmhost=host1").rc == 0
    assert run("chdef", "-t", "group", "compute", "mgt=ipmi",
               "bmc=|node(\\d+)|bmc($1)|", "ip=|node(\\d+)|10.0.0.($1)|").rc == 0
    return run


def test_bare_lsdef_lists_node_names_in_natural_order(cluster):
    r = cluster("lsdef")
    assert (r.rc, r.out) == (0, ["node1  (node)", "node2  (node)", "node3  (node)",
                                 "node10  (node)"])


def test_empty_database(run):
    assert run("lsdef").out == ["Could not find any object definitions to display."]
    assert run("lsdef").rc == 0


def test_naming_a_node_gives_the_long_listing_resolved(cluster):
    r = cluster("lsdef", "node2")
    assert r.rc == 0
    assert r.out == ["Object name: node2", "    bmc=bmc2", "    groups=compute,all",
                     "    ip=10.0.0.2", "    mgt=ipmi", f"    {DEFAULT_PBS}",
                     f"    {DEFAULT_PS}"]
    assert cluster("lsdef", "-t", "node", "-o", "node2").out == r.out
    assert cluster("lsdef", "-l", "node2").out == r.out


def test_own_postscripts_follow_the_xcatdefaults(cluster):
    assert cluster("chdef", "node1", "postscripts=myscript").rc == 0
    assert f"    {DEFAULT_PS},myscript" in cluster("lsdef", "node1").out


def test_long_listing_of_every_node_and_short_of_named(cluster):
    out = cluster("lsdef", "-l").out
    assert [ln for ln in out if ln.startswith("Object name")] == [
        "Object name: node1", "Object name: node2", "Object name: node3",
        "Object name: node10"]
    assert cluster("lsdef", "-s", "compute").out == ["node1  (node)", "node2  (node)",
                                                    "node3  (node)"]


def test_l_and_s_together_is_refused(cluster):
    r = cluster("lsdef", "-l", "-s")
    assert r.rc == 1 and r.err[0] == "Error: The flags '-l' and '-s' cannot be used together."


def test_i_shows_asked_attributes_even_when_unset(cluster):
    r = cluster("lsdef", "node1,node10", "-i", "vmhost,mgt")
    assert r.out == ["Object name: node1", "    mgt=ipmi", "    vmhost=",
                     "Object name: node10", "    mgt=kvm", "    vmhost=host1"]


def test_compressed_output_needs_i(cluster):
    r = cluster("lsdef", "-t", "node", "-i", "mgt,ip", "-c")
    assert r.out == ["node1: ip=10.0.0.1", "node1: mgt=ipmi", "node2: ip=10.0.0.2",
                     "node2: mgt=ipmi", "node3: ip=10.0.0.3", "node3: mgt=ipmi",
                     "node10: ip=", "node10: mgt=kvm"]
    bad = cluster("lsdef", "-c")
    assert bad.rc == 1 and bad.err[0] == "Error: The flags '-c' and '-i' must be used together."


def test_unknown_attribute_in_i_is_named(cluster):
    r = cluster("lsdef", "node1", "-i", "mgt,bogus")
    assert r.rc == 1
    assert r.err == ["Error: 'bogus' is not a valid attribute name for an object type of "
                     "'node'."]


def test_stanza_output_has_no_xcatdefaults(cluster):
    r = cluster("lsdef", "-z", "node1,node10")
    assert r.out == [
        "# <xCAT data object stanza file>",
        "",
        "node1:",
        "    objtype=node",
        "    bmc=bmc1",
        "    groups=compute,all",
        "    ip=10.0.0.1",
        "    mgt=ipmi",
        "",
        "node10:",
        "    objtype=node",
        "    groups=all",
        "    mgt=kvm",
        "    vmhost=host1",
    ]


def test_stanza_without_names_lists_headers_only_like_xcat(cluster):
    assert cluster("lsdef", "-z").out[:4] == ["# <xCAT data object stanza file>", "",
                                             "node1:", ""]


@pytest.mark.parametrize("selection, expected", [
    (["-w", "mgt==kvm"], ["node10  (node)"]),
    (["-w", "mgt!=ipmi"], ["node10  (node)"]),
    (["-w", "ip=~^10\\.0\\.0\\.[12]$"], ["node1  (node)", "node2  (node)"]),
    (["-w", "mgt!~ip", "-w", "vmhost==host1"], ["node10  (node)"]),
    (["-w", "mgt==ipmi", "-w", "bmc==bmc3"], ["node3  (node)"]),
    (["-w", "postscripts=~remoteshell", "-w", "mgt==kvm"], ["node10  (node)"]),
])
def test_w_selects_on_resolved_values(cluster, selection, expected):
    assert cluster("lsdef", *selection).out == expected


def test_w_with_names_and_long_listing(cluster):
    r = cluster("lsdef", "all", "-w", "mgt==kvm", "-i", "vmhost")
    assert r.out == ["Object name: node10", "    vmhost=host1"]


def test_w_with_a_broken_regex_is_one_error(cluster):
    r = cluster("lsdef", "-w", "mgt=~(")
    assert r.rc == 1 and len(r.err) == 1 and r.err[0].startswith("Error: Invalid regular")


def test_hidden_nodes_need_S(cluster):
    assert cluster("chdef", "node3", "hidden=1").rc == 0
    assert "node3  (node)" not in cluster("lsdef").out
    assert "node3  (node)" in cluster("lsdef", "-S").out


def test_unknown_node_is_an_error(cluster):
    r = cluster("lsdef", "node1,nosuch")
    assert r.rc == 1
    assert r.err == ["Error: Invalid nodes and/or groups in noderange: nosuch"]


def test_groups_static_and_dynamic(cluster):
    assert cluster("mkdef", "-t", "group", "-o", "kvms", "-d", "-w", "mgt==kvm").rc == 0
    assert cluster("lsdef", "-t", "group").out == ["all  (group)", "compute  (group)",
                                                  "kvms  (group)"]
    r = cluster("lsdef", "-t", "group", "-o", "compute,kvms")
    assert r.out == ["Object name: compute", "    bmc=|node(\\d+)|bmc($1)|",
                     "    grouptype=static", "    ip=|node(\\d+)|10.0.0.($1)|",
                     "    members=node1,node2,node3", "    mgt=ipmi",
                     "Object name: kvms", "    grouptype=dynamic", "    members=node10",
                     "    wherevals=mgt==kvm"]
    # The dynamic group works as a noderange.
    assert cluster("lsdef", "kvms", "-s").out == ["node10  (node)"]


def test_empty_group_still_shows_members(run):
    assert run("mkdef", "-t", "group", "-o", "empty").rc == 0
    assert run("lsdef", "-t", "group", "empty").out == [
        "Object name: empty", "    grouptype=static", "    members="]


def test_several_types_are_labelled(cluster):
    r = cluster("lsdef", "-t", "node,group", "-l")
    assert "Object name: node1  (node)" in r.out
    assert "Object name: compute  (group)" in r.out
    assert cluster("lsdef", "-t", "group,node").out[0] == "all  (group)"


def test_all_types(cluster):
    assert cluster("mkdef", "-t", "network", "-o", "net1", "net=10.0.0.0",
                   "mask=255.0.0.0").rc == 0
    out = cluster("lsdef", "-a").out
    assert out[:5] == ["node1 (node)", "node2 (node)", "node3 (node)", "node10 (node)",
                       "all (group)"]
    assert "net1 (network)" in out and "clustersite (site)" in out and "1 (policy)" in out
    bad = cluster("lsdef", "-a", "-t", "node")
    assert bad.rc == 1 and bad.err[0] == "Error: The flags '-a' and '-t' cannot be used " \
        "together."


def test_network_osimage_policy_site(cluster):
    run = cluster
    assert run("mkdef", "-t", "network", "-o", "net1", "net=10.0.0.0", "mask=255.0.0.0",
               "gateway=10.0.0.254", "usercomment=lab").rc == 0
    assert run("lsdef", "-t", "network").out == ["net1  (network)"]
    assert run("lsdef", "-t", "network", "-l").out == [
        "Object name: net1", "    gateway=10.0.0.254", "    mask=255.0.0.0",
        "    net=10.0.0.0", "    usercomment=lab"]
    assert run("mkdef", "-t", "osimage", "-o", "rh9", "imagetype=linux",
               "provmethod=install", "template=/t/compute.tmpl").rc == 0
    assert run("lsdef", "-t", "osimage", "rh9").out == [
        "Object name: rh9", "    imagetype=linux", "    provmethod=install",
        "    template=/t/compute.tmpl"]
    assert run("lsdef", "-t", "policy", "-o", "1").out == [
        "Object name: 1", "    name=root", "    rule=allow"]
    assert run("lsdef", "-t", "site").out == ["clustersite  (site)"]
    assert run("lsdef", "-t", "site", "-i", "xcatdport,nosuchkey").out == [
        "Object name: clustersite", "    nosuchkey=", "    xcatdport=3001"]
    r = run("lsdef", "-t", "network", "nosuch")
    assert r.rc == 1
    assert r.err == ["Error: Could not find an object named 'nosuch' of type 'network'."]


def test_unknown_type(run):
    r = run("lsdef", "-t", "route")
    assert (r.rc, r.err) == (1, ["Error: Type 'route' is not a valid xCAT object type."])


def test_help_with_type_lists_attributes(run):
    r = run("lsdef", "-h", "-t", "node")
    assert r.rc == 0
    text = "\n".join(r.out)
    assert "The valid attribute names for object type 'node' are:" in text
    assert "\n\nvmhost:\t\tThe system that currently hosts the VM\n\n" in text
    assert run("lsdef", "-h").out[0].startswith("Usage: lsdef - List xCAT data object "
                                                "definitions.\n")


def test_long_listing_of_ten_thousand_nodes(run):
    # Timing lives in tests/bench/bench_tables.py; this checks correctness at scale.
    assert run("mkdef", "n[1-10000]", "groups=all,compute", "mgt=ipmi").rc == 0
    assert run("chdef", "-t", "group", "compute", "ip=|n(\\d+)|10.0.($1/256).($1%256)|",
               "vmhost=h1", "bmc=|n(\\d+)|b($1)|", "mgt=ipmi").rc == 0
    r = run("lsdef", "-l")
    assert r.out[:6] == ["Object name: n1", "    bmc=b1", "    groups=all,compute",
                         "    ip=10.0.0.1", "    mgt=ipmi", f"    {DEFAULT_PBS}"]
    assert len(r.out) == 10000 * 8
