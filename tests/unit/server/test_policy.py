"""The policy table's decision (xcatpy/server/policy.py) and what a request may log."""

from xcatpy.server.api import redact
from xcatpy.server.policy import check_nodes, decide

RANGES = {"rack1": {"r1n1", "r1n2"}, "vault": {"v1"}, "r2n1": {"r2n1"}}


def row(priority, rule, name="u", noderange=None, commands=None, parameters=None):
    return {"priority": str(priority), "name": name, "rule": rule, "noderange": noderange,
            "commands": commands, "parameters": parameters}


def verdict(rows, nodes, command="nodech", takes_nodes=True):
    d = decide(rows, user="u", host="h", command=command, args=list(nodes),
               takes_nodes=takes_nodes)
    if not d.allowed:
        return d.reason
    if not d.node_rules:
        return None
    return check_nodes(d, nodes, lambda r: RANGES[r], user="u", command=command)


def test_an_unrestricted_rule_decides_before_any_node_is_known():
    d = decide([row(1, "allow")], user="u", host="h", command="nodels", args=[],
               takes_nodes=True)
    assert (d.allowed, d.node_rules) == (True, ())
    assert verdict([row(1, "deny")], ["r1n1"]) == "policy 1 denies u running nodech"
    assert verdict([], ["r1n1"]) == "no policy rule allows u to run nodech"


def test_one_node_under_a_deny_rule_denies_the_request():
    rows = [row(5, "deny", noderange="vault"), row(10, "allow")]
    assert verdict(rows, ["r1n1"]) is None
    assert verdict(rows, ["r1n1", "v1"]) == "policy 5 denies u running nodech on v1"


def test_allow_rules_may_each_cover_part_of_a_request():
    rows = [row(1, "allow", noderange="rack1"), row(2, "allow", noderange="r2n1"),
            row(9, "deny")]
    assert verdict(rows, ["r1n1", "r2n1"]) is None
    assert verdict(rows, ["r1n1", "x9"]) == "policy 9 denies u running nodech on x9"
    assert verdict(rows[:2], ["x9"]) == "no policy rule allows u to run nodech on x9"


def test_noderange_rules_never_apply_to_commands_without_nodes():
    rows = [row(1, "allow", noderange="rack1")]
    assert verdict(rows, [], command="tabdump", takes_nodes=False) == \
        "no policy rule allows u to run tabdump"


def test_only_restricted_deny_rules_deny_at_once():
    assert verdict([row(1, "deny", noderange="rack1")], ["r1n1"]) == \
        "no policy rule allows u to run nodech"


def test_a_rule_whose_noderange_cannot_be_expanded_covers_nothing():
    def broken(_):
        raise ValueError("bad range")
    d = decide([row(1, "allow", noderange="bad[")], user="u", host="h", command="nodech",
               args=[], takes_nodes=True)
    assert check_nodes(d, ["r1n1"], broken, user="u", command="nodech") == \
        "no policy rule allows u to run nodech on r1n1"


def test_secrets_in_arguments_are_not_logged():
    assert redact(["r1n1", "passwd.password=cluster", "ipmi.password,=x", "bmcpassword=p",
                   "key=system,username=root", "nodetype.os=rh", "-d"]) == [
        "r1n1", "passwd.password=***", "ipmi.password,=***", "bmcpassword=***",
        "key=system,username=root", "nodetype.os=rh", "-d"]


def test_a_parameters_pattern_that_cannot_compile_never_widens_access():
    # Syntax, a repeat count re cannot hold, and nesting its parser cannot recurse into:
    # each must keep a deny row denying and an allow row allowing nothing, not raise.
    for broken in ("(", "a{4294967296}", "(" * 1000 + "a" + ")" * 1000):
        deny_first = [row(1, "deny", parameters=broken), row(2, "allow")]
        assert verdict(deny_first, ["r1n1"]) == "policy 1 denies u running nodech"
        allow_only = [row(1, "allow", parameters=broken)]
        assert verdict(allow_only, ["r1n1"]) == "no policy rule allows u to run nodech"
