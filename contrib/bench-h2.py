#!/usr/bin/python3
"""bench-h2.py -- echo throughput over wss://: HTTP/2 (RFC 8441) against
HTTP/1.1, in the same run, against one wsbridge with a TLS listener and the
built-in echo route. The client is tests/integration/h2ws.py (python3-h2 +
wsproto framing) for h2 and the same wsproto framing on plain TLS sockets for
HTTP/1.1, so both sides pay the same client costs.

    contrib/bench-h2.py [--wsbridge PATH] [--mib 100] [--streams 8]

Each case moves --mib MiB up and the same back, as 1 MiB binary messages:
over one stream (one connection for HTTP/1.1) and split over --streams
streams on one HTTP/2 connection (--streams connections for HTTP/1.1).
Prints MiB/s of payload one way (bytes sent / wall time until all echoed).
"""

import argparse
import base64
import os
import select
import socket
import ssl
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))

import certs  # noqa: E402
import h2ws  # noqa: E402
import wsbtest as T  # noqa: E402
from wsproto.frame_protocol import FrameProtocol  # noqa: E402

MiB = 1024 * 1024


def h2_case(port, total, nstreams):
    c = h2ws.H2Client(port, tls=True)
    sts = [c.connect_ws("/echo", keep=False) for _ in range(nstreams)]
    per = total // nstreams
    msg = os.urandom(MiB)
    t0 = time.monotonic()
    for st in sts:
        for off in range(0, per, MiB):
            c.send_message(st, msg[:min(MiB, per - off)])
    c.wait(lambda: all(st.recv_payload >= per for st in sts), 600, "echoes")
    dt = time.monotonic() - t0
    for st in sts:
        c.send_close(st)
    c.wait(lambda: all(st.done() for st in sts), 30, "closes")
    c.close()
    return dt


class H1:
    """A wss:// HTTP/1.1 client on a non-blocking TLS socket."""

    def __init__(self, port):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.set_alpn_protocols(["http/1.1"])
        s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)),
            server_hostname="127.0.0.1")
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        key = base64.b64encode(os.urandom(16)).decode()
        s.sendall(("GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: "
            "websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n" % key).encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += s.recv(4096)
        if not head.startswith(b"HTTP/1.1 101"):
            raise SystemExit("no 101: %r" % head[:80])
        self.fp = FrameProtocol(client=True, extensions=[])
        rest = head.split(b"\r\n\r\n", 1)[1]
        s.setblocking(False)
        self.s = s
        self.out = bytearray()
        self.got = 0
        if rest:
            self.feed(rest)

    def feed(self, d):
        self.fp.receive_bytes(d)
        for f in self.fp.received_frames():
            if f.opcode == 2 or f.opcode == 0:
                self.got += len(f.payload)

    def pump(self):
        if self.out:
            try:
                n = self.s.send(self.out[:1024 * 1024])
                del self.out[:n]
            except (ssl.SSLWantWriteError, ssl.SSLWantReadError,
                    BlockingIOError):
                pass
        while True:
            try:
                d = self.s.recv(1024 * 1024)
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError,
                    BlockingIOError):
                return
            if not d:
                raise SystemExit("EOF")
            self.feed(d)


def h1_case(port, total, nconns):
    cs = [H1(port) for _ in range(nconns)]
    per = total // nconns
    msg = os.urandom(MiB)
    t0 = time.monotonic()
    for c in cs:
        for off in range(0, per, MiB):
            c.out += c.fp.send_data(msg[:min(MiB, per - off)])
    while not all(c.got >= per for c in cs):
        socks = [c.s for c in cs]
        w = [c.s for c in cs if c.out]
        select.select(socks, w, [], 0.05)
        for c in cs:
            c.pump()
    dt = time.monotonic() - t0
    for c in cs:
        c.s.close()
    return dt


def cpu_s(pid):
    """User+system CPU seconds of a process so far."""
    with open("/proc/%d/stat" % pid) as f:
        v = f.read().rsplit(")", 1)[1].split()
    return (int(v[11]) + int(v[12])) / os.sysconf("SC_CLK_TCK")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--wsbridge", default=os.path.join(HERE, "..", "build",
        "wsbridge"))
    ap.add_argument("--mib", type=int, default=100)
    ap.add_argument("--streams", type=int, default=8)
    a = ap.parse_args()
    os.environ["WSBRIDGE"] = os.path.abspath(a.wsbridge)
    d = certs.make(T.tmpdir())
    b = T.Bridge("--route", "/echo=echo",
        listen=("127.0.0.1:0 tls cert=%s key=%s" % (d["cert"], d["key"]),))
    total = a.mib * MiB
    rows = []
    for name, fn, n in (("HTTP/2, 1 stream", h2_case, 1),
            ("HTTP/1.1, 1 connection", h1_case, 1),
            ("HTTP/2, %d streams on 1 connection" % a.streams, h2_case,
                a.streams),
            ("HTTP/1.1, %d connections" % a.streams, h1_case, a.streams)):
        c0, p0 = cpu_s(b.pid), time.process_time()
        dt = fn(b.port, total, n)
        c1, p1 = cpu_s(b.pid), time.process_time()
        rows.append((name, dt))
        print("%-36s %4d MiB echoed in %6.2fs: %7.1f MiB/s  (CPU: wsbridge "
            "%.2fs, client %.2fs)" % (name, a.mib, dt, a.mib / dt, c1 - c0,
            p1 - p0), flush=True)
    b.stop()
    T._cleanup(quiet=True)


if __name__ == "__main__":
    main()
