"""xCAT directives in templates: each directive, includes, errors, SHA-crypt."""

import shutil
import subprocess

import pytest

from tests.unit.boot.test_templates import MASTER, PORT, render_with, sample_cluster
from xcatpy.boot.directives import (
    INCLUDE_DEPTH_LIMIT,
    crypt_password,
    looks_crypted,
    sha_crypt,
)
from xcatpy.boot.templates import TemplateError
from xcatpy.errors import XcatError


@pytest.fixture
def tmpl(store, state_dir, tmp_path):
    """tmpl(text, node="node01", name="t.tmpl", env=None) -> RenderedAnswer."""
    sample_cluster(store)

    def _render(text: str, node: str = "node01", name: str = "t.tmpl", env=None):
        path = tmp_path / name
        path.write_text(text)
        return render_with(store, state_dir, path, node, env=env or {})
    return _render


def set_rows(store, table, rows):
    store.begin()
    store.upsert_rows(table, rows)
    store.commit()


# -- #TABLE# and #TABLEBLANKOKAY# ------------------------------------------------------------

def test_table_thisnode_with_group_inheritance(tmpl):
    out = tmpl("speed=#TABLE:nodehm:THISNODE:serialspeed# xen=#TABLE:hypervisor:$NODE:dom0mem#\n",
               node="xen01")
    assert out.text == "speed=57600 xen=2048\n"
    assert out.secret is False


def test_table_key_value(tmpl):
    assert tmpl('timezone --utc "#TABLE:site:key=timezone:value#"\n').text == \
        'timezone --utc "Europe/Berlin"\n'


def test_table_passwd_is_secret(tmpl):
    out = tmpl("#TABLE:passwd:key=system,username=root:password#\n")
    assert out.text.startswith("$6$xcatpysample$") and out.secret is True


def test_table_missing_names_node_and_column(tmpl):
    with pytest.raises(TemplateError) as info:
        tmpl("a\n#TABLE:hypervisor:THISNODE:dom0mem#\n")
    message = info.value.message
    assert message.startswith("node01: template ")
    assert "line 2 needs hypervisor.dom0mem, which is not set for node01" in message


def test_table_missing_with_key_names_the_key(tmpl):
    with pytest.raises(TemplateError, match="needs site.value for key=nosuch"):
        tmpl("#TABLE:site:key=nosuch:value#\n")


def test_tableblankokay(tmpl):
    assert tmpl("[#TABLEBLANKOKAY:hypervisor:THISNODE:dom0mem#]\n").text == "[]\n"


def test_nfsserver_falls_back_to_xcatmaster_then_master(tmpl, store):
    assert tmpl("#TABLE:noderes:THISNODE:nfsserver#\n").text == f"{MASTER}\n"
    set_rows(store, "noderes", [{"node": "node01", "xcatmaster": "10.0.0.250"}])
    assert tmpl("#TABLE:noderes:$NODE:nfsserver#\n").text == "10.0.0.250\n"


def test_table_value_is_never_jinja(tmpl, store):
    set_rows(store, "nodelist", [{"node": "node01", "comments": "{{ 7*7 }} {% if %} {#"}])
    assert tmpl("#TABLE:nodelist:THISNODE:comments#\n").text == "{{ 7*7 }} {% if %} {#\n"


def test_table_value_is_escaped_in_xml(tmpl, store):
    set_rows(store, "nodelist", [{"node": "node01", "comments": "<a&b>"}])
    out = tmpl("<x>#TABLE:nodelist:THISNODE:comments#</x>\n", name="t.xml.tmpl")
    assert out.text == "<x>&lt;a&amp;b&gt;</x>\n"


@pytest.mark.parametrize("text,why", [
    ("#TABLE:nosuch:THISNODE:x#", "names table 'nosuch', which does not exist"),
    ("#TABLE:nodehm:THISNODE:nosuch#", "names column 'nosuch', which table nodehm lacks"),
    ("#TABLE:site:THISNODE:value#", "table site is not keyed by node"),
    ("#TABLE:nodehm:serialspeed#", "needs three fields"),
    ("#TABLE:site:nokey:value#", "has key 'nokey'"),
])
def test_bad_table_directive_is_refused_at_load(tmpl, text, why):
    with pytest.raises(TemplateError) as info:
        tmpl("first\n" + text + "\n")
    assert why in info.value.message and "line 2" in info.value.message


# -- #CRYPT# ---------------------------------------------------------------------------------

def test_crypt_keeps_a_hash(tmpl):
    out = tmpl("rootpw --iscrypted #CRYPT:passwd:key=system,username=root:password#\n")
    assert out.text == f"rootpw --iscrypted {sample_hash()}\n" and out.secret is True


def sample_hash():
    from tests.unit.boot.test_templates import ROOT_HASH
    return ROOT_HASH


