"""copybootloaders: Debian's boot programs into the tftp root, from --source first."""

import dataclasses

from xcatpy.commands import copybootloaders


def no_system_files(monkeypatch):
    monkeypatch.setattr(copybootloaders, "LOADERS", tuple(
        dataclasses.replace(loader, candidates=()) for loader in copybootloaders.LOADERS))


def test_source_directory_is_preferred(run, state_dir, tmp_path, monkeypatch):
    no_system_files(monkeypatch)
    src = tmp_path / "src"
    src.mkdir()
    (src / "pxelinux.0").write_bytes(b"PXE")
    (src / "ldlinux.c32").write_bytes(b"LD")
    r = run("copybootloaders", "--source", str(src))
    assert r.rc == 0
    tftp = state_dir / "tftpboot"
    assert f"pxelinux.0: {src}/pxelinux.0 -> {tftp}/pxelinux.0" in r.out
    assert (tftp / "pxelinux.0").read_bytes() == b"PXE"
    assert (tftp / "ldlinux.c32").read_bytes() == b"LD"
    assert "copybootloaders: undionly.kpxe not found (Debian package ipxe)" in r.err
    assert sorted(p.name for p in tftp.iterdir()) == ["ldlinux.c32", "pxelinux.0"]


def test_nothing_complete_fails(run, state_dir, tmp_path, monkeypatch):
    no_system_files(monkeypatch)
    src = tmp_path / "src"
    src.mkdir()
    (src / "pxelinux.0").write_bytes(b"PXE")   # without ldlinux.c32 pxelinux cannot boot
    r = run("copybootloaders", "-s", str(src))
    assert r.rc == 1
    assert r.err[-1].startswith("Error: copybootloaders: no complete set of boot loaders")


def test_dry_run_copies_nothing(run, state_dir, tmp_path, monkeypatch):
    no_system_files(monkeypatch)
    src = tmp_path / "src"
    src.mkdir()
    for name in ("undionly.kpxe", "ipxe.efi"):
        (src / name).write_bytes(b"I")
    r = run("copybootloaders", "-n", "-s", str(src))
    assert r.rc == 0 and len(r.out) == 2
    assert not (state_dir / "tftpboot" / "ipxe.efi").exists()


def test_missing_source_directory(run, tmp_path):
    r = run("copybootloaders", "-s", str(tmp_path / "nope"))
    assert r.rc == 1 and r.err == [f"Error: copybootloaders: source {tmp_path}/nope is not a "
                                   "directory"]
