"""pxelinux, grub2 and iPXE text for one BootSpec, from templates/boot/.

The syntax of each loader lives in its template; this module only supplies the file
addresses: TFTP paths for pxelinux and grub2 (they fetch over TFTP), HTTP URLs for iPXE
and lpxelinux (kernels and installer images are large, and HTTP is what those loaders are
fast at). lpxelinux reads pxelinux's syntax, so it shares pxelinux's template.
"""

import functools
from pathlib import Path, PurePosixPath

import jinja2

from xcatpy.boot import urls
from xcatpy.boot.bootspec import BootFile, BootSpec, Endpoint
from xcatpy.resources import template_dir

LOADERS = ("pxelinux", "lpxelinux", "grub2", "ipxe")
TEMPLATES = {"lpxelinux": "pxelinux"}


@functools.lru_cache(maxsize=4)
def _environment(directory: Path) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(directory)), undefined=jinja2.StrictUndefined,
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True, autoescape=False)


def render(loader: str, spec: BootSpec, endpoint: Endpoint, installdir: Path) -> str:
    env = _environment(template_dir() / "boot")

    def url(bootfile: BootFile) -> str:
        if bootfile.source is not None:
            try:
                rel = bootfile.source.resolve().relative_to(installdir.resolve())
            except ValueError:
                pass
            else:
                return urls.install_url(endpoint.master, endpoint.http_port, *rel.parts)
        host = f"[{endpoint.master}]" if ":" in endpoint.master else endpoint.master
        return f"tftp://{host}/{bootfile.tftp_path}"

    def basename(bootfile: BootFile) -> str:
        return PurePosixPath(bootfile.tftp_path).name

    def tftp_path(bootfile: BootFile) -> str:
        return bootfile.tftp_path

    template = env.get_template(f"{TEMPLATES.get(loader, loader)}.j2")
    return template.render(spec=spec, url=url, basename=basename,
                           fetch=url if loader == "lpxelinux" else tftp_path)
