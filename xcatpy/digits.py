"""Numbers written in table values and command options: ASCII decimal digits only.

str.isdigit() is also true for '²' (which int() refuses with a ValueError) and for '١'
(which int() reads as 1), and int() refuses more than 4300 digits; so `s.isdigit()` then
`int(s)` either crashes or accepts a number nobody typed. Values from tables and requests
are read with decimal() instead.
"""

# No port, count, size or time in a table needs more; longer is not a number we take.
MAX_DIGITS = 18


def decimal(text: str | None) -> int | None:
    """The non-negative integer `text` is, written in ASCII digits, or None."""
    if not text or len(text) > MAX_DIGITS or not (text.isascii() and text.isdigit()):
        return None
    return int(text)
