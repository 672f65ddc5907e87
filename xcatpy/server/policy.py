"""The policy table: who may run which command on which nodes, decided before any handler.

Rows are read in ascending numeric priority; the first row whose name, host, commands,
noderange and parameters all match decides. `allow`, `accept` and `trusted` allow;
any other rule denies. No matching row denies: an unknown user gets nothing.
"""

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

ALLOW_RULES = frozenset({"allow", "accept", "trusted"})


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str


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


def _parameters_match(pattern: str | None, args: Sequence[str]) -> bool:
    if not pattern:
        return True
    try:
        return re.search(pattern, " ".join(args)) is not None
    except re.error:
        return False  # a broken rule must never widen access


def decide(rows: Sequence[dict], *, user: str, host: str, command: str,
           args: Sequence[str],
           nodes_within: Callable[[str], bool | None] | None = None) -> Decision:
    """Apply the policy rows (enabled ones only) to one request.

    `nodes_within(noderange)` says whether every node of the request lies in the rule's
    noderange; None means the request names no nodes, and a rule restricted to a
    noderange then does not apply.
    """
    for row in sorted(rows, key=_priority):
        if not (_field_matches(row.get("name"), user)
                and _field_matches(row.get("host"), host)
                and _field_matches(row.get("commands"), command)
                and _parameters_match(row.get("parameters"), args)):
            continue
        if row.get("noderange") and row["noderange"].strip() != "*":
            if nodes_within is None or not nodes_within(row["noderange"]):
                continue
        rule = (row.get("rule") or "").strip().lower()
        verdict = "allows" if rule in ALLOW_RULES else "denies"
        return Decision(rule in ALLOW_RULES,
                        f"policy {row.get('priority')} {verdict} {user} running {command}")
    return Decision(False, f"no policy rule allows {user} to run {command}")
