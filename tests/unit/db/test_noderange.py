"""Noderange expansion: every grammar form, precedence, errors, groups, hidden nodes."""

import pytest

from xcatpy.commands.base import Request
from xcatpy.db.attrs import NodeAttrs
from xcatpy.db.noderange import NodeRange, file_entries, parse
from xcatpy.errors import NoderangeError, XcatError

COMPUTE = [f"node{i:02d}" for i in range(1, 11)]
FRAMES = ["f1n1", "f1n2", "f1n3", "f2n1", "f2n2", "f2n3"]


def _load(store, **tables):
    store.begin()
    for table, rows in tables.items():
        store.upsert_rows(table, rows)
    store.commit()


@pytest.fixture
def cluster(store):
    """Ten compute nodes in two racks, storage, a switch, frames and two hidden FSPs."""
    nodes = [{"node": n, "groups": f"compute,rack{1 if i < 5 else 2},all"}
             for i, n in enumerate(COMPUTE)]
    nodes += [{"node": "stor1", "groups": "storage,rack2,all"},
              {"node": "stor2", "groups": "storage,rack2,all"},
              {"node": "rack1-sw", "groups": "switch"}]
    nodes += [{"node": n, "groups": "frame,all"} for n in FRAMES]
    nodes += [{"node": f"fsp{i}", "groups": "fsp,all", "hidden": "1"} for i in (1, 2)]
    _load(store,
          nodelist=nodes,
          nodehm=[{"node": n, "mgt": "ipmi" if i < 5 else "kvm"}
                  for i, n in enumerate(COMPUTE)] + [{"node": "storage", "mgt": "ipmi"}],
          vm=[{"node": n, "host": "host1"} for n in COMPUTE[5:]],
          nodegroup=[
              {"groupname": "ipmicompute", "grouptype": "dynamic",
               "wherevals": "mgt==ipmi::groups=~compute"},
              {"groupname": "kvmnodes", "grouptype": "dynamic", "wherevals": "nodehm.mgt=kvm"},
              {"groupname": "allipmi", "grouptype": "dynamic", "wherevals": "mgt==ipmi"},
              {"groupname": "hiddenfsp", "grouptype": "dynamic", "wherevals": "groups=~fsp"},
              {"groupname": "spare", "grouptype": "static"},
          ])
    return store


@pytest.fixture
def expand(cluster, tmp_path):
    """expand(text, **kw) on a fresh NodeRange, files read relative to tmp_path."""
    read_file = Request("test", [], cwd=str(tmp_path)).read_file

    def _expand(text, **kw):
        return NodeRange(NodeAttrs(cluster), read_file=read_file).expand(text, **kw)

    return _expand


def _error(expand, text, **kw) -> str:
    with pytest.raises(XcatError) as exc:
        expand(text, **kw)
    return exc.value.message


# -- lists, order, duplicates --------------------------------------------------------------

def test_single_node(expand):
    assert expand("node03") == ["node03"]


def test_comma_list_is_sorted_naturally(expand):
    assert expand("node10,f2n1,node02,f1n3") == ["f1n3", "f2n1", "node02", "node10"]


def test_natural_order_puts_2_before_10(expand, store):
    _load(store, nodelist=[{"node": f"x{i}"} for i in (10, 2, 1, 100)])
    assert expand("x100,x10,x2,x1") == ["x1", "x2", "x10", "x100"]


def test_no_duplicates(expand):
    assert expand("node01,node01,rack1,node01-node02") == COMPUTE[:5]


def test_empty_items_are_skipped(expand):
    assert expand("node01,,node02,") == ["node01", "node02"]


def test_surrounding_whitespace_is_ignored(expand):
    assert expand("  node01,node02\n") == ["node01", "node02"]


def test_empty_noderange_is_an_error(expand):
    assert "Empty noderange" in _error(expand, "   ")


# -- ranges --------------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["node03-node06", "node03:node06", "node[03-06]",
                                  "node[03:06]", "node03+3", "node[03-04,05:06]",
                                  "node[03,04-05,06]"])
def test_range_forms(expand, text):
    assert expand(text) == ["node03", "node04", "node05", "node06"]


