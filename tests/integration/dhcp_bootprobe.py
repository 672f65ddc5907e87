#!/usr/bin/env python3
"""Record what a network-booting client fetches after DHCP, and refuse it at once.

    python tests/integration/dhcp_bootprobe.py --address A --http-port N --out FILE

Listens on A: UDP 69 (TFTP) and TCP --http-port (HTTP). Each request is one line in
--out ("tftp <filename>" / "http <path>"), answered with TFTP ERROR 1 / HTTP 404, so the
firmware gives up quickly instead of timing out. Stops on SIGTERM.
"""

import argparse
import selectors
import signal
import socket
import struct
import sys


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--address", required=True)
    ap.add_argument("--http-port", type=int, required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))

    out = open(args.out, "a", buffering=1)
    tftp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tftp.bind((args.address, 69))
    http = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    http.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    http.bind((args.address, args.http_port))
    http.listen(16)
    sel = selectors.DefaultSelector()
    sel.register(tftp, selectors.EVENT_READ, "tftp")
    sel.register(http, selectors.EVENT_READ, "http")
    while True:
        for key, _ in sel.select():
            if key.data == "tftp":
                data, client = tftp.recvfrom(2048)
                if data[:2] == b"\0\1":
                    name = data[2:].split(b"\0", 1)[0].decode("ascii", "replace")
                    out.write(f"tftp {name}\n")
                    tftp.sendto(struct.pack("!HH", 5, 1) + b"not here\0", client)
            else:
                conn, _ = http.accept()
                conn.settimeout(5)
                try:
                    request = conn.recv(4096).decode("ascii", "replace")
                    line = request.split("\r\n", 1)[0].split(" ")
                    out.write(f"http {line[1] if len(line) > 1 else '?'}\n")
                    conn.sendall(b"HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n")
                except OSError:
                    pass
                finally:
                    conn.close()


if __name__ == "__main__":
    main()
