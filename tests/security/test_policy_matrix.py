"""The policy table as a matrix: users x commands x noderanges, through a real xcatd.

Every user holds a real certificate of the instance's CA (`xcatpy-setup issue`) and runs
the real CLI. Each case says whether the policy must let the command through; an allowed
command must do its work (the output, or the change it makes), a denied one must end with
exit code 1, one `Error: Permission denied for request: ...` line naming the rule (or the
absence of one), no output, and every table exactly as it was.

The rules follow xCAT's policy semantics (xCAT-server/lib/perl/xCAT/xcatd.pm validate):
rows in ascending numeric priority; the first row whose name, host, commands, parameters
and noderange match decides; allow/accept/trusted allow, any other rule denies; no
matching row denies; a disabled row does not exist. For a rule with a noderange, xCAT
applies an allow rule only to nodes inside its range (the others must be allowed by
later rows) and a deny rule as soon as any requested node is inside it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from tests.security.harness import (
    TALLY,
    api,
    client_context,
    column,
    local,
    snapshot,
    start_daemon,
    via,
)
from xcatpy.pki.ca import issue_client

DENIED = "Error: Permission denied for request: "

# priority, name, host, commands, noderange, parameters, rule, disable
RULES = [
    ("10", "alice", "", "nodels,tabdump", "", "", "allow", ""),
    ("11", "alice", "", "", "", "", "deny", ""),
    ("20", "bob", "", "nodech", "rack1", "", "allow", ""),
    ("21", "bob", "", "nodels", "", "", "allow", ""),
    ("29", "bob", "", "", "", "", "deny", ""),
    ("30", "carol", "", "", "vault", "", "deny", ""),
    ("31", "carol", "", "", "", "", "allow", ""),
    ("40", "dave", "127.0.0.2", "", "", "", "allow", ""),
    ("50", "erin", "", "tabdump", "", r"^(site|nodelist)$", "allow", ""),
    ("60", "frank", "", "", "", "", "allow", "1"),
    # Numeric order: 90 before 100 (as text, "100" would sort first and allow).
    ("100", "grace", "", "", "", "", "allow", ""),
    ("90", "grace", "", "", "", "", "deny", ""),
    ("110", "ivan", "", "", "", "", "trusted", ""),
    ("120", "judy", "", "", "", "", "accept", ""),
    ("130", "kim", "", "", "", "", "maybe", ""),
    # A broken regular expression must never widen access.
    ("140", "lena", "", "", "", "(", "allow", ""),
    ("150", "mike", "", "nodels", "rack2", "", "allow", ""),
    ("151", "mike", "", "nodels", "rack1", "", "allow", ""),
]
USERS = sorted({r[1] for r in RULES} | {"mallory"})  # mallory has no row at all


@pytest.fixture(scope="module")
def xcat(tmp_path_factory):
    base = tmp_path_factory.mktemp("policy")
    state = base / "state"
    daemon = start_daemon(state)
    try:
        local(state, "nodeadd", "r1n[1-3]", "groups=rack1,all", "nodetype.os=base")
        local(state, "nodeadd", "r2n[1-3]", "groups=rack2,all", "nodetype.os=base")
        # vault1 is a guest of hv1, whose sshd does not answer (site.sshport 1): a mkvm
        # that got through would store its vm values, then fail to reach the host.
        local(state, "nodeadd", "hv1", "groups=hv", "hypervisor.type=xen", "hosts.ip=127.0.0.1")
        local(state, "tabch", "key=sshport", "site.value=1")
        local(state, "nodeadd", "vault1", "groups=vault,all", "nodetype.os=base",
              "vm.memory=512", "vm.host=hv1", "nodehm.mgt=xen")
        local(state, "tabch", "key=system,username=root", "passwd.password=cluster")
        for prio, name, host, commands, noderange, params, rule, disable in RULES:
            local(state, "tabch", f"priority={prio}", f"policy.name={name}",
                  f"policy.host={host}", f"policy.commands={commands}",
                  f"policy.noderange={noderange}", f"policy.parameters={params}",
                  f"policy.rule={rule}", f"policy.disable={disable}")
        creds = {user: issue_client(state, user, out_dir=base / "creds" / user).directory
                 for user in USERS}
        yield daemon, creds, base
    finally:
        daemon.stop()


@dataclass
class Case:
    user: str
    args: tuple[str, ...]
    allowed: bool
    # allowed reads: lines the output must hold; allowed writes: {node: nodetype.os}
    out: tuple[str, ...] = ()
    wrote: dict[str, str] = field(default_factory=dict)
    rule: str = ""  # what the denial names: "policy 29 denies bob" or "no policy rule"
    files: dict[str, str] = field(default_factory=dict)  # files in the CLI's cwd

    def __str__(self) -> str:
        return f"{self.user}: {' '.join(self.args)}"


def write(user, noderange, token, nodes, **kw):
    return Case(user, ("nodech", noderange, f"nodetype.os={token}"), True,
                wrote={n: token for n in nodes}, **kw)


def denied_write(user, noderange, rule, **kw):
    return Case(user, ("nodech", noderange, "nodetype.os=pwned"), False, rule=rule, **kw)


R1, R2 = ["r1n1", "r1n2", "r1n3"], ["r2n1", "r2n2", "r2n3"]

MATRIX = [
    # root: the default rule 1 allows everything
    write("root", "vault1", "root-os", ["vault1"]),
    Case("root", ("tabdump", "passwd"), True, out=('"system","root","cluster"',)),
    # alice: a read-only operator
    Case("alice", ("nodels", "rack1"), True, out=tuple(R1)),
    Case("alice", ("tabdump", "nodelist"), True, out=("\"vault1\",",)),
    denied_write("alice", "r1n1", "policy 11 denies alice running nodech"),
    Case("alice", ("nodeadd", "evil1", "groups=all"), False,
         rule="policy 11 denies alice running nodeadd"),
    Case("alice", ("tabch", "key=system,username=root", "passwd.password=pwned"), False,
         rule="policy 11 denies alice running tabch"),
    Case("alice", ("noderm", "r1n1"), False, rule="policy 11 denies alice running noderm"),
    # bob: may change rack1 only, read everything, nothing else
    write("bob", "r1n1", "bob-node", ["r1n1"]),
    write("bob", "rack1", "bob-group", R1),
    write("bob", "r1n[2-3]", "bob-range", ["r1n2", "r1n3"]),
    write("bob", "/r1n[12]", "bob-regex", ["r1n1", "r1n2"]),
    denied_write("bob", "r2n1", "policy 29 denies bob running nodech"),
    denied_write("bob", "rack2", "policy 29 denies bob running nodech"),
    denied_write("bob", "r1n1,r2n1", "policy 29 denies bob running nodech"),
    denied_write("bob", "all", "policy 29 denies bob running nodech"),
    denied_write("bob", "/r2n.*", "policy 29 denies bob running nodech"),
    denied_write("bob", "rack1,vault1", "policy 29 denies bob running nodech"),
    denied_write("bob", "ghost1", "policy 29 denies bob running nodech"),
    Case("bob", ("nodels", "r2n1"), True, out=("r2n1",)),
    Case("bob", ("noderm", "r1n1"), False, rule="policy 29 denies bob running noderm"),
    Case("bob", ("nodeadd", "r1n9", "groups=rack1"), False,
         rule="policy 29 denies bob running nodeadd"),
    Case("bob", ("tabch", "node=r2n1", "nodetype.os=pwned"), False,
         rule="policy 29 denies bob running tabch"),
    Case("bob", ("tabdump", "passwd"), False, rule="policy 29 denies bob running tabdump"),
    # carol: everything except the vault
    write("carol", "r2n1", "carol-os", ["r2n1"]),
    denied_write("carol", "vault1", "policy 30 denies carol running nodech"),
    denied_write("carol", "vault", "policy 30 denies carol running nodech"),
    Case("carol", ("nodels", "vault"), False, rule="policy 30 denies carol running nodels"),
    Case("carol", ("noderm", "vault1"), False, rule="policy 30 denies carol running noderm"),
    # A rule with a noderange does not apply to a command that names no nodes.
    Case("carol", ("tabdump", "site"), True, out=('"xcatdport","3001"',)),
    # dave: only from 127.0.0.2 (see test_host_column); the CLI comes from 127.0.0.1
    Case("dave", ("nodels",), False, rule="no policy rule allows dave to run nodels"),
    # erin: tabdump of site and nodelist, never of passwd
    Case("erin", ("tabdump", "site"), True, out=('"xcatdport","3001"',)),
    Case("erin", ("tabdump", "nodelist"), True, out=("\"r1n1\",",)),
    Case("erin", ("tabdump", "passwd"), False, rule="no policy rule allows erin"),
    Case("erin", ("tabdump", "-w", "key==system", "passwd"), False,
         rule="no policy rule allows erin"),
    Case("erin", ("tabdump", "site", "passwd"), False, rule="no policy rule allows erin"),
    Case("erin", ("nodels",), False, rule="no policy rule allows erin"),
    # frank: his only row is disabled
    Case("frank", ("nodels",), False, rule="no policy rule allows frank"),
    denied_write("frank", "r1n1", "no policy rule allows frank"),
    # grace: deny at 90 comes before allow at 100
    Case("grace", ("nodels",), False, rule="policy 90 denies grace running nodels"),
    denied_write("grace", "r1n1", "policy 90 denies grace running nodech"),
    # rule words
    Case("ivan", ("nodels", "rack2"), True, out=tuple(R2)),
    Case("judy", ("nodels", "rack2"), True, out=tuple(R2)),
    Case("kim", ("nodels",), False, rule="policy 130 denies kim running nodels"),
    Case("lena", ("nodels",), False, rule="no policy rule allows lena"),
    # mike: nodels on rack1 or on rack2, by two allow rules, never on the vault
    Case("mike", ("nodels", "rack2"), True, out=tuple(R2)),
    Case("mike", ("nodels", "r1n1"), True, out=("r1n1",)),
    Case("mike", ("nodels", "vault1"), False, rule="no policy rule allows mike"),
    Case("mike", ("nodels",), False, rule="no policy rule allows mike"),
    Case("mike", ("nodech", "r1n1", "nodetype.os=pwned"), False,
         rule="no policy rule allows mike"),
    # mallory: no row at all
    Case("mallory", ("nodels",), False, rule="no policy rule allows mallory to run nodels"),
    Case("mallory", ("tabdump", "passwd"), False, rule="no policy rule allows mallory"),
    denied_write("mallory", "r1n1", "no policy rule allows mallory"),
    Case("mallory", ("nodeadd", "evil1", "groups=all"), False,
         rule="no policy rule allows mallory"),
]

# Attempts that once got past the policy (its noderange was guessed from the request text,
# and a rule applied only when every requested node lay inside it); now each node the
# command really resolves is judged by the first rule covering it (policy.check_nodes).
BYPASS_ATTEMPTS = [
    # One node under a deny rule denies the request, whatever else is named with it.
    denied_write("carol", "r1n1,vault1", "policy 30 denies carol running nodech"),
    Case("carol", ("nodels", "all"), False, rule="policy 30 denies carol running nodels"),
    # The nodes are the ones mkvm's own parser finds, not the value of --mem.
    Case("carol", ("mkvm", "--mem", "2048", "vault1"), False,
         rule="policy 30 denies carol running mkvm"),
    # Two allow rules, each covering one of the nodes (as xCAT allows).
    Case("mike", ("nodels", "r1n1,r2n1"), True, out=("r1n1", "r2n1")),
    # A ^file noderange is judged on the file the client shipped.
    Case("bob", ("nodech", "^nodes.txt", "nodetype.os=pwned"), False,
         rule="policy 29 denies bob running nodech", files={"nodes.txt": "r2n1\n"}),
]


def _run_case(xcat, case: Case, tmp_path):
    daemon, creds, _ = xcat
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    for name, text in case.files.items():
        (work / name).write_text(text)
    user_creds = None if case.user == "root" else creds[case.user]
    before = snapshot(daemon.state)
    r = via(daemon, *case.args, creds=user_creds, cwd=work)
    after = snapshot(daemon.state)
    if case.allowed:
        assert r.rc == 0 and "Permission denied" not in r.err, (str(case), r)
        for line in case.out:
            assert line in r.out.splitlines() or line in r.out, (str(case), line, r.out)
        for node, value in case.wrote.items():
            assert column(daemon.state, node, "nodetype.os") == value, (str(case), node)
        return
    refused = (r.rc == 1 and r.out == "" and r.err.startswith(DENIED)
               and r.err.count("\n") == 1 and case.rule in r.err and after == before)
    TALLY.record("policy: denied user x command x noderange", refused)
    assert r.rc == 1, (str(case), r)
    assert r.out == "", (str(case), r.out)
    assert r.err.startswith(DENIED) and r.err.count("\n") == 1, (str(case), r.err)
    assert case.rule in r.err, (str(case), r.err)
    changed = {t for t in before if before[t] != after[t]}
    assert not changed, (str(case), changed)


@pytest.mark.parametrize("case", MATRIX, ids=str)
def test_policy_matrix(xcat, case, tmp_path):
    _run_case(xcat, case, tmp_path)


@pytest.mark.parametrize("case", BYPASS_ATTEMPTS, ids=str)
def test_policy_bypass_attempts(xcat, case, tmp_path):
    _run_case(xcat, case, tmp_path)


def test_matrix_covers_every_user_both_ways():
    """Each user with rules has an allowed and a denied case (or is denied outright)."""
    allowed = {c.user for c in MATRIX if c.allowed}
    denied = {c.user for c in MATRIX if not c.allowed}
    assert denied >= set(USERS) - {"ivan", "judy", "root"}
    assert allowed >= {"root", "alice", "bob", "carol", "erin", "ivan", "judy", "mike"}


def test_host_column(xcat):
    """dave's rule names the address he must come from: the same certificate is refused
    from 127.0.0.1 and allowed from 127.0.0.2 (python ssl, source address bound)."""
    daemon, creds, _ = xcat
    from xcatpy.pki.paths import ClientCreds

    ctx = client_context(ClientCreds.in_dir(creds["dave"]))
    before = snapshot(daemon.state)
    wrong = api(daemon.port, ctx, "nodech", "r1n1", "nodetype.os=pwned", source="127.0.0.1")
    TALLY.record("policy: denied user x command x noderange",
                 wrong.rc == 1 and "Permission denied" in wrong.err)
    assert (wrong.status, wrong.rc) == (200, 1)
    assert wrong.err == (f"{DENIED}no policy rule allows dave to run nodech\n")
    assert snapshot(daemon.state) == before
    right = api(daemon.port, ctx, "nodels", "rack2", source="127.0.0.2")
    assert (right.rc, right.out) == (0, "r2n1\nr2n2\nr2n3\n")
    wrote = api(daemon.port, ctx, "nodech", "r2n3", "nodetype.os=dave-os", source="127.0.0.2")
    assert wrote.rc == 0, wrote
    assert column(daemon.state, "r2n3", "nodetype.os") == "dave-os"


def test_denials_do_not_stop_the_daemon_serving(xcat):
    daemon, creds, _ = xcat
    assert daemon.proc.poll() is None
    r = via(daemon, "nodels", "vault1", "nodetype.os")
    assert r.rc == 0 and r.out.startswith("vault1: ")
