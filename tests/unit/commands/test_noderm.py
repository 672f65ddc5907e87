"""noderm removes every row of the nodes and nothing else."""


def test_removes_rows_from_every_node_table(run, store):
    assert run("nodeadd", "n[1-3]", "groups=all", "nodehm.mgt=ipmi", "hosts.ip=10.0.0.1",
               "vm.host=h1", "mac.mac=aa:bb:cc:dd:ee:01").rc == 0
    assert run("tabch", "node=all", "nodetype.os=rhels9").rc == 0
    assert run("noderm", "n[1-2]").rc == 0
    assert run("nodels").out == ["n3"]
    for table in ("nodelist", "nodehm", "hosts", "vm", "mac"):
        assert [r["node"] for r in store.rows(table)] == ["n3"], table
    # A group row is not a node's row.
    assert [r["node"] for r in store.rows("nodetype")] == ["all"]


def test_unknown_node_removes_nothing(run):
    assert run("nodeadd", "n1", "groups=all").rc == 0
    r = run("noderm", "n1,n9")
    assert r.rc == 1 and "n9" in r.err[0]
    assert run("nodels").out == ["n1"]
