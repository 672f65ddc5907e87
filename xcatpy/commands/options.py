"""Option parsing with xCAT's habits: -h/-?/--help everywhere, errors as one line."""

import argparse

from xcatpy.errors import UsageError


class HelpRequested(Exception):
    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


class CommandParser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, and prints the command's own usage text."""

    def __init__(self, prog: str, usage: str) -> None:
        super().__init__(prog=prog, usage=usage, add_help=False, allow_abbrev=False,
                         exit_on_error=False)
        self.usage_text = usage
        self.add_argument("-h", "-?", "--help", action="store_true", dest="help")

    def error(self, message: str):
        raise UsageError(f"{self.prog}: {message}")

    def exit(self, status: int = 0, message: str | None = None):
        raise UsageError(f"{self.prog}: {message or 'invalid arguments'}")

    def _get_values(self, action, arg_strings):
        # argparse 3.11 drops the '--' of `--mem=--` (or `-i--`) as if it ended the
        # options, and stores [] as the option's value, which no handler expects. An
        # option's own attached argument is never that marker: it is the value written.
        if action.option_strings and action.nargs in (None, "?") and arg_strings == ["--"]:
            value = self._get_value(action, "--")
            self._check_value(action, value)
            return value
        return super()._get_values(action, arg_strings)

    def parse(self, args: list[str]) -> argparse.Namespace:
        try:
            ns = self.parse_intermixed_args(args)
        except argparse.ArgumentError as exc:
            raise UsageError(f"{self.prog}: {exc}") from None
        if ns.help:
            raise HelpRequested(self.usage_text)
        return ns
