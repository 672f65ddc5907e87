"""What mkdef, chdef, lsdef and rmdef share: options, `attr=value` operands, object names,
stanza input and the messages xCAT prints.
"""

import argparse
import re
from collections.abc import Callable
from dataclasses import dataclass

from xcatpy.commands.base import Context
from xcatpy.commands.options import CommandParser, HelpRequested
from xcatpy.db import stanza
from xcatpy.db.natural import natural_sorted
from xcatpy.db.objdefs import (
    SITE_OBJECT,
    TYPES,
    XCAT_ONLY_TYPES,
    ObjType,
    obj_type,
    obj_types,
    xcat_only_attr,
)
from xcatpy.db.objects import ObjectView
from xcatpy.db.schema import TABLES
from xcatpy.errors import NoderangeError, UsageError, XcatError

HELP_FLAGS = ("-h", "-?", "--help")

# xCAT's reading of an operand with '=': attr, optional blanks, '=', the rest.
_ATTR_VALUE = re.compile(r"^\s*(\S+?)\s*=\s*(\S*.*)$", re.S)


def usage(command: str, purpose: str, synopsis: list[str]) -> str:
    """xCAT's usage text: the synopsis, then the object types and how to list attributes."""
    lines = [f"Usage: {command} - {purpose}", ""]
    lines += [f"  {command} [-h | --help ] [-t object-types]", ""]
    lines += [f"  {synopsis[0]}", *(f"    {s}" for s in synopsis[1:])]
    lines += ["", "The following data object types are supported by xCAT.", ""]
    lines += sorted(TYPES)
    lines += ["", "Use the '-h' option together with the '-t' option to",
              "get a list of valid attribute names for each object type."]
    return "\n".join(lines)


def parser(command: str, usage_text: str) -> CommandParser:
    """The options every def command knows; each command adds its own."""
    p = CommandParser(command, usage_text)
    p.add_argument("-t", dest="types")
    p.add_argument("-o", dest="objects")
    p.add_argument("-V", "--verbose", action="store_true")
    p.add_argument("operands", nargs="*")
    return p


def parse(p: CommandParser, args: list[str]) -> argparse.Namespace:
    """Parse, turning `-h -t type` into the list of that type's attributes."""
    try:
        return p.parse(args)
    except HelpRequested:
        rest = [a for a in args if a not in HELP_FLAGS]
        try:
            types = p.parse(rest).types
        except XcatError:
            types = None
        if not types:
            raise
        raise HelpRequested("\n\n".join(attr_help(t) for t in obj_types(types))) from None


def attr_help(otype: ObjType) -> str:
    if otype.free_form:
        return ("There can only be one xCAT site definition. This definition consists \n"
                "of an unlimited list of user-defined attributes and values that represent \n"
                "global settings for the whole cluster. The following is a list \n"
                "of the attributes currently supported by xCAT.\n"
                + TABLES["site"].column("key").description)
    entries = []
    for name in sorted(otype.attrs):
        spec = otype.attrs[name]
        desc = (TABLES[spec.table].column(spec.column).description if spec.table
                else "The name of the object.")
        entries.append(f"{name}:{chr(9) * (2 if len(name) < 7 else 1)}{desc}")
    return "\n".join([f"The valid attribute names for object type '{otype.name}' are:",
                      "Attribute          Description", "", "\n\n".join(entries)])


@dataclass
class Operands:
    names: str | None              # the noderange or object names, if given
    attrs: dict[str, str]          # attr=value pairs, in the order given


def split_operands(operands: list[str]) -> Operands:
    """Operands without '=' name objects (only one such operand); the rest are attr=val."""
    names, attrs = None, {}
    for item in operands:
        if "=" not in item:
            if names is not None:
                raise UsageError("noderange can not contain spaces.")
            names = item
            continue
        m = _ATTR_VALUE.match(item)
        if m is None:
            raise XcatError(f"Incorrect 'attr=val' pair - {item}.")
        attrs[m.group(1)] = m.group(2)
    return Operands(names, attrs)


def single_type(types: str | None, command: str, with_attrs: bool = False) -> ObjType:
    if not types:
        return TYPES["node"]
    found = obj_types(types)
    if len(found) > 1 and with_attrs:
        raise UsageError("Cannot combine multiple types with 'att=val' pairs on the "
                         "command line.")
    if len(found) > 1:
        raise UsageError(f"{command} works on one object type at a time; got '{types}'.")
    return found[0]


