"""known_hosts: reading, verdicts, replacing and removing entries; OpenSSH's ssh-keygen reads
what we write and we read what it writes (hashed names)."""

import base64
import os
import stat
import subprocess
from pathlib import Path

import pytest

from xcatpy.drivers.ssh.knownhosts import (
    HostKey,
    KnownHostsFile,
    Verdict,
    host_name,
    patterns_match,
)


def _key(seed: int, keytype: str = "ssh-ed25519") -> HostKey:
    name = keytype.encode()
    body = bytes([seed]) * 32
    blob = len(name).to_bytes(4, "big") + name + len(body).to_bytes(4, "big") + body
    return HostKey.from_blob(blob)


K1, K2, K3 = _key(1), _key(2), _key(3)
RSA = _key(4, "ssh-rsa")


@pytest.fixture
def kh(tmp_path: Path) -> KnownHostsFile:
    return KnownHostsFile(tmp_path / "ssh" / "known_hosts")


def test_host_name_brackets_non_standard_ports():
    assert host_name("hv1", 22) == "hv1"
    assert host_name("10.0.0.5", 2222) == "[10.0.0.5]:2222"


def test_fingerprint_is_openssh_sha256(tmp_path: Path):
    pub = tmp_path / "k"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(pub)], check=True)
    keytype, b64 = pub.with_suffix(".pub").read_text().split()[:2]
    key = HostKey.from_base64(b64)
    listed = subprocess.run(["ssh-keygen", "-l", "-f", str(pub.with_suffix(".pub"))],
                            capture_output=True, text=True, check=True).stdout.split()[1]
    assert key.keytype == keytype
    assert key.fingerprint == listed


def test_patterns_follow_openssh_rules():
    assert patterns_match(["hv*", "!hv9"], "hv1")
    assert not patterns_match(["hv*", "!hv9"], "hv9")
    assert patterns_match(["HV1"], "hv1")
    # Brackets are literal (not fnmatch classes): [hv1]:2222 names exactly that.
    assert patterns_match(["[hv1]:2222"], "[hv1]:2222")
    assert not patterns_match(["[hv1]:2222"], "h")
    assert not patterns_match(["[hv1]:2222"], "hv1")


def test_replace_writes_one_line_per_host_and_lookup_finds_it(kh):
    kh.replace([(["hv1", "10.0.0.5"], K1)])
    assert kh.path.read_text() == f"hv1,10.0.0.5 ssh-ed25519 {K1.base64}\n"
    assert kh.lookup(["hv1"]).keys == (K1,)
    assert kh.lookup(["10.0.0.5"]).keys == (K1,)
    assert kh.lookup(["hv2"]).keys == ()


def test_file_and_directory_modes(kh):
    kh.replace([(["hv1"], K1)])
    assert stat.S_IMODE(kh.path.stat().st_mode) == 0o644
    assert stat.S_IMODE(kh.path.parent.stat().st_mode) == 0o700


def test_replace_drops_only_the_names_replaced(kh):
    kh.path.parent.mkdir(parents=True)
    kh.path.write_text("# kept comment\n"
                       f"hv1,10.0.0.5,alias ssh-ed25519 {K1.base64} old\n"
                       f"hv2 ssh-ed25519 {K2.base64}\n"
                       f"@cert-authority *.lab ssh-ed25519 {K3.base64}\n")
    kh.replace([(["hv1", "10.0.0.5"], K3)])
    lines = kh.path.read_text().splitlines()
    assert lines == ["# kept comment",
                     f"alias ssh-ed25519 {K1.base64} old",
                     f"hv2 ssh-ed25519 {K2.base64}",
                     f"@cert-authority *.lab ssh-ed25519 {K3.base64}",
                     f"hv1,10.0.0.5 ssh-ed25519 {K3.base64}"]


