#!/usr/bin/python3
"""test_robustness.py -- regressions from the first review: a client that
floods pings without reading keeps wsbridge's memory bounded; a backend that
half-closes still gets what the client sends until the close handshake ends;
backend names are tried on every address they resolve to."""

import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsbtest as T  # noqa: E402


def ping_flood(b):
    c = T.RawConn(b.port, rcvbuf=4096)
    c.upgrade("/echo")
    base = b.rss_kib()
    ping = T.frame(T.OP_PING, b"p" * 125)
    burst = ping * 512                  # 67 KiB of pings per send
    sent = 0
    c.sock.settimeout(2.0)
    t_end = time.monotonic() + 20
    # Send until wsbridge stops reading us (a send blocks for 2 s): that is
    # the backpressure under test. Bounded: 20 s or 256 MiB of pings.
    while time.monotonic() < t_end and sent < 256 * T.MiB:
        try:
            c.sock.sendall(burst)
        except socket.timeout:
            break
        sent += len(burst)
    grown = b.rss_kib() - base
    T.log("   sent %d MiB of pings without reading; RSS grew %d KiB" % (
        sent // T.MiB, grown))
    T.check(sent < 256 * T.MiB, "wsbridge stops reading a ping flood whose "
        "pongs pile up", "< 256 MiB accepted", "%d MiB" % (sent // T.MiB))
    T.check(grown < 32 * 1024, "RSS bounded under a ping flood",
        "< 32 MiB growth", "%d KiB" % grown)
    c.close()


def half_close(b, be):
    c = T.raw_ws(b.port, "/half")
    op, data = c.recv_message(10)
    T.expect_eq(data, b"hello", "backend's bytes before its EOF")
    f = c.recv_frame(10)
    T.expect_eq((f.opcode, f.close_code()), (T.OP_CLOSE, 1000),
        "close 1000 after the backend's EOF")
    # Sent before we answer the close: must still reach the backend.
    c.send_frame(T.OP_BINARY, b"late data")
    c.send_frame(T.OP_CLOSE, T.close_payload(1000))
    T.check(c.wait_eof(10), "wsbridge closes TCP after the handshake")
    got = be.result.get(timeout=10)
    T.expect_eq(got, b"late data", "bytes the half-closed backend received")


def main():
    import queue
    res = queue.Queue()

    def halfer(conn):
        conn.sendall(b"hello")
        conn.shutdown(socket.SHUT_WR)
        buf = b""
        conn.settimeout(10)
        while True:
            d = conn.recv(65536)
            if not d:
                break
            buf += d
        res.put(buf)
    be = T.ScriptBackend(halfer)
    be.result = res

    # IPv4-only and IPv6-only echo services reached by name and literal.
    def echo_server(family, host):
        s = socket.socket(family, socket.SOCK_STREAM)
        s.bind((host, 0))
        s.listen(8)

        def loop():
            while True:
                try:
                    conn, _ = s.accept()
                except OSError:
                    return
                threading.Thread(target=lambda k: [k.sendall(d) for d in
                    iter(lambda: k.recv(65536), b"")], args=(conn,),
                    daemon=True).start()
        threading.Thread(target=loop, daemon=True).start()
        return s, s.getsockname()[1]
    s4, p4 = echo_server(socket.AF_INET, "127.0.0.1")
    routes = ["--route", "/echo=echo", "--route", "/half=%s" % be.addr,
        "--route", "/v4name=localhost:%d" % p4]
    try:
        s6, p6 = echo_server(socket.AF_INET6, "::1")
        routes += ["--route", "/v6=[::1]:%d" % p6]
        fams = {a[0] for a in socket.getaddrinfo("localhost", p6,
            type=socket.SOCK_STREAM)}
        if socket.AF_INET6 in fams:
            routes += ["--route", "/v6name=localhost:%d" % p6]
    except OSError:
        s6 = None
    b = T.Bridge(*routes)

    with T.subtest("ping flood without reading: bounded memory"):
        ping_flood(b)
    with T.subtest("still serving after the flood"):
        c = T.raw_ws(b.port, "/echo")
        c.send_frame(T.OP_TEXT, b"ok")
        T.expect_eq(c.recv_message(10), (T.OP_TEXT, b"ok"), "echo")
        c.close()
    with T.subtest("backend half-close: client data after our close 1000 "
            "still reaches the backend"):
        half_close(b, be)
    for path in [r.split("=")[0] for r in routes[1::2]
            if r.startswith(("/v4name", "/v6"))]:
        with T.subtest("backend by %s" % path):
            c = T.raw_ws(b.port, path)
            c.send_frame(T.OP_BINARY, b"x" * 1000)
            T.expect_eq(c.recv_message(10), (T.OP_BINARY, b"x" * 1000),
                "bytes back through %s" % path)
            c.close()
    b.stop()


T.run(main)
