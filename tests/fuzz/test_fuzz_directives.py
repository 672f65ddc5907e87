"""Fuzzing answer-file templates: xCAT's directives (#TABLE#, #INCLUDE#, #CRYPT#, #ENV#,
...) as parsed, as translated to Jinja, and as rendered for a node of the sample cluster.

Properties:
- directives.parse splits any text into literal text and directives, losslessly (joined
  back, with each directive's text, it is the input), or raises DirectiveError.
- to_jinja of a text without Jinja syntax of its own compiles.
- Rendering any template (directives, includes of other files, Jinja mixed in) gives the
  whole text or a TemplateError naming the node: never another exception.
"""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.harness import attempt, fuzz_settings, mostly
from tests.unit.boot.test_templates import MASTER, PORT, sample_cluster
from xcatpy.boot.directives import SUPPORTED, Directive, DirectiveError, parse, to_jinja
from xcatpy.boot.osimage import image_for_node
from xcatpy.boot.templates import TemplateError, _env, render_template
from xcatpy.db.attrs import NodeAttrs
from xcatpy.db.store import Store
from xcatpy.errors import XcatError

GOOD = ["#TABLE:site:key=timezone:value#", "#TABLE:nodehm:THISNODE:serialspeed#",
        "#TABLE:noderes:$NODE:nfsserver#", "#TABLEBLANKOKAY:hypervisor:THISNODE:dom0mem#",
        "#TABLE:hypervisor:THISNODE:dom0mem#", "#TABLE:site:key=nosuch:value#",
        "#CRYPT:passwd:key=system,username=root:password#",
        "#CRYPTORLOCKED:passwd:key=nobody,username=x:password#", "#ENV:FOO#", "#ENV:$FOO#",
        "#ENV:NOSUCH#", "#XCATVAR:INSTALL_NFS#", "#HOSTNAME#", "#SHORTNAME#",
        "#COLONHTTPPORT#", "#MANAGEDADDRESSMODE#", "#KICKSTARTNET#", "#INSTALL_SOURCES#",
        "#INSTALL_SOURCES_IN_PRE#", "#UNCOMMENTOENABLESSH#", "#UNCOMMENTOENABLEDEBUGPORT#",
        "#INCLUDE:inc.tmpl#", "#INCLUDE:raw.txt#", "#INCLUDE_NOP:raw.txt#",
        "#INCLUDE_PKGLIST:pkgs#", "#INCLUDE:#ENV:INC#/inc.tmpl#", "#INCLUDE:self.tmpl#",
        "#INCLUDE:nosuch#", "#INCLUDE:bin.dat#", "#INCLUDE:.#", "#INCLUDE_DEFAULT_PKGLIST#",
        "#XCAT_PARTITION_START#"]
BAD = ["#TABLE:site:key=timezone#", "#TABLE:nosuch:key=x:value#", "#TABLE:site:key=x:nosuch#",
       "#TABLE:site:THISNODE:value#", "#TABLE:site:bogus:value#", "#TABLE:::#", "#HOSTNAME:x#",
       "#INCLUDE#", "#COMMAND:ls#", "#WINNETCFG#", "#FOO:bar#", "#TABLE:site:key=a,b:value#",
       "#ENV#", "#CRYPT:nodelist:THISNODE:comments#"]
JINJA = ["{{ node }}", "{{ 7*7 }}", "{% if node %}x{% endif %}", "{#", "}}", "{{", "{%",
         "{{ nosuch }}", "{{ site.timezone }}", "{{ node | upper }}",
         "{{ ''.__class__ }}", "{% include 'inc.tmpl' %}", "{% include 'nosuch' %}",
         "{{ 1/0 }}", "{{ 'a' + 1 }}", "{{ [1][5] }}", "{% for x in range(3) %}{{x}}{% endfor %}",
         "{{ " + "(" * 40 + "1" + ")" * 40 + " }}", "{{ " + "[" * 1000 + "]" * 1000 + " }}",
         "{% for x in [1] %}" * 25 + "{% endfor %}" * 25,
         "{% if node %}" * 120 + "{% endif %}" * 120]
PIECES = st.one_of(
    st.sampled_from(GOOD), st.sampled_from(GOOD), st.sampled_from(BAD),
    st.sampled_from(["\n", "\n", " ", "#", "# comment #HOSTNAME#\n", "  #", "text", ":", "$",
                     "\\", "\t#TABLE:site:key=timezone:value#", "é", "<x>&"]),
    st.text(alphabet="#:ABCDEFHINOST_$=,\n ", max_size=8),
    st.text(max_size=6),
)
texts = st.lists(PIECES, max_size=10).map("".join)
jinja_texts = st.lists(st.one_of(PIECES, st.sampled_from(JINJA)), max_size=10).map("".join)


