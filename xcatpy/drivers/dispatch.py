"""Run one power-registry call across every driver a noderange needs, merged into one stream.

A noderange may mix BMCs and guests; each driver group runs in its own thread so a slow
group (dead BMCs waiting out their timeout) never delays the replies of another.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from xcatpy.drivers import power
from xcatpy.drivers.base import NodeReplies, Reply, ReplyQueue


def each_driver(ctx, nodes: list[str],
                call: Callable[[power.PowerDriver, list[str]], NodeReplies]) -> NodeReplies:
    """Yields (node, Reply) for every node exactly once, as replies arrive. ctx: the
    command's Context."""
    groups, errors = power.by_driver(ctx.attrs, nodes)
    for node, text in errors.items():
        yield node, Reply.fail(text)
    drivers = [(power.driver_for(name, ctx), members) for name, members in groups.items()]
    if len(drivers) == 1:
        yield from call(*drivers[0])
        return
    replies = ReplyQueue(node for _driver, members in drivers for node in members)

    def pump(driver, members) -> None:
        try:
            for node, reply in call(driver, members):
                replies.post(node, reply)
        except Exception as exc:  # a driver's bug costs its own nodes, reported, not others
            for node in members:
                replies.post(node, Reply.fail(f"driver error: {exc}"))
        finally:
            # Nodes already answered are skipped by the queue; any the driver left out are
            # reported instead of waited for.
            for node in members:
                replies.post(node, Reply.fail("the driver gave no reply"))

    for driver, members in drivers:
        threading.Thread(target=pump, args=(driver, members), daemon=True).start()
    yield from replies
