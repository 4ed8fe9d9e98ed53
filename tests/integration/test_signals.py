#!/usr/bin/python3
"""test_signals.py -- SIGHUP reloads the -c file (new routes for new
connections, live tunnels untouched, a bad file keeps the old config) and
SIGTERM closes every client with 1001 and exits 0 within shutdown-timeout."""

import asyncio
import os
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsbtest as T  # noqa: E402

import websockets  # noqa: E402


def status(port, path):
    c = T.RawConn(port)
    try:
        c.send(T.upgrade_request(path))
        st, _, _ = c.read_response(5)
        return st
    finally:
        c.close()


def wait_status(port, path, want, timeout, what):
    """A reload is seen only through behaviour: poll, bounded."""
    last = None
    for _ in T.deadline_loop(timeout, what):
        last = status(port, path)
        if last == want:
            break
    T.expect_eq(last, want, "status for %s (%s)" % (path, what))


def echo(c, msg):
    c.send_frame(T.OP_BINARY, msg)
    got = bytearray()
    while len(got) < len(msg):
        op, part = c.recv_message(5)
        got += part
    T.expect_eq(bytes(got), msg, "echo through the tunnel")


def main():
    backend = T.EchoBackend()
    d = T.tmpdir()
    conf = os.path.join(d, "wsbridge.conf")
    T.replace_file(conf, "# routes only; the listener comes from --listen\n"
        "route /a %s\n" % backend.addr)
    b = T.Bridge("-c", conf)

    with T.subtest("SIGHUP: a route added to the file works, the live "
            "tunnel keeps working"):
        t1 = T.raw_ws(b.port, "/a")
        echo(t1, b"before reload")
        T.expect_eq(status(b.port, "/b"), 404, "/b before the reload")
        T.replace_file(conf, "route /a %s\nroute /b echo\n" % backend.addr)
        b.signal(signal.SIGHUP)
        wait_status(b.port, "/b", 101, 5, "the new route after SIGHUP")
        echo(t1, b"after reload")
        t2 = T.raw_ws(b.port, "/a")
        echo(t2, b"new tunnel on /a")
        t2.close()
        T.check(b.alive(), "wsbridge still running")

    with T.subtest("SIGHUP: a route removed from the file; its live tunnel "
            "keeps working"):
        T.replace_file(conf, "route /b echo\n")
        b.signal(signal.SIGHUP)
        wait_status(b.port, "/a", 404, 5, "/a gone after SIGHUP")
        echo(t1, b"tunnel on a removed route")
        T.expect_eq(status(b.port, "/b"), 101, "/b still there")

    with T.subtest("SIGHUP with a broken file keeps the running config"):
        n0 = b.nlines()
        T.replace_file(conf,
            "route /b echo\nroute /c echo\nthis is not a directive\n")
        b.signal(signal.SIGHUP)
        try:
            line = b.wait_log(r"(?i)wsbridge\.conf:3|reload", 5, start=n0)
            T.log("   log: " + line)
        except T.Failure:
            T.fail("no log line naming %s:3 (or a reload) within 5s of "
                "SIGHUP with a broken file" % conf)
        # The log line and the reload happen in one pass of wsbridge's
        # loop, so the requests below see the outcome.
        T.expect_eq(status(b.port, "/b"), 101, "/b still served")
        T.expect_eq(status(b.port, "/c"), 404,
            "/c from the broken file not applied")
        echo(t1, b"tunnel after a failed reload")
        T.check(b.alive(), "wsbridge still running")
        t1.close()

    with T.subtest("SIGHUP: a listener that cannot be opened reloads "
            "nothing; the old listeners and config keep serving"):
        p1 = T.closed_port()
        lconf = os.path.join(d, "listen.conf")
        T.replace_file(lconf, "listen 127.0.0.1:%d\nroute / echo\n" % p1)
        lb = T.Bridge("-c", lconf, listen=(), nlisteners=1)
        T.expect_eq(lb.port, p1, "the file's listener")
        busy = socket.socket()
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        d_key = os.path.join(d, "missing-key.pem")
        bad = [
            ("an address this host does not have",
             "listen 127.0.0.1:%d\nlisten 192.0.2.1:%d\n" % (
                 p1, T.closed_port())),
            ("a port in use, the old listen line dropped",
             "listen 127.0.0.1:%d\n" % busy.getsockname()[1]),
            ("a tls line whose key is missing",
             "listen 127.0.0.1:%d\nlisten 127.0.0.1:%d tls cert=%s "
             "key=%s\n" % (p1, T.closed_port(), d_key, d_key)),
        ]
        for what, listens in bad:
            T.step(what)
            n0 = lb.nlines()
            T.replace_file(lconf, listens + "route / echo\nroute /new echo\n")
            lb.signal(signal.SIGHUP)
            line = lb.wait_log(r"reload failed, keeping the running config",
                30, start=n0)
            T.log("   log: " + line)
            T.expect_eq(status(p1, "/"), 101, "the old listener still "
                "serves (%s)" % what)
            T.expect_eq(status(p1, "/new"), 404, "the old config is kept "
                "(%s)" % what)
            T.check(not any("configuration reloaded" in l
                for l in lb.lines[n0:]), "no 'configuration reloaded' "
                "line (%s)" % what)
            if "tls" in what:
                # --check reads certificates and keys as a start does.
                rc, out = T.run_wsbridge("--check", "-c", lconf)
                T.check(rc != 0 and "missing-key.pem" in out,
                    "--check refuses the missing key", "non-zero, names it",
                    (rc, out.strip()[-200:]))
            elif "address" in what:
                # --check binds each address with port 0.
                rc, out = T.run_wsbridge("--check", "-c", lconf)
                T.check(rc != 0 and "192.0.2.1" in out,
                    "--check refuses the address", "non-zero, names it",
                    (rc, out.strip()[-200:]))
            else:
                # A port in use may be the running wsbridge's own.
                rc, out = T.run_wsbridge("--check", "-c", lconf)
                T.expect_eq(rc, 0, "--check passes a port in use\n" + out)
        T.step("then a good file: the new listener opens, the old one "
            "closes")
        p2 = T.closed_port()
        n0 = lb.nlines()
        T.replace_file(lconf, "listen 127.0.0.1:%d\nroute / echo\n"
            "route /new echo\n" % p2)
        lb.signal(signal.SIGHUP)
        lb.wait_log(r"configuration reloaded", 30, start=n0)
        T.expect_eq(status(p2, "/new"), 101, "the new listener, new route")
        try:
            status(p1, "/")
            T.fail("the dropped listener still accepts")
        except (OSError, T.Failure, T.Closed):
            pass
        busy.close()
        lb.stop()

    with T.subtest("20 SIGHUPs in a row while a tunnel streams 50 MiB"):
        src = T.SourceBackend(50 * T.MiB, seed=41)
        T.replace_file(conf, "route /b echo\nroute /src %s\n" % src.addr)
        b.signal(signal.SIGHUP)
        wait_status(b.port, "/src", 101, 5, "the /src route")
        c = T.raw_ws(b.port, "/src")
        h = T.hashlib.sha256()
        n = 0
        frames = 0
        code = None
        while True:
            f = c.recv_frame(30)
            if f.opcode == T.OP_CLOSE:
                code = f.close_code()
                break
            h.update(f.payload)
            n += len(f.payload)
            frames += 1
            if frames % 40 == 0 and frames // 40 <= 20:
                b.signal(signal.SIGHUP)
        T.expect_eq(n, 50 * T.MiB, "bytes received")
        T.expect_eq(h.hexdigest(), T.pattern_digest(50 * T.MiB, 41),
            "sha256")
        T.expect_eq(code, 1000, "close code")
        c.close()
        T.check(b.alive(), "wsbridge still running")
        T.expect_eq(status(b.port, "/b"), 101, "/b still served")

    with T.subtest("SIGTERM with tunnels open stops cleanly"):
        T.expect_eq(b.stop(), 0, "exit status")

    b2 = T.Bridge("--route", "/echo=echo", "--route", "/tcp=%s" %
        backend.addr, "-o", "shutdown-timeout 3s", name="wsbridge-term")

    async def term():
        opts = dict(ping_interval=None, open_timeout=10, close_timeout=10)
        a = await websockets.connect(b2.url("/echo"), **opts)
        t = await websockets.connect(b2.url("/tcp"), **opts)
        await a.send("hi")
        T.expect_eq(await T.wait_for(a.recv(), 5, "echo"), "hi", "echo")
        await t.send(b"hi")
        T.expect_eq(await T.wait_for(t.recv(), 5, "tcp echo"), b"hi",
            "tcp echo")
        # A raw client that never answers the close.
        mute = T.raw_ws(b2.port, "/echo")
        t0 = time.monotonic()
        b2.signal(signal.SIGTERM)
        await T.wait_for(a.wait_closed(), 10, "echo client closed")
        await T.wait_for(t.wait_closed(), 10, "tcp client closed")
        T.expect_eq(a.close_code, 1001, "close code for the echo client")
        T.expect_eq(t.close_code, 1001, "close code for the tcp client")
        code, _ = await asyncio.to_thread(mute.recv_close, 10)
        T.expect_eq(code, 1001, "close code for a client that won't answer")
        st = await asyncio.to_thread(b2.wait_exit, 10)
        dt = time.monotonic() - t0
        T.expect_eq(st, 0, "exit status after SIGTERM")
        T.check(dt <= 3.0 + 2.0, "exited within shutdown-timeout (3s) + "
            "margin", "<= 5s", "%.2fs" % dt)
        mute.close()

    with T.subtest("SIGTERM: close 1001 to every client, exit 0 within "
            "shutdown-timeout"):
        T.arun(term(), 40)
        T.expect_eq(b2.stop(), 0, "exit status")

    with T.subtest("SIGTERM in the middle of transfers both ways and a "
            "half-sent request"):
        src = T.SourceBackend(200 * T.MiB, seed=42)
        sink = T.SinkBackend()
        b3 = T.Bridge("--route", "/src=%s" % src.addr, "--route",
            "/sink=%s" % sink.addr, "-o", "shutdown-timeout 3s",
            name="wsbridge-term-busy")
        down = T.raw_ws(b3.port, "/src")
        up = T.raw_ws(b3.port, "/sink")
        # A downloader that never reads: its close frame cannot even be
        # written, so only shutdown-timeout ends it.
        stuck = T.RawConn(b3.port, rcvbuf=4096)
        stuck.upgrade("/src")
        half = T.RawConn(b3.port)
        half.send(b"GET /src HTTP/1.1\r\nHost: x\r\n")
        zero = b"\0\0\0\0"
        chunk = T.frame(T.OP_BINARY, b"u" * 65536, key=zero)
        for _ in range(32):
            up.send(chunk)
        n = 0
        while n < 8 * T.MiB:
            n += len(down.recv_frame(10).payload)
        t0 = time.monotonic()
        b3.signal(signal.SIGTERM)
        # Keep the upload going until wsbridge says goodbye.
        up.sock.setblocking(False)
        code_down, _ = down.recv_close(10)
        T.expect_eq(code_down, 1001, "close code for the downloading client")
        up.sock.settimeout(10)
        code_up, _ = up.recv_close(10)
        T.expect_eq(code_up, 1001, "close code for the uploading client")
        for c in (down, up):
            try:
                c.send_frame(T.OP_CLOSE, T.close_payload(1001))
            except OSError:
                pass
        st = b3.wait_exit(10)
        dt = time.monotonic() - t0
        T.expect_eq(st, 0, "exit status")
        T.check(dt <= 5.0, "exited within shutdown-timeout (3s) + margin",
            "<= 5s", "%.2fs" % dt)
        T.expect_eq(b3.stop(), 0, "exit status (and no sanitizer report)")
        for c in (down, up, half, stuck):
            c.close()


    with T.subtest("20 reloads alternating good and bad under 100 live "
            "tunnels: every bad one keeps the running config, no tunnel "
            "notices"):
        eb = T.EchoBackend(backlog=256)
        d2 = T.tmpdir()
        conf2 = os.path.join(d2, "r.conf")
        base = "route /e %s\n" % eb.addr
        T.replace_file(conf2, base)
        b6 = T.Bridge("-c", conf2, name="wsbridge-reloads")
        tunnels = [T.raw_ws(b6.port, "/e") for _ in range(100)]
        busy = socket.socket()
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        bad = ["listen 192.0.2.1:%d\n" % T.closed_port(),
            "listen 127.0.0.1:%d\n" % busy.getsockname()[1],
            "route /x nonsense-target\n"]
        for r in range(20):
            n0 = b6.nlines()
            good = r % 2 == 0
            if good:
                T.replace_file(conf2, base + ("route /b %s\n" % eb.addr if
                    r % 4 == 0 else ""))
            else:
                T.replace_file(conf2, base + bad[(r // 2) % len(bad)])
            b6.signal(signal.SIGHUP)
            b6.wait_log(r"configuration reloaded|reload failed", 30,
                start=n0)
            said = "\n".join(b6.lines[n0:])
            T.check(("reload failed" in said) != good, "reload %d (%s) "
                "said so" % (r, "good" if good else "bad"), "", said)
            for i, t in enumerate(tunnels):
                echo(t, b"r%d t%d" % (r, i))
            last_good = r if good else r - 1
            T.expect_eq(status(b6.port, "/b"), 101 if last_good % 4 == 0
                else 404, "/b after reload %d" % r)
        T.check(True, "100 tunnels echoed after each of 20 reloads")
        T.replace_file(conf2, base + bad[2])
        st, out = T.run_wsbridge("--check", "-c", conf2)
        T.check(st != 0, "--check refuses the bad route", "non-0",
            (st, out))
        for t in tunnels:
            t.close()
        busy.close()
        T.expect_eq(b6.stop(), 0, "exit status")
        eb.close()

    with T.subtest("shutdown-mode wait: SIGTERM stops accepting, open "
            "tunnels keep working until they end, the last one's end ends "
            "wsbridge"):
        eb = T.EchoBackend()
        b4 = T.Bridge("--route", "/e=%s" % eb.addr, "-o",
            "shutdown-mode wait", "-o", "shutdown-timeout 120s",
            name="wsbridge-wait")
        a = T.raw_ws(b4.port, "/e")
        c = T.raw_ws(b4.port, "/e")
        echo(a, b"before SIGTERM")
        n0 = b4.nlines()
        b4.signal(signal.SIGTERM)
        b4.wait_log(r"draining 2 connections \(shutdown-mode wait", 30,
            start=n0)
        for i in range(20):
            echo(a, b"a after SIGTERM %d" % i)
            echo(c, b"c after SIGTERM %d" % i)
        try:
            T.RawConn(b4.port).close()
            T.fail("a new connection was accepted after SIGTERM")
        except OSError:
            pass
        a.send_frame(T.OP_CLOSE, T.close_payload(1000))
        code, _ = a.recv_close(30)
        T.expect_eq(code, 1000, "the first client's own close, answered")
        echo(c, b"the last tunnel still works")
        T.check(b4.alive(), "still running while a tunnel is open")
        c.send_frame(T.OP_CLOSE, T.close_payload(1000))
        code, _ = c.recv_close(30)
        T.expect_eq(code, 1000, "the last client's own close, answered")
        T.expect_eq(b4.wait_exit(60), 0, "exit status once the last "
            "tunnel ended")
        T.expect_eq(b4.stop(), 0, "exit status (and no sanitizer report)")
        for x in (a, c):
            x.close()

    with T.subtest("shutdown-mode wait: the tunnels left at "
            "shutdown-timeout get 1001"):
        eb = T.EchoBackend()
        b5 = T.Bridge("--route", "/e=%s" % eb.addr, "-o",
            "shutdown-mode wait", "-o", "shutdown-timeout 1s",
            name="wsbridge-wait-deadline")
        t = T.raw_ws(b5.port, "/e")
        echo(t, b"before SIGTERM")
        n0 = b5.nlines()
        b5.signal(signal.SIGTERM)
        code, _ = t.recv_close(60)
        T.expect_eq(code, 1001, "close code at the deadline")
        b5.wait_log(r"shutdown-timeout reached: closing the 1 connections "
            r"left with 1001", 30, start=n0)
        try:
            t.send_frame(T.OP_CLOSE, T.close_payload(1001))
        except OSError:
            pass
        T.expect_eq(b5.wait_exit(60), 0, "exit status")
        T.expect_eq(b5.stop(), 0, "exit status (and no sanitizer report)")
        t.close()

    rc, out = T.run_wsbridge("--check", "-o", "shutdown-mode later")
    T.check(rc != 0 and "shutdown-mode" in out, "--check refuses an unknown "
        "shutdown-mode", "non-zero, named", (rc, out.strip()[-120:]))


T.run(main)