def test_plus_keeps_padding_across_a_digit_boundary(expand):
    assert expand("node08+2") == ["node08", "node09", "node10"]


def test_bracket_literal_items(expand):
    assert expand("stor[1,2]") == ["stor1", "stor2"]


def test_cartesian_brackets(expand):
    assert expand("f[1-2]n[1-3]") == FRAMES
    assert expand("f[2]n[2-3]") == ["f2n2", "f2n3"]


def test_range_with_same_first_and_last_is_one_name(expand):
    assert expand("node04-node04") == ["node04"]


def test_range_of_group_names_expands_each_group(expand, cluster):
    assert expand("rack1-rack2") == COMPUTE + ["stor1", "stor2"]
    assert expand("rack[1-2]") == expand("rack1,rack2")


def test_range_names_with_dashes_split_at_the_middle_dash(expand, store):
    _load(store, nodelist=[{"node": f"node{i}-eth"} for i in range(1, 4)])
    assert expand("node1-eth-node3-eth") == ["node1-eth", "node2-eth", "node3-eth"]
    assert expand("node1-eth:node2-eth") == ["node1-eth", "node2-eth"]


def test_range_suffix_and_other_numbers_must_match(expand):
    msg = _error(expand, "f1n1-f2n2")
    assert msg == "Invalid nodes and/or groups in noderange: f1n1-f2n2"


def test_even_number_of_dashes_is_not_a_range(expand):
    assert _error(expand, "a-b-c-d") == "Invalid nodes and/or groups in noderange: a-b-c-d"


def test_bare_numbers_get_the_node_prefix(expand, store):
    _load(store, nodelist=[{"node": f"node{i}"} for i in range(1, 15)])
    assert expand("5") == ["node5"]
    assert expand("1-3") == ["node1", "node2", "node3"]
    assert expand("10+3") == ["node10", "node11", "node12", "node13"]
    assert expand("10-12,-11") == ["node10", "node12"]


def test_bare_number_that_does_not_exist_reports_the_prefixed_name(expand):
    assert _error(expand, "77") == "Invalid nodes and/or groups in noderange: node77"


def test_range_names_that_do_not_exist_are_reported(expand):
    assert (_error(expand, "node09-node12")
            == "Invalid nodes and/or groups in noderange: node11,node12")


def test_reversed_range_is_an_error(expand):
    msg = _error(expand, "node10-node01")
    assert "Invalid range 'node10-node01'" in msg and "backwards" in msg


def test_reversed_bracket_range_is_an_error(expand):
    assert "Invalid range 'node[05-02]'" in _error(expand, "node[05-02]")


@pytest.mark.parametrize("text", ["node01-node100", "node[01-100]", "node1-node010"])
def test_mismatched_padding_is_an_error(expand, text):
    msg = _error(expand, text)
    assert f"Invalid range '{text}'" in msg and "different widths" in msg


def test_unpadded_ranges_may_grow_in_width(expand, store):
    _load(store, nodelist=[{"node": f"c{i}"} for i in range(8, 12)])
    assert expand("c8-c11") == ["c8", "c9", "c10", "c11"]


def test_range_size_is_capped(expand):
    assert "limit of 1,000,000" in _error(expand, "n[1-2000000]")
    assert "limit of 1,000,000" in _error(expand, "a[1-2000]b[1-2000]")
    assert "limit of 1,000,000" in _error(expand, "n1+5000000")


def test_bad_brackets(expand):
    assert "never closed" in _error(expand, "node[1-3")
    assert "must be two numbers" in _error(expand, "node[a-c]")
    assert "empty or nested" in _error(expand, "node[1,,2]")


# -- exact names before parsing ------------------------------------------------------------

def test_exact_names_win_over_syntax(expand, store):
    _load(store, nodelist=[{"node": n} for n in ("n[1]", "a1-a3", "x@y", "p,q", "10")])
    assert expand("n[1]") == ["n[1]"]
    assert expand("a1-a3") == ["a1-a3"]   # would otherwise be the range a1..a3
    assert expand("x@y") == ["x@y"]
    assert expand("p,q") == ["p,q"]
    assert expand("10") == ["10"]         # not node10
    assert expand("n[1],a1-a3,node01") == ["a1-a3", "n[1]", "node01"]


