"""mkdef: create xCAT object definitions, from the command line or a stanza file (-z).

An object that exists already is an error unless -f replaces it; a node needs `groups`.
Either every object is created or, on any error, none is.
"""

from xcatpy.commands import defcommon
from xcatpy.commands.base import Context
from xcatpy.commands.defcommon import Definition, joined
from xcatpy.commands.defgroup import define_group
from xcatpy.db.objdefs import TYPES
from xcatpy.db.objects import ObjectView
from xcatpy.db.objwrite import ObjectWriter
from xcatpy.errors import UsageError, XcatError

USAGE = defcommon.usage("mkdef", "Create xCAT data object definitions.", [
    "mkdef [-V | --verbose] [-t object-types] [-o object-names] [-z|--stanza ]",
    "[-d | --dynamic] [-w attr==val [-w attr=~val] ...]",
    "[-f | --force] [noderange] [attr=val [attr=val...]]",
])

_parser = defcommon.parser("mkdef", USAGE)
_parser.add_argument("-z", "--stanza", action="store_true")
_parser.add_argument("-d", "--dynamic", action="store_true")
_parser.add_argument("-f", "--force", action="store_true")
_parser.add_argument("-w", dest="where", action="append", default=[])
_parser.add_argument("-p", "--plus", action="store_true")
_parser.add_argument("-m", "--minus", action="store_true")


def run(ctx: Context) -> int:
    opts = defcommon.parse(_parser, ctx.args)
    if opts.plus or opts.minus:
        raise UsageError("The '-p' and '-m' options are not valid for the mkdef command.")
    operands = defcommon.split_operands(opts.operands)
    view = ObjectView(ctx.attrs)
    if opts.stanza:
        defs = read_stanzas(ctx, opts, operands)
    else:
        otype = defcommon.single_type(opts.types, "mkdef", bool(operands.attrs))
        text = opts.objects or operands.names
        if not text and not otype.free_form:
            raise UsageError("No object names were provided.")
        defcommon.check_attrs(otype, operands.attrs)
        names = defcommon.names_to_define(ctx, view, otype, text or "")
        defs = [Definition(otype, n, operands.attrs) for n in names]
    writer = ObjectWriter(view, ctx.out.error)
    create(ctx, view, writer, defs, opts)
    writer.flush_warnings()
    ctx.out.data(defcommon.modified_message(len(defs)))
    return 0


def read_stanzas(ctx: Context, opts, operands) -> list[Definition]:
    """-z: the definitions piped in; -t, names and attr=val belong to the stanzas then."""
    if opts.types:
        raise UsageError("Cannot combine '-t' and '-a', '-z', or '-x' options.")
    if opts.objects or operands.names:
        raise UsageError("Cannot use '-z' with '-o' or a noderange. Example of -z usage: "
                         f"'cat stanzafile | {ctx.request.command} -z'")
    if operands.attrs:
        raise UsageError("Cannot combine '-z' with attr=val pairs on the command line.")
    return defcommon.stanza_definitions(ctx.request.read_stdin(), ctx.out.error)


def create(ctx: Context, view: ObjectView, writer: ObjectWriter, defs: list[Definition],
           opts) -> None:
    batches = defcommon.by_type(defs)
    # What exists is decided before anything is written, as in xCAT: the groups that a
    # stanza file's nodes name do not count as defined when the file defines them too.
    existing = {t: [d.name for d in ds if view.exists(TYPES[t], d.name)]
                for t, ds in batches.items()}
    clash = [n for names in existing.values() for n in names]
    if clash and not opts.force:
        raise XcatError(f"A definition for '{joined(clash)}' already exists. To replace it "
                        "use the force '-f' option; to change it use the 'chdef' command.")
    for tname, batch in batches.items():
        otype = TYPES[tname]
        if existing[tname] and tname == "group":
            writer.remove_groups(existing[tname], keep_members=True)
        elif existing[tname]:
            writer.remove(otype, existing[tname])
        if tname == "node":
            missing = [d.name for d in batch if "groups" not in d.attrs]
            if missing:
                raise XcatError(f"Attribute 'groups' is not specified for node "
                                f"'{joined(missing)}'; mkdef needs groups=... for a node.")
            defcommon.capital_warning(ctx, otype, [d.name for d in batch])
            writer.write_nodes({d.name: d.attrs for d in batch})
        elif tname == "group":
            for d in batch:
                define_group(ctx, view, writer, d.name, d.attrs, dynamic=opts.dynamic,
                             where=opts.where)
        elif tname == "site":
            for d in batch:
                writer.write_site(d.attrs)
        else:
            for d in batch:
                writer.write_row_object(otype, d.name, d.attrs)
