"""From a boot request to the node's rendered config, off the reactor.

Every lookup runs on the executor's reader threads and returns a Deferred; the TFTP and
HTTP protocols never touch SQLite. Each reader thread keeps a BootView (attributes,
MAC/IP index, planner) for as long as the database is unchanged: SQLite's data_version
tells us when another connection committed, so a boot storm is served from memory and a
nodeset is seen by the very next request. When something did change, the new view takes
every table whose generation (Store.generations) is unchanged, and the node index if
mac, hosts and nodelist are unchanged, from the BootCache all threads share: a node's
install-finished call rewrites its chain row, and the next request reloads that table
alone instead of the whole site.
"""

import re
import threading
from dataclasses import dataclass
from pathlib import Path

from twisted.internet import defer
from twisted.logger import Logger
from twisted.python.failure import Failure

from xcatpy.boot import bootconfig, urls
from xcatpy.boot.bootspec import BootPlanner, Endpoint, image_files
from xcatpy.boot.chainstate import BootState, advance, set_status
from xcatpy.boot.nodeindex import NodeIndex, hex_ip, plain_ip
from xcatpy.boot.osimage import image_for_node, load_image
from xcatpy.boot.templates import render_answer_file
from xcatpy.db.attrs import NodeAttrs, keyed_rows
from xcatpy.db.store import STATUS_COLUMNS, Store
from xcatpy.errors import XcatError
from xcatpy.net.dhcp.bootselect import family_for

log = Logger()

_MAC = r"([0-9a-f]{2}(?:-[0-9a-f]{2}){5})"
PXELINUX_MAC = re.compile(rf"^pxelinux\.cfg/01-{_MAC}$", re.I)
PXELINUX_HEX = re.compile(r"^pxelinux\.cfg/([0-9a-f]{1,8})$", re.I)
PXELINUX_DEFAULT = re.compile(r"^pxelinux\.cfg/default$")
GRUB_MAC = re.compile(rf"^(?:.*/)?grub\.cfg-01-{_MAC}$", re.I)
GRUB_HEX = re.compile(r"^(?:.*/)?grub\.cfg-([0-9a-f]{1,8})$", re.I)
IMAGE_FILE = re.compile(r"^" + re.escape(urls.TFTP_IMAGE_PREFIX) + r"([^/]+)/([^/]+)$")


class BootView:
    """The boot-time view of one database version."""

    def __init__(self, store: Store, installdir: Path, tftpdir: Path,
                 cache: "BootCache | None" = None) -> None:
        if cache is None:
            self.attrs = NodeAttrs(store)
            self.index = NodeIndex(self.attrs)
        else:
            generations = store.generations()
            self.attrs = NodeAttrs(store, cache.loader(store, generations))
            self.index = cache.index(self.attrs, generations)
        self.planner = BootPlanner(self.attrs, installdir, tftpdir)


def _without_status(name: str, rows: dict) -> dict:
    """nodelist rows minus the status columns: they change with every installer report
    and no boot decision reads them, so they are not kept (a lookup of one is None, never
    a stale value), and the rows stay valid until a real nodelist change."""
    drop = STATUS_COLUMNS.get(name)
    if not drop:
        return rows
    return {key: {c: v for c, v in row.items() if c not in drop} for key, row in rows.items()}


class BootCache:
    """Table rows and the node index, shared by every reader thread, each kept while the
    generations it was read at are current. Entries are replaced, never changed, so a
    thread holding an older one keeps a consistent snapshot."""

    INDEX_TABLES = ("mac", "hosts", "nodelist")

    def __init__(self) -> None:
        self._tables: dict[str, tuple[int, dict]] = {}
        self._index: tuple[tuple, NodeIndex] | None = None

    def loader(self, store: Store, generations: dict[str, int]):
        def load(name: str) -> dict:
            wanted = generations.get(name, 0)
            hit = self._tables.get(name)
            if hit is not None and hit[0] == wanted:
                return hit[1]
            rows = _without_status(name, keyed_rows(store, name))
            self._tables[name] = (wanted, rows)
            return rows
        return load

    def index(self, attrs: NodeAttrs, generations: dict[str, int]) -> NodeIndex:
        wanted = tuple(generations.get(t, 0) for t in self.INDEX_TABLES)
        hit = self._index
        if hit is not None and hit[0] == wanted:
            return hit[1]
        index = NodeIndex(attrs)
        self._index = (wanted, index)
        return index


