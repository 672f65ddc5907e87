"""Natural order for node names: node2 sorts before node10, as admins read them."""

import re

_DIGITS = re.compile(r"(\d+)")


def natural_key(name: str) -> tuple:
    # Digit runs compare as numbers, then by length so node01 and node1 stay distinct
    # and deterministic; text runs compare as text.
    parts = _DIGITS.split(name)
    return tuple((0, int(p), len(p)) if i % 2 else (1, p, 0) for i, p in enumerate(parts))


def natural_sorted(names) -> list[str]:
    return sorted(names, key=natural_key)
