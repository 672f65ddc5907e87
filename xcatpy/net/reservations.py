"""The static DHCP leases makedhcp publishes: one source for every DHCP backend.

The dhcpreservation table is what is published; the embedded service answers it and the
ISC, Kea and dnsmasq exports are written from the whole of it. A node's rows are replaced
as a set, so a MAC taken off a node stops being answered, and a MAC that moved from one
node to another is answered for the new one only.
"""

from xcatpy.db.store import Store
from xcatpy.net.nodenet import NodeAddress

TABLE = "dhcpreservation"


def rows_for(record: NodeAddress) -> list[dict]:
    """A node's reservations: each of its own MACs gets its hosts.ip. (MACs written
    `mac!name` in mac.mac answer to another host name; they are published by the node
    of that name, if there is one.)"""
    if record.ip is None or record.version != 4:
        return []
    return [{"mac": mac, "node": record.node, "ip": record.ip, "hostname": record.node}
            for mac in record.macs]


def publish(store: Store, records: list[NodeAddress], *, replace_all: bool = False) -> int:
    """Replace the reservations of `records`' nodes (of every node with replace_all).
    Returns the number of reservations written."""
    rows = [row for record in records for row in rows_for(record)]
    if replace_all:
        store.clear(TABLE)
    else:
        store.delete_where_in(TABLE, "node", [r.node for r in records])
        store.delete_where_in(TABLE, "mac", [r["mac"] for r in rows])
    # A dynamic lease of a MAC that is now reserved would hand it a second address.
    store.delete_where_in("dhcplease", "mac", [r["mac"] for r in rows])
    store.upsert_rows(TABLE, rows)
    return len(rows)


def withdraw(store: Store, nodes: list[str] | None) -> int:
    """Remove the nodes' reservations (every reservation with None)."""
    if nodes is None:
        count = len(store.rows(TABLE, include_disabled=True))
        store.clear(TABLE)
        return count
    return store.delete_where_in(TABLE, "node", nodes)


def published(store: Store) -> list[dict]:
    return store.rows(TABLE)


def by_node(store: Store) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for row in published(store):
        found.setdefault(row["node"], []).append(row)
    return found
