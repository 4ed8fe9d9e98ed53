#!/usr/bin/python3
"""test_robustness.py -- regressions from the first review: a client that
floods pings without reading keeps wsbridge's memory bounded; a backend that
half-closes still gets what the client sends until the close handshake ends;
backend names are tried on every address they resolve to; out of file
descriptors, accepting pauses while the open connections are served and
resumes once some close, and too few descriptors to start is a clean
error."""

import os
import re
import resource
import selectors
import signal
import socket
import subprocess
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


def accept_pause(b):
    """wsbridge at its descriptor limit: the clients past it wait in the
    backlog while accepting pauses (one log line per pause), the open
    connections go on, and the waiting clients are served once some
    close."""
    nfd = len(os.listdir("/proc/%d/fd" % b.pid))
    room = 4
    old = resource.prlimit(b.pid, resource.RLIMIT_NOFILE)
    resource.prlimit(b.pid, resource.RLIMIT_NOFILE, (nfd + room, old[1]))
    try:
        conns = [T.raw_ws(b.port, "/echo") for _ in range(room)]
        mark = b.nlines()
        waiting = []
        for _ in range(2):
            c = T.RawConn(b.port)
            c.send(T.upgrade_request("/echo", key=T.make_key()))
            waiting.append(c)
        b.wait_log(r"accept on 127\.0\.0\.1:%d: Too many open files; "
            r"pausing accepts" % b.port, 30, start=mark)
        for i, c in enumerate(conns):
            msg = b"still served %d" % i
            c.send_frame(T.OP_BINARY, msg)
            T.expect_eq(c.recv_message(10), (T.OP_BINARY, msg),
                "echo on an open connection while accepts pause")
        for c in conns[:2]:
            c.send_frame(T.OP_CLOSE, T.close_payload(1000))
            T.expect_eq(c.recv_close(10)[0], 1000, "close answered")
            T.check(c.wait_eof(10), "wsbridge closes the connection")
            c.close()
        for i, c in enumerate(waiting):
            st, _, _ = c.read_response(30)
            T.expect_eq(st, 101, "a client from the backlog, once "
                "descriptors are free")
            msg = b"from the backlog %d" % i
            c.send_frame(T.OP_TEXT, msg)
            T.expect_eq(c.recv_message(10), (T.OP_TEXT, msg),
                "echo on a client accepted after the pause")
        for c in conns[2:] + waiting:
            c.close()
    finally:
        resource.prlimit(b.pid, resource.RLIMIT_NOFILE, old)


def startup_without_fds():
    """With too few descriptors to start (limits from 4 up), wsbridge
    exits with status 1 and says why; never a crash or a hang. The first
    limit it starts under ends the loop. A frame log takes descriptors of
    its own at start (its writer's pipe, the database)."""
    db = os.path.join(T.tmpdir(), "fds.db")
    env = dict(os.environ)
    # LeakSanitizer needs descriptors of its own to look at the threads.
    env["ASAN_OPTIONS"] = ("%s:detect_leaks=0" % env.get("ASAN_OPTIONS",
        "")).lstrip(":")
    failed = []
    for n in range(4, 64):
        p = subprocess.Popen([T.wsbridge_path(), "--listen", "127.0.0.1:0",
            "--route", "/echo=echo", "--log-db", db],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
            preexec_fn=lambda n=n: resource.setrlimit(
                resource.RLIMIT_NOFILE, (n, n)))
        out = b""
        started = False
        with selectors.DefaultSelector() as sel:
            sel.register(p.stdout, selectors.EVENT_READ)
            end = time.monotonic() + 30
            while b"listening on" not in out:
                if not sel.select(max(0.0, end - time.monotonic())):
                    p.kill()
                    p.wait()
                    T.fail("limit %d: no exit and no listener in 30 s: "
                        "%r" % (n, out))
                d = os.read(p.stdout.fileno(), 65536)
                if not d:
                    break
                out += d
            started = b"listening on" in out
        if started:
            p.send_signal(signal.SIGTERM)
        rest, _ = p.communicate(timeout=30)
        text = (out + rest).decode("utf-8", "replace")
        for mark in T.SANITIZER_MARKS:
            T.check(mark not in text, "limit %d: no sanitizer report" % n,
                "no %r" % mark, text[-400:])
        if started:
            T.expect_eq(p.returncode, 0, "limit %d: started, then exit "
                "status after SIGTERM" % n)
            break
        # SQLite names no errno when it cannot open the database.
        T.check(p.returncode == 1 and re.search(r"Too many open files|"
            r"fds\.db: (.*: )?unable to open database file", text),
            "limit %d: status 1 and the reason" % n, "1, 'Too many open "
            "files' or the frame log's open", (p.returncode, text[-300:]))
        failed.append(n)
    else:
        T.fail("wsbridge did not start with 63 descriptors")
    T.log("   limits that could not start: %s" % failed)
    T.check(len(failed) >= 2, "too few descriptors were tried", ">= 2",
        failed)


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
    with T.subtest("out of descriptors: accepting pauses, open "
            "connections go on, the waiting clients are served later"):
        accept_pause(b)
    with T.subtest("too few descriptors to start: status 1 and the "
            "reason, at every limit below the one it starts with"):
        startup_without_fds()
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