@fuzz_settings()
@given(texts)
def test_parse_is_lossless_or_refuses(text):
    from pathlib import Path

    got = attempt("directives.parse", lambda: parse(text, Path("t.tmpl")), (DirectiveError,))
    if not got.ok:
        assert got.error.message.startswith("template t.tmpl line ")
        return
    assert "".join(s.text if isinstance(s, Directive) else s for s in got.value) == text
    for s in got.value:
        if isinstance(s, Directive):
            assert s.name in SUPPORTED and s.line >= 1


@fuzz_settings()
@given(texts.filter(lambda t: "{" not in t and "}" not in t))
def test_to_jinja_compiles(text):
    from pathlib import Path

    got = attempt("directives.to_jinja", lambda: to_jinja(text, Path("t.tmpl")),
                  (DirectiveError,))
    if got.ok:
        _env.parse(got.value)


# -- rendering -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    base = tmp_path_factory.mktemp("tmplfuzz")
    store = Store.open(base / "state")
    sample_cluster(store)
    tdir = base / "templates"
    tdir.mkdir()
    (tdir / "inc.tmpl").write_text("included #HOSTNAME# #ENV:FOO#\n#INCLUDE:raw.txt#\n")
    (tdir / "raw.txt").write_text("raw $x `y` {{ not jinja }} #HOSTNAME#\n")
    (tdir / "pkgs").write_text("bash\n@core\n-removed\n# comment\n#INCLUDE:pkgs2#\n<vim>\n")
    (tdir / "pkgs2").write_text("tmux\n#INCLUDE:pkgs#\n")
    (tdir / "self.tmpl").write_text("again #INCLUDE:self.tmpl#\n")
    (tdir / "bin.dat").write_bytes(b"\xff\xfe\x00binary")
    yield store, base, tdir
    store.close()


@fuzz_settings(weight=0.6)
@given(jinja_texts, st.sampled_from(["t.tmpl", "t.xml.tmpl"]),
       mostly(st.just("node01"), st.sampled_from(["xen01", "xs01"])))
def test_render_gives_the_text_or_a_template_error(cluster, text, name, node):
    from dataclasses import replace

    store, base, tdir = cluster
    path = tdir / name
    path.write_text(text)
    attrs = NodeAttrs(store)
    image = replace(image_for_node(attrs, node), template=str(path))
    got = attempt("directives.render", lambda: render_template(
        path, attrs, node, image, master=MASTER, http_port=PORT, installdir=base / "install",
        env={"FOO": "bar", "INC": str(tdir)}), (TemplateError,))
    if got.error is not None:
        assert got.error.message.startswith(f"{node}: ")
    elif got.ok:
        assert isinstance(got.value.text, str)


def _render(store, base, tdir, text: str, name: str = "deep.tmpl"):
    from dataclasses import replace

    path = tdir / name
    path.write_text(text)
    attrs = NodeAttrs(store)
    image = replace(image_for_node(attrs, "node01"), template=str(path))
    return render_template(path, attrs, "node01", image, master=MASTER, http_port=PORT,
                           installdir=base / "install", env={})


def test_deeply_nested_jinja_is_a_template_error(cluster):
    with pytest.raises(XcatError):
        _render(*cluster, "{{ " + "(" * 1000 + "1" + ")" * 1000 + " }}")


@pytest.mark.parametrize("name, text, why", [
    ("parens.tmpl", "{{ " + "(" * 1000 + "1" + ")" * 1000 + " }}", "the stack ran out"),
    ("lists.tmpl", "{{ " + "[" * 1000 + "]" * 1000 + " }}", "the stack ran out"),
    ("ifs.tmpl", "{% if node %}" * 300 + "x" + "{% endif %}" * 300, "the stack ran out"),
    # Python's compiler refuses what Jinja makes of these, with a SyntaxError of its own.
    ("ifs100.tmpl", "{% if node %}" * 100 + "x" + "{% endif %}" * 100,
     "too many levels of indentation"),
    ("fors.tmpl", "{% for x in [1] %}" * 30 + "x" + "{% endfor %}" * 30,
     "too many statically nested blocks"),
])
def test_nesting_too_deep_names_node_and_template(cluster, name, text, why):
    store, base, tdir = cluster
    with pytest.raises(TemplateError) as exc:
        _render(*cluster, text, name)
    assert exc.value.message == (f"node01: template {tdir / name}: expressions or blocks "
                                 f"are nested too deeply ({why}); flatten them")
    # Nothing is left half-compiled: the same environment renders the next template.
    assert _render(*cluster, "{% if node %}{{ node }}{% endif %}", "after.tmpl").text == \
        "node01"


def test_nesting_within_pythons_limits_renders(cluster):
    text = "{% for x in [1] %}" * 15 + "{{ " + "(" * 40 + "node" + ")" * 40 + " }}" + \
        "{% endfor %}" * 15
    assert _render(*cluster, text, "nested-ok.tmpl").text == "node01"
