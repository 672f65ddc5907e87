"""nodeset's work, shared by nodeset and rinstall: check every node, then write rows.

Every node is checked before anything is written: its osimage exists, the image's boot
files are in the install tree, its boot config and (for installs) its answer file render.
A node that fails is reported with the reason; any failure fails the whole command, so a
noderange is set all together or not at all. Nothing is written to disk: configs are
rendered when the node asks (see resolver), so 10,000 nodes cost one upsert.
"""

from dataclasses import dataclass
from pathlib import Path

from xcatpy.boot.bootspec import BootPlanner, Endpoint, image_files
from xcatpy.boot.chainstate import BootState, advance, set_states, state_of
from xcatpy.boot.osimage import ImageInfo, image_for_node
from xcatpy.boot.templates import render_answer_file
from xcatpy.digits import decimal
from xcatpy.errors import XcatError


@dataclass(frozen=True)
class SitePaths:
    installdir: Path
    tftpdir: Path
    master: str
    http_port: int


def site_paths(attrs, state_dir: Path) -> SitePaths:
    site = attrs.table("site")

    def value(key: str) -> str | None:
        return (site.get(key) or {}).get("value") or None

    port = value("httpport") or "80"
    return SitePaths(Path(value("installdir") or state_dir / "install"),
                     Path(value("tftpdir") or state_dir / "tftpboot"),
                     value("master") or "127.0.0.1", decimal(port) or 80)


class NodeSetter:
    def __init__(self, ctx, paths: SitePaths) -> None:
        self.ctx = ctx
        self.attrs = ctx.attrs
        self.paths = paths
        self.planner = BootPlanner(self.attrs, paths.installdir, paths.tftpdir)
        self._checked_images: dict[str, str | None] = {}

    def stat(self, nodes: list[str]) -> None:
        for node in nodes:
            state = state_of(self.attrs, node)
            self.ctx.out.data(f"{node}: {state if state else 'none'}")

    def next(self, nodes: list[str]) -> None:
        for node in nodes:
            self.ctx.out.data(f"{node}: {advance(self.ctx.store, node)}")

    def set(self, nodes: list[str], action: str, image_name: str | None) -> dict[str, BootState]:
        """Check and record; returns the states set (empty if any node failed)."""
        states: dict[str, BootState] = {}
        nodetype_rows = []
        for node in nodes:
            try:
                state, image = self._state_for(node, action, image_name)
                self._check(node, state, image)
            except XcatError as exc:
                message = exc.message
                prefix = f"{node}: "
                self.ctx.node_error(node, message[len(prefix):] if message.startswith(prefix)
                                    else message)
                continue
            states[node] = state
            if image is not None:
                nodetype_rows.append({"node": node, "provmethod": image.name,
                                      "os": image.osvers, "arch": image.osarch,
                                      "profile": image.profile or None})
        if self.ctx.failed:
            return {}
        if nodetype_rows:
            self.ctx.store.upsert_rows("nodetype", nodetype_rows)
        set_states(self.ctx.store, states)
        for node, state in states.items():
            self.ctx.out.data(f"{node}: {state}")
        return states

    def _state_for(self, node: str, action: str, image_name: str | None
                   ) -> tuple[BootState, ImageInfo | None]:
        if action in ("boot", "shell", "offline"):
            return BootState(action), None
        image = image_for_node(self.attrs, node, image_name)
        method = image.provmethod if action == "osimage" else action
        if action != "osimage" and image.provmethod != action and image_name:
            raise XcatError(f"{node}: osimage '{image.name}' is provmethod "
                            f"'{image.provmethod}', not '{action}'")
        return BootState(method, image.name), image

    def _check(self, node: str, state: BootState, image: ImageInfo | None) -> None:
        endpoint = Endpoint(self.attrs.lookup(node, "noderes", "xcatmaster")
                            or self.paths.master, self.paths.http_port)
        if image is not None:
            problem = self._image_problem(image)
            if problem:
                raise XcatError(f"{node}: {problem}")
        self.planner.spec(node, endpoint, state)
        if state.action == "install" and image is not None:
            render_answer_file(self.attrs, node, image, master=endpoint.master,
                               http_port=endpoint.http_port,
                               installdir=self.paths.installdir)

    def _image_problem(self, image: ImageInfo) -> str | None:
        if image.name not in self._checked_images:
            problem = None
            files = image_files(image, self.paths.installdir)
            if files.kernel is None:
                problem = (f"osimage '{image.name}': no known boot file layout for osvers "
                           f"'{image.osvers}'")
            else:
                for path in files.files.values():
                    if not path.is_file():
                        problem = f"osimage '{image.name}': {path} is missing (run copycds?)"
                        break
            self._checked_images[image.name] = problem
        return self._checked_images[image.name]
