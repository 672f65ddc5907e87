"""Answer-file templates: goldens of every built-in template, errors, search order, sandbox.

The golden files in tests/unit/boot/golden/ are what a user gets for the sample cluster
below, byte for byte. After changing a built-in template on purpose, regenerate them with

    XCATPY_REGEN_GOLDEN=1 python -m pytest -q tests/unit/boot/test_templates.py

and read the diff (`git diff tests/unit/boot/golden`) before committing it.
"""

import os
from pathlib import Path

import pytest

from xcatpy.boot.osimage import image_for_node
from xcatpy.boot.templates import (
    RenderedAnswer,
    TemplateError,
    builtin_template_dir,
    candidate_names,
    find_template,
    render_answer_file,
)
from xcatpy.db.attrs import NodeAttrs

GOLDEN = Path(__file__).parent / "golden"
REGEN = os.environ.get("XCATPY_REGEN_GOLDEN") == "1"
MASTER, PORT = "10.0.0.254", 8080
# A crypted "cluster" (openssl passwd -6 -salt xcatpysample cluster): goldens stay stable.
ROOT_HASH = ("$6$xcatpysample$8bc9Bst7YPdWw4sBcYvlZrm98s2rmzuyZiVsXmnTW0SyQ6jSGil9So2S3WJl"
             "rFBWGW/Gupj3wVpMQ9eDyqMoN/")


def sample_cluster(store, *, root_password: str = ROOT_HASH) -> None:
    """node01: RHEL 8 compute, static address, serial console. xen01: CentOS 7 Xen host
    whose hypervisor and vm.storage settings come from its group. xs01: XenServer host."""
    store.begin()
    store.upsert_rows("site", [
        {"key": "domain", "value": "cluster.example"},
        {"key": "timezone", "value": "Europe/Berlin"},
        {"key": "nameservers", "value": "<xcatmaster>,10.0.0.53"},
        {"key": "ntpservers", "value": "ntp1.example,<xcatmaster>"},
        {"key": "managedaddressmode", "value": "static"},
        {"key": "xcatiport", "value": "3002"},
    ])
    store.upsert_rows("passwd", [{"key": "system", "username": "root",
                                  "password": root_password}])
    store.upsert_rows("networks", [{"netname": "mgt", "net": "10.0.0.0",
                                    "mask": "255.255.255.0", "gateway": "<xcatmaster>"}])
    store.upsert_rows("osimage", [
        {"imagename": "rhels8.6-x86_64-install-compute", "osvers": "rhels8.6",
         "osarch": "x86_64", "profile": "compute", "provmethod": "install"},
        {"imagename": "centos7-x86_64-install-xen", "osvers": "centos7", "osarch": "x86_64",
         "profile": "xen", "provmethod": "install"},
        {"imagename": "xenserver7.1-x86_64-install-xen", "osvers": "xenserver7.1",
         "osarch": "x86_64", "profile": "xen", "provmethod": "install"},
    ])
    store.upsert_rows("nodelist", [
        {"node": "node01", "groups": "compute,all"},
        {"node": "xen01", "groups": "xenhosts,all"},
        {"node": "xs01", "groups": "xenserver,all"},
    ])
    store.upsert_rows("nodetype", [
        {"node": "node01", "provmethod": "rhels8.6-x86_64-install-compute"},
        {"node": "xen01", "provmethod": "centos7-x86_64-install-xen"},
        {"node": "xs01", "provmethod": "xenserver7.1-x86_64-install-xen"},
    ])
    store.upsert_rows("hosts", [{"node": "node01", "ip": "10.0.0.11"},
                                {"node": "xen01", "ip": "10.0.0.21"},
                                {"node": "xs01", "ip": "10.0.0.31"}])
    store.upsert_rows("mac", [{"node": "node01", "mac": "52:54:00:00:00:11"},
                              {"node": "xen01", "mac": "52:54:00:00:00:21"},
                              {"node": "xs01", "mac": "52:54:00:00:00:31"}])
    store.upsert_rows("noderes", [{"node": "node01", "installnic": "eth0"}])
    store.upsert_rows("nodehm", [{"node": "node01", "serialport": "0", "serialspeed": "115200"},
                                 {"node": "xenhosts", "serialport": "1",
                                  "serialspeed": "57600"}])
    store.upsert_rows("hypervisor", [{"node": "xenhosts", "dom0mem": "2048",
                                      "relocation": "yes",
                                      "relocationhosts": "xen01,xen02"},
                                     {"node": "xs01", "dom0mem": "752M"}])
    store.upsert_rows("vm", [{"node": "xenhosts", "storage": "nfs://<xcatmaster>/vms"}])
    store.commit()