@dataclass(frozen=True)
class Answer:
    status: int          # HTTP status
    text: str
    node: str | None = None


class BootResolver:
    def __init__(self, executor, installdir: Path, tftpdir: Path, *,
                 http_port=lambda: 80, api_port=lambda: 3001) -> None:
        self.executor = executor
        self.installdir = installdir
        self.tftpdir = tftpdir
        self.http_port = http_port
        self.api_port = api_port
        self._local = threading.local()
        self.cache = BootCache()
        self._inflight: dict[tuple, list] = {}     # reactor thread only

    # -- per-thread view ------------------------------------------------------------------

    def view(self, store: Store) -> BootView:
        version = store.conn.execute("PRAGMA data_version").fetchone()[0]
        cached = getattr(self._local, "view", None)
        if cached is None or cached[0] is not store or cached[1] != version:
            cached = (store, version, BootView(store, self.installdir, self.tftpdir,
                                               self.cache))
            self._local.view = cached
        return cached[2]

    def endpoint(self, view: BootView, node: str, local: str) -> Endpoint:
        master = view.attrs.lookup(node, "noderes", "xcatmaster") or plain_ip(local)
        return Endpoint(master, self.http_port(), self.api_port())

    # -- TFTP -----------------------------------------------------------------------------

    def tftp_generators(self) -> list:
        return [
            (PXELINUX_MAC, self._by_mac("pxelinux")),
            (PXELINUX_HEX, self._by_hex("pxelinux")),
            (PXELINUX_DEFAULT, self._by_client("pxelinux")),
            (GRUB_MAC, self._by_mac("grub2")),
            (GRUB_HEX, self._by_hex("grub2")),
            (IMAGE_FILE, self._image_file),
        ]

    def _config(self, view: BootView, loader: str, node: str | None, local: str) -> bytes | None:
        if node is None:
            return None
        if loader == "pxelinux" and family_for(
                "bios", view.attrs.lookup(node, "noderes", "netboot")) == "lpxelinux":
            loader = "lpxelinux"
        ep = self.endpoint(view, node, local)
        spec = view.planner.spec(node, ep)
        if spec is None:
            return None
        return bootconfig.render(loader, spec, ep, self.installdir).encode()

    def _lookup(self, fn, key: tuple | None = None):
        """Run fn(view) on a reader thread; a node whose config cannot be made is logged
        with its one-line reason and gets nothing (the TFTP client sees 'not found').

        Requests with the same `key` while one is in flight share its result: a PXE ROM
        that re-sends its request from a new port, or a rack asking for the same image
        file at once, costs one lookup."""
        def work(store: Store):
            try:
                return fn(self.view(store))
            except XcatError as exc:
                log.warn("boot config: {error}", error=exc.message)
                return None
        if key is None:
            return self.executor.read(work)
        waiting = self._inflight.get(key)
        if waiting is not None:
            follower = defer.Deferred()
            waiting.append(follower)
            return follower
        self._inflight[key] = []

        def settle(result):
            for follower in self._inflight.pop(key):
                if isinstance(result, Failure):
                    follower.errback(result)
                else:
                    follower.callback(result)
            return result
        try:
            started = self.executor.read(work)
        except BaseException:
            del self._inflight[key]     # else every later request for it would wait forever
            raise
        return started.addBoth(settle)

    def _by_mac(self, loader: str):
        def generate(match: re.Match, client, local: str):
            mac = match.group(1).lower()
            return self._lookup(lambda v: self._config(
                v, loader, v.index.node_by_mac(mac), local), ("mac", loader, mac, local))
        return generate

    def _by_hex(self, loader: str):
        def generate(match: re.Match, client, local: str):
            wanted = match.group(1).upper()

            def pick(v: BootView):
                if len(wanted) == 8:
                    return self._config(v, loader, self._node_by_hex(v, wanted), local)
                # A shortened prefix is answered only for the asking node itself.
                node = v.index.node_by_ip(client[0])
                own = hex_ip(plain_ip(client[0])) or ""
                return self._config(v, loader, node if own.startswith(wanted) else None, local)
            asker = "" if len(wanted) == 8 else client[0]
            return self._lookup(pick, ("hex", loader, wanted, asker, local))
        return generate

    @staticmethod
    def _node_by_hex(v: BootView, wanted: str) -> str | None:
        ip = ".".join(str(int(wanted[i:i + 2], 16)) for i in range(0, 8, 2))
        return v.index.node_by_ip(ip)

    def _by_client(self, loader: str):
        def generate(match: re.Match, client, local: str):
            return self._lookup(lambda v: self._config(
                v, loader, v.index.node_by_ip(client[0]), local),
                ("client", loader, client[0], local))
        return generate

    def _image_file(self, match: re.Match, client, local: str):
        name, filename = match.group(1), match.group(2)

        def find(v: BootView) -> Path | None:
            image = load_image(v.attrs, name)
            if image is None:
                return None
            path = image_files(image, self.installdir).files.get(filename)
            return path if path is not None and path.is_file() else None
        return self._lookup(find, ("image", name, filename))

    # -- HTTP -----------------------------------------------------------------------------

    def ipxe(self, mac: str | None, client: str, local: str):
        """Deferred iPXE script text, or None when there is nothing to boot."""
        def work(v: BootView):
            node = v.index.node_by_mac(mac) if mac else v.index.node_by_ip(client)
            if node is None:
                return None
            ep = self.endpoint(v, node, local)
            spec = v.planner.spec(node, ep)
            return None if spec is None else bootconfig.render("ipxe", spec, ep,
                                                               self.installdir)
        asker = ("mac", mac.lower()) if mac else ("address", plain_ip(client))
        return self._lookup(work, ("ipxe", asker, local))

    def answer(self, node: str, client: str, local: str, part: str | None = None):
        """Deferred Answer for GET /install/autoinst/<node>[?part=post]."""
        def own_address(v) -> bool:
            own = v.index.ip_of(node)
            return own is not None and own == plain_ip(client)

        def work(store: Store) -> Answer:
            v = self.view(store)
            if not v.attrs.is_node(node):
                return Answer(404, f"Error: {node} is not a node\n")
            try:
                image = image_for_node(v.attrs, node)
                ep = self.endpoint(v, node, local)
                result = render_answer_file(v.attrs, node, image, master=ep.master,
                                            http_port=ep.http_port,
                                            installdir=self.installdir, part=part)
            except XcatError as exc:
                log.warn("answer file: {error}", error=exc.message)
                if own_address(v):
                    return Answer(500, f"Error: {exc.message}\n", node)
                # The reason names the head node's template paths: not for any address.
                return Answer(500, f"Error: the answer file of {node} cannot be rendered; "
                              "the reason is in xcatd's log\n", node)
            if result.secret:
                if not own_address(v):
                    log.warn("answer file for {node} refused to {client}", node=node,
                             client=client)
                    return Answer(403, f"Error: the answer file of {node} carries secrets "
                                  f"and is served only to {node}'s own address\n", node)
            return Answer(200, result.text, node)
        return self.executor.read(work)

    def _write_for_client(self, client: str, fn):
        """Find the node at `client` on a reader (its cached index), then run
        fn(store, node) on the writer: the single writer never rebuilds the index, so a
        rack of installers finishing at once costs one index, not one per node."""
        def write(node: str | None):
            if node is None:
                return None
            return self.executor.write(lambda store: fn(store, node))
        return self._lookup(lambda v: v.index.node_by_ip(client)).addCallback(write)

    def finished(self, client: str):
        """The installer's last call: Deferred (node, new state), or None if the address
        is no node's."""
        def work(store: Store, node: str):
            state = advance(store, node)
            set_status(store, node, "booting")
            return node, state
        return self._write_for_client(client, work)

    def install_status(self, client: str, status: str):
        def work(store: Store, node: str):
            set_status(store, node, status)
            return node
        return self._write_for_client(client, work)


__all__ = ["Answer", "BootResolver", "BootState"]