def test_node_with_a_dash_in_a_list(expand):
    assert expand("rack1-sw,stor1") == ["rack1-sw", "stor1"]


def test_exact_group_name_before_parsing(expand, store):
    _load(store, nodelist=[{"node": "node01", "groups": "compute,rack1,all,gpu-1-2"}])
    assert expand("gpu-1-2") == ["node01"]


# -- groups --------------------------------------------------------------------------------

def test_static_group(expand):
    assert expand("storage") == ["stor1", "stor2"]
    assert expand("rack1") == COMPUTE[:5]


def test_all_is_every_visible_node_even_without_the_all_group(expand):
    # rack1-sw is not in group 'all' but is a node.
    assert expand("all") == sorted(FRAMES) + COMPUTE + ["rack1-sw", "stor1", "stor2"]


def test_static_nodegroup_row_without_members_is_empty_not_unknown(expand):
    assert expand("spare") == []
    assert expand("spare,node01") == ["node01"]


def test_dynamic_group(expand):
    assert expand("ipmicompute") == COMPUTE[:5]
    assert expand("kvmnodes") == COMPUTE[5:]            # single '=' means '=='
    assert expand("allipmi") == COMPUTE[:5] + ["stor1", "stor2"]   # storage inherits mgt


def test_dynamic_group_in_expressions(expand):
    assert expand("allipmi,-storage") == COMPUTE[:5]
    assert expand("allipmi@rack2") == ["stor1", "stor2"]


def test_dynamic_group_with_bad_wherevals(expand, store):
    _load(store, nodegroup=[{"groupname": "broken", "grouptype": "dynamic",
                             "wherevals": "mgt==ipmi::nonsense"}])
    assert _error(expand, "broken") == (
        "Dynamic group 'broken' has an invalid wherevals clause 'nonsense': expected "
        "attr==val, attr!=val, attr=~re or attr!~re")


def test_dynamic_group_without_wherevals(expand, store):
    _load(store, nodegroup=[{"groupname": "blank", "grouptype": "Dynamic"}])
    assert "Dynamic group 'blank' has no wherevals" in _error(expand, "blank")


# -- exclusion, intersection, parentheses --------------------------------------------------

def test_exclusion(expand):
    assert expand("compute,-node03") == [n for n in COMPUTE if n != "node03"]


def test_exclusion_wins_wherever_it_appears(expand):
    expected = ["node01", "node02", "node05"]
    assert expand("node01-node05,-node03-node04,node04") == expected
    assert expand("-node03-node04,node01-node05") == expected
    assert expand("node01-node05,node04,-node03-node04") == expected


def test_exclusion_only_is_empty(expand):
    assert expand("-node01") == []


def test_exclusion_of_unknown_name_is_an_error(expand):
    # A mistyped exclusion would silently include the node it meant to protect.
    assert _error(expand, "compute,-node99") == (
        "Invalid nodes and/or groups in noderange: node99")


def test_parentheses_start_a_new_exclusion_level(expand):
    assert expand("(compute,-node03),node03") == COMPUTE
    assert expand("compute,-(rack1,-node02)") == ["node02"] + COMPUTE[5:]


def test_intersection(expand):
    assert expand("rack2@storage") == ["stor1", "stor2"]
    assert expand("compute@rack2@kvmnodes") == COMPUTE[5:]


def test_intersection_binds_tighter_than_comma(expand):
    expected = COMPUTE[:5] + ["stor1", "stor2"]
    assert expand("rack1@compute,storage") == expected
    assert expand("storage,rack1@compute") == expected
    assert expand("storage,compute@rack1") == expected


def test_parentheses_override_intersection_precedence(expand):
    assert expand("(storage,rack1)@compute") == COMPUTE[:5]
    assert expand("rack2@(compute,storage)") == COMPUTE[5:] + ["stor1", "stor2"]


def test_exclusion_applies_to_a_whole_intersection(expand):
    assert expand("compute,-rack1@ipmicompute") == COMPUTE[5:]


def test_nested_parentheses(expand):
    assert expand("((node01,node02),(node03))") == ["node01", "node02", "node03"]


