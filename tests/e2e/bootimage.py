"""The test node's operating system: a Debian kernel and a tiny busybox initramfs.

The kernel and its e1000 module come from the linux-image .deb that Debian's linux-image-amd64
currently depends on (fetched with `apt-get download`, never installed). The initramfs holds a
static busybox, the e1000 module, a udhcpc script and an /init that behaves like an OS
installer: DHCP, fetch the answer file named by inst.ks=, report to the install monitor, call
the install-finished URL found in the answer file, power off. Its progress goes to the serial
console as lines starting with MARKER.

Everything is cached (see cache_dir()): the .deb by its file name (name_version_arch is unique
in a Debian archive), the extracted files under that name, the initramfs by the hash of its
inputs. A warm run neither downloads nor builds anything.
"""

import gzip
import hashlib
import io
import lzma
import os
import shutil
import stat
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

MARKER = "XCATPY-E2E:"
META_PACKAGE = "linux-image-amd64"
BUSYBOX = Path("/bin/busybox")
MONITOR_PORT = 3002
FORMAT = "1"  # bump when the initramfs layout changes in a way the inputs do not show

INIT = r"""#!/bin/busybox sh
# xcatpy e2e node: does what an OS installer does with xcatd, and says so on the console.
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /tmp

say() { echo "@MARKER@ $*"; }
fail() {
    say "FAILED: $*"
    say "interfaces:"; ip addr 2>&1
    say "routes:"; ip route 2>&1
    poweroff -f
}

say "init started, kernel $(uname -r)"
cmdline=$(cat /proc/cmdline)
say "cmdline: $cmdline"

insmod /lib/modules/e1000.ko || fail "insmod e1000.ko"
n=0
while [ ! -e /sys/class/net/eth0 ]; do
    n=$((n + 1)); [ $n -gt 200 ] && fail "no eth0 after loading e1000"
    sleep 0.1
done
ip link set lo up
ip link set eth0 up
n=0
while [ "$(cat /sys/class/net/eth0/carrier 2>/dev/null)" != 1 ]; do
    n=$((n + 1)); [ $n -gt 300 ] && fail "eth0 has no carrier"
    sleep 0.1
done
udhcpc -i eth0 -s /usr/share/udhcpc/default.script -n -q -t 10 -T 3 || fail "no DHCP lease"

ks=
for arg in $cmdline; do
    case "$arg" in
        inst.ks=*) ks=${arg#inst.ks=} ;;
        ks=*) [ -z "$ks" ] && ks=${arg#ks=} ;;
    esac
done
[ -n "$ks" ] || fail "no inst.ks= (or ks=) on the kernel command line"
say "ks url $ks"
hostport=${ks#*://}
hostport=${hostport%%/*}
head=${hostport%%:*}
say "head $head"

wget -q -O /tmp/ks "$ks" || fail "cannot fetch $ks"
say "ks fetched $(wc -c < /tmp/ks) bytes"

say "monitor: installstatus installing to $head:@MONITOR_PORT@"
# Not `echo ... | nc`: busybox nc half-closes on EOF and the monitor then hangs up
# without its reply; the reply is what shows that the status was recorded.
reply=$(XCATPY_STATUS=installing timeout 30 nc "$head" @MONITOR_PORT@ -e /bin/xcatpy-monitor 2>&1)
say "monitor: nc exited $?, reply: $reply"

done_url=$(grep -o "https*://[^][ \"'<>|;&()]*/xcatpy/v1/boot/done[^][ \"'<>|;&()]*" /tmp/ks \
    | head -n 1)
if [ -z "$done_url" ]; then
    say "no /xcatpy/v1/boot/done URL in the answer file; it reads:"
    cat /tmp/ks
    fail "no install-finished callback URL"
fi
say "callback $done_url"
wget -q -O /tmp/done "$done_url" || fail "callback $done_url failed"
say "callback answered $(wc -c < /tmp/done) bytes: $(head -c 200 /tmp/done)"
say "done"
poweroff -f
"""

UDHCPC_SCRIPT = r"""#!/bin/sh
# busybox udhcpc hook: apply the lease to the interface.
case "$1" in
    deconfig)
        ip addr flush dev "$interface"
        ip link set "$interface" up
        ;;
    bound|renew)
        ip addr flush dev "$interface"
        ip addr add "$ip/${mask:-24}" dev "$interface"
        for r in $router; do ip route add default via "$r" dev "$interface"; break; done
        echo "@MARKER@ lease $ip/${mask:-24} router ${router:-none} server ${siaddr:-none}"
        ;;
esac
exit 0
"""


