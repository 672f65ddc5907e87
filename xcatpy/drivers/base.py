"""What every driver hands back: one reply per node, streamed as nodes finish.

Commands are synchronous handlers on a command thread, while drivers do their network work
elsewhere (pyghmi's IO thread, the reactor for SSH). A driver call returns an iterator that
yields `(node, Reply)` as each node finishes, so `rpower 1000 nodes stat` prints the first
line long before a dead BMC's timeout, and every node appears exactly once.
"""

from __future__ import annotations

import queue
from collections.abc import Iterable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Reply:
    """text: what the user sees after `node: ` ("on", "Network", "created"), or the error."""

    text: str
    error: bool = False

    @classmethod
    def fail(cls, text: str) -> Reply:
        return cls(text, error=True)


NodeReplies = Iterator[tuple[str, Reply]]


class DriverError(Exception):
    """A failure that concerns one node or host; its message is one line for the user."""


class ReplyQueue:
    """Collects replies posted from any thread and yields them on the consuming thread.

    `expect` is the set of nodes owed a reply; iteration ends when every one has answered,
    so a driver that forgets a node hangs visibly in tests instead of dropping it silently.
    """

    def __init__(self, nodes: Iterable[str]) -> None:
        self._owed = set(nodes)
        self._queue: queue.SimpleQueue[tuple[str, Reply]] = queue.SimpleQueue()

    def post(self, node: str, reply: Reply) -> None:
        self._queue.put((node, reply))

    def __iter__(self) -> NodeReplies:
        while self._owed:
            node, reply = self._queue.get()
            if node in self._owed:
                self._owed.discard(node)
                yield node, reply
