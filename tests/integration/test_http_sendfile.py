"""Large install-tree files go out with sendfile(2) (xcatpy/boot/sendfile.py): every byte
must still arrive, in order, whatever the client does — fast, slow, many at once, on a
kept-alive connection, or gone half-way."""

import concurrent.futures
import hashlib
import os
import socket
import subprocess
import time
from http.client import HTTPConnection

import pytest

from tests.integration.clitools import command_path
from tests.integration.xcatd import Xcatd

BIG = os.urandom(24 << 20) + b"tail"          # not a multiple of any chunk size
SMALL = os.urandom(100_000)                     # under sendfile's threshold: static.File
BIG_PATH = "/install/images/big.img"


@pytest.fixture(scope="module")
def http(tmp_path_factory):
    state = tmp_path_factory.mktemp("sendfile") / "state"
    subprocess.run([*command_path("xcatd"), "--init"], check=True, capture_output=True,
                   env=dict(os.environ, XCATPY_STATE=str(state)))
    images = state / "install" / "images"
    images.mkdir(parents=True)
    (images / "big.img").write_bytes(BIG)
    (images / "small.img").write_bytes(SMALL)
    daemon = Xcatd(state).start()
    yield daemon
    daemon.stop()


def url(http, path):
    return f"http://127.0.0.1:{http.ports['http_port']}{path}"


def curl_sha(http, path, *opts):
    p = subprocess.run(["curl", "-sS", "-f", *opts, url(http, path)], capture_output=True,
                       timeout=120)
    assert p.returncode == 0, p.stderr
    return hashlib.sha256(p.stdout).hexdigest(), len(p.stdout)


def test_whole_file_arrives_intact(http):
    assert curl_sha(http, BIG_PATH) == (hashlib.sha256(BIG).hexdigest(), len(BIG))


def test_many_clients_at_once_each_get_every_byte(http):
    want = (hashlib.sha256(BIG).hexdigest(), len(BIG))
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        got = list(pool.map(lambda _: curl_sha(http, BIG_PATH), range(16)))
    assert got == [want] * 16


def test_a_slow_reader_pauses_the_producer_many_times_without_losing_order(http):
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)   # the server fills it often
    sock.connect(("127.0.0.1", http.ports["http_port"]))
    sock.sendall(f"GET {BIG_PATH} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    data = bytearray()
    reads = 0
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
        reads += 1
        if reads % 64 == 0:
            time.sleep(0.002)       # now and then, let the server's socket buffer fill
    sock.close()
    head, _, body = bytes(data).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert f"content-length: {len(BIG)}".encode() in head.lower()
    assert hashlib.sha256(body).digest() == hashlib.sha256(BIG).digest()


def test_kept_alive_connection_serves_the_next_request_after_a_sendfile(http):
    conn = http_client(http)
    for path, content in ((BIG_PATH, BIG), ("/install/images/small.img", SMALL),
                          (BIG_PATH, BIG)):
        conn.request("GET", path)
        response = conn.getresponse()
        assert response.status == 200
        assert response.read() == content
    conn.close()


def test_head_and_ranges_are_still_answered_by_static_file(http):
    conn = http_client(http)
    conn.request("HEAD", BIG_PATH)
    response = conn.getresponse()
    assert (response.status, response.getheader("Content-Length")) == (200, str(len(BIG)))
    assert response.read() == b""
    conn.request("GET", BIG_PATH, headers={"Range": "bytes=5000000-5000099"})
    response = conn.getresponse()
    assert (response.status, response.read()) == (206, BIG[5000000:5000100])
    conn.close()


def test_a_client_gone_half_way_leaves_the_server_serving(http):
    for _ in range(5):
        sock = socket.create_connection(("127.0.0.1", http.ports["http_port"]))
        sock.sendall(f"GET {BIG_PATH} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        sock.recv(1 << 20)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
        sock.close()                # with linger 0: a reset, mid-transfer
    assert http.proc.poll() is None
    assert curl_sha(http, BIG_PATH) == (hashlib.sha256(BIG).hexdigest(), len(BIG))


def http_client(http):
    return HTTPConnection("127.0.0.1", http.ports["http_port"], timeout=60)
