"""xCAT's template directives (#TABLE#, #INCLUDE#, #CRYPT#, ...) inside Jinja2 templates.

A site moving from xCAT brings templates written in xCAT's directive language. Before a
template is compiled, `to_jinja` replaces every directive with a Jinja expression that calls
the per-render `DirectiveRuntime` (by number: no directive text is ever re-read as Jinja),
so a template mixing both languages has one rendering path and one error path. A value a
directive inserts is output data: `{{` in a table value comes out as `{{`, and in an XML
template it is escaped like any other value.

Differences from xCAT, on purpose:
- A line that begins with `#` but not with a directive is a comment and is left as it is,
  directives in it included: the commented-out examples in xCAT's stock templates
  (`#nfs --server #XCATVAR:INSTALL_NFS# ...`) need no values.
- A value that is not set is an error naming the node and table.column (xCAT wrote an empty
  string, or an error marker into a file it then served). #TABLEBLANKOKAY# is still blank.
- Directives xCAT has that xcatpy does not implement (#COMMAND#, #WINNETCFG#, ...) and any
  unknown `#NAME:args#` are errors when the template is loaded, never passed through.
"""

import hashlib
import itertools
import re
import secrets
import threading
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from jinja2 import StrictUndefined, pass_eval_context
from jinja2.exceptions import UndefinedError
from markupsafe import Markup, escape

from xcatpy.db.schema import TABLES
from xcatpy.errors import XcatError

INCLUDE_DEPTH_LIMIT = 10

# -- values that are not there ---------------------------------------------------------------


class MissingValueError(UndefinedError):
    """A template used a value the database does not have; str() is what is missing
    (`hypervisor.dom0mem`, `site.timezone`, `environment variable X`)."""


def missing(what: str) -> StrictUndefined:
    """A Jinja undefined that names the attribute it stands for: `is defined` and
    `| default(...)` work on it, anything else raises MissingValueError(what)."""
    return StrictUndefined(hint=what, name=what, exc=MissingValueError)


class RenderState:
    """What one rendering learned about itself while it ran."""

    __slots__ = ("secret",)

    def __init__(self) -> None:
        self.secret = False


class DirectiveError(XcatError):
    """A directive that cannot work: unknown, malformed, or an include that fails."""


# -- SHA-crypt ---------------------------------------------------------------------------------
#
# Python's crypt module is deprecated and gone in 3.13; passlib is unmaintained. SHA-crypt
# (Drepper's specification, what glibc, anaconda and XenServer's installer read as $5$/$6$)
# is a fixed composition of hashlib digests, checked in the tests against the
# specification's vectors and against `openssl passwd`.

_ITOA64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_CRYPTED = re.compile(r"^\$(1|2[abxy]?|5|6|y|gy|7|md5|sha1)\$[^$\s]*\$\S+$")
_METHODS = {"sha512": ("6", hashlib.sha512), "sha256": ("5", hashlib.sha256)}


def looks_crypted(value: str) -> bool:
    return bool(_CRYPTED.fullmatch(value))


def _b64(b2: int, b1: int, b0: int, n: int) -> str:
    w = (b2 << 16) | (b1 << 8) | b0
    out = []
    for _ in range(n):
        out.append(_ITOA64[w & 0x3F])
        w >>= 6
    return "".join(out)


