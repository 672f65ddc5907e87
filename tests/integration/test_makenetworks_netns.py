"""makenetworks on a real machine's interfaces: a network namespace the test builds with iproute2.

The namespace has two veth pairs (dummy interfaces need a module not every kernel has): one
end with IPv4 and IPv6 addresses and the default routes, one with an IPv4 address and no
route out; the peers have only their link-local addresses. The real CLI (bypass mode) runs inside
it; the networks table must then hold xCAT's rows for exactly those subnets.
"""

import os
import shutil
import subprocess

import pytest

from tests.integration.clitools import cli, command_path


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True, timeout=30)


@pytest.fixture
def namespace():
    if os.geteuid() != 0 or not shutil.which("ip"):
        pytest.skip("needs root and iproute2 to make a network namespace")
    ns = f"xmn{os.getpid()}"
    try:
        ip("netns", "add", ns)
    except subprocess.CalledProcessError as exc:
        pytest.skip(f"cannot make network namespaces here: {exc.stderr.strip()}")
    try:
        ip("-n", ns, "link", "set", "lo", "up")
        for dev, mtu in (("prov0", "1400"), ("bmc0", "1500")):
            ip("-n", ns, "link", "add", dev, "mtu", mtu, "type", "veth", "peer", "name",
               f"{dev}p")
            ip("-n", ns, "link", "set", dev, "up")
            ip("-n", ns, "link", "set", f"{dev}p", "up")
        ip("-n", ns, "addr", "add", "10.66.0.5/24", "dev", "prov0")
        ip("-n", ns, "addr", "add", "fd66::5/64", "dev", "prov0", "nodad")
        ip("-n", ns, "addr", "add", "10.67.0.5/16", "dev", "bmc0")
        ip("-n", ns, "route", "add", "default", "via", "10.66.0.1", "dev", "prov0")
        ip("-n", ns, "-6", "route", "add", "default", "via", "fd66::1", "dev", "prov0")
        yield ns
    finally:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def makenetworks(ns: str, state, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("XCATBYPASS", "XCATPY_STATE")}
    env.update(XCATBYPASS="1", XCATPY_STATE=str(state))
    return subprocess.run(["ip", "netns", "exec", ns, *command_path("makenetworks"), *args],
                          capture_output=True, text=True, env=env, timeout=60)


def test_makenetworks_in_a_namespace(namespace, tmp_path):
    state = tmp_path / "state"
    # An equivalent definition under another name and mask spelling is left as it is.
    r = cli("tabch", "net=10.67.0.0,mask=/16", "networks.netname=bmc", state=state)
    assert r.rc == 0, r.err

    shown = makenetworks(namespace, state, "-d")
    assert shown.returncode == 0, shown.stderr
    assert "10_66_0_0-255_255_255_0:\n    objtype=network\n    gateway=10.66.0.1\n" \
        "    mask=255.255.255.0\n    mgtifname=prov0\n    mtu=1400\n    net=10.66.0.0\n" \
        "    tftpserver=<xcatmaster>\n" in shown.stdout
    assert "10_67_0_0-255_255_0_0:" in shown.stdout
    assert "# Note: An equivalent xCAT network definition already exists." in shown.stdout
    assert cli("tabdump", "networks", state=state).out.count("\n") == 2   # -d wrote nothing

    made = makenetworks(namespace, state)
    assert (made.returncode, made.stdout, made.stderr) == (0, "", "")
    table = cli("tabdump", "networks", state=state).out.splitlines()
    assert table[1:] == [
        '"bmc","10.67.0.0","/16",,,,,,,,,,,,,,,,,',
        '"10_66_0_0-255_255_255_0","10.66.0.0","255.255.255.0","prov0","10.66.0.1",,'
        '"<xcatmaster>",,,,,,,,,,,"1400",,',
        '"fd66::/64","fd66::","/64","prov0","fd66::1",,,,,,,,,,,,,"1400",,',
    ]
    # Loopback, link-local (fe80::) and the host's own /128s made no rows.
    again = makenetworks(namespace, state)
    assert again.returncode == 0
    assert cli("tabdump", "networks", state=state).out.splitlines() == table
