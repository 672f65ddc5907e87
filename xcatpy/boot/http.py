"""The HTTP side of booting: the install tree, answer files, iPXE scripts, the callback.

    /install/<path>              files of the install tree (Range requests, streamed)
    /install/autoinst/<node>     the node's answer file, rendered now (xCAT's path)
    /xcatpy/v1/boot/ipxe[/<mac>] iPXE script for the asking node (or ?mac=)
    /xcatpy/v1/boot/done         the installer's "finished" call: install -> boot

Nothing here touches the database on the reactor thread: the resolver renders on the
executor's readers and records on its writer.
"""

import os
from pathlib import Path

from twisted.logger import Logger
from twisted.web import resource, server

from xcatpy.boot import urls
from xcatpy.boot.nodeindex import normalize_mac, plain_ip
from xcatpy.boot.sendfile import SendfileFile
from xcatpy.boot.templates import PART_SUFFIXES

ANSWER_PARTS = tuple(PART_SUFFIXES)
# The answer files' directory inside the install tree: "autoinst" of /install/autoinst/.
_ANSWER_DIR = urls.ANSWER_PREFIX[len(urls.INSTALL_PREFIX):].strip("/")

log = Logger()


def _client(request) -> str:
    return plain_ip(request.getClientAddress().host)


def _local(request) -> str:
    return plain_ip(request.getHost().host)


def _text(request, status: int, text: str, content_type: bytes = b"text/plain; "
          b"charset=utf-8") -> None:
    body = text.encode()
    request.setResponseCode(status)
    request.setHeader(b"content-type", content_type)
    request.setHeader(b"content-length", str(len(body)).encode())
    request.setHeader(b"cache-control", b"no-store")
    if request.method != b"HEAD":
        request.write(body)
    request.finish()


def _deferred_text(request, deferred, render) -> int:
    """Finish `request` with render(result) -> (status, text[, type]) once `deferred` fires."""
    def done(result):
        if not request.finished and not request._disconnected:
            _text(request, *render(result))

    def failed(failure):
        log.failure("boot request {uri} failed", failure, uri=request.uri)
        if not request.finished and not request._disconnected:
            _text(request, 500, "Error: internal error\n")

    deferred.addCallbacks(done, failed)
    return server.NOT_DONE_YET


class InstallTree(resource.Resource):
    """Static files confined to a root (the install tree, or the TFTP root's boot programs
    for UEFI HTTP boot): no '..', no symlink out of the root, no directory listings."""

    isLeaf = True

    def __init__(self, root: Path, answers: resource.Resource | None = None,
                 prefix: str = urls.INSTALL_PREFIX) -> None:
        super().__init__()
        self.root = root
        self.answers = answers
        self.prefix = prefix

    def render(self, request):
        segments = [s.decode("utf-8", "replace") for s in request.postpath]
        if self.answers is not None and segments and segments[0] == _ANSWER_DIR:
            request.postpath = request.postpath[1:]
            return self.answers.render(request)
        if request.method not in (b"GET", b"HEAD"):
            _text(request, 405, "Error: method not allowed\n")
            return server.NOT_DONE_YET
        path = self._confined(segments)
        if path is None:
            _text(request, 404, f"Error: {self.prefix}{'/'.join(segments)} not found\n")
            return server.NOT_DONE_YET
        return SendfileFile(str(path), defaultType="application/octet-stream").render(request)

    def _confined(self, segments: list[str]) -> Path | None:
        if any(s in ("", ".", "..") or "/" in s or "\\" in s or "\0" in s
               for s in segments) or not segments:
            return None
        root = os.path.realpath(self.root)
        path = os.path.realpath(os.path.join(root, *segments))
        if os.path.commonpath([root, path]) != root or not os.path.isfile(path):
            return None
        return Path(path)


class AnswerFiles(resource.Resource):
    isLeaf = True

    def __init__(self, resolver) -> None:
        super().__init__()
        self.resolver = resolver

    def render(self, request):
        if request.method not in (b"GET", b"HEAD"):
            _text(request, 405, "Error: method not allowed\n")
            return server.NOT_DONE_YET
        if len(request.postpath) != 1 or not request.postpath[0]:
            _text(request, 404, "Error: expected /install/autoinst/<node>\n")
            return server.NOT_DONE_YET
        node = request.postpath[0].decode("utf-8", "replace")
        part = request.args.get(b"part", [b""])[0].decode("ascii", "replace") or None
        if part is not None and part not in ANSWER_PARTS:
            _text(request, 404, f"Error: no part '{part}' of an answer file (known: "
                  f"{', '.join(ANSWER_PARTS)})\n")
            return server.NOT_DONE_YET

        def render(answer):
            kind = (b"application/xml; charset=utf-8" if answer.text.startswith("<?xml")
                    else b"text/plain; charset=utf-8")
            return answer.status, answer.text, kind
        return _deferred_text(request, self.resolver.answer(
            node, _client(request), _local(request), part), render)


class IpxeScript(resource.Resource):
    isLeaf = True

    def __init__(self, resolver) -> None:
        super().__init__()
        self.resolver = resolver

    def render_GET(self, request):
        mac = None
        if request.postpath and request.postpath[0]:
            mac = request.postpath[0].decode("ascii", "replace")
        elif b"mac" in request.args:
            mac = request.args[b"mac"][0].decode("ascii", "replace")
        if mac is not None and normalize_mac(mac) is None:
            _text(request, 400, f"Error: '{mac}' is not a MAC address\n")
            return server.NOT_DONE_YET

        def render(script):
            if script is None:
                return 404, "#!ipxe\necho xcatpy: no boot configuration for this node\nexit 1\n"
            return 200, script
        return _deferred_text(request, self.resolver.ipxe(mac, _client(request),
                                                          _local(request)), render)


class Finished(resource.Resource):
    """The installer's callback. The node is the caller's address, so a node can only
    ever finish its own install."""

    isLeaf = True

    def __init__(self, resolver) -> None:
        super().__init__()
        self.resolver = resolver

    def render_GET(self, request):
        client = _client(request)

        def render(result):
            if result is None:
                return 404, f"Error: {client} is not the address of any node\n"
            node, state = result
            log.info("{node}: install finished, next boot: {state}", node=node, state=state)
            return 200, f"{node}: {state}\n"
        return _deferred_text(request, self.resolver.finished(client), render)

    render_POST = render_GET


def _mount(root: resource.Resource, path: str, leaf: resource.Resource) -> None:
    """Put `leaf` at `path` (e.g. urls.CALLBACK_PATH), making the directories on the way,
    so the URLs handed to nodes and the ones served come from one place."""
    *dirs, name = path.strip("/").split("/")
    node = root
    for segment in dirs:
        child = node.children.get(segment.encode())
        if child is None:
            child = resource.Resource()
            node.putChild(segment.encode(), child)
        node = child
    node.putChild(name.encode(), leaf)


def build_boot_site(resolver, installdir: Path, tftpdir: Path | None = None) -> server.Site:
    root = resource.Resource()
    _mount(root, urls.INSTALL_PREFIX, InstallTree(installdir, AnswerFiles(resolver)))
    if tftpdir is not None:
        _mount(root, urls.TFTPROOT_PREFIX, InstallTree(tftpdir, prefix=urls.TFTPROOT_PREFIX))
    _mount(root, urls.IPXE_PATH, IpxeScript(resolver))
    _mount(root, urls.CALLBACK_PATH, Finished(resolver))
    site = server.Site(root)
    site.displayTracebacks = False
    return site