@pytest.mark.parametrize("text, fragment", [
    ("(node01", "the '(' at position 1 is never closed"),
    ("node01)", "unexpected ')' at position 7"),
    ("(node01)node02", "unexpected 'n' at position 9"),
    ("node01@", "expected a node, group or range at position 8"),
    ("node01@,node02", "expected a node, group or range at position 8"),
    ("node01,-", "expected a node, group or range at position 9"),
    ("node01@-node02", "an exclusion can only start a comma-separated item"),
    ("^", "'^' at position 1 needs a file name"),
])
def test_syntax_errors(expand, text, fragment):
    msg = _error(expand, text)
    assert msg.startswith(f"Invalid noderange '{text}': ")
    assert fragment in msg


# -- regular expressions -------------------------------------------------------------------

def test_regex_is_anchored(expand):
    assert expand("/node0[1-3]") == ["node01", "node02", "node03"]
    assert expand("/node0") == []            # no node is called exactly node0
    assert expand("/f.n1") == ["f1n1", "f2n1"]


def test_regex_may_contain_commas_and_parentheses(expand):
    assert expand("/node(01|10),stor1") == ["node01", "node10", "stor1"]
    assert expand("/f1n\\d{1,2},rack1-sw") == ["f1n1", "f1n2", "f1n3", "rack1-sw"]
    assert expand("(/stor[12])@rack2") == ["stor1", "stor2"]


def test_regex_matching_nothing_is_not_an_error(expand):
    assert expand("/zzz.*,node01") == ["node01"]


def test_bad_regex_is_an_error(expand):
    assert "Invalid regular expression '/node(' in noderange" in _error(expand, "/node(")


@pytest.mark.parametrize("text, reason", [
    ("/node{4294967296}", "repeat count too large (at most 4294967294)"),
    ("/" + "(" * 500 + "node01" + ")" * 500, "groups nested too deeply"),
])
def test_regex_re_cannot_compile_is_a_noderange_error(expand, text, reason):
    with pytest.raises(NoderangeError) as exc:
        expand(text)
    assert exc.value.message == f"Invalid regular expression '{text}' in noderange: {reason}"


# -- attribute selectors -------------------------------------------------------------------

def test_selector_equal_uses_inherited_values(expand):
    assert expand("mgt==ipmi") == COMPUTE[:5] + ["stor1", "stor2"]


def test_selector_forms(expand):
    assert expand("nodehm.mgt==kvm") == COMPUTE[5:]
    assert expand("mgt=~^k") == COMPUTE[5:]
    assert expand("vmhost==host1") == COMPUTE[5:]
    assert expand("mgt=kvm") == COMPUTE[5:]
    not_ipmi = expand("mgt!=ipmi")
    assert "rack1-sw" in not_ipmi and "node06" in not_ipmi and "node01" not in not_ipmi
    assert expand("vmhost!~host,-mgt!=ipmi") == COMPUTE[:5] + ["stor1", "stor2"]


def test_selector_compares_the_whole_value(expand):
    # As xCAT: groups is the comma-separated text, so match membership with =~.
    assert expand("groups==switch") == ["rack1-sw"]
    assert expand("groups==storage") == []
    assert expand("groups=~(^|,)storage(,|$)") == ["stor1", "stor2"]


def test_selector_in_expressions(expand):
    assert expand("mgt==ipmi@rack2") == ["stor1", "stor2"]
    assert expand("compute,-mgt==kvm") == COMPUTE[:5]


def test_selector_with_unknown_attribute(expand):
    assert _error(expand, "bogus==1") == "Unknown node attribute 'bogus'"


def test_selector_with_bad_regex(expand):
    assert "Invalid regular expression" in _error(expand, "mgt=~(")


@pytest.mark.parametrize("value, reason", [
    ("ipmi{4294967296}", "repeat count too large (at most 4294967294)"),
    ("(" * 1000 + ")" * 1000, "groups nested too deeply"),
])
def test_selector_regex_re_cannot_compile(expand, value, reason):
    message = _error(expand, f"mgt=~{value}")
    assert message.startswith(f"Invalid regular expression '{value}' in 'mgt=~{value}': ")
    assert message.endswith(reason)


# -- hidden nodes --------------------------------------------------------------------------

