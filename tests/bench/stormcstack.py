"""The classic C stack of the boot storm (bootstorm.py): dnsmasq for DHCP, TFTP by dnsmasq
or by tftpd-hpa, nginx for HTTP, serving static files written beforehand.

What it serves is what xcatd would serve for the same tables, rendered here once per node
by xcatpy's own code with nginx's address in the URLs, as xCAT's nodeset writes files:

    <work>/tftpboot/lpxelinux.0, ldlinux.c32     copied from the state's TFTP root
    <work>/tftpboot/pxelinux.cfg/01-<mac>        bootconfig.render("lpxelinux", ...)
    <work>/autoinst/<node>                       render_answer_file(...), at /install/autoinst/
    /install/...                                 the state's install tree (nginx alias)
    /xcatpy/v1/boot/done                         a static 200

The nodes are set to install again first (`nodeset ... osimage=`): a storm before this one
(xcatd's) leaves every node it finished set to boot from disk. The DHCP reservations are the
dhcpreservation rows `makedhcp -a` published, as a --dhcp-hostsfile; the boot file is
lpxelinux.0 from next-server 127.0.0.1. One difference stays: xcatd serves an answer file
that carries secrets only to its node's own address; the static files are served to anyone,
as a classic /install/autoinst/ is.

dnsmasq and relayed DHCP on loopback: dnsmasq answers relayed requests arriving on `lo`
(giaddr 127.1.0.1) and sends the replies to giaddr:dhcp_port. What it needs is
--bind-interfaces (or --bind-dynamic): only then does it set SO_REUSEADDR on its DHCP
socket (0.0.0.0:dhcp_port), and the simulated relay agent, which binds 127.1.0.1 on the same
port, can share the port. Without it the relay's bind fails with EADDRINUSE (or, if the
relay is first, dnsmasq says "failed to bind DHCP server socket: Address already in use").
--listen-address=127.0.0.1 keeps its TFTP socket to 127.0.0.1:69.

Every server process is started stopped (a shell that stops itself, then execs the
server), put into the stack's ProcessUsage, and continued: what it forks afterwards
(nginx's workers, tftpd-hpa's per-transfer children) is counted from its first instant.
"""

import ipaddress
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tests.bench.stormclient import NodeResult, SimNode, Target

SERVER = "127.0.0.1"
LOADERS = ("lpxelinux.0", "ldlinux.c32")
READY_TIMEOUT = 30.0        # s for a server to bind its ports
STOP_TIMEOUT = 10.0         # s for a server to exit after SIGTERM
DNSMASQ_TFTP_PORT = 69      # dnsmasq's TFTP cannot listen anywhere else
NGINX_CONNECTIONS = 4096    # per worker; Debian's stock 768 would do for 500 nodes too
CALLBACK_PATH = "/xcatpy/v1/boot/done"


@dataclass
class Running:
    name: str
    proc: subprocess.Popen
    logs: list[Path]        # its own log, then its stdout/stderr


