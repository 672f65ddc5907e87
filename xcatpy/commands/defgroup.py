"""Group definitions for mkdef and chdef: static groups (members) and dynamic groups (-w).

A static group's membership is each member's nodelist.groups, so giving `members` changes
the nodes; a dynamic group is its `wherevals` selection and carries no attributes.
"""

from xcatpy.commands.base import Context
from xcatpy.db.objdefs import TYPES
from xcatpy.db.objects import (
    DYNAMIC,
    STATIC,
    ObjectView,
    check_node_selectors,
    where_selectors,
)
from xcatpy.db.objwrite import MINUS, PLUS, REPLACE, ObjectWriter
from xcatpy.db.selectors import WHEREVALS_SEP, parse_selectors
from xcatpy.errors import XcatError

# What a dynamic group may be given: the rest are node attributes it cannot pass on.
# `members` is what lsdef computed from wherevals; reading a stanza file back ignores it.
_DYNAMIC_ATTRS = {"grouptype", "wherevals", "membergroups", "usercomment", "members"}


def define_group(ctx: Context, view: ObjectView, writer: ObjectWriter, name: str,
                 attrs: dict[str, str], *, dynamic: bool, where: list[str],
                 mode: str = REPLACE) -> None:
    gtype = TYPES["group"]
    is_new = not view.exists(gtype, name)
    current = {} if is_new else view.read(gtype, [name])[name]
    kind = attrs.get("grouptype") or (DYNAMIC if dynamic else current.get("grouptype")) \
        or STATIC
    if kind == DYNAMIC:
        _dynamic(view, writer, name, attrs, where, mode, is_new, current)
    else:
        _static(ctx, view, writer, name, attrs, where, mode, is_new)


def _dynamic(view, writer, name, attrs, where, mode, is_new, current) -> None:
    if set(attrs) - _DYNAMIC_ATTRS:
        raise XcatError(f"Can not assign attributes to dynamic node group '{name}'.")
    attrs = {**attrs, "grouptype": DYNAMIC}
    attrs.pop("members", None)
    if where:
        attrs["wherevals"] = WHEREVALS_SEP.join(where)
    wherevals = attrs.get("wherevals")
    if wherevals is not None:
        check_node_selectors(where_selectors(wherevals))
    elif is_new or not current.get("wherevals"):
        raise XcatError(f"The 'where' attributes and values were not provided for dynamic "
                        f"group '{name}'.")
    writer.write_group(name, attrs, mode, members_kind=DYNAMIC)


def _static(ctx, view, writer, name, attrs, where, mode, is_new) -> None:
    attrs = dict(attrs)
    members_text = attrs.pop("members", None)
    if where and members_text is not None:
        raise XcatError("Cannot use a list of members together with the '-w' option.")
    members: list[str] | None = None
    if members_text is not None:
        members = ctx.noderange(members_text) if members_text.strip() else []
    elif where:
        selectors = parse_selectors(where)
        check_node_selectors(selectors)
        members = [n for n in view.attrs.node_names(include_hidden=True)
                   if view.matches(n, selectors)]
    elif is_new:
        ctx.out.error(f"Warning: Cannot determine a member list for group '{name}'.")
    writer.write_group(name, attrs, mode, members_kind=STATIC if members is not None
                       else None)
    if members is None:
        return
    now = view.static_groups().get(name, [])
    if is_new or mode == PLUS:
        writer.set_membership(name, members, [])
    elif mode == MINUS:
        strangers = [n for n in members if n not in set(now)]
        if strangers:
            ctx.out.error(f"Warning: '{','.join(strangers)}' is not a member of group "
                          f"'{name}'.")
        writer.set_membership(name, [], members)
    else:
        keep = set(members)
        writer.set_membership(name, members, [n for n in now if n not in keep])