def test_hidden_nodes_are_left_out_of_groups_and_patterns(expand):
    assert "fsp1" not in expand("all")
    assert expand("fsp") == []
    assert expand("/fsp.*") == []
    assert expand("groups=~fsp") == []
    assert expand("hiddenfsp") == []


def test_hidden_nodes_named_explicitly(expand):
    assert expand("fsp1") == ["fsp1"]
    assert expand("fsp1-fsp2") == ["fsp1", "fsp2"]
    assert expand("fsp[1-2],node01") == ["fsp1", "fsp2", "node01"]


def test_include_hidden(expand):
    assert expand("fsp", include_hidden=True) == ["fsp1", "fsp2"]
    assert expand("/fsp.*", include_hidden=True) == ["fsp1", "fsp2"]
    assert expand("hiddenfsp", include_hidden=True) == ["fsp1", "fsp2"]
    assert {"fsp1", "fsp2"} <= set(expand("all", include_hidden=True))


# -- files ---------------------------------------------------------------------------------

def test_file_of_noderanges(expand, tmp_path):
    (tmp_path / "nodes").write_text(
        "#my node list (this line ignored)\n"
        "^/tmp/foo #ignored\n"
        "node01    #node comment\n"
        "\n"
        "node02: text after a colon\n"
        "node03-node05\n"
        "/f1n.*\n"
        "-node04\n")
    assert expand("^nodes") == ["f1n1", "f1n2", "f1n3", "node01", "node02", "node03", "node05"]
    assert expand(f"^{tmp_path / 'nodes'},-node01,stor1") == [
        "f1n1", "f1n2", "f1n3", "node02", "node03", "node05", "stor1"]


def test_file_exclusions_stay_inside_the_file(expand, tmp_path):
    (tmp_path / "few").write_text("-node04\nnode03\n")
    assert expand("^few,node04") == ["node03", "node04"]


def test_excluding_a_file(expand, tmp_path):
    (tmp_path / "few").write_text("node01\nnode02\n")
    assert expand("rack1,-^few") == ["node03", "node04", "node05"]


def test_file_with_unknown_names(expand, tmp_path):
    (tmp_path / "bad").write_text("node01\nghost\n")
    assert _error(expand, "^bad") == "Invalid nodes and/or groups in noderange: ghost"


def test_file_syntax_error_names_the_line(expand, tmp_path):
    (tmp_path / "bad").write_text("node01\n(node02\n")
    msg = _error(expand, "^bad")
    assert msg.startswith("Invalid noderange '(node02' in bad line 2:")


def test_missing_file(expand):
    assert _error(expand, "^nosuchfile").startswith("Cannot read file nosuchfile")


def test_file_including_itself(expand, tmp_path):
    (tmp_path / "loop").write_text("node01,^loop\n")
    assert _error(expand, "^loop") == "Noderange file loop includes itself"


def test_file_entries_parsing():
    text = "# c\n  node01 # x\nnode02:\t\n^inc\n\n:\nnode03 extra\n"
    assert file_entries(text) == [(2, "node01"), (3, "node02"), (7, "node03")]


# -- unknown names -------------------------------------------------------------------------

def test_unknown_names_are_collected_in_order(expand):
    assert _error(expand, "bogus,node01,other,bogus") == (
        "Invalid nodes and/or groups in noderange: bogus,other")


def test_unknown_name_error_is_a_noderange_error(expand):
    with pytest.raises(NoderangeError):
        expand("bogus")


def test_long_unknown_list_is_summarised(store):
    nr = NodeRange(NodeAttrs(store), read_file=str)
    with pytest.raises(NoderangeError) as exc:
        nr.expand("x[1-150]")
    msg = exc.value.message
    assert msg.startswith("Invalid nodes and/or groups in noderange: x1,x2,")
    assert msg.endswith(",x100,... (50 more)")


# -- must_exist=False (nodeadd) ------------------------------------------------------------

def test_syntactic_lists_and_ranges(expand):
    assert expand("new[1-3],other05", must_exist=False) == ["new1", "new2", "new3", "other05"]
    assert expand("a01-a04,-a02", must_exist=False) == ["a01", "a03", "a04"]
    assert expand("r[1-2]n[1-2]", must_exist=False) == ["r1n1", "r1n2", "r2n1", "r2n2"]
    assert expand("b9+2", must_exist=False) == ["b9", "b10", "b11"]


