"""chdef: change xCAT object definitions; objects that do not exist are created.

-p adds items to list values and -m removes them, starting from the value the object
resolves to; -n renames one object; -z reads stanzas from standard input.
"""

from xcatpy.commands import defcommon
from xcatpy.commands.base import Context
from xcatpy.commands.defcommon import Definition, joined
from xcatpy.commands.defgroup import define_group
from xcatpy.commands.mkdef import read_stanzas
from xcatpy.db.objdefs import TYPES, ObjType
from xcatpy.db.objects import ObjectView, check_node_selectors
from xcatpy.db.objwrite import MINUS, PLUS, REPLACE, ObjectWriter
from xcatpy.db.selectors import parse_selectors
from xcatpy.errors import UsageError, XcatError

USAGE = defcommon.usage("chdef", "Change xCAT data object definitions.", [
    "chdef [-t object-types] [-o object-names] [-n new-name] [node]",
    "",
    "  chdef [-V | --verbose] [-t object-types] [-o object-names] [-d | --dynamic]",
    "[-z | --stanza] [-m | --minus] [-p | --plus]",
    "[-w attr==val [-w attr=~val] ... ] [noderange] [attr=val [attr=val...]]",
])

_parser = defcommon.parser("chdef", USAGE)
_parser.add_argument("-n", dest="newname")
_parser.add_argument("-z", "--stanza", action="store_true")
_parser.add_argument("-d", "--dynamic", action="store_true")
_parser.add_argument("-p", "--plus", action="store_true")
_parser.add_argument("-m", "--minus", action="store_true")
_parser.add_argument("-w", dest="where", action="append", default=[])
_parser.add_argument("-f", "--force", action="store_true")


def run(ctx: Context) -> int:
    opts = defcommon.parse(_parser, ctx.args)
    if opts.force:
        raise UsageError("The '-f' option is not valid for the chdef command.")
    operands = defcommon.split_operands(opts.operands)
    view = ObjectView(ctx.attrs)
    writer = ObjectWriter(view, ctx.out.error)
    if opts.newname is not None:
        return _rename(ctx, writer, opts, operands)
    if opts.plus and opts.minus:
        raise UsageError("Cannot combine the '-p' and '-m' options.")
    mode = PLUS if opts.plus else MINUS if opts.minus else REPLACE
    if opts.stanza:
        defs = read_stanzas(ctx, opts, operands)
    else:
        defs = _cli_definitions(ctx, view, opts, operands)
    created = change(ctx, view, writer, defs, opts, mode)
    writer.flush_warnings()
    ctx.out.data(defcommon.modified_message(len(defs)))
    if created:
        ctx.out.data(f"New object definitions '{joined(created)}' have been created.")
    return 0


def _rename(ctx: Context, writer: ObjectWriter, opts, operands) -> int:
    if opts.dynamic or opts.plus or opts.minus or opts.stanza or opts.where:
        raise UsageError("Cannot combine '-n' and '-d','-p','-m','-z','-w' options.")
    if operands.attrs:
        raise UsageError("Cannot combine '-n' with attr=val pairs; rename first, then "
                         "change attributes.")
    otype = defcommon.single_type(opts.types, "chdef")
    names = defcommon.split_names(opts.objects or operands.names or "")
    if len(names) != 1:
        raise UsageError("The '-n' option (changing object name) can only work on one "
                         "object.")
    writer.rename(otype, names[0], opts.newname)
    ctx.out.data(f"Changed the object name from {names[0]} to {opts.newname}.")
    return 0


def _cli_definitions(ctx: Context, view: ObjectView, opts, operands) -> list[Definition]:
    otype = defcommon.single_type(opts.types, "chdef", bool(operands.attrs))
    text = opts.objects or operands.names
    selecting = bool(opts.where) and otype.name != "group"
    if not text and not selecting and not otype.free_form:
        raise UsageError("No object names were provided.")
    if not operands.attrs and otype.name != "group":
        raise UsageError("No attr=val pairs were given: nothing to change.")
    defcommon.check_attrs(otype, operands.attrs)
    if text or otype.free_form:
        names = defcommon.names_to_define(ctx, view, otype, text or "")
    else:
        names = view.names(otype)
    if selecting:
        names = _select(view, otype, names, opts.where)
    return [Definition(otype, n, operands.attrs) for n in names]


def _select(view: ObjectView, otype: ObjType, names: list[str], where: list[str]) -> list[str]:
    """-w for types other than group: change only the existing objects that match."""
    selectors = parse_selectors(where)
    if otype.name == "node":
        check_node_selectors(selectors)
        return [n for n in names if view.attrs.is_node(n) and view.matches(n, selectors)]
    for sel in selectors:
        if not otype.free_form and sel.attr != otype.key:
            otype.attr(sel.attr)
    values = view.read(otype, names)
    return [n for n, v in values.items()
            if all(s.matches(n if s.attr == otype.key else v.get(s.attr)) for s in selectors)]


def change(ctx: Context, view: ObjectView, writer: ObjectWriter, defs: list[Definition],
           opts, mode: str) -> list[str]:
    """Apply the definitions; returns the names of objects that did not exist before."""
    batches = defcommon.by_type(defs)
    news = {t: [d.name for d in ds if not view.exists(TYPES[t], d.name)]
            for t, ds in batches.items()}
    created = [n for names in news.values() for n in names]
    if created and mode == MINUS:
        raise XcatError(f"The '-m' option is not valid since the '{joined(created)}' "
                        "definition does not exist.")
    for tname, group in batches.items():
        otype = TYPES[tname]
        new = news[tname]
        if tname == "node":
            fresh = set(new)
            defcommon.capital_warning(ctx, otype, new)
            writer.write_nodes({d.name: _with_default_groups(d) if d.name in fresh
                                else d.attrs for d in group}, mode)
        elif tname == "group":
            for d in group:
                define_group(ctx, view, writer, d.name, d.attrs, dynamic=opts.dynamic,
                             where=opts.where, mode=mode)
        elif tname == "site":
            for d in group:
                writer.write_site(d.attrs, mode)
        else:
            for d in group:
                writer.write_row_object(otype, d.name, d.attrs, mode)
    return created


def _with_default_groups(d: Definition) -> dict[str, str]:
    # xCAT puts a node chdef creates in 'all' unless groups are given.
    return d.attrs if "groups" in d.attrs else {**d.attrs, "groups": "all"}