class CStack:
    def __init__(self, work: Path, state: Path, nodes: list[SimNode], *, relay: str,
                 dhcp_port: int, tftp: str) -> None:
        if tftp not in ("dnsmasq", "tftpd-hpa"):
            raise ValueError(f"unknown TFTP server {tftp!r} (dnsmasq or tftpd-hpa)")
        self.name = tftp
        self.work, self.state, self.nodes = Path(work), Path(state), nodes
        self.relay, self.dhcp_port = relay, dhcp_port
        self.usage = None
        self.running: list[Running] = []
        self.http_port = 0
        self.tftp_port = 0
        self.tftproot = self.work / "tftpboot"
        self.written: dict[str, Path] = {}       # node -> its pxelinux.cfg file

    # -- the static files ---------------------------------------------------------------

    def nodeset(self) -> None:
        """`nodeset <nodes> osimage=<their image>` (bypass mode), as an admin runs it before
        a classic install and bootstorm runs it before each xcatd storm: a storm before
        this one has moved every node that finished to `boot`, whose config is LOCALBOOT."""
        from tests.integration.clitools import cli
        from xcatpy.db.attrs import NodeAttrs
        from xcatpy.db.store import Store

        store = Store.open(self.state)
        try:
            attrs = NodeAttrs(store)
            by_image: dict[str, list[str]] = {}
            for node in self.nodes:
                image = attrs.lookup(node.name, "nodetype", "provmethod")
                if not image:
                    raise RuntimeError(f"{node.name}: no nodetype.provmethod (no nodeset "
                                       "osimage= was run)")
                by_image.setdefault(image, []).append(node.name)
        finally:
            store.close()
        for image, names in by_image.items():
            r = cli("nodeset", ",".join(names), f"osimage={image}", state=self.state,
                    cwd=self.work)
            if r.rc:
                raise RuntimeError(f"nodeset {image} failed: {r.err or r.out}")

    def write_files(self) -> None:
        """The TFTP root, the answer files and the DHCP hosts file, for nginx at
        127.0.0.1:self.http_port."""
        from xcatpy.boot import bootconfig
        from xcatpy.boot.bootspec import Endpoint
        from xcatpy.boot.nodeset import site_paths
        from xcatpy.boot.osimage import image_for_node
        from xcatpy.boot.resolver import BootView
        from xcatpy.boot.templates import render_answer_file
        from xcatpy.db.attrs import NodeAttrs
        from xcatpy.db.store import Store
        from xcatpy.net import reservations
        from xcatpy.net.dhcp.bootselect import family_for

        store = Store.open(self.state)
        try:
            paths = site_paths(NodeAttrs(store), self.state)
            self.installdir = paths.installdir
            view = BootView(store, paths.installdir, paths.tftpdir)
            (self.tftproot / "pxelinux.cfg").mkdir(parents=True, exist_ok=True)
            for name in LOADERS:
                shutil.copyfile(paths.tftpdir / name, self.tftproot / name)
            autoinst = self.work / "autoinst"
            autoinst.mkdir(exist_ok=True)
            for node in self.nodes:
                # The endpoint xcatd's resolver uses for a node without noderes.xcatmaster
                # asking at 127.0.0.1, with nginx's port for its own.
                master = view.attrs.lookup(node.name, "noderes", "xcatmaster") or SERVER
                ep = Endpoint(master, self.http_port, 3001)
                loader = ("lpxelinux" if family_for(
                    "bios", view.attrs.lookup(node.name, "noderes", "netboot")) == "lpxelinux"
                    else "pxelinux")
                spec = view.planner.spec(node.name, ep)
                if spec is None:
                    raise RuntimeError(f"{node.name}: nothing to boot (was nodeset run?)")
                config = self.tftproot / "pxelinux.cfg" / ("01-" + node.mac.lower().replace(
                    ":", "-"))
                config.write_text(bootconfig.render(loader, spec, ep, paths.installdir))
                self.written[node.name] = config
                image = image_for_node(view.attrs, node.name)
                answer = render_answer_file(view.attrs, node.name, image, master=ep.master,
                                            http_port=ep.http_port,
                                            installdir=paths.installdir)
                (autoinst / node.name).write_text(answer.text)
            hosts = sorted(reservations.published(store), key=lambda r: (r["ip"], r["mac"]))
            (self.work / "dhcp-hosts").write_text("".join(
                f"{r['mac']},{r['ip']},{r['hostname'] or r['node']}\n" for r in hosts))
            site = {r["key"]: r["value"] for r in store.rows("site")}
            networks = store.rows("networks")
        finally:
            store.close()
        self.site = site
        relay = ipaddress.ip_address(self.relay)
        nets = [ipaddress.ip_network(f"{n['net']}/{n['mask']}", strict=False)
                for n in networks if n.get("net") and n.get("mask")]
        mine = [n for n in nets if relay in n]
        if not mine:
            raise RuntimeError(f"no network in the networks table holds the relay {relay}")
        self.network = mine[0]

    # -- configurations -----------------------------------------------------------------

    def nginx_conf(self) -> str:
        w = self.work
        return f"""# nginx for the boot storm's classic stack, written by stormcstack.py.
# Run as: nginx -p {w} -c {w}/nginx.conf -e {w}/nginx-error.log
# Every path is in the work directory; nothing falls back to /var/log/nginx, /var/lib/nginx
# or /run.
user root;                        # the workers read files under the storm's 0700 work dir
daemon off;
master_process on;
worker_processes auto;
worker_rlimit_nofile {2 * NGINX_CONNECTIONS};
pid "{w}/nginx.pid";
error_log "{w}/nginx-error.log";

events {{
    worker_connections {NGINX_CONNECTIONS};
}}

http {{
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    # One line per request in the "combined" format, written unbuffered: what Debian's
    # stock nginx.conf does (access_log /var/log/nginx/access.log), here in the work dir.
    access_log "{w}/nginx-access.log" combined;
    client_body_temp_path "{w}/nginx-tmp/body";
    proxy_temp_path "{w}/nginx-tmp/proxy";
    fastcgi_temp_path "{w}/nginx-tmp/fastcgi";
    uwsgi_temp_path "{w}/nginx-tmp/uwsgi";
    scgi_temp_path "{w}/nginx-tmp/scgi";

    server {{
        listen {SERVER}:{self.http_port};
        server_name _;
        location /install/ {{
            alias "{self.installdir}/";
        }}
        location /install/autoinst/ {{
            alias "{w}/autoinst/";
            default_type text/plain;
        }}
        location = {CALLBACK_PATH} {{
            default_type text/plain;
            return 200 "ok\\n";
        }}
    }}
}}
"""

    def dnsmasq_argv(self) -> list[str]:
        w, net = self.work, self.network
        lease = self.site.get("dhcplease") or "43200"
        argv = [
            binary("dnsmasq"), "--keep-in-foreground", "--conf-file=/dev/null", "--port=0",
            "--no-hosts", "--no-resolv",
            # relayed DHCP on lo: see the module's docstring
            f"--listen-address={SERVER}", "--bind-interfaces",
            # the work directory is 0700 under /tmp: no dropping to user dnsmasq
            "--user=root", "--group=root",
            f"--pid-file={w}/dnsmasq.pid", f"--log-facility={w}/dnsmasq.log",
            f"--dhcp-leasefile={w}/dnsmasq.leases",
            f"--dhcp-alternate-port={self.dhcp_port},{self.dhcp_port + 1}",
            f"--dhcp-range={net.network_address},static,{net.netmask},{lease}",
            f"--dhcp-hostsfile={w}/dhcp-hosts",
            f"--dhcp-boot={LOADERS[0]},,{SERVER}",
        ]
        # the options xcatd's ACK carries too (the router is giaddr by default)
        if self.site.get("domain"):
            argv.append(f"--dhcp-option=option:domain-name,{self.site['domain']}")
        if self.site.get("nameservers"):
            argv.append(f"--dhcp-option=option:dns-server,{self.site['nameservers']}")
        if self.name == "dnsmasq":
            argv += ["--enable-tftp", f"--tftp-root={self.tftproot}",
                     f"--tftp-max={max(50, 2 * len(self.nodes) + 10)}"]
        return argv

    # -- the duck type bootstorm.run_stack uses -----------------------------------------

    def programs(self) -> list[str]:
        return ["dnsmasq", "nginx"] + (["in.tftpd"] if self.name == "tftpd-hpa" else [])

    def start(self, usage_factory) -> Target:
        from tests.bench.bootstorm import expected_prefixes

        missing = [b for b in self.programs() if binary(b) is None]
        if missing:
            raise RuntimeError(f"the {self.name} stack needs {', '.join(missing)}")
        self.work.mkdir(parents=True, exist_ok=True)
        _port_free(socket.SOCK_DGRAM, self.dhcp_port, "DHCP")
        self.http_port = _free_port(socket.SOCK_STREAM)
        if self.name == "dnsmasq":
            _port_free(socket.SOCK_DGRAM, DNSMASQ_TFTP_PORT, "dnsmasq's TFTP")
            self.tftp_port = DNSMASQ_TFTP_PORT
        else:
            self.tftp_port = _free_port(socket.SOCK_DGRAM)
        self.nodeset()
        self.write_files()
        (self.work / "nginx.conf").write_text(self.nginx_conf())
        for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (self.work / "nginx-tmp" / sub).mkdir(parents=True, exist_ok=True)
        self.usage = usage_factory(self.name)
        try:
            dnsmasq = self._launch("dnsmasq", self.dnsmasq_argv(), self.work / "dnsmasq.log")
            _wait_bound(dnsmasq, "udp", self.dhcp_port)
            if self.name == "dnsmasq":
                _wait_bound(dnsmasq, "udp", self.tftp_port)
            else:
                tftpd = self._launch(
                    "in.tftpd", [binary("in.tftpd"), "--foreground", "--address",
                                 f"{SERVER}:{self.tftp_port}", "--secure",
                                 str(self.tftproot)], None)
                _wait_bound(tftpd, "udp", self.tftp_port)
            nginx = self._launch("nginx", [binary("nginx"), "-p", str(self.work), "-c",
                                           str(self.work / "nginx.conf"), "-e",
                                           str(self.work / "nginx-error.log")],
                                 self.work / "nginx-error.log")
            _wait_bound(nginx, "tcp", self.http_port)
        except BaseException:
            # run_stack cleans up only after a start that returned
            self.stop()
            self.usage.remove()
            raise
        return Target(SERVER, self.dhcp_port, self.tftp_port, self.relay,
                      expected_prefixes(self.state))

    def pids(self) -> list[int]:
        """The servers' main processes (dnsmasq, in.tftpd, nginx's master)."""
        return [server.proc.pid for server in self.running]

    def check(self, results: list[NodeResult]) -> list[str]:
        """Every completed node's callback reached nginx from the node's own address; and
        nginx logged nothing worse than an error (no dropped connections)."""
        problems = []
        seen = set()
        access = self.work / "nginx-access.log"
        if access.exists():
            for line in access.read_text(errors="replace").splitlines():
                if f"GET {CALLBACK_PATH} " in line and '" 200 ' in line:
                    seen.add(line.split(" ", 1)[0])
        ips = {n.name: n.ip for n in self.nodes}
        for r in results:
            if r.failed is None and ips.get(r.node) not in seen:
                problems.append(f"{r.node}: no callback from {ips.get(r.node)} in nginx's "
                                "access log")
        errors = self.work / "nginx-error.log"
        if errors.exists():
            problems += [f"nginx: {line}" for line in
                         errors.read_text(errors="replace").splitlines()
                         if any(f"[{level}]" in line for level in ("alert", "crit", "emerg"))]
        return problems

    def stop(self) -> None:
        """SIGTERM every server, wait for it; then end what it forked and left behind
        (tftpd-hpa's children, in the master's process group), by PID."""
        for server in self.running:
            if server.proc.poll() is None:
                server.proc.send_signal(signal.SIGTERM)
        for server in self.running:
            try:
                server.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                server.proc.kill()
                server.proc.wait()
        for server in self.running:
            _end_group(server.proc.pid)

    # -- processes ----------------------------------------------------------------------

    def _launch(self, name: str, argv: list[str], log: Path | None) -> Running:
        out_path = self.work / f"{name}.out"
        with open(out_path, "wb") as out:
            # Stopped before it execs the server: attached to the usage first, so what the
            # server forks is in its cgroup from the start. The PID stays the server's.
            proc = subprocess.Popen(["/bin/sh", "-c", 'kill -STOP $$; exec "$@"', name,
                                     *argv], stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        server = Running(name, proc, [p for p in (log, out_path) if p is not None])
        self.running.append(server)
        deadline = time.monotonic() + READY_TIMEOUT
        while _proc_state(proc.pid) != "T":
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{name}: the launcher did not stop itself "
                                   f"(exit {proc.poll()})\n{_tail(server)}")
            time.sleep(0.002)
        self.usage.attach(proc.pid)
        os.kill(proc.pid, signal.SIGCONT)
        return server


