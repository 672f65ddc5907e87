"""The `ipmi` power driver: rpower and rsetboot for bare metal, through the shared engine."""

from __future__ import annotations

from xcatpy.drivers.base import DriverError, NodeReplies, Reply, ReplyQueue
from xcatpy.drivers.ipmi import flows
from xcatpy.drivers.ipmi.credentials import node_target, settings_from_site
from xcatpy.drivers.ipmi.engine import IpmiEngine, Job, shared_engine
from xcatpy.drivers.power import BOOT_DEVICES, POWER_ACTIONS


class IpmiPowerDriver:
    """One command's driver: its tables and site settings, and the process's engine.

    ctx: the command's Context, as power.driver_for passes it (the driver only reads
    ctx.attrs); a NodeAttrs itself is accepted too.
    """

    def __init__(self, ctx, engine: IpmiEngine | None = None) -> None:
        attrs = getattr(ctx, "attrs", ctx)
        self.attrs = attrs
        self.settings = settings_from_site(attrs)
        self.engine = engine or shared_engine()

    def power(self, nodes: list[str], action: str) -> NodeReplies:
        if action not in POWER_ACTIONS:
            raise ValueError(f"unsupported power action '{action}'")
        return self._run(nodes, lambda: flows.power_flow(action))

    def set_boot_device(self, nodes: list[str], device: str) -> NodeReplies:
        if device not in BOOT_DEVICES:
            raise ValueError(f"unsupported boot device '{device}'")
        return self._run(nodes, lambda: flows.boot_flow(device))

    def _run(self, nodes: list[str], make_flow) -> NodeReplies:
        unique = list(dict.fromkeys(nodes))
        replies = ReplyQueue(unique)
        jobs = []
        resolved: dict = {}
        for node in unique:
            try:
                target = node_target(self.attrs, node, resolved)
            except DriverError as exc:
                replies.post(node, Reply.fail(str(exc)))
                continue
            jobs.append(Job(node, target, make_flow, replies.post))
        self.engine.submit(jobs, self.settings)
        return iter(replies)
