"""CommandParser: argparse with xCAT's habits. An option's attached value '--'
(`--mem=--`, `-i--`) is that value: argparse 3.11 took it for the end-of-options marker
and stored [], which every handler then tripped over (AttributeError)."""

import pytest

from xcatpy.commands.options import CommandParser
from xcatpy.errors import UsageError


@pytest.fixture
def parser() -> CommandParser:
    p = CommandParser("demo", "Usage: demo")
    p.add_argument("noderange", nargs="?")
    p.add_argument("--mem", dest="memory")
    p.add_argument("-i", dest="attrs")
    p.add_argument("-a", action="append", default=[])
    p.add_argument("-n", type=int)
    p.add_argument("-c", choices=["x", "y"])
    p.add_argument("rest", nargs="*")
    return p


@pytest.mark.parametrize("args, dest, value", [
    (["v1", "--mem=--"], "memory", "--"), (["-i--", "v1"], "attrs", "--"),
    (["-i=--"], "attrs", "--"), (["-a--", "-a=--", "-ax"], "a", ["--", "--", "x"]),
    (["--mem=--x"], "memory", "--x"), (["--mem", "-1"], "memory", "-1"),
])
def test_an_attached_double_dash_is_the_value(parser, args, dest, value):
    assert getattr(parser.parse(args), dest) == value


def test_double_dash_still_ends_the_options(parser):
    ns = parser.parse(["v1", "--", "--mem=2G", "-i"])
    assert ns.noderange == "v1" and ns.memory is None and ns.rest == ["--mem=2G", "-i"]
    with pytest.raises(UsageError, match="^demo: argument --mem: expected one argument$"):
        parser.parse(["v1", "--mem", "--"])


def test_a_double_dash_value_is_still_typed_and_checked(parser):
    with pytest.raises(UsageError, match="invalid int value: '--'"):
        parser.parse(["-n--"])
    with pytest.raises(UsageError, match="invalid choice: '--'"):
        parser.parse(["-c=--"])


@pytest.mark.parametrize("args, error", [
    (("chvm", "v1", "--mem=--"), "Error: chvm --mem is not a size: '--'"),
    (("chvm", "v1", "--cpus=--"), "Error: chvm --cpus is not a positive number: '--'"),
    (("chvm", "v1", "-a=--"), "Error: chvm -a is not a size: '--'"),
    (("mkvm", "v1", "--cpus=--"), "Error: mkvm --cpus is not a positive number: '--'"),
    (("mkvm", "v1", "-s--"), "Error: mkvm -s is not a size: '--'"),
    (("lsdef", "v1", "-i=--"), "Error: '--' is not a valid attribute name"),
    (("revacuate", "h1", "--per-source=--"),
     "Error: revacuate: --per-source is not a positive number: '--'"),
    (("revacuate", "h1", "--per-dest=--"),
     "Error: revacuate: --per-dest is not a positive number: '--'"),
])
def test_commands_refuse_double_dash_values_in_one_line(run, args, error):
    assert run("nodeadd", "v1", "groups=vm", "vm.host=h1", "nodehm.mgt=kvm").rc == 0
    assert run("nodeadd", "h1", "groups=hv").rc == 0
    result = run(*args)
    assert result.rc == 1 and result.out == []
    assert result.err[0].startswith(error)
    assert run("nodels").out == ["h1", "v1"]