# -- helpers -------------------------------------------------------------------------------

def binary(name: str) -> str | None:
    """The server program's path: on PATH, else in /usr/sbin (a non-login root shell may
    not have it on PATH)."""
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")


def _free_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind((SERVER, 0))
        return s.getsockname()[1]


def _port_free(kind: int, port: int, what: str) -> None:
    """Fail clearly when another process (another storm?) already uses the port: the
    servers bind with SO_REUSEADDR and would share it silently."""
    with socket.socket(socket.AF_INET, kind) as s:
        try:
            s.bind(("0.0.0.0", port))
        except OSError as exc:
            proto = "UDP" if kind == socket.SOCK_DGRAM else "TCP"
            raise RuntimeError(f"{what} port {proto} {port} is already in use ({exc.strerror});"
                               " is another boot storm running?") from None


def _proc_state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return "?"


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    except OSError:
        pass
    return inodes


def _bound(pid: int, proto: str, port: int) -> bool:
    """Whether the process holds a socket bound to `port` (listening, for TCP)."""
    inodes = _socket_inodes(pid)
    for table in (f"/proc/{pid}/net/{proto}", f"/proc/{pid}/net/{proto}6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if (int(fields[1].rsplit(":", 1)[1], 16) == port and fields[9] in inodes
                    and (proto != "tcp" or fields[3] == "0A")):
                return True
    return False


def _wait_bound(server: Running, proto: str, port: int) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while not _bound(server.proc.pid, proto, port):
        if server.proc.poll() is not None:
            raise RuntimeError(f"{server.name} exited with {server.proc.returncode} before "
                               f"binding {proto} port {port}:\n{_tail(server)}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{server.name} did not bind {proto} port {port} in "
                               f"{READY_TIMEOUT:.0f} s:\n{_tail(server)}")
        time.sleep(0.02)


def _tail(server: Running, lines: int = 20) -> str:
    parts = []
    for path in server.logs:
        try:
            text = path.read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            continue
        if text:
            parts.append(f"--- {path.name}\n" + "\n".join(text))
    return "\n".join(parts) or "(no log output)"


def _group_members(pgid: int) -> list[int]:
    """Processes still in the process group (and session) the launcher created."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and int(fields[3]) == pgid:
            found.append(int(entry))
    return found


def _end_group(pgid: int) -> None:
    members = _group_members(pgid)
    for pid in members:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + STOP_TIMEOUT
    while members and time.monotonic() < deadline:
        time.sleep(0.05)
        members = [pid for pid in members if _proc_state(pid) not in ("?", "Z")]
    for pid in members:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


__all__ = ["CStack", "binary"]