def test_syntactic_mode_takes_unparseable_names_literally(expand):
    assert expand("rack9-sw,a-b-c-d", must_exist=False) == ["a-b-c-d", "rack9-sw"]


def test_syntactic_mode_does_not_expand_groups(expand):
    assert expand("compute", must_exist=False) == ["compute"]


def test_syntactic_mode_bare_numbers(expand):
    assert expand("1-3,7", must_exist=False) == ["node1", "node2", "node3", "node7"]


def test_syntactic_mode_keeps_existing_exact_names(expand):
    assert expand("rack1-sw,new1", must_exist=False) == ["new1", "rack1-sw"]


def test_syntactic_mode_rejects_regex_and_selectors(expand):
    assert "regular expressions and attribute selectors" in _error(
        expand, "/new.*", must_exist=False)
    assert "regular expressions and attribute selectors" in _error(
        expand, "mgt==ipmi", must_exist=False)


def test_syntactic_mode_still_checks_ranges(expand):
    assert "backwards" in _error(expand, "n10-n01", must_exist=False)
    assert "different widths" in _error(expand, "n01-n100", must_exist=False)


@pytest.mark.parametrize("text", ["n[1-" + "9" * 4400 + "]", "n1-n" + "9" * 4400,
                                  "n1:n" + "9" * 4400, "n1+" + "9" * 4400,
                                  "n" + "9" * 4400 + "+1", "9" * 4400, "1-" + "9" * 4400,
                                  "n[1-" + "1" * 64 + "]"])
def test_numbers_longer_than_a_node_name_can_hold(expand, text):
    # A clean error before int() (which refuses over 4300 digits) is ever called.
    for must_exist in (True, False):
        message = _error(expand, text, must_exist=must_exist)
        assert message.startswith(f"Invalid noderange '{text}': a number of ")
        assert message.endswith(" digits is longer than any node name's (at most 63)")


def test_numbers_up_to_the_limit_still_count(expand):
    big = "1" * 63
    assert expand(f"n{big}+1", must_exist=False) == [f"n{big}", f"n{big[:-1]}2"]
    assert expand(big, must_exist=False) == [f"node{big}"]


def test_a_new_name_with_a_long_number_is_a_name(expand):
    # Not counted with, so no limit: it is sorted (without int()) and kept as given.
    name = "n" + "9" * 4400
    assert expand(f"{name},n2", must_exist=False) == ["n2", name]


@pytest.mark.parametrize("text", ["n١-n٣", "n١:n٣", "n١+2", "n٣-n١", "१-३"])
def test_digits_of_other_scripts_do_not_count(expand, text):
    # Arabic-Indic and Devanagari digits are part of a name, never made into ASCII ones.
    assert expand(text, must_exist=False) == [text]


def test_digits_of_other_scripts_in_brackets_are_an_error(expand):
    assert "must be two numbers" in _error(expand, "n[١-٣]", must_exist=False)


def test_syntactic_mode_reads_files(expand, tmp_path):
    (tmp_path / "new").write_text("new[1-2]\nnew5\n")
    assert expand("^new", must_exist=False) == ["new1", "new2", "new5"]


# -- parser --------------------------------------------------------------------------------

def test_parse_tree_shape():
    items = parse("a,-b@(c,d),^f")
    assert [i.exclude for i in items] == [False, True, False]
    assert len(items[1].operands) == 2
    assert type(items[1].operands[1]).__name__ == "Paren"
    assert items[2].operands[0].path == "f"


def test_large_range_on_a_large_cluster(store):
    _load(store, nodelist=[{"node": f"node{i:05d}", "groups": "all"} for i in range(1, 10001)])
    got = NodeRange(NodeAttrs(store), read_file=str).expand(
        "node[00001-10000],-node[05000-05999]")
    assert len(got) == 9000
    assert got[4998:5000] == ["node04999", "node06000"]


def test_deep_nesting_is_a_clear_error(expand):
    assert "nest more than 50 deep" in _error(expand, "(" * 500 + "node01" + ")" * 500)
    assert expand("(" * 20 + "node01" + ")" * 20) == ["node01"]
