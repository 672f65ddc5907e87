"""The file commands a simulated host offers: qemu-img, rm, mkdir, tee, cat, ls.

Drivers keep to these (and the toolstack commands) for disk images and config files. Each
maps absolute paths into the host's directory under XCATSIM_ROOT (or the shared one), so a
test's `/vms/vm_disk/xen1.img` never touches this machine's real /vms. Output and exit codes
follow the real tools closely enough for a driver to parse them.
Usage: python -m tests.sim.fscmds <command> args...
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from tests.sim import hvstate

_SUFFIX = {"K": 1 << 10, "k": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def _map(path: str) -> Path:
    host = hvstate.current_host()
    return hvstate.host_path(host, path, hvstate.read())


def _size(text: str) -> int:
    if text and text[-1] in _SUFFIX:
        return int(float(text[:-1]) * _SUFFIX[text[-1]])
    return int(text)


def _err(text: str, code: int = 1) -> int:
    sys.stderr.write(text + "\n")
    return code


def qemu_img(args: list[str]) -> int:
    if not args:
        return _err("qemu-img: Not enough arguments")
    sub, rest = args[0], args[1:]
    if sub == "create":
        fmt = "raw"
        positional = []
        i = 0
        while i < len(rest):
            if rest[i] == "-f":
                fmt = rest[i + 1]
                i += 2
                continue
            positional.append(rest[i])
            i += 1
        if len(positional) != 2 or fmt not in ("raw", "qcow2"):
            return _err("qemu-img: Expecting image file name and size")
        path, size = positional
        target = _map(path)
        if not target.parent.is_dir():
            return _err(f"qemu-img: {path}: Could not create '{path}': No such file or "
                        "directory")
        with open(target, "wb") as image:
            image.write(b"QFI\xfb" if fmt == "qcow2" else b"")
            image.truncate(_size(size))
        (target.parent / (target.name + ".format")).write_text(fmt)
        print(f"Formatting '{path}', fmt={fmt} size={_size(size)}")
        return 0
    if sub == "info":
        path = rest[-1] if rest else ""
        target = _map(path)
        if not target.is_file():
            return _err(f"qemu-img: Could not open '{path}': Could not open '{path}': No such "
                        "file or directory")
        fmt_file = target.parent / (target.name + ".format")
        fmt = fmt_file.read_text() if fmt_file.exists() else "raw"
        size = target.stat().st_size
        print(f"image: {path}\nfile format: {fmt}\nvirtual size: {size} bytes ({size} bytes)"
              f"\ndisk size: 4 KiB")
        return 0
    return _err(f"qemu-img: Command not found: {sub}")


def rm(args: list[str]) -> int:
    force = "-f" in args
    rc = 0
    for path in (a for a in args if not a.startswith("-")):
        target = _map(path)
        if target.is_file():
            target.unlink()
            fmt = target.parent / (target.name + ".format")
            if fmt.exists():
                fmt.unlink()
        elif not force:
            rc = _err(f"rm: cannot remove '{path}': No such file or directory")
    return rc


def mkdir(args: list[str]) -> int:
    parents = "-p" in args
    for path in (a for a in args if not a.startswith("-")):
        target = _map(path)
        try:
            target.mkdir(parents=parents, exist_ok=parents)
        except OSError as exc:
            return _err(f"mkdir: cannot create directory '{path}': {exc.strerror}")
    return 0


def tee(args: list[str]) -> int:
    data = sys.stdin.buffer.read()
    for path in (a for a in args if not a.startswith("-")):
        target = _map(path)
        if not target.parent.is_dir():
            return _err(f"tee: {path}: No such file or directory")
        target.write_bytes(data)
    sys.stdout.buffer.write(data)
    return 0


def cat(args: list[str]) -> int:
    for path in args:
        if path == "/proc/cpuinfo":
            # The CPU a test gave the host, in the kernel's format (only the lines read).
            flags = hvstate.read()["hosts"][hvstate.current_host()]["cpu_flags"]
            print(f"processor\t: 0\nflags\t\t: {' '.join(flags)}\n")
            continue
        target = _map(path)
        if not target.is_file():
            return _err(f"cat: {path}: No such file or directory")
        sys.stdout.buffer.write(target.read_bytes())
    return 0


def ls(args: list[str]) -> int:
    rc = 0
    for path in (a for a in args if not a.startswith("-")):
        target = _map(path)
        if target.is_dir() and "-d" not in args:
            for name in sorted(os.listdir(target)):
                if not name.endswith(".format"):
                    print(name)
        elif target.exists():
            print(path)
        else:
            rc = _err(f"ls: cannot access '{path}': No such file or directory", 2)
    return rc


COMMANDS = {"qemu-img": qemu_img, "rm": rm, "mkdir": mkdir, "tee": tee, "cat": cat, "ls": ls}


def main(argv: list[str]) -> int:
    name, args = argv[0], argv[1:]
    if (status := hvstate.enter(argv)) is not None:
        return status
    try:
        return COMMANDS[name](args)
    except ValueError as exc:
        return _err(f"{name}: {exc}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