def check_attrs(otype: ObjType, attrs: dict[str, str]) -> None:
    """Every attribute must belong to the type (the site takes any name)."""
    if otype.free_form:
        for name in attrs:
            if not re.fullmatch(r"[A-Za-z0-9_.\-]+", name):
                raise XcatError(f"'{name}' is not a valid site attribute name.")
        return
    for name in attrs:
        otype.attr(name)


def split_names(text: str) -> list[str]:
    return list(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))


def existing_names(ctx: Context, view: ObjectView, otype: ObjType, text: str,
                   include_hidden: bool = True) -> list[str]:
    """Names of objects that must exist: a noderange for nodes, a comma list otherwise."""
    if otype.name == "node":
        return ctx.noderange(text, include_hidden=include_hidden)
    if otype.name == "site":
        return [SITE_OBJECT]
    names = split_names(text)
    missing = [n for n in names if not view.exists(otype, n)]
    if missing:
        raise XcatError("; ".join(f"Could not find an object named '{n}' of type "
                                  f"'{otype.name}'." for n in missing))
    return names


def names_to_define(ctx: Context, view: ObjectView, otype: ObjType, text: str) -> list[str]:
    """Names for mkdef/chdef: existing objects, groups as their members, and new names.

    Like xCAT's noderange(..., 0): a range may name nodes that do not exist yet, while
    a group among them still stands for its members.
    """
    if otype.name == "site":
        return [SITE_OBJECT]
    if otype.name != "node":
        return split_names(text)
    try:
        return ctx.noderange(text)
    except NoderangeError:
        pass    # unknown names: new nodes, read literally below
    names: list[str] = []
    group = TYPES["group"]
    for name in ctx.noderange(text, must_exist=False):
        if not view.attrs.is_node(name) and view.exists(group, name):
            names += ctx.noderange(name)
        else:
            names.append(name)
    return natural_sorted(dict.fromkeys(names))


@dataclass
class Definition:
    """One object to write: its type, name and the attributes given for it."""

    otype: ObjType
    name: str
    attrs: dict[str, str]


def stanza_definitions(text: str, warn: Callable[[str], None]) -> list[Definition]:
    """The objects a stanza file defines, checked; what only a real xCAT has (object
    types and attributes without tables here) is skipped with one warning each."""
    if not text.strip():
        raise XcatError("No stanza data was given on standard input (-z reads it there).")
    out = []
    skipped_objects: dict[str, list[str]] = {}
    skipped_attrs: dict[str, list[str]] = {}
    for st in stanza.parse(text):
        if st.objtype in XCAT_ONLY_TYPES:
            skipped_objects.setdefault(st.objtype, []).append(st.name)
            continue
        otype = obj_type(st.objtype)
        attrs = {}
        for attr, value in st.attrs.items():
            if attr == "objtype":
                continue
            if attr not in otype.attrs and xcat_only_attr(otype, attr):
                skipped_attrs.setdefault(attr, []).append(st.name)
                continue
            attrs[attr] = value
        try:
            check_attrs(otype, attrs)
        except XcatError as exc:
            raise XcatError(f"Stanza line {st.line} ('{st.name}'): {exc.message}") from None
        name = SITE_OBJECT if otype.free_form else st.name
        out.append(Definition(otype, name, attrs))
    for objtype, names in skipped_objects.items():
        warn(f"Warning: skipped the {objtype} objects '{joined(names)}': xcatpy has no "
             f"{objtype} objects.")
    for attr, names in skipped_attrs.items():
        warn(f"Warning: skipped attribute '{attr}' of '{joined(names)}': xcatpy does not "
             "store it.")
    return out


def by_type(defs: list[Definition]) -> dict[str, list[Definition]]:
    """Definitions grouped by type, in the order that lets later types refer to earlier
    ones: nodes exist before the groups that list them as members."""
    order = ["site", "network", "osimage", "policy", "node", "group"]
    out: dict[str, list[Definition]] = {t: [] for t in order}
    for d in defs:
        out[d.otype.name].append(d)
    return {t: ds for t, ds in out.items() if ds}


def joined(names: list[str]) -> str:
    return ",".join(names)


def capital_warning(ctx: Context, otype: ObjType, names: list[str]) -> None:
    upper = [n for n in names if any(c.isupper() for c in n)]
    if otype.name == "node" and upper:
        ctx.out.error(f"Warning: The node name '{joined(upper)}' contains capital letters "
                      "which may not be resolved correctly by the dns server.")


def modified_message(count: int) -> str:
    return f"{count} object definitions have been created or modified."
