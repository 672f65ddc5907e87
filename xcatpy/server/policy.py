"""The policy table: who may run which command on which nodes, decided before any handler.

Rows are read in ascending numeric priority; the first row whose name, host, commands,
noderange and parameters all match decides. `allow`, `accept` and `trusted` allow;
any other rule denies. No matching row denies: an unknown user gets nothing.

A row's noderange is judged per node, on the nodes the command really resolves (the
handler's own noderange, after its options and any `^file`), not on what the request text
looks like: `decide` runs before the command, `check_nodes` when it expands its nodes.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from xcatpy.db.userregex import BadRegex, compile_user_regex

ALLOW_RULES = frozenset({"allow", "accept", "trusted"})


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str
    # Rows restricted to a noderange that may decide for some nodes: the command may
    # start, and every node it resolves is then judged by check_nodes.
    node_rules: tuple[dict, ...] = ()


def _priority(row: dict) -> float:
    try:
        return float(row.get("priority") or "inf")
    except ValueError:
        return float("inf")


def _field_matches(pattern: str | None, value: str) -> bool:
    """Empty or `*` matches anything; otherwise a comma-separated list of exact values."""
    if not pattern or pattern.strip() == "*":
        return True
    return value in {p.strip() for p in pattern.split(",")}


def _parameters_match(row: dict, args: Sequence[str]) -> bool:
    pattern = row.get("parameters")
    if not pattern:
        return True
    try:
        return compile_user_regex(pattern).search(" ".join(args)) is not None
    except BadRegex:
        # A broken pattern must never widen access: a deny row applies to everything, an
        # allow row to nothing.
        return not _allows(row)


def _restricted(row: dict) -> bool:
    return bool(row.get("noderange")) and row["noderange"].strip() != "*"


def _allows(row: dict) -> bool:
    return (row.get("rule") or "").strip().lower() in ALLOW_RULES


def _reason(row: dict, user: str, command: str, node: str | None = None) -> str:
    verdict = "allows" if _allows(row) else "denies"
    on = f" on {node}" if node else ""
    return f"policy {row.get('priority')} {verdict} {user} running {command}{on}"


def decide(rows: Sequence[dict], *, user: str, host: str, command: str,
           args: Sequence[str], takes_nodes: bool) -> Decision:
    """Apply the policy rows (enabled ones only) to one request, before it runs.

    Rows are taken in priority order; the first whose name, host, commands and parameters
    match and that has no noderange decides. A row restricted to a noderange can only
    decide for the nodes in it: for a command that takes no nodes it never applies; for
    one that does, the rows up to the deciding one are kept in the decision, the command
    may start if any of them allows, and each node it resolves must then pass
    check_nodes (xCAT's semantics: one node under a deny rule denies the request).
    """
    restricted: list[dict] = []
    for row in sorted(rows, key=_priority):
        if not (_field_matches(row.get("name"), user)
                and _field_matches(row.get("host"), host)
                and _field_matches(row.get("commands"), command)
                and _parameters_match(row, args)):
            continue
        if _restricted(row):
            if takes_nodes:
                restricted.append(row)
            continue
        if not restricted:
            return Decision(_allows(row), _reason(row, user, command))
        return _pending(restricted + [row], user, command)
    if restricted:
        return _pending(restricted, user, command)
    return Decision(False, f"no policy rule allows {user} to run {command}")


def _pending(rules: list[dict], user: str, command: str) -> Decision:
    if not any(_allows(r) for r in rules):
        return Decision(False, _reason(rules[-1], user, command)
                        if not _restricted(rules[-1])
                        else f"no policy rule allows {user} to run {command}")
    return Decision(True, f"{user} may run {command} on the nodes its policy rules allow",
                    tuple(rules))


def check_nodes(decision: Decision, nodes: Sequence[str], expand: Callable[[str], set],
                *, user: str, command: str) -> str | None:
    """Why the request may not touch these nodes, or None when every one is allowed: each
    node is judged by the first of the decision's rules that covers it."""
    covered: dict[int, set] = {}
    for node in nodes:
        verdict = None
        for i, row in enumerate(decision.node_rules):
            if _restricted(row):
                if i not in covered:
                    try:
                        covered[i] = set(expand(row["noderange"]))
                    except Exception:
                        covered[i] = set()    # a broken rule must never widen access
                if node not in covered[i]:
                    continue
            verdict = row
            break
        if verdict is None:
            return f"no policy rule allows {user} to run {command} on {node}"
        if not _allows(verdict):
            return _reason(verdict, user, command, node)
    return None
