"""Run one power-registry call across every driver a noderange needs, merged into one stream.

A noderange may mix BMCs and guests; each driver group runs in its own thread so a slow
group (dead BMCs waiting out their timeout) never delays the replies of another.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable

from xcatpy.drivers import power
from xcatpy.drivers.base import NodeReplies, Reply

_DONE = object()


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
    merged: queue.SimpleQueue = queue.SimpleQueue()

    def pump(driver, members) -> None:
        try:
            for item in call(driver, members):
                merged.put(item)
        except Exception as exc:  # a driver's bug costs its own nodes, reported, not others
            for node in members:
                merged.put((node, Reply.fail(f"driver error: {exc}")))
        finally:
            merged.put(_DONE)

    for driver, members in drivers:
        threading.Thread(target=pump, args=(driver, members), daemon=True).start()
    running = len(drivers)
    seen: set[str] = set()
    while running:
        item = merged.get()
        if item is _DONE:
            running -= 1
        elif item[0] not in seen:
            seen.add(item[0])
            yield item
