"""Answer-file templates: finding a node's template and rendering it, all or nothing.

Templates are Jinja2 in a sandbox (ImmutableSandboxedEnvironment: no `__class__` walks,
no mutating what the context hands in), with undefined values fatal. xCAT's directives
(#TABLE#, #INCLUDE#, #CRYPT#, ...) work too: directives.to_jinja turns them into calls
before compiling. A rendering returns the whole text or raises TemplateError naming the
node and what is missing; nothing partial is ever returned, so nothing partial is served.

Search, as xCAT's: <installdir>/custom/install/<platform>/ first, then the built-in
templates/install/<platform>/, each for <profile>.<os>.<arch>, <profile>.<osbase>.<arch>,
<profile>.<genos>.<arch>, <profile>.<os>, <profile>.<osbase>, <profile>.<genos>,
<profile>.<arch>, <profile> (os rhels8.6: osbase rhels8, genos rhel8), with the suffix
`.tmpl` (kickstart and other text) or `.xml.tmpl` (XML: values are escaped). A
linuximage.template path overrides the search. The `post` part of an answer file
(XenServer's post-install script) is `<name>.post.tmpl` by the same search.

Compiled templates are cached by path and checked against the file's mtime on every use,
so ten thousand nodes cost one compile and one stat each.
"""

import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path

from jinja2 import BaseLoader, StrictUndefined, TemplateNotFound
from jinja2.exceptions import SecurityError, TemplateSyntaxError, UndefinedError
from jinja2.exceptions import TemplateError as JinjaTemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from xcatpy import resources
from xcatpy.boot.answercontext import build_context, directive_env
from xcatpy.boot.directives import (
    DirectiveError,
    DirectiveRuntime,
    MissingValueError,
    RenderState,
    to_jinja,
)
from xcatpy.boot.osimage import ImageInfo
from xcatpy.db.schema import TABLES
from xcatpy.errors import XcatError

BUILTIN_PREFIX = "builtin:"
ANSWER_SUFFIXES = (".tmpl", ".xml.tmpl")
PART_SUFFIXES = {"post": (".post.tmpl",)}


class TemplateError(XcatError):
    """A node's answer file cannot be rendered; the message names the node and why."""


@dataclass(frozen=True)
class RenderedAnswer:
    text: str
    template: Path
    secret: bool   # printed a secret (root password, #CRYPT#, passwd): serve to the node only


def builtin_template_dir() -> Path:
    """The shipped templates/: the checkout's, or <prefix>/share/xcatpy/templates."""
    return resources.template_dir()


def _is_xml(name: str | None) -> bool:
    return bool(name) and (name.endswith(".xml") or name.endswith(".xml.tmpl"))


class _Loader(BaseLoader):
    """Templates by absolute path; directives translated; up to date while mtime holds."""

    def get_source(self, environment, template: str):
        path = Path(template)
        try:
            st = path.stat()
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise TemplateNotFound(template) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise XcatError(f"template {path}: cannot read it: {exc}") from None
        source = to_jinja(text, path)

        def uptodate() -> bool:
            try:
                now = path.stat()
            except OSError:
                return False
            return (now.st_mtime_ns, now.st_size) == (st.st_mtime_ns, st.st_size)
        return source, str(path), uptodate


class _Environment(ImmutableSandboxedEnvironment):
    def join_path(self, template: str, parent: str) -> str:
        """{% include/extends %} names: absolute, `builtin:<platform>/<file>`, or relative
        to the including template's directory."""
        if template.startswith(BUILTIN_PREFIX):
            return str(builtin_template_dir() / "install" / template[len(BUILTIN_PREFIX):])
        if os.path.isabs(template):
            return template
        return str(Path(parent).parent / template)


_env = _Environment(
    loader=_Loader(),
    undefined=StrictUndefined,
    autoescape=_is_xml,
    keep_trailing_newline=True,
    trim_blocks=True,
    lstrip_blocks=True,
    auto_reload=True,
    cache_size=2000,
)
_compile_lock = threading.Lock()


# -- search ------------------------------------------------------------------------------------

def _os_names(osvers: str) -> list[str]:
    """rhels8.6 -> rhels8.6, rhels8 (xCAT's osbase), rhel8 (xCAT's genos)."""
    names = [osvers]
    if "." in osvers:
        names.append(osvers.rsplit(".", 1)[0])
    genos = osvers.split(".")[0]
    m = re.match(r"rh.*s(\d*)$", genos)
    if m:
        genos = f"rhel{m.group(1)}"
    names.append(genos)
    return list(dict.fromkeys(n for n in names if n))


def candidate_names(image: ImageInfo, part: str | None = None) -> list[str]:
    p, arch = image.profile, image.osarch
    oses = _os_names(image.osvers)
    stems = [f"{p}.{o}.{arch}" for o in oses] + [f"{p}.{o}" for o in oses]
    stems += [f"{p}.{arch}", p]
    suffixes = PART_SUFFIXES[part] if part else ANSWER_SUFFIXES
    return [stem + sfx for stem in dict.fromkeys(stems) for sfx in suffixes]


_listings: dict[Path, tuple[int, frozenset[str]]] = {}


def _listing(directory: Path) -> frozenset[str]:
    """File names in a directory, re-read only when the directory changes."""
    try:
        mtime = directory.stat().st_mtime_ns
    except OSError:
        return frozenset()
    hit = _listings.get(directory)
    if hit and hit[0] == mtime:
        return hit[1]
    try:
        names = frozenset(e.name for e in os.scandir(directory) if e.is_file())
    except OSError:
        names = frozenset()
    _listings[directory] = (mtime, names)
    return names


