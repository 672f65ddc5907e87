"""The addresses a booting node is told to fetch from.

Boot configs, answer files and the HTTP service all build these URLs here, so a path
changes in one place. `master` is the address the node reached us on (multi-homed head
nodes hand each network its own address), `port` the HTTP service's port.
"""

from urllib.parse import quote

ANSWER_PREFIX = "/install/autoinst/"     # xCAT's path for per-node answer files
CALLBACK_PATH = "/xcatpy/v1/boot/done"   # the installer's "finished" call
IPXE_PATH = "/xcatpy/v1/boot/ipxe"       # per-node iPXE script, by MAC
INSTALL_PREFIX = "/install/"
# The TFTP root's static files over HTTP (xCAT's Apache alias): UEFI HTTP boot clients are
# given a URL of the boot program itself.
TFTPROOT_PREFIX = "/tftpboot/"
TFTP_IMAGE_PREFIX = "xcat/osimage/"      # virtual TFTP directory of an image's boot files


def http_base(master: str, port: int) -> str:
    host = f"[{master}]" if ":" in master else master
    return f"http://{host}" if port == 80 else f"http://{host}:{port}"


def answer_url(master: str, port: int, node: str) -> str:
    return http_base(master, port) + ANSWER_PREFIX + quote(node)


def callback_url(master: str, port: int) -> str:
    return http_base(master, port) + CALLBACK_PATH


def install_url(master: str, port: int, *parts: str) -> str:
    return http_base(master, port) + INSTALL_PREFIX + "/".join(quote(p) for p in parts)


def tftp_image_path(image: str, filename: str) -> str:
    return f"{TFTP_IMAGE_PREFIX}{image}/{filename}"