def render(store, node: str, state_dir: Path, part: str | None = None,
           **kw) -> RenderedAnswer:
    attrs = NodeAttrs(store)
    image = image_for_node(attrs, node)
    return render_answer_file(attrs, node, image, master=MASTER, http_port=PORT,
                              installdir=state_dir / "install", env={}, part=part, **kw)


# Every built-in template and the sample node it is shown for.
CASES = {
    "rh/compute.tmpl": ("node01", None),
    "rh/xen.tmpl": ("xen01", None),
    "xenserver/xen.xml.tmpl": ("xs01", None),
    "xenserver/xen.post.tmpl": ("xs01", "post"),
}
# Built-in aliases: other profile names for the same output.
ALIASES = {
    "xenserver/compute.xml.tmpl": "xenserver/xen.xml.tmpl",
    "xenserver/compute.post.tmpl": "xenserver/xen.post.tmpl",
}


def test_every_builtin_template_has_a_golden_case():
    root = builtin_template_dir() / "install"
    shipped = {p.relative_to(root).as_posix() for p in root.rglob("*.tmpl")}
    assert shipped == set(CASES) | set(ALIASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden(store, state_dir, name):
    node, part = CASES[name]
    sample_cluster(store)
    result = render(store, node, state_dir, part=part)
    assert result.template == builtin_template_dir() / "install" / name
    golden = GOLDEN / (name.replace("/", "_") + ".out")
    if REGEN:
        golden.write_text(result.text)
    assert result.text == golden.read_text(), f"{name} differs from {golden}"


@pytest.mark.parametrize("alias", sorted(ALIASES))
def test_builtin_alias_renders_like_its_target(store, state_dir, tmp_path, alias):
    sample_cluster(store)
    attrs = NodeAttrs(store)
    image = image_for_node(attrs, "xs01")
    from dataclasses import replace

    path = builtin_template_dir() / "install" / alias
    part = "post" if alias.endswith(".post.tmpl") else None
    via_alias = render_answer_file(attrs, "xs01", replace(image, template=str(path)),
                                   master=MASTER, http_port=PORT,
                                   installdir=state_dir / "install", env={})
    target = render(store, "xs01", state_dir, part=part)
    assert via_alias.text == target.text


def test_kickstart_carries_the_callback_on_one_line(store, state_dir):
    sample_cluster(store)
    for node in ("node01", "xen01"):
        text = render(store, node, state_dir).text
        lines = [ln for ln in text.splitlines() if "/xcatpy/v1/boot/done" in ln]
        assert lines == [f"curl -fsS --retry 3 http://{MASTER}:{PORT}/xcatpy/v1/boot/done "
                         f"|| wget -q -O /dev/null http://{MASTER}:{PORT}/xcatpy/v1/boot/done"]
        assert text.index("%post") < text.index(lines[0])


def test_xenserver_answer_file_is_xml_and_calls_back(store, state_dir):
    import xml.etree.ElementTree as ET

    sample_cluster(store)
    root = ET.fromstring(render(store, "xs01", state_dir).text)
    assert root.tag == "installation" and root.get("mode") == "fresh"
    assert root.find("script").text.endswith("/install/autoinst/xs01?part=post")
    post = render(store, "xs01", state_dir, part="post").text
    assert f"http://{MASTER}:{PORT}/xcatpy/v1/boot/done" in post


# -- missing values: a clear error, nothing returned --------------------------------------

def test_missing_value_names_node_and_table_column(store, state_dir):
    sample_cluster(store)
    store.begin()
    store.upsert_rows("hypervisor", [{"node": "xenhosts", "dom0mem": None}])
    store.commit()
    with pytest.raises(TemplateError) as info:
        render(store, "xen01", state_dir)
    message = info.value.message
    assert message.startswith("xen01: template ")
    assert str(builtin_template_dir() / "install" / "rh" / "xen.tmpl") in message
    assert "needs hypervisor.dom0mem, which is not set for xen01" in message
    assert "nodech xen01 hypervisor.dom0mem=<value>" in message


@pytest.mark.parametrize("table,key,column,needs", [
    ("site", "timezone", "value", "site.timezone"),
    ("passwd", "system", "password", "passwd.password for key=system,username=root"),
    ("nodehm", "node01", "serialspeed", "nodehm.serialspeed"),
    ("networks", "mgt", "mask", "networks.mask"),
])
def test_missing_values_of_the_compute_kickstart(store, state_dir, table, key, column, needs):
    sample_cluster(store)
    keys = {"site": {"key": key}, "passwd": {"key": key, "username": "root"},
            "nodehm": {"node": key}, "networks": {"net": "10.0.0.0",
                                                  "mask": "255.255.255.0"}}[table]
    store.begin()
    if table == "networks":
        store.delete_rows("networks", [keys])
    else:
        store.upsert_rows(table, [{**keys, column: None}])
    store.commit()
    with pytest.raises(TemplateError) as info:
        render(store, "node01", state_dir)
    assert f"needs {needs}" in info.value.message
    assert info.value.message.startswith("node01: ")


def test_unused_missing_value_is_no_error(store, state_dir):
    """A compute node has no hypervisor row: only templates that use it need it."""
    sample_cluster(store)
    assert "dom0" not in render(store, "node01", state_dir).text


# -- secrets --------------------------------------------------------------------------------

def test_secret_when_root_password_is_used(store, state_dir):
    sample_cluster(store)
    assert render(store, "node01", state_dir).secret is True
    assert render(store, "xs01", state_dir).secret is True
    assert render(store, "xs01", state_dir, part="post").secret is False


def test_plain_root_password_is_crypted(store, state_dir):
    from xcatpy.boot.directives import sha_crypt

    sample_cluster(store, root_password="cluster")
    text = render(store, "node01", state_dir).text
    line = next(ln for ln in text.splitlines() if ln.startswith("rootpw"))
    hashed = line.split()[-1]
    assert hashed.startswith("$6$") and "cluster" not in line
    assert sha_crypt("cluster", hashed.split("$")[2]) == hashed


def test_not_secret_without_secrets(store, state_dir, tmp_path):
    sample_cluster(store)
    path = tmp_path / "plain.tmpl"
    path.write_text("host {{ node }}\n")
    assert render_with(store, state_dir, path, "node01").secret is False


def render_with(store, state_dir, path: Path, node: str, **kw) -> RenderedAnswer:
    from dataclasses import replace

    attrs = NodeAttrs(store)
    image = replace(image_for_node(attrs, node), template=str(path))
    return render_answer_file(attrs, node, image, master=MASTER, http_port=PORT,
                              installdir=state_dir / "install", **kw)


# -- escaping and the sandbox -------------------------------------------------------------

def test_xml_values_are_escaped(store, state_dir):
    sample_cluster(store, root_password="$6$s$<&>\"")
    store.begin()
    store.upsert_rows("site", [{"key": "domain", "value": "a<b>&c"}])
    store.commit()
    text = render(store, "xs01", state_dir).text
    assert "<hostname>xs01.a&lt;b&gt;&amp;c</hostname>" in text
    assert "$6$s$&lt;&amp;&gt;&#34;</root-password>" in text
    import xml.etree.ElementTree as ET

    assert ET.fromstring(text).find("hostname").text == "xs01.a<b>&c"


def test_kickstart_values_are_not_escaped(store, state_dir, tmp_path):
    sample_cluster(store)
    store.begin()
    store.upsert_rows("site", [{"key": "domain", "value": "a<b>&c"}])
    store.commit()
    path = tmp_path / "ks.tmpl"
    path.write_text("{{ fqdn }}\n")
    assert render_with(store, state_dir, path, "node01").text == "node01.a<b>&c\n"


@pytest.mark.parametrize("source", [
    "{{ ''.__class__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ node.__class__ }}",
    "{{ tab._attrs }}",
    "{{ cycler.__init__.__globals__ }}",
])
def test_sandbox_refuses_internals(store, state_dir, tmp_path, source):
    sample_cluster(store)
    path = tmp_path / "evil.tmpl"
    path.write_text(source + "\n")
    with pytest.raises(TemplateError) as info:
        render_with(store, state_dir, path, "node01")
    assert info.value.message.startswith("node01: ")


def test_sandbox_refuses_mutation(store, state_dir, tmp_path):
    sample_cluster(store)
    path = tmp_path / "mutate.tmpl"
    path.write_text("{{ nameservers.append('6.6.6.6') }}\n")
    with pytest.raises(TemplateError, match="sandbox"):
        render_with(store, state_dir, path, "node01")


def test_syntax_error_names_file_and_line(store, state_dir, tmp_path):
    sample_cluster(store)
    path = tmp_path / "broken.tmpl"
    path.write_text("line one\n{% if node %}\nno endif\n")
    with pytest.raises(TemplateError) as info:
        render_with(store, state_dir, path, "node01")
    assert f"template {path} line" in info.value.message
    assert "syntax error" in info.value.message


def test_undefined_variable_names_it(store, state_dir, tmp_path):
    sample_cluster(store)
    path = tmp_path / "typo.tmpl"
    path.write_text("ok\n{{ hostnmae }}\n")
    with pytest.raises(TemplateError) as info:
        render_with(store, state_dir, path, "node01")
    assert "hostnmae" in info.value.message and f"{path} line 2" in info.value.message


def test_rendering_is_all_or_nothing(store, state_dir, tmp_path):
    """The failing value comes last: no partial text escapes in the error or anywhere."""
    sample_cluster(store)
    path = tmp_path / "late.tmpl"
    path.write_text("first line\n" * 50 + "{{ hypervisor.dom0mem }}\n")
    with pytest.raises(TemplateError) as info:
        render_with(store, state_dir, path, "node01")
    assert "first line" not in info.value.message


def test_template_edit_is_seen(store, state_dir, tmp_path):
    sample_cluster(store)
    path = tmp_path / "edit.tmpl"
    path.write_text("one {{ node }}\n")
    assert render_with(store, state_dir, path, "node01").text == "one node01\n"
    path.write_text("two, longer {{ node }}\n")
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    assert render_with(store, state_dir, path, "node01").text == "two, longer node01\n"


def test_extends_builtin_blocks(store, state_dir, tmp_path):
    sample_cluster(store)
    path = tmp_path / "mine.tmpl"
    path.write_text('{% extends "builtin:rh/compute.tmpl" %}\n'
                    "{% block post %}\necho site step for {{ node }}\n{% endblock %}\n")
    text = render_with(store, state_dir, path, "node01").text
    assert "echo site step for node01\n# Last: tell xcatd" in text


def test_env_variables(store, state_dir, tmp_path):
    sample_cluster(store)
    path = tmp_path / "env.tmpl"
    path.write_text("{{ env.SITE_NOTE }} {{ env.XCATMASTER }}\n")
    text = render_with(store, state_dir, path, "node01", env={"SITE_NOTE": "hi"}).text
    assert text == f"hi {MASTER}\n"


# -- search order ---------------------------------------------------------------------------

def image_of(store, node):
    return image_for_node(NodeAttrs(store), node)


def test_search_order_names():
    from xcatpy.boot.osimage import ImageInfo

    image = ImageInfo("i", "rhels8.6", "x86_64", "compute", "install")
    stems = [n.removesuffix(".xml.tmpl").removesuffix(".tmpl")
             for n in candidate_names(image)][::2]
    assert stems == ["compute.rhels8.6.x86_64", "compute.rhels8.x86_64",
                     "compute.rhel8.x86_64", "compute.rhels8.6", "compute.rhels8",
                     "compute.rhel8", "compute.x86_64", "compute"]


def test_custom_dir_beats_builtin(store, state_dir):
    sample_cluster(store)
    custom = state_dir / "install" / "custom" / "install" / "rh"
    custom.mkdir(parents=True)
    (custom / "compute.tmpl").write_text("custom {{ node }}\n")
    result = render(store, "node01", state_dir)
    assert result.template == custom / "compute.tmpl"
    assert result.text == "custom node01\n"


@pytest.mark.parametrize("present,expected", [
    (["compute.tmpl", "compute.rhels8.tmpl", "compute.rhels8.6.x86_64.tmpl"],
     "compute.rhels8.6.x86_64.tmpl"),
    (["compute.tmpl", "compute.rhels8.6.tmpl", "compute.x86_64.tmpl"],
     "compute.rhels8.6.tmpl"),
    (["compute.tmpl", "compute.rhel8.tmpl"], "compute.rhel8.tmpl"),
    (["compute.tmpl", "compute.x86_64.tmpl"], "compute.x86_64.tmpl"),
])
def test_more_specific_name_wins(store, state_dir, present, expected):
    sample_cluster(store)
    custom = state_dir / "install" / "custom" / "install" / "rh"
    custom.mkdir(parents=True)
    for name in present:
        (custom / name).write_text(name + "\n")
    path = find_template(image_of(store, "node01"), state_dir / "install", "node01")
    assert path == custom / expected


def test_linuximage_template_overrides_search(store, state_dir, tmp_path):
    sample_cluster(store)
    own = tmp_path / "anywhere.cfg"
    own.write_text("own {{ node }}\n")
    store.begin()
    store.upsert_rows("linuximage", [{"imagename": "rhels8.6-x86_64-install-compute",
                                      "template": str(own)}])
    store.commit()
    result = render(store, "node01", state_dir)
    assert result.template == own and result.text == "own node01\n"


def test_no_template_lists_where_it_looked(store, state_dir):
    sample_cluster(store)
    store.begin()
    store.upsert_rows("osimage", [{"imagename": "rhels8.6-x86_64-install-compute",
                                   "profile": "nosuch"}])
    store.commit()
    with pytest.raises(TemplateError) as info:
        render(store, "node01", state_dir)
    message = info.value.message
    assert message.startswith("node01: no template for osimage")
    assert str(state_dir / "install" / "custom" / "install" / "rh") in message
    assert "nosuch.rhels8.6.x86_64.tmpl" in message and "nosuch.tmpl" in message


def test_missing_linuximage_template_file(store, state_dir, tmp_path):
    sample_cluster(store)
    store.begin()
    store.upsert_rows("linuximage", [{"imagename": "rhels8.6-x86_64-install-compute",
                                      "template": str(tmp_path / "gone.tmpl")}])
    store.commit()
    with pytest.raises(TemplateError, match="gone.tmpl, which does not exist"):
        render(store, "node01", state_dir)