def test_crypt_hashes_plain_text(tmpl, store):
    set_rows(store, "passwd", [{"key": "system", "username": "root", "password": "cluster"}])
    hashed = tmpl("#CRYPT:passwd:key=system,username=root:password#").text
    assert hashed.startswith("$6$") and sha_crypt("cluster", hashed.split("$")[2]) == hashed


def test_crypt_honours_cryptmethod(tmpl, store):
    set_rows(store, "passwd", [{"key": "system", "username": "root", "password": "cluster",
                                "cryptmethod": "sha256"}])
    assert tmpl("#CRYPT:passwd:key=system,username=root:password#").text.startswith("$5$")
    set_rows(store, "passwd", [{"key": "system", "username": "root", "cryptmethod": "md5"}])
    with pytest.raises(TemplateError, match="cryptmethod 'md5' is not supported"):
        tmpl("#CRYPT:passwd:key=system,username=root:password#")


def test_crypt_missing_and_cryptorlocked(tmpl):
    with pytest.raises(TemplateError, match="needs passwd.password for key=system,username=x"):
        tmpl("#CRYPT:passwd:key=system,username=x:password#")
    out = tmpl("#CRYPTORLOCKED:passwd:key=system,username=x:password#")
    assert out.text == "*" and out.secret is True


# -- #INCLUDE# and friends -------------------------------------------------------------------

def test_include_relative_nested_with_directives(tmpl, tmp_path):
    (tmp_path / "inc").mkdir()
    (tmp_path / "inc" / "a.sh").write_text("echo a #HOSTNAME#\n#INCLUDE:b.sh#\n")
    (tmp_path / "inc" / "b.sh").write_text("echo b ${#x} {{ raw }} {% x %}\n")
    out = tmpl("start\n#INCLUDE:inc/a.sh#\nend {{ node }}\n")
    assert out.text == "start\necho a node01\necho b ${#x} {{ raw }} {% x %}\nend node01\n"


def test_include_absolute_and_env_in_path(tmpl, tmp_path):
    root = tmp_path / "xcatroot"
    (root / "scripts").mkdir(parents=True)
    (root / "scripts" / "pre.rh").write_text("pre for #TABLE:nodelist:THISNODE:groups#\n")
    out = tmpl("#INCLUDE:#ENV:XCATROOT#/scripts/pre.rh#\n#INCLUDE:" + str(root) +
               "/scripts/pre.rh#\n", env={"XCATROOT": str(root)})
    assert out.text == "pre for compute,all\npre for compute,all\n"


def test_include_of_missing_file_names_it(tmpl, tmp_path):
    with pytest.raises(TemplateError) as info:
        tmpl("x\n#INCLUDE:nothere.sh#\n")
    assert str(tmp_path / "nothere.sh") + " does not exist" in info.value.message
    assert "line 2" in info.value.message and info.value.message.startswith("node01: ")


def test_include_depth_limit(tmpl, tmp_path):
    (tmp_path / "loop.sh").write_text("again\n#INCLUDE:loop.sh#\n")
    with pytest.raises(TemplateError) as info:
        tmpl("#INCLUDE:loop.sh#\n")
    assert f"includes nest deeper than {INCLUDE_DEPTH_LIMIT}" in info.value.message
    assert "loop.sh -> loop.sh" in info.value.message


def test_include_chain_below_the_limit(tmpl, tmp_path):
    for i in range(INCLUDE_DEPTH_LIMIT - 1):
        (tmp_path / f"l{i}.sh").write_text(f"{i}\n#INCLUDE:l{i + 1}.sh#\n")
    (tmp_path / f"l{INCLUDE_DEPTH_LIMIT - 1}.sh").write_text("bottom\n")
    text = tmpl("#INCLUDE:l0.sh#\n").text
    assert text.endswith("bottom\n") and text.count("\n") == INCLUDE_DEPTH_LIMIT


def test_include_nop_is_literal_and_shell_quoted(tmpl, tmp_path):
    (tmp_path / "nop.sh").write_text("echo $HOME `date` #HOSTNAME#\n")
    assert tmpl("#INCLUDE_NOP:nop.sh#\n").text == "echo \\$HOME \\`date\\` #HOSTNAME#\n"


def test_include_pkglist(tmpl, tmp_path):
    (tmp_path / "base.pkglist").write_text(
        "# base\nbash\n@core\n-removeme\n#INCLUDE:more.pkglist#\n")
    (tmp_path / "more.pkglist").write_text("vim\n")
    assert tmpl("#INCLUDE_PKGLIST:base.pkglist#\n").text == \
        "# base\n<package>bash</package>\n<package>vim</package>\n"


def test_include_default_pkglist(tmpl, tmp_path, store):
    with pytest.raises(TemplateError, match="needs linuximage.pkglist"):
        tmpl("%packages\n#INCLUDE_DEFAULT_PKGLIST#\n%end\n")
    (tmp_path / "compute.pkglist").write_text("@core\nchrony\n")
    set_rows(store, "linuximage", [{"imagename": "rhels8.6-x86_64-install-compute",
                                    "pkglist": str(tmp_path / "compute.pkglist")}])
    assert tmpl("%packages\n#INCLUDE_DEFAULT_PKGLIST#\n%end\n").text == \
        "%packages\n@core\nchrony\n%end\n"


