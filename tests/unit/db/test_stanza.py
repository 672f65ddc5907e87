"""The stanza format: what mkdef -z reads and lsdef -z writes."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from xcatpy.db import stanza
from xcatpy.errors import XcatError


def _objects(text):
    return [(s.name, s.attrs) for s in stanza.parse(text)]


def test_comments_blank_lines_multiple_objects_and_types():
    text = """# <xCAT data object stanza file>

# the compute nodes
node1:
    objtype=node
    groups=all,compute

\tnode2:
\t  objtype = node
\t  groups=all

net1:
  objtype=network
  net=10.0.0.0
  mask=255.0.0.0
"""
    assert _objects(text) == [
        ("node1", {"objtype": "node", "groups": "all,compute"}),
        ("node2", {"objtype": "node", "groups": "all"}),
        ("net1", {"objtype": "network", "net": "10.0.0.0", "mask": "255.0.0.0"}),
    ]


def test_values_keep_equals_signs_and_lose_surrounding_quotes():
    text = 'n1:\n objtype=node\n kcmdline="console=ttyS0 quiet"\n ip=|n(\\d+)|10.0.0.($1)|\n'
    assert stanza.parse(text)[0].attrs == {
        "objtype": "node", "kcmdline": "console=ttyS0 quiet", "ip": "|n(\\d+)|10.0.0.($1)|"}


def test_header_name_is_everything_before_the_last_colon():
    # IPv6 network names contain colons (xCAT's readFileInput keeps them).
    assert stanza.parse("fd59::/64:\n objtype=network\n")[0].name == "fd59::/64"


def test_blank_value_is_kept_as_blank():
    assert stanza.parse("n1:\n objtype=node\n mgt=\n")[0].attrs["mgt"] == ""


def test_defaults_apply_to_later_stanzas_of_their_type_only():
    text = """
n0:
  objtype=node
  groups=early
default-node:
  groups=all
  mgt=ipmi
n1:
  objtype=node
n2:
  objtype=node
  mgt=xen
net1:
  objtype=network
default-node:
  mgt=
n3:
  objtype=node
"""
    got = {s.name: s.attrs for s in stanza.parse(text)}
    assert got["n0"] == {"objtype": "node", "groups": "early"}
    assert got["n1"] == {"objtype": "node", "groups": "all", "mgt": "ipmi"}
    assert got["n2"] == {"objtype": "node", "groups": "all", "mgt": "xen"}
    assert got["net1"] == {"objtype": "network"}
    # A blank default turns that default off; the others stay (they accumulate).
    assert got["n3"] == {"objtype": "node", "groups": "all"}


@pytest.mark.parametrize("text, where", [
    ("n1:\n objtype=node\n this is not an attribute\n", "line 3"),
    ("groups=all\nn1:\n objtype=node\n", "line 1"),
    ("n1:\n objtype=node\n bad name=1\n", "line 3"),
    ("n1: extra\n objtype=node\n", "line 1"),
])
def test_malformed_lines_are_errors_naming_the_line(text, where):
    with pytest.raises(XcatError) as exc:
        stanza.parse(text)
    assert f"Stanza {where}:" in exc.value.message


def test_stanza_without_objtype_names_its_line():
    with pytest.raises(XcatError, match=r"line 4: no objtype value was specified for 'n2'"):
        stanza.parse("n1:\n objtype=node\n\nn2:\n groups=all\n")


def test_second_stanza_for_the_same_name_is_refused():
    with pytest.raises(XcatError, match=r"line 3: a second stanza for 'n1' .*line 1"):
        stanza.parse("n1:\n objtype=node\nn1:\n objtype=node\n")


def test_format_is_lsdef_z():
    lines = stanza.format_objects([("node1", "node", {"mgt": "ipmi", "groups": "all"}),
                                   ("net1", "network", {})])
    assert lines == [
        "# <xCAT data object stanza file>",
        "",
        "node1:",
        "    objtype=node",
        "    groups=all",
        "    mgt=ipmi",
        "",
        "net1:",
        "    objtype=network",
    ]


_names = st.from_regex(r"[a-z][a-z0-9\-]{0,8}", fullmatch=True)
_values = st.from_regex(r"[^\s\"](?:[^\n\r\"]*[^\s\"])?", fullmatch=True)


@given(st.dictionaries(_names, st.dictionaries(
    st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True).filter(lambda a: a != "objtype"),
    _values, max_size=5), min_size=1, max_size=5))
def test_format_then_parse_gives_the_objects_back(objects):
    text = "\n".join(stanza.format_objects([(n, "node", a) for n, a in objects.items()]))
    back = {s.name: s.attrs for s in stanza.parse(text)}
    assert back == {n: {"objtype": "node", **a} for n, a in objects.items()}
