"""The daemon's client key: made once, private, readable by OpenSSH's own tools."""

import stat
import subprocess
import threading
from pathlib import Path

from xcatpy.drivers.ssh.keys import client_key


def test_key_is_generated_with_safe_modes(tmp_path: Path):
    key = client_key(tmp_path)
    assert key.path == tmp_path / "ssh" / "id_ed25519"
    assert stat.S_IMODE(key.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(key.path.parent.stat().st_mode) == 0o700
    assert key.public_line.startswith("ssh-ed25519 AAAA")
    assert sorted(p.name for p in key.path.parent.iterdir()) == ["id_ed25519",
                                                                 "id_ed25519.pub"]


def test_openssh_derives_the_same_public_key(tmp_path: Path):
    key = client_key(tmp_path)
    derived = subprocess.run(["ssh-keygen", "-y", "-f", str(key.path)], capture_output=True,
                             text=True, check=True).stdout.split()[:2]
    assert derived == key.public_line.split()[:2]
    assert key.public.toString("OPENSSH").decode().split()[:2] == derived


def test_second_use_loads_the_same_key(tmp_path: Path):
    first = client_key(tmp_path)
    again = client_key(tmp_path)
    assert again.public == first.public


def test_a_key_made_by_ssh_keygen_is_used(tmp_path: Path):
    (tmp_path / "ssh").mkdir(mode=0o700)
    path = tmp_path / "ssh" / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    wanted = (tmp_path / "ssh" / "id_ed25519.pub").read_text().split()[:2]
    assert client_key(tmp_path).public_line.split()[:2] == wanted


def test_missing_pub_is_rewritten_from_the_private_key(tmp_path: Path):
    first = client_key(tmp_path)
    line = first.public_line
    Path(str(first.path) + ".pub").unlink()
    assert client_key(tmp_path).public_line.split()[:2] == line.split()[:2]


def test_racing_generators_end_with_one_key(tmp_path: Path):
    keys, start = [], threading.Barrier(8)

    def make():
        start.wait()
        keys.append(client_key(tmp_path).public)

    threads = [threading.Thread(target=make) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    on_disk = client_key(tmp_path).public
    assert len(keys) == 8 and all(k == on_disk for k in keys)