# -- variables and the simple directives -----------------------------------------------------

def test_env_and_xcatvar(tmpl):
    out = tmpl("#ENV:SITE# #XCATVAR:$SITE# #ENV:XCATMASTER# #ENV:HTTPPORT#\n",
               env={"SITE": "lab"})
    assert out.text == f"lab lab {MASTER} {PORT}\n"
    with pytest.raises(TemplateError, match="needs environment variable NOPE"):
        tmpl("#ENV:NOPE#\n")


def test_simple_directives(tmpl):
    out = tmpl("#HOSTNAME# #SHORTNAME# x#COLONHTTPPORT#y #MANAGEDADDRESSMODE#\n#KICKSTARTNET#\n"
               "#INSTALL_SOURCES#\n")
    assert out.text == (
        f"node01 node01 x:{PORT}y static\n"
        "network --onboot=yes --device=eth0 --bootproto=static --ip=10.0.0.11 "
        f"--netmask=255.255.255.0 --gateway={MASTER} --nameserver={MASTER},10.0.0.53 "
        "--hostname=node01.cluster.example\n"
        f"url --url http://{MASTER}:{PORT}/install/rhels8.6/x86_64\n")


def test_debug_port_directive(tmpl, store):
    assert tmpl("#UNCOMMENTOENABLEDEBUGPORT#x\n").text == "#UNCOMMENTOENABLEDEBUGPORT#x\n"
    set_rows(store, "site", [{"key": "xcatdebugmode", "value": "1"}])
    assert tmpl("#UNCOMMENTOENABLEDEBUGPORT#x\n").text == "x\n"


# -- what is not a directive, and what is refused --------------------------------------------

def test_comment_lines_pass_untouched(tmpl):
    text = ("#\n# comment: #TABLE:nosuch:x:y#\n#nfs --server #XCATVAR:INSTALL_NFS# --dir x\n"
            "##KICKSTARTBOOTLOADER#\n#!/bin/sh\n#XCAT_PARTITION_START#\n#TODO: later\n")
    assert tmpl(text).text == text


def test_unsupported_xcat_directive_is_an_error(tmpl):
    with pytest.raises(TemplateError) as info:
        tmpl("ok\nhost=#COMMAND:hostname#\n")
    message = info.value.message
    assert "#COMMAND:hostname#" in message and "does not support" in message
    assert "line 2" in message


@pytest.mark.parametrize("text", ["#WINNETCFG#\n", "x #KICKSTARTBOOTLOADER#\n"])
def test_other_unsupported_directives(tmpl, text):
    with pytest.raises(TemplateError, match="does not support"):
        tmpl(text)


def test_unknown_directive_with_argument_is_an_error(tmpl):
    with pytest.raises(TemplateError, match="#FOO:bar# is not a known xCAT directive"):
        tmpl("x #FOO:bar#\n")


def test_directive_at_line_start_is_not_a_comment(tmpl):
    assert tmpl("#HOSTNAME# is here\n").text == "node01 is here\n"


# -- SHA-crypt --------------------------------------------------------------------------------

@pytest.mark.parametrize("method,password,salt,expected", [
    # Drepper's specification vectors.
    ("sha512", "Hello world!", "saltstring",
     "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEd"
     "FCoEOfaS35inz1"),
    ("sha256", "Hello world!", "saltstring",
     "$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5"),
    # A short salt (openssl passwd -6 -salt short ...).
    ("sha512", "we have a short salt string but not a short password", "short",
     "$6$short$qmfj2meTBr5G2EAGIJ4vjX7RpefsD4JzpEyTAeEUJdzdxlBS6pe8gdMHm5zFftaFSj/2p2bjBwyVS9"
     "ZhWpLZt."),
])
def test_sha_crypt_vectors(method, password, salt, expected):
    assert sha_crypt(password, salt, method) == expected


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")
@pytest.mark.parametrize("flag,method", [("-5", "sha256"), ("-6", "sha512")])
@pytest.mark.parametrize("password", ["a", "pässwörd with spaces", "x" * 100])
def test_sha_crypt_matches_openssl(flag, method, password):
    out = subprocess.run(["openssl", "passwd", flag, "-salt", "Ab3.xyz/0123", "-stdin"],
                         input=password.encode() + b"\n", capture_output=True, check=True)
    assert sha_crypt(password, "Ab3.xyz/0123", method) == out.stdout.decode().strip()


def test_crypt_password():
    assert crypt_password("$1$abc$def") == "$1$abc$def"
    first = crypt_password("s3cret")
    assert looks_crypted(first) and first.startswith("$6$")
    assert crypt_password("s3cret") == first       # one hash per password per process
    with pytest.raises(XcatError):
        crypt_password("x", "des")