MONITOR_CHAT = r"""#!/bin/sh
# Run by `nc -e` with the socket as stdin and stdout: one request, one reply line (to stderr).
echo "installstatus $XCATPY_STATUS"
read -t 20 -r reply
echo "$reply" >&2
"""


class BootImageError(Exception):
    """The kernel or initramfs cannot be had here (no apt lists, no network, no busybox...)."""


@dataclass(frozen=True)
class BootImage:
    kernel: Path
    initrd: Path
    kernel_version: str


def cache_dir() -> Path:
    if os.environ.get("XCATPY_E2E_CACHE"):
        return Path(os.environ["XCATPY_E2E_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "xcatpy-e2e"


def build(cache: Path | None = None) -> BootImage:
    cache = cache or cache_dir()
    deb = kernel_deb(cache)
    kernel, module, version = extract_kernel(deb, cache)
    return BootImage(kernel, build_initramfs(module, cache), version)


# -- the kernel ------------------------------------------------------------------------------

def kernel_package() -> str:
    """linux-image-<abi>-amd64, the package linux-image-amd64 depends on right now."""
    try:
        p = subprocess.run(["apt-cache", "show", "--no-all-versions", META_PACKAGE],
                           capture_output=True, text=True, timeout=60)
    except FileNotFoundError:
        raise BootImageError("apt-cache not found (the kernel comes from Debian's archive)"
                             ) from None
    for line in p.stdout.splitlines():
        if line.startswith("Depends:"):
            for dep in line.split(":", 1)[1].split(","):
                name = dep.split()[0]
                if name.startswith("linux-image-"):
                    return name
    raise BootImageError(f"apt-cache knows no {META_PACKAGE} (run apt-get update): "
                         f"{p.stderr.strip()}")


def kernel_deb(cache: Path) -> Path:
    """The cached .deb of the current kernel package; downloaded the first time."""
    debs = cache / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    try:
        package = kernel_package()
    except BootImageError:
        cached = sorted(debs.glob("linux-image-*-amd64_*.deb"))
        if cached:  # offline, but a kernel from an earlier run will do
            return cached[-1]
        raise
    found = sorted(debs.glob(f"{package}_*.deb"))
    if found:
        return found[-1]
    with tempfile.TemporaryDirectory(dir=debs) as tmp:
        os.chmod(tmp, 0o755)
        p = subprocess.run(["apt-get", "download", package], cwd=tmp, capture_output=True,
                           text=True, timeout=900)
        got = list(Path(tmp).glob(f"{package}_*.deb"))
        if p.returncode != 0 or not got:
            raise BootImageError(f"apt-get download {package} failed: {p.stderr.strip()}")
        target = debs / got[0].name
        os.replace(got[0], target)
    for old in debs.glob("linux-image-*.deb"):  # a superseded kernel is 70 MB of nothing
        if old != target:
            old.unlink(missing_ok=True)
            shutil.rmtree(cache / "kernels" / old.stem, ignore_errors=True)
    return target


def extract_kernel(deb: Path, cache: Path) -> tuple[Path, Path, str]:
    """(vmlinuz, uncompressed e1000.ko, kernel version), extracted once per .deb."""
    out = cache / "kernels" / deb.stem
    if not (out / "version").exists():  # written last: its presence means complete
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=".extract-"))
        try:
            (tmp / "version").write_text(_extract_into(deb, tmp))
            try:
                os.replace(tmp, out)  # atomic; another run may have won the race
            except OSError:
                if not (out / "version").exists():
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return out / "vmlinuz", out / "e1000.ko", (out / "version").read_text()


def _extract_into(deb: Path, dest: Path) -> str:
    proc = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE)
    kernel = module = None
    version = ""
    try:
        with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
            for member in tar:
                name = member.name.lstrip("./")
                base = name.rsplit("/", 1)[-1]
                if name.startswith("boot/vmlinuz-") and member.isfile():
                    version = base[len("vmlinuz-"):]
                    kernel = tar.extractfile(member).read()
                elif "/e1000/" in name and base.startswith("e1000.ko") and member.isfile():
                    module = _decompress_module(base, tar.extractfile(member).read())
    finally:
        proc.stdout.close()
        rc = proc.wait()
    if rc != 0 or kernel is None or module is None:
        raise BootImageError(f"{deb.name}: no boot/vmlinuz-* or e1000.ko in it (dpkg-deb rc {rc})")
    (dest / "vmlinuz").write_bytes(kernel)
    (dest / "e1000.ko").write_bytes(module)
    return version