def test_remove_takes_every_port_form_and_counts(kh):
    kh.replace([(["[hv1]:2222", "[10.0.0.5]:2222"], K1), (["hv1"], K2), (["hv2"], K3)])
    assert kh.remove(["hv1", "10.0.0.5"]) == 3
    assert kh.path.read_text() == f"hv2 ssh-ed25519 {K3.base64}\n"
    assert kh.remove(["hv1"]) == 0


def test_verdicts(kh):
    kh.replace([(["hv1", "10.0.0.5"], K1)])
    known = kh.lookup(["hv1", "10.0.0.5"])
    assert known.check(K1) == (Verdict.KNOWN, None)
    assert known.check(K2) == (Verdict.CHANGED, K1)
    # A key of a type not recorded is unknown, not changed (as OpenSSH decides it).
    assert known.check(RSA) == (Verdict.UNKNOWN, None)
    assert kh.lookup(["hv9"]).check(K1) == (Verdict.UNKNOWN, None)


def test_an_address_answering_with_another_key_is_changed(kh):
    kh.replace([(["hv1"], K1), (["10.0.0.5"], K2)])
    assert kh.lookup(["hv1", "10.0.0.5"]).check(K1) == (Verdict.CHANGED, K2)


def test_revoked_key_is_refused(kh):
    kh.path.parent.mkdir(parents=True)
    kh.path.write_text(f"hv1 ssh-ed25519 {K1.base64}\n@revoked * ssh-ed25519 {K1.base64}\n")
    assert kh.lookup(["hv1"]).check(K1)[0] is Verdict.REVOKED


def test_garbage_lines_are_kept_and_ignored(kh):
    kh.path.parent.mkdir(parents=True)
    kh.path.write_text("hv1 ssh-ed25519 !!notbase64!!\nonly-two fields\n\n")
    assert kh.lookup(["hv1"]).keys == ()
    kh.replace([(["hv2"], K2)])
    assert kh.path.read_text().splitlines()[:3] == ["hv1 ssh-ed25519 !!notbase64!!",
                                                    "only-two fields", ""]


def test_lookup_sees_a_file_changed_behind_its_back(kh):
    kh.replace([(["hv1"], K1)])
    assert kh.lookup(["hv1"]).keys == (K1,)
    other = KnownHostsFile(kh.path)
    other.replace([(["hv1"], K2)])
    assert kh.lookup(["hv1"]).keys == (K2,)


def test_openssh_finds_what_we_write(kh):
    kh.replace([(["[hv1]:2222", "[127.0.0.2]:2222"], K1)])
    for name in ("[hv1]:2222", "[127.0.0.2]:2222"):
        found = subprocess.run(["ssh-keygen", "-F", name, "-f", str(kh.path)],
                               capture_output=True, text=True)
        assert found.returncode == 0 and K1.base64 in found.stdout


def test_we_find_what_openssh_hashes(kh):
    kh.replace([(["[hv1]:2222", "[127.0.0.2]:2222"], K1)])
    subprocess.run(["ssh-keygen", "-H", "-f", str(kh.path)], capture_output=True, check=True)
    text = kh.path.read_text()
    assert "hv1" not in text and text.startswith("|1|")
    assert KnownHostsFile(kh.path).lookup(["[127.0.0.2]:2222"]).keys == (K1,)
    assert KnownHostsFile(kh.path).lookup(["[127.0.0.3]:2222"]).keys == ()
    # A hashed line cannot be split: replacing one of its names drops the line.
    kh.replace([(["[hv1]:2222"], K2)])
    assert KnownHostsFile(kh.path).lookup(["[hv1]:2222"]).keys == (K2,)


def test_no_temporary_files_left_behind(kh):
    kh.replace([(["hv1"], K1)])
    kh.remove(["hv1"])
    assert sorted(os.listdir(kh.path.parent)) == ["known_hosts", "known_hosts.lock"]


def test_bad_blob_is_a_syntax_error():
    with pytest.raises(ValueError):
        HostKey.from_base64(base64.b64encode(b"\x00\x00\x00\x09abc").decode())