def search_dirs(image: ImageInfo, installdir: Path) -> list[Path]:
    platform = image.layout.platform if image.layout else image.osvers.rstrip("0123456789.")
    return [Path(installdir) / "custom" / "install" / platform,
            builtin_template_dir() / "install" / platform]


def find_template(image: ImageInfo, installdir: Path, node: str,
                  part: str | None = None) -> Path:
    """The node's template: linuximage.template if set (answer files only), else the first
    match of the search; TemplateError lists where it looked."""
    if image.template and part is None:
        path = Path(image.template)
        if not path.is_file():
            raise TemplateError(f"{node}: linuximage.template of osimage '{image.name}' is "
                                f"{path}, which does not exist")
        return path
    names = candidate_names(image, part)
    dirs = search_dirs(image, installdir)
    for directory in dirs:
        present = _listing(directory)
        for name in names:
            if name in present:
                return directory / name
    what = f"{part} template" if part else "template"
    raise TemplateError(f"{node}: no {what} for osimage '{image.name}' (profile "
                        f"'{image.profile}', os '{image.osvers}', arch '{image.osarch}'): "
                        f"looked in {' and '.join(map(str, dirs))} for "
                        f"{', '.join(names)}; or set linuximage.template")


# -- rendering ---------------------------------------------------------------------------------

def _template_line(exc: BaseException, path: Path) -> int | None:
    """The template line an error was raised at (Jinja rewrites tracebacks to carry it)."""
    line, tb = None, exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == str(path):
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _fix_hint(node: str, what: str) -> str:
    if what.startswith("networks."):
        return (" (define the network: mkdef -t network -o <name> net=<net> mask=<mask> "
                "gateway=<gateway>; or chdef -t site managedaddressmode=dhcp)")
    m = re.match(r"(\w+)\.(\w+)$", what)
    if not m:
        return ""
    table, column = m.groups()
    if table == "site":
        return f" (chdef -t site {column}=<value>)"
    spec = TABLES.get(table)
    if spec is not None and spec.node_keyed:
        return f" (nodech {node} {table}.{column}=<value>)"
    return ""


def _translate(exc: Exception, node: str, path: Path) -> TemplateError:
    line = _template_line(exc, path)
    where = f"template {path}" + (f" line {line}" if line else "")
    if isinstance(exc, MissingValueError):
        what = str(exc)
        return TemplateError(f"{node}: {where} needs {what}, which is not set for {node}"
                             + _fix_hint(node, what))
    if isinstance(exc, TemplateSyntaxError):
        return TemplateError(f"{node}: template {exc.filename or path} line {exc.lineno}: "
                             f"syntax error: {exc.message}")
    if isinstance(exc, SecurityError):
        return TemplateError(f"{node}: {where}: refused by the template sandbox: {exc}")
    if isinstance(exc, UndefinedError):
        return TemplateError(f"{node}: {where}: {exc} (see share/doc/templates.md for the "
                             "variables a template can use)")
    if isinstance(exc, TemplateNotFound):
        return TemplateError(f"{node}: {where} includes {exc.name}, which does not exist")
    if isinstance(exc, XcatError):
        return TemplateError(f"{node}: {exc.message}")
    return TemplateError(f"{node}: {where}: {type(exc).__name__}: {exc}")


def render_answer_file(attrs, node: str, image: ImageInfo, *, master: str, http_port: int,
                       installdir: Path, env: dict | None = None,
                       part: str | None = None) -> RenderedAnswer:
    """The node's answer file (or, with part="post", its post-install script), whole."""
    path = find_template(image, Path(installdir), node, part)
    return render_template(path, attrs, node, image, master=master, http_port=http_port,
                           installdir=installdir, env=env)


def render_template(path: Path, attrs, node: str, image: ImageInfo, *, master: str,
                    http_port: int, installdir: Path,
                    env: dict | None = None) -> RenderedAnswer:
    """Render one given template file for a node (all or nothing)."""
    state = RenderState()
    variables = directive_env(node, master=master, http_port=http_port,
                              installdir=Path(installdir), env=env)
    try:
        with _compile_lock:
            template = _env.get_template(str(path))
        ctx = build_context(attrs, node, image, master=master, http_port=http_port,
                            installdir=Path(installdir), env=variables, state=state)
        ctx["xcatpy_directive"] = DirectiveRuntime(node=node, attrs=attrs, ctx=ctx,
                                                   env=variables, state=state, template=path)
        text = template.render(ctx)
    except (JinjaTemplateError, DirectiveError, XcatError) as exc:
        raise _translate(exc, node, path) from None
    except (TypeError, ValueError, ArithmeticError, LookupError) as exc:
        # A template doing arithmetic on text, indexing past the end, ...
        raise _translate(exc, node, path) from None
    except (RecursionError, SyntaxError) as exc:
        # Jinja's parser and compiler recurse (an expression nested a hundred deep exhausts
        # the stack), and Python refuses the code Jinja makes of deeply nested blocks (20
        # loops: "too many statically nested blocks"; 100 ifs: IndentationError).
        why = exc.msg if isinstance(exc, SyntaxError) else "the stack ran out"
        raise TemplateError(f"{node}: template {path}: expressions or blocks are nested "
                            f"too deeply ({why}); flatten them") from None
    return RenderedAnswer(text=text, template=path, secret=state.secret)
