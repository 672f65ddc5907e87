"""nodeset states, kept in the chain table the way xCAT keeps them.

chain.currstate is what the node does on its next network boot: `install <osimage>`,
`netboot <osimage>`, `statelite <osimage>`, `boot` (local disk), `shell` or `offline`
(no config at all: the node falls through to the site's default). chain.currchain is
what follows, as a comma list; the installer's "finished" call moves the node one step
along it, so an install is followed by local boot and never repeated by accident.
"""

import time
from dataclasses import dataclass

from xcatpy.db.attrs import NodeAttrs
from xcatpy.db.store import Store
from xcatpy.errors import UsageError

IMAGE_STATES = ("install", "netboot", "statelite")
SIMPLE_STATES = ("boot", "shell", "offline")
AFTER_INSTALL = "boot"


@dataclass(frozen=True)
class BootState:
    action: str                 # install | netboot | statelite | boot | shell | offline
    image: str | None = None    # the osimage, for the image states

    def __str__(self) -> str:
        return f"{self.action} {self.image}" if self.image else self.action

    @property
    def uses_image(self) -> bool:
        return self.action in IMAGE_STATES


def parse_state(text: str | None) -> BootState | None:
    """chain.currstate as stored; None when the node has never been nodeset."""
    if not text or not text.strip():
        return None
    action, _, image = text.strip().partition(" ")
    return BootState(action, image.strip() or None)


def state_of(attrs: NodeAttrs, node: str) -> BootState | None:
    return parse_state(attrs.lookup(node, "chain", "currstate"))


def set_states(store: Store, states: dict[str, BootState]) -> None:
    """One upsert for all nodes: nodeset on 10,000 nodes writes rows, never files."""
    rows = []
    for node, st in states.items():
        after = AFTER_INSTALL if st.action == "install" else ""
        rows.append({"node": node, "currstate": str(st), "currchain": after})
    store.upsert_rows("chain", rows)


def advance(store: Store, node: str) -> BootState:
    """The install-finished step: currstate <- head of currchain (default: local boot).

    Only an install advances; a node that netboots or is already booting from disk keeps
    its state, so a replayed or forged call cannot make a diskless node boot from disk.
    """
    row = store.get("chain", {"node": node}) or {}
    current = parse_state(row.get("currstate"))
    if current is None or current.action != "install":
        return current or BootState("boot")
    chain = [c.strip() for c in (row.get("currchain") or "").split(",") if c.strip()]
    following = parse_state(chain[0]) if chain else BootState(AFTER_INSTALL)
    store.upsert_rows("chain", [{"node": node, "currstate": str(following),
                                 "currchain": ",".join(chain[1:])}])
    return following


def set_status(store: Store, node: str, status: str) -> None:
    """nodelist.status as the install monitor reports it (installing, booting, ...)."""
    stamp = time.strftime("%m-%d-%Y %H:%M:%S")
    store.upsert_rows("nodelist", [{"node": node, "status": status, "statustime": stamp}])


def parse_request(words: list[str]) -> tuple[str, str | None]:
    """nodeset's state argument: (action, image or None). `osimage=x` and `install x`
    both name an image; `osimage` alone means the node's current nodetype.provmethod."""
    if not words:
        raise UsageError("nodeset: a state is required")
    head, *rest = words
    name, eq, value = head.partition("=")
    if name == "osimage":
        if rest:
            raise UsageError(f"nodeset: unexpected argument '{rest[0]}'")
        return "osimage", (value or None) if eq else None
    if eq:
        if name in IMAGE_STATES:
            return name, value or None
        raise UsageError(f"nodeset: unknown state '{head}'")
    if head in IMAGE_STATES:
        if len(rest) > 1:
            raise UsageError(f"nodeset: unexpected argument '{rest[1]}'")
        return head, rest[0] if rest else None
    if head in SIMPLE_STATES or head in ("stat", "next"):
        if rest:
            raise UsageError(f"nodeset: unexpected argument '{rest[0]}'")
        return head, None
    raise UsageError(f"nodeset: unknown state '{head}' (expected osimage[=<image>], install, "
                     "netboot, statelite, boot, shell, offline, stat or next)")
