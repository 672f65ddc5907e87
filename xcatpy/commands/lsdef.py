"""lsdef: list xCAT object definitions.

Bare `lsdef` lists every node by name; naming objects (or -l, -i) shows their attributes,
`-z` as a stanza file mkdef reads back. Node values are shown resolved (inherited from
groups, regular expressions evaluated), with the xcatdefaults postscripts in front except
in stanza output, as xCAT does.
"""

from xcatpy.commands import defcommon
from xcatpy.commands.base import Context
from xcatpy.db import stanza
from xcatpy.db.objdefs import TYPES, ObjType, obj_types
from xcatpy.db.objects import ObjectView, with_xcatdefaults
from xcatpy.db.selectors import parse_selectors
from xcatpy.errors import UsageError

USAGE = defcommon.usage("lsdef", "List xCAT data object definitions.", [
    "lsdef [-V | --verbose] [-t object-types] [-o object-names]",
    "[ -l | --long] [-s | --short] [-a | --all] [-z | --stanza ] [-S]",
    "[-i attr-list] [-c | --compress] [-w attr==val [-w attr=~val] ...] [noderange]",
])

_parser = defcommon.parser("lsdef", USAGE)
_parser.add_argument("-l", "--long", action="store_true")
_parser.add_argument("-s", "--short", action="store_true")
_parser.add_argument("-a", "--all", action="store_true")
_parser.add_argument("-z", "--stanza", action="store_true")
_parser.add_argument("-S", dest="hidden", action="store_true")
_parser.add_argument("-i", dest="attrs")
_parser.add_argument("-c", "--compress", action="store_true")
_parser.add_argument("-w", dest="where", action="append", default=[])

NOTHING = "Could not find any object definitions to display."


def _check(opts) -> None:
    pairs = [("all", "types", "'-a' and '-t'"), ("long", "short", "'-l' and '-s'"),
             ("attrs", "short", "'-i' and '-s'")]
    for a, b, text in pairs:
        if getattr(opts, a) and getattr(opts, b):
            raise UsageError(f"The flags {text} cannot be used together.")
    if opts.compress and not opts.attrs:
        raise UsageError("The flags '-c' and '-i' must be used together.")


def run(ctx: Context) -> int:
    opts = defcommon.parse(_parser, ctx.args)
    _check(opts)
    operands = defcommon.split_operands(opts.operands)
    if operands.attrs:
        raise UsageError(f"lsdef does not take attr=val pairs: "
                         f"{' '.join(f'{a}={v}' for a, v in operands.attrs.items())}")
    names_text = opts.objects or operands.names
    if opts.all and names_text:
        raise UsageError("Cannot use '-a' with '-o', a noderange or file input.")
    types = list(TYPES.values()) if opts.all else obj_types(opts.types or "node")
    if names_text and len(types) > 1:
        raise UsageError("Object names can be given for one object type at a time.")
    long = (opts.long or bool(names_text) or bool(opts.attrs)) and not opts.short
    wanted = _wanted_attrs(types, opts.attrs)
    view = ObjectView(ctx.attrs)
    where = parse_selectors(opts.where)
    lines: list[str] = [stanza.HEADER_COMMENT] if opts.stanza else []
    shown = 0
    for otype in types:
        if names_text:
            names = defcommon.existing_names(ctx, view, otype, names_text, opts.hidden)
        else:
            names = view.names(otype, include_hidden=opts.hidden)
        objects = _objects(view, otype, names, wanted, where, long, opts.stanza)
        shown += len(objects)
        lines += _format(otype, objects, opts, long, multi=len(types) > 1, wanted=wanted)
    if not shown:
        ctx.out.data(NOTHING)
        return 0
    for line in lines:
        ctx.out.data(line)
    return 0


def _wanted_attrs(types: list[ObjType], attrs_text: str | None) -> list[str] | None:
    if attrs_text is None:
        return None
    wanted = list(dict.fromkeys(a.strip() for a in attrs_text.split(",") if a.strip()))
    for otype in types:
        if not otype.free_form:
            for name in wanted:
                otype.attr(name)
    return wanted


def _objects(view: ObjectView, otype: ObjType, names: list[str], wanted, where, long,
             plain_scripts) -> dict[str, dict[str, str]]:
    """Name -> values of the objects to show, after -w; values only when needed."""
    if not long and not where:
        return {n: {} for n in names}
    for sel in where:
        if sel.attr != otype.key and not otype.free_form:
            otype.attr(sel.attr)
    lookup = None
    if wanted is not None and otype.name == "node":
        lookup = set(wanted) | {s.attr for s in where}
    values = view.read(otype, names, lookup)
    if otype.name == "node" and not plain_scripts:
        defaults = view.xcatdefaults()
        for v in values.values():
            with_xcatdefaults(v, defaults)
    if where:
        values = {n: v for n, v in values.items()
                  if all(s.matches(n if s.attr == otype.key else v.get(s.attr))
                         for s in where)}
    return values


def _format(otype: ObjType, objects: dict[str, dict[str, str]], opts, long: bool,
            multi: bool, wanted: list[str] | None) -> list[str]:
    lines: list[str] = []
    for name, values in objects.items():
        if not long:
            if opts.stanza:
                lines += ["", f"{name}:"]
            elif opts.all:
                lines.append(f"{name} ({otype.name})")
            else:
                lines.append(f"{name}  ({otype.name})")
            continue
        if opts.stanza:
            lines += ["", f"{name}:", f"{stanza.INDENT}objtype={otype.name}"]
        elif multi:
            lines.append(f"Object name: {name}  ({otype.name})")
        elif not opts.compress:
            lines.append(f"Object name: {name}")
        lines += _attr_lines(otype, name, values, opts, wanted)
    return lines


def _attr_lines(otype: ObjType, name: str, values: dict[str, str], opts,
                wanted: list[str] | None) -> list[str]:
    if wanted is not None:
        shown = sorted(wanted)
    elif otype.free_form:
        shown = sorted(values)
    else:
        shown = sorted(a for a in otype.attrs if a != otype.key)
    prefix = f"{name}: " if opts.compress else stanza.INDENT
    out = []
    for attr in shown:
        value = values.get(attr, "")
        # Asked-for attributes show even when unset; a group always shows its members.
        if value or wanted is not None or (otype.name == "group" and attr == "members"):
            out.append(f"{prefix}{attr}={value}")
    return out

