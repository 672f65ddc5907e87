"""Placeholder until the regex-value module lands: values pass through unchanged."""


def evaluate(value: str, node: str) -> str | None:
    return value or None