def _decompress_module(name: str, data: bytes) -> bytes:
    """busybox insmod takes a plain .ko; newer Debian kernels ship .ko.xz or .ko.zst."""
    if name.endswith(".ko"):
        return data
    if name.endswith(".xz"):
        return lzma.decompress(data)
    if name.endswith(".gz"):
        return gzip.decompress(data)
    if name.endswith(".zst"):
        try:
            return subprocess.run(["zstd", "-dc"], input=data, capture_output=True,
                                  check=True).stdout
        except (FileNotFoundError, subprocess.CalledProcessError) as exc:
            raise BootImageError(f"cannot decompress {name} (install zstd): {exc}") from None
    raise BootImageError(f"unknown module compression: {name}")


# -- the initramfs ---------------------------------------------------------------------------

def build_initramfs(e1000: Path, cache: Path) -> Path:
    if not BUSYBOX.exists():
        raise BootImageError(f"{BUSYBOX} missing (install busybox-static)")
    busybox = BUSYBOX.read_bytes()
    init = INIT.replace("@MARKER@", MARKER).replace("@MONITOR_PORT@", str(MONITOR_PORT))
    script = UDHCPC_SCRIPT.replace("@MARKER@", MARKER)
    module = e1000.read_bytes()
    key = hashlib.sha256()
    for part in (FORMAT.encode(), busybox, init.encode(), script.encode(),
                 MONITOR_CHAT.encode(), module):
        key.update(hashlib.sha256(part).digest())
    target = cache / "initrd" / f"initrd-{key.hexdigest()[:16]}.img"
    if target.exists():
        return target

    archive = Newc()
    for d in ("bin", "sbin", "usr", "usr/bin", "usr/sbin", "usr/share", "usr/share/udhcpc",
              "proc", "sys", "dev", "tmp", "etc", "lib", "lib/modules"):
        archive.directory(d)
    archive.device("dev/console", 5, 1)  # the kernel opens it before /init mounts devtmpfs
    archive.file("bin/busybox", busybox, 0o755)
    archive.symlink("bin/sh", "busybox")
    archive.file("init", init.encode(), 0o755)
    archive.file("bin/xcatpy-monitor", MONITOR_CHAT.encode(), 0o755)
    archive.file("usr/share/udhcpc/default.script", script.encode(), 0o755)
    archive.file("lib/modules/e1000.ko", module, 0o644)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".initrd-")
    with os.fdopen(fd, "wb") as f, gzip.GzipFile(fileobj=f, mode="wb", mtime=0) as gz:
        gz.write(archive.finish())
    os.chmod(tmp, 0o644)
    os.replace(tmp, target)
    return target


class Newc:
    """The kernel's initramfs format: SVR4 cpio 'newc', no CRC, every entry owned by root."""

    def __init__(self) -> None:
        self.buf = io.BytesIO()
        self.ino = 1

    def _entry(self, name: str, mode: int, data: bytes = b"", rdev: tuple[int, int] = (0, 0),
               nlink: int = 1) -> None:
        encoded = name.encode() + b"\0"
        fields = (self.ino, mode, 0, 0, nlink, 0, len(data), 0, 0, rdev[0], rdev[1],
                  len(encoded), 0)
        self.ino += 1
        self.buf.write(b"070701" + b"".join(b"%08x" % v for v in fields) + encoded)
        self._pad()
        self.buf.write(data)
        self._pad()

    def _pad(self) -> None:
        self.buf.write(b"\0" * (-self.buf.tell() % 4))

    def directory(self, name: str) -> None:
        self._entry(name, stat.S_IFDIR | 0o755, nlink=2)

    def file(self, name: str, data: bytes, perm: int) -> None:
        self._entry(name, stat.S_IFREG | perm, data)

    def symlink(self, name: str, target: str) -> None:
        self._entry(name, stat.S_IFLNK | 0o777, target.encode())

    def device(self, name: str, major: int, minor: int) -> None:
        self._entry(name, stat.S_IFCHR | 0o600, rdev=(major, minor))

    def finish(self) -> bytes:
        self._entry("TRAILER!!!", 0, nlink=1)
        return self.buf.getvalue()