def _repeat(block: bytes, length: int) -> bytes:
    return (block * (length // len(block) + 1))[:length]


def sha_crypt(password: str, salt: str, method: str = "sha512") -> str:
    """crypt(3) SHA-256/SHA-512 with the default 5000 rounds."""
    ident, digest = _METHODS[method]
    pw = password.encode("utf-8")
    sb = salt[:16].encode("ascii")
    size = digest().digest_size
    b = digest(pw + sb + pw).digest()
    a = digest(pw + sb + _repeat(b, len(pw)))
    i = len(pw)
    while i:
        a.update(b if i & 1 else pw)
        i >>= 1
    c = a.digest()
    p = _repeat(digest(pw * len(pw)).digest(), len(pw))
    s = _repeat(digest(sb * (16 + c[0])).digest(), len(sb))
    for r in range(5000):
        h = digest(p if r & 1 else c)
        if r % 3:
            h.update(s)
        if r % 7:
            h.update(p)
        h.update(c if r & 1 else p)
        c = h.digest()
    span = 21 if size == 64 else 10
    text = "".join(_b64(c[x], c[y], c[z], 4) for x, y, z in _byte_order(span))
    text += _b64(0, 0, c[63], 2) if size == 64 else _b64(0, c[31], c[30], 3)
    return f"${ident}${salt[:16]}${text}"


def _byte_order(span: int) -> list[tuple[int, int, int]]:
    # The specification's order: group i is (i, i+span, i+2*span), rotated by i % 3 (left
    # for SHA-512, right for SHA-256).
    out = []
    for i in range(span):
        x, y, z = i, i + span, i + 2 * span
        turns = ((x, y, z), (y, z, x), (z, x, y)) if span == 21 else \
            ((x, y, z), (z, x, y), (y, z, x))
        out.append(turns[i % 3])
    return out


_crypt_cache: dict[tuple[str, str], str] = {}
_crypt_lock = threading.Lock()


def crypt_password(value: str, method: str | None = None) -> str:
    """A crypted form of a passwd value: crypt hashes pass unchanged; plain text is crypted
    once per process (a random salt, kept), so ten thousand answer files cost one hash."""
    if looks_crypted(value):
        return value
    method = (method or "sha512").strip().lower() or "sha512"
    if method not in _METHODS:
        raise XcatError(f"passwd.cryptmethod '{method}' is not supported: use sha512 or "
                        "sha256, or store a crypted hash (openssl passwd -6)")
    key = (method, value)
    with _crypt_lock:
        hashed = _crypt_cache.get(key)
    if hashed is None:
        salt = "".join(secrets.choice(_ITOA64) for _ in range(16))
        hashed = sha_crypt(value, salt, method)
        with _crypt_lock:
            if len(_crypt_cache) > 256:
                _crypt_cache.clear()
            hashed = _crypt_cache.setdefault(key, hashed)
    return hashed


# -- parsing -------------------------------------------------------------------------------

_DIRECTIVE = re.compile(r"#(?P<name>[A-Z][A-Z0-9_]*)(?::(?P<args>(?:#ENV:[^#\n]*#|[^#\n])*))?#")
_COMMENT_LINE = re.compile(r"^[ \t]*#", re.M)
_ENV_REF = re.compile(r"#ENV:([^#\n]*)#")

_TABLE_LIKE = {"TABLE", "TABLEBLANKOKAY", "CRYPT", "CRYPTORLOCKED"}
_INCLUDES = {"INCLUDE", "INCLUDE_NOP", "INCLUDE_PKGLIST"}
_WITH_ARG = _TABLE_LIKE | _INCLUDES | {"ENV", "XCATVAR"}
_NO_ARG = {"INCLUDE_DEFAULT_PKGLIST", "HOSTNAME", "SHORTNAME", "COLONHTTPPORT",
           "MANAGEDADDRESSMODE", "INSTALL_SOURCES", "INSTALL_SOURCES_IN_PRE", "KICKSTARTNET",
           "UNCOMMENTOENABLEDEBUGPORT", "UNCOMMENTOENABLESSH"}
SUPPORTED = frozenset(_WITH_ARG | _NO_ARG)

# xCAT's own directives that xcatpy leaves out: an error, never passed through.
UNSUPPORTED = frozenset({
    "COMMAND", "MACHINEPASSWORD", "MIRRORSPEC", "YAST2NET", "KICKSTARTBOOTLOADER",
    "ESXIPV6SETUP", "WINTIMEZONE", "WINPRODKEY", "WINNETCFG", "WINADJOIN", "WINPOSTSCRIPTS",
    "WINDNSCFG", "WINACCOUNTDATA", "WINDISABLENULLADMIN", "GETNODEDOMAIN", "GETPRINICMAC",
    "SLES_SDK_MEDIA", "WRITEREPO", "INCLUDE_PTRNLIST", "INCLUDE_RMPKGLIST",
    "INCLUDE_DEFAULT_PKGLIST_S", "INCLUDE_DEFAULT_PTRNLIST_S", "INCLUDE_DEFAULT_RMPKGLIST_S",
    "INCLUDE_DEFAULT_PKGLIST_PRESEED", "INCLUDE_DEFAULT_PKGLIST_AUTOINSTALL",
    "INCLUDE_OSIMAGE_PKGDIR", "UBUNTU_SUBIQUITY_APT_CONFIG", "SUBIQUITYINSTALLNIC",
    "SUBIQUITYINSTALLMAC", "XCA_PARTITION_SCRIPT", "XCA_PARTMAN_RECIPE_SCRIPT",
    "XCA_PARTMAN_DISK_SCRIPT", "XCA_PARTMAN_ADDITIONAL_CONFIG_SCRIPT",
    "XCA_PARTMAN_ADDITIONAL_CFG", "INCLUDE_GET_INSTALL_DISK_SCRIPT", "INCLUDEBAD", "TABLEBAD",
})


@dataclass(frozen=True)
class Directive:
    name: str
    args: tuple[str, ...]
    text: str          # as written, for messages
    origin: Path       # the file it is written in
    line: int

    def where(self) -> str:
        return f"{self.origin} line {self.line}: {self.text}"


Segment = str | Directive


def _fail(origin: Path, line: int, text: str, why: str) -> DirectiveError:
    return DirectiveError(f"template {origin} line {line}: {text} {why}")


def _check_table(origin: Path, line: int, text: str, args: tuple[str, ...]) -> None:
    if len(args) != 3 or not all(args):
        raise _fail(origin, line, text, "needs three fields: table:key:column")
    tab, key, col = args
    table = TABLES.get(tab)
    if table is None:
        raise _fail(origin, line, text, f"names table '{tab}', which does not exist")
    if not table.has_column(col):
        raise _fail(origin, line, text, f"names column '{col}', which table {tab} lacks")
    for part in key.split(","):
        if part in ("THISNODE", "$NODE"):
            if not table.node_keyed and tab != "nodelist":
                raise _fail(origin, line, text, f"uses THISNODE, but table {tab} is not "
                            f"keyed by node (use {'/'.join(table.keys)}=value)")
            continue
        k, eq, _ = part.partition("=")
        if not eq or not table.has_column(k):
            raise _fail(origin, line, text, f"has key '{part}': expected THISNODE or "
                        f"column=value with a column of {tab}")


def parse(text: str, origin: Path) -> list[Segment]:
    """Split template text into literal text and directives, checking each directive."""
    out: list[Segment] = []
    pos = 0
    comment_spans = []
    for m in _COMMENT_LINE.finditer(text):
        hash_at = m.end() - 1
        d = _DIRECTIVE.match(text, hash_at)
        if d is None or d.group("name") not in SUPPORTED | UNSUPPORTED:
            end = text.find("\n", hash_at)
            comment_spans.append((hash_at, len(text) if end < 0 else end))
    spans = iter(comment_spans)
    span = next(spans, None)
    for m in _DIRECTIVE.finditer(text):
        while span is not None and span[1] <= m.start():
            span = next(spans, None)
        if span is not None and span[0] <= m.start() < span[1]:
            continue
        name, raw_args = m.group("name"), m.group("args")
        line = text.count("\n", 0, m.start()) + 1
        if name in UNSUPPORTED:
            raise _fail(origin, line, m.group(0), "is an xCAT directive xcatpy does not "
                        "support (see share/doc/templates.md for the supported ones)")
        if name not in SUPPORTED:
            if raw_args is None:
                continue            # a marker such as #XCAT_PARTITION_START#: plain text
            raise _fail(origin, line, m.group(0), "is not a known xCAT directive")
        if (raw_args is None) == (name in _WITH_ARG):
            raise _fail(origin, line, m.group(0), "needs an argument" if raw_args is None
                        else "takes no argument")
        args: tuple[str, ...] = ()
        if name in _TABLE_LIKE:
            args = tuple(raw_args.split(":", 2))
            _check_table(origin, line, m.group(0), args)
        elif raw_args is not None:
            args = (raw_args,)
        out.append(text[pos:m.start()])
        out.append(Directive(name, args, m.group(0), origin, line))
        pos = m.end()
    out.append(text[pos:])
    return [s for s in out if s != ""]


_registry: dict[int, tuple[Directive, ...]] = {}
_ids = itertools.count(1)


def to_jinja(text: str, origin: Path) -> str:
    """Jinja source for a template: each directive becomes a call by number, so the
    directive's text never reaches the Jinja lexer."""
    segments = parse(text, origin)
    directives = tuple(s for s in segments if isinstance(s, Directive))
    if not directives:
        return text
    file_id = next(_ids)
    _registry[file_id] = directives
    parts, n = [], 0
    for s in segments:
        if isinstance(s, Directive):
            parts.append(f"{{{{ xcatpy_directive({file_id}, {n}) }}}}")
            n += 1
        else:
            parts.append(s)
    return "".join(parts)


# -- evaluation ------------------------------------------------------------------------------

_all_rows: "weakref.WeakKeyDictionary[object, dict[str, list[dict]]]" = \
    weakref.WeakKeyDictionary()


def all_rows(attrs, table: str) -> list[dict]:
    """Every enabled row of a table, read once per NodeAttrs (which lives for one command
    or one request), for tables whose rows NodeAttrs.table cannot key (passwd, networks)."""
    per = _all_rows.setdefault(attrs, {})
    rows = per.get(table)
    if rows is None:
        rows = per[table] = attrs.store.rows(table)
    return rows


_include_cache: dict[Path, tuple[int, int, list[Segment]]] = {}


def _read_segments(path: Path) -> list[Segment]:
    st = path.stat()
    hit = _include_cache.get(path)
    if hit and hit[0] == st.st_mtime_ns and hit[1] == st.st_size:
        return hit[2]
    segments = parse(path.read_text(encoding="utf-8"), path)
    _include_cache[path] = (st.st_mtime_ns, st.st_size, segments)
    return segments


class DirectiveRuntime:
    """Evaluates directives for one node and one rendering.

    `ctx` is the template context answercontext built (for the values several directives
    share: URLs, network settings, the image's package list), `env` the variables
    #ENV:x# and #XCATVAR:x# read.
    """

    def __init__(self, *, node: str, attrs, ctx: Mapping, env: Mapping[str, str],
                 state: RenderState, template: Path) -> None:
        self.node = node
        self.attrs = attrs
        self.ctx = ctx
        self.env = env
        self.state = state
        self.template = template

    @pass_eval_context
    def __call__(self, eval_ctx, file_id: int, index: int):
        directive = _registry[file_id][index]
        return self.evaluate(directive, eval_ctx.autoescape, ())

    def evaluate(self, d: Directive, autoescape: bool, chain: tuple[Path, ...]):
        if d.name in _INCLUDES or d.name == "INCLUDE_DEFAULT_PKGLIST":
            return self._include(d, autoescape, chain)
        value = str(self._value(d))
        return escape(value) if autoescape else value

    # -- one value ------------------------------------------------------------------------

    def _value(self, d: Directive):
        name, ctx = d.name, self.ctx
        if name in ("TABLE", "TABLEBLANKOKAY"):
            return self.table(*d.args, blank_ok=name == "TABLEBLANKOKAY")
        if name in ("CRYPT", "CRYPTORLOCKED"):
            return self._crypt(*d.args, locked_ok=name == "CRYPTORLOCKED")
        if name in ("ENV", "XCATVAR"):
            return self._env(d.args[0])
        if name == "HOSTNAME":
            return self.node
        if name == "SHORTNAME":
            return self.node.split(".")[0]
        if name == "COLONHTTPPORT":
            return "" if int(ctx["http_port"]) == 80 else f":{ctx['http_port']}"
        if name == "MANAGEDADDRESSMODE":
            return ctx["address_mode"]
        if name == "KICKSTARTNET":
            return ctx["kickstart_network"]
        if name == "INSTALL_SOURCES":
            lines = [f"url --url {ctx['install_url']}"]
            lines += [f"repo --name=pkg{i} --baseurl={u}"
                      for i, u in enumerate(ctx["extra_repos"], 1)]
            return "\n".join(lines)
        if name == "INSTALL_SOURCES_IN_PRE":
            lines = [f"echo 'url --url {ctx['install_url']}' >> /tmp/repos"]
            lines += [f"echo 'repo --name=pkg{i} --baseurl={u}' >> /tmp/repos"
                      for i, u in enumerate(ctx["extra_repos"], 1)]
            return "\n".join(lines)
        debug = ctx["site"]["xcatdebugmode"]
        debug = "0" if isinstance(debug, StrictUndefined) else str(debug)
        if name == "UNCOMMENTOENABLEDEBUGPORT":
            return "" if debug in ("1", "2") else d.text
        if name == "UNCOMMENTOENABLESSH":
            return " " if debug == "2" else d.text
        raise AssertionError(name)  # parse() admits only the names handled above

    def _env(self, name: str) -> str:
        name = name.lstrip("$")
        value = self.env.get(name)
        if value is None:
            raise MissingValueError(f"environment variable {name}")
        return value

    def _row(self, table: str, key: str) -> tuple[dict | None, str]:
        """The row a key=value[,key=value] selects, and how to name it in a message."""
        pairs = dict(p.split("=", 1) for p in key.split(","))
        if len(pairs) == 1 and TABLES[table].keys == (next(iter(pairs)),):
            return self.attrs.table(table).get(next(iter(pairs.values()))), key
        for row in all_rows(self.attrs, table):
            if all((row.get(k) or "") == v for k, v in pairs.items()):
                return row, key
        return None, key

    def table(self, table: str, key: str, column: str, *, blank_ok: bool = False) -> str:
        if table == "passwd" or "password" in column:
            self.state.secret = True
        parts = key.split(",")
        if any(p in ("THISNODE", "$NODE") for p in parts):
            conditions = [p.split("=", 1) for p in parts if "=" in p]
            ok = all(self.attrs.lookup(self.node, table, k) == v for k, v in conditions)
            value = self.attrs.lookup(self.node, table, column) if ok else None
            what = f"{table}.{column}"
            if not value and table == "noderes" and column in ("nfsserver", "tftpserver",
                                                               "xcatmaster"):
                # xCAT's fallbacks: nfsserver/tftpserver -> xcatmaster -> the master
                # address the node reached us on.
                value = self.attrs.lookup(self.node, "noderes", "xcatmaster") \
                    or self.ctx["master"]
        else:
            row, _ = self._row(table, key)
            value = (row or {}).get(column)
            what = f"{table}.{column} for {key}"
        if value:
            return value
        if blank_ok:
            return ""
        raise MissingValueError(what)

    def _crypt(self, table: str, key: str, column: str, *, locked_ok: bool) -> str:
        self.state.secret = True
        try:
            value = self.table(table, key, column)
        except MissingValueError:
            if locked_ok:
                return "*"
            raise
        method = None
        if TABLES[table].has_column("cryptmethod"):
            if "THISNODE" in key or "$NODE" in key:
                method = self.attrs.lookup(self.node, table, "cryptmethod")
            else:
                method = (self._row(table, key)[0] or {}).get("cryptmethod")
        return crypt_password(value, method)

    # -- includes -------------------------------------------------------------------------

    def _include(self, d: Directive, autoescape: bool, chain: tuple[Path, ...]):
        if d.name == "INCLUDE_DEFAULT_PKGLIST":
            lists = self.ctx["pkglist_files"]
            if not lists:
                raise MissingValueError("linuximage.pkglist")
            paths = [Path(p) for p in lists]
            kind = "INCLUDE"
        else:
            spec = _ENV_REF.sub(lambda m: self._env(m.group(1)), d.args[0]).strip()
            paths = [self._resolve(spec, d)]
            kind = d.name
        texts = [self._include_file(p, kind, d, autoescape, chain) for p in paths]
        joined = "\n".join(texts)
        return Markup(joined) if autoescape else joined

    def _resolve(self, spec: str, d: Directive) -> Path:
        path = Path(spec)
        if path.is_absolute():
            return path
        here = d.origin.parent / path
        if here.exists():
            return here
        top = self.template.parent / path
        return top if top.exists() else here

    def _include_file(self, path: Path, kind: str, d: Directive, autoescape: bool,
                      chain: tuple[Path, ...]) -> str:
        chain = chain + (path,)
        if len(chain) > INCLUDE_DEPTH_LIMIT:
            names = " -> ".join(p.name for p in chain)
            raise DirectiveError(f"template {d.where()}: includes nest deeper than "
                                 f"{INCLUDE_DEPTH_LIMIT} ({names})")
        try:
            if kind == "INCLUDE":
                segments = _read_segments(path)
            else:
                segments = [path.read_text(encoding="utf-8")]
        except FileNotFoundError:
            raise DirectiveError(f"template {d.where()}: {path} does not exist") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise DirectiveError(f"template {d.where()}: cannot read {path}: {exc}") from None
        if kind == "INCLUDE_NOP":
            text = segments[0].replace("$", "\\$").replace("`", "\\`")
            text = str(escape(text)) if autoescape else text
        elif kind == "INCLUDE_PKGLIST":
            text = self._pkglist(segments[0], path, d, autoescape, chain)
        else:
            parts = []
            for s in segments:
                if isinstance(s, Directive):
                    parts.append(str(self.evaluate(s, autoescape, chain)))
                else:
                    parts.append(s)
            text = "".join(parts)
        return text[:-1] if text.endswith("\n") else text

    def _pkglist(self, text: str, path: Path, d: Directive, autoescape: bool,
                 chain: tuple[Path, ...]) -> str:
        """xCAT's #INCLUDE_PKGLIST#: one <package> element per package line; @groups and
        -removals are for other directives, comments and blank lines stay."""
        out = []
        for line in text.splitlines():
            stripped = line.strip()
            m = re.fullmatch(r"#INCLUDE:([^#]+)#", stripped)
            if m:
                inner = Directive("INCLUDE_PKGLIST", (m.group(1),), stripped, path, 0)
                out.append(self._include_file(self._resolve(m.group(1), inner),
                                              "INCLUDE_PKGLIST", inner, autoescape, chain))
            elif not stripped or stripped.startswith("#"):
                out.append(line)
            elif not stripped.startswith(("@", "-")):
                name = str(escape(stripped)) if autoescape else stripped
                out.append(f"<package>{name}</package>")
        return "\n".join(out)
