"""For tests of the ipmi driver on simulated BMCs: nodes in a private store, ipmitool."""

from __future__ import annotations

import subprocess

from xcatpy.db.attrs import NodeAttrs
from xcatpy.drivers.ipmi import IpmiPowerDriver


def define_nodes(run, store, bmcs: dict[str, str], **site: str) -> IpmiPowerDriver:
    """nodes with nodehm.mgt=ipmi and ipmi.bmc as given (node -> 'addr:port'), site values
    (ipmitimeout="0.5", ...), and the driver a command would get for them."""
    assert run("nodeadd", ",".join(bmcs), "groups=bmcs", "nodehm.mgt=ipmi").rc == 0
    store.begin()
    store.upsert_rows("ipmi", [{"node": node, "bmc": bmc} for node, bmc in bmcs.items()])
    store.commit()
    for key, value in site.items():
        assert run("tabch", f"key={key}", f"site.value={value}").rc == 0
    return IpmiPowerDriver(NodeAttrs(store))


def set_login(run, node: str, username: str, password: str) -> None:
    assert run("tabch", f"node={node}", f"ipmi.username={username}",
               f"ipmi.password={password}").rc == 0


def replies(stream) -> dict[str, str]:
    """{node: text}, errors as 'Error: text'; fails if any node is reported twice."""
    seen: dict[str, str] = {}
    for node, reply in stream:
        assert node not in seen, f"{node} reported twice"
        seen[node] = f"Error: {reply.text}" if reply.error else reply.text
    return seen


def ipmitool(address: str, port: int, *args: str, username: str = "USERID",
             password: str = "PASSW0RD") -> str:
    proc = subprocess.run(["ipmitool", "-I", "lanplus", "-H", address, "-p", str(port),
                           "-U", username, "-P", password, *args],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout
