"""Natural order for node names: node2 sorts before node10, as admins read them."""

import re

# ASCII digits only, as in noderanges: other scripts' digits are text, not numbers.
_DIGITS = re.compile(r"(\d+)", re.ASCII)


def natural_key(name: str) -> tuple:
    # Digit runs compare as numbers without int() (which refuses over 4300 digits): by
    # length once leading zeros are gone, then digit by digit; then by their written length,
    # so node01 and node1 stay distinct and deterministic. Text runs compare as text.
    parts = _DIGITS.split(name)
    key = []
    for i, part in enumerate(parts):
        if i % 2:
            value = part.lstrip("0")
            key.append((0, len(value), value, len(part)))
        else:
            key.append((1, 0, part, 0))
    return tuple(key)


def natural_sorted(names) -> list[str]:
    return sorted(names, key=natural_key)
