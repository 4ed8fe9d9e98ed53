#!/usr/bin/python3
"""test_handshake.py -- the HTTP/1.1 upgrade over raw sockets: every status
of the spec, the accept key, subprotocol choice, a frame riding in the same
write as the request, the handshake timeout, max-connections, an IPv6
listener, and --check on good and bad configuration files."""

import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsbtest as T  # noqa: E402

RFC_KEY = "dGhlIHNhbXBsZSBub25jZQ=="
RFC_ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def status_of(port, raw, timeout=5.0):
    """Sends raw request bytes on a fresh connection; returns (status,
    headers)."""
    c = T.RawConn(port)
    try:
        c.send(raw)
        try:
            st, _, h = c.read_response(timeout)
        except T.Closed:
            T.fail("connection closed without an HTTP response to %r" %
                raw[:80])
        return st, h
    finally:
        c.close()


def hdr(h, name):
    return h.get(name, [None])[0]


def echo_roundtrip(c, payload="ping?"):
    c.send_frame(T.OP_TEXT, payload)
    op, got = c.recv_message(5)
    T.expect_eq((op, got), (T.OP_TEXT, payload.encode()),
        "echo of a text message")


def main():
    refused = T.closed_port()
    hole = T.BlackholeBackend()
    b = T.Bridge(
        "--route", "/echo=echo subprotocols=chat,superchat",
        "--route", "/strict=echo subprotocols=chat require-subprotocol=yes",
        "--route", "/origin=echo origins=https://good.example,https://also.example",
        "--route", "/refused=127.0.0.1:%d" % refused,
        "--route", "/hole=%s connect-timeout=1s" % hole.addr,
        "-o", "handshake-timeout 2s",
        "--log-level", "debug")
    port = b.port
    R = T.upgrade_request

    with T.subtest("start-up warning: a route any web page can open on a "
            "listener other hosts reach"):
        warn = "accepts any Origin and no token"
        args = ("--route", "/open=127.0.0.1:9", "--route", "/e=echo",
            "--route", "/kept=127.0.0.1:9 origins=https://app.example")
        wb = T.Bridge(*args, listen=("0.0.0.0:0",), name="wsbridge-exposed")
        line = wb.wait_log(warn, 30)
        T.check("route /open " in line, "the warning names the open route",
            "route /open", line)
        T.check(not any(warn in l and ("/kept" in l or "/e " in l)
            for l in wb.lines), "no warning for a route with origins= or "
            "the echo route")
        wb.stop()
        lb = T.Bridge(*args, name="wsbridge-loopback")
        lb.wait_log(r"ready", 30)
        T.check(not any(warn in l for l in lb.lines), "no warning on a "
            "loopback listener", "none", [l for l in lb.lines if warn in l])
        lb.stop()

    with T.subtest("101 with the RFC 6455 sample key"):
        c = T.RawConn(port)
        c.send(R("/echo", key=RFC_KEY))
        st, reason, h = c.read_response()
        T.expect_eq(st, 101, "status")
        T.expect_eq(hdr(h, "sec-websocket-accept"), RFC_ACCEPT,
            "Sec-WebSocket-Accept for the RFC sample key")
        T.expect_eq((hdr(h, "upgrade") or "").lower(), "websocket",
            "Upgrade header")
        T.check("upgrade" in [t.strip().lower() for t in
            (hdr(h, "connection") or "").split(",")],
            "Connection header has the upgrade token", "Upgrade",
            hdr(h, "connection"))
        T.expect_eq(hdr(h, "sec-websocket-protocol"), None,
            "no subprotocol when the client offered none")
        echo_roundtrip(c)
        c.close()

    with T.subtest("accept key = base64(sha1(key + GUID)) for random keys"):
        for _ in range(5):
            key = T.make_key()
            c = T.RawConn(port)
            c.upgrade("/echo", key=key)	# checks the accept value
            c.close()
        T.check(True, "5 random keys accepted with the right digest")

    with T.subtest("frames in the same write as the request are processed"):
        c = T.RawConn(port)
        c.send(R("/echo") + T.frame(T.OP_TEXT, "early bird") +
            T.frame(T.OP_PING, b"p1") + T.frame(T.OP_BINARY, b"\x00\x01\x02",
            fin=False) + T.frame(T.OP_CONT, b"\x03"))
        st, _, h = c.read_response()
        T.expect_eq(st, 101, "status")
        data, pongs = [], []
        for _ in range(4):
            f = c.recv_frame(5)
            if f.opcode == T.OP_PONG:
                pongs.append(f.payload)
                if len(data) == 3:
                    break
            else:
                data.append((f.opcode, f.fin, f.payload))
                if len(data) == 3 and pongs:
                    break
        T.expect_eq(data[:1], [(T.OP_TEXT, True, b"early bird")],
            "first message (sent with the request) echoed")
        T.expect_eq(pongs, [b"p1"], "pong for the ping sent with the request")
        T.expect_eq(data[1:], [(T.OP_BINARY, False, b"\x00\x01\x02"),
            (T.OP_CONT, True, b"\x03")],
            "fragmented binary message sent with the request echoed")
        c.close()

    with T.subtest("request and frame fed one byte at a time"):
        c = T.RawConn(port)
        key = T.make_key()
        raw = R("/echo", key=key)
        for i in range(len(raw)):
            c.send(raw[i:i + 1])
        st, _, h = c.read_response()
        T.expect_eq(st, 101, "status")
        T.expect_eq(hdr(h, "sec-websocket-accept"), T.accept_for(key),
            "accept key")
        f = T.frame(T.OP_TEXT, "bytewise")
        for i in range(len(f)):
            c.send(f[i:i + 1])
        op, got = c.recv_message(5)
        T.expect_eq((op, got), (T.OP_TEXT, b"bytewise"), "echo")
        c.close()

    with T.subtest("a query string does not change the route"):
        c = T.RawConn(port)
        c.upgrade("/echo?token=abc&x=1")
        echo_roundtrip(c, "with a query")
        c.close()

    cases = [
        ("malformed request line", b"GARBAGE\r\n\r\n", 400),
        ("bad Sec-WebSocket-Key (not 16 bytes base64)",
            R("/echo", key="abc"), 400),
        ("Sec-WebSocket-Key of 15 bytes",
            R("/echo", key="AAAAAAAAAAAAAAAAAAAA"), 400),
        ("missing Sec-WebSocket-Key",
            R("/echo", omit=("sec-websocket-key",)), 400),
        ("missing Host", R("/echo", omit=("host",)), 400),
        ("missing Sec-WebSocket-Version",
            R("/echo", omit=("sec-websocket-version",)), 400),
        ("POST", R("/echo", method="POST"), 405),
        ("missing Upgrade header", R("/echo", omit=("upgrade",)), 426),
        ("Upgrade: h2c", R("/echo", upgrade="h2c"), 426),
        ("Connection without the upgrade token",
            R("/echo", connection="keep-alive"), 426),
        ("missing Connection header", R("/echo", omit=("connection",)), 426),
        ("unknown path", R("/nope"), 404),
        ("Origin not in the allowlist",
            R("/origin", extra=[("Origin", "https://evil.example")]), 403),
        ("backend refused", R("/refused"), 502),
        ("no overlap with require-subprotocol=yes",
            R("/strict", extra=[("Sec-WebSocket-Protocol", "other")]), 400),
        ("no subprotocol at all with require-subprotocol=yes",
            R("/strict"), 400),
    ]
    for name, raw, want in cases:
        with T.subtest("%d for %s" % (want, name)):
            st, h = status_of(port, raw)
            T.expect_eq(st, want, "status for " + name)

    for ver in ("8", "14", "12"):
        with T.subtest("426 for Sec-WebSocket-Version %s" % ver):
            st, h = status_of(port, R("/echo", version=ver))
            T.expect_eq(st, 426, "status")
            T.expect_eq(hdr(h, "sec-websocket-version"), "13",
                "Sec-WebSocket-Version header in the 426")

    with T.subtest("431 for a request head over max-header-size (8k)"):
        raw = R("/echo", extra=[("X-Filler", "a" * 9000)])
        st, h = status_of(port, raw)
        T.expect_eq(st, 431, "status for a %d-byte head" % len(raw))
        raw = R("/echo", extra=[("X-Filler-%d" % i, "b" * 1000)
            for i in range(20)])
        st, h = status_of(port, raw)
        T.expect_eq(st, 431, "status for a %d-byte head in 20 headers" %
            len(raw))

    with T.subtest("431 for a request line alone over 8k"):
        st, h = status_of(port, R("/echo" + "x" * 9000))
        T.expect_eq(st, 431, "status for a 9000-byte path")

    with T.subtest("a 6000-byte head (under 8k) is accepted"):
        c = T.RawConn(port)
        c.upgrade("/echo", extra=[("X-Filler", "c" * 5700)])
        echo_roundtrip(c)
        c.close()

    with T.subtest("token lists and case in Upgrade/Connection are accepted"):
        c = T.RawConn(port)
        c.upgrade("/echo", upgrade="WebSocket",
            connection="keep-alive, Upgrade")
        echo_roundtrip(c)
        c.close()

    with T.subtest("header names in any case, no space after the colon"):
        key = T.make_key()
        raw = ("GET /echo HTTP/1.1\r\nhost:127.0.0.1\r\nupgrade:websocket\r\n"
            "CONNECTION: UPGRADE\r\nsec-websocket-key:%s\r\n"
            "SEC-WEBSOCKET-VERSION:13\r\nsec-websocket-protocol:chat\r\n"
            "\r\n" % key).encode()
        c = T.RawConn(port)
        c.send(raw)
        st, _, h = c.read_response()
        T.expect_eq(st, 101, "status")
        T.expect_eq(hdr(h, "sec-websocket-accept"), T.accept_for(key),
            "accept key")
        T.expect_eq(hdr(h, "sec-websocket-protocol"), "chat", "subprotocol")
        echo_roundtrip(c)
        c.close()

    with T.subtest("allowed Origin gets 101"):
        for o in ("https://good.example", "https://also.example"):
            c = T.RawConn(port)
            c.upgrade("/origin", extra=[("Origin", o)])
            echo_roundtrip(c)
            c.close()

    with T.subtest("504 when the backend connect times out (connect-timeout=1s)"):
        if not hole.works:
            T.log("   (cannot build a black-hole listener here; skipped)")
        else:
            t0 = time.monotonic()
            st, h = status_of(port, R("/hole"), timeout=8)
            dt = time.monotonic() - t0
            T.expect_eq(st, 504, "status")
            T.check(0.7 <= dt <= 5.0, "answered after about 1s",
                "0.7..5.0s", "%.2fs" % dt)

    with T.subtest("subprotocol choice follows the route's order"):
        for offered, want in (("superchat, chat", "chat"),
                ("superchat", "superchat"), ("chat", "chat"),
                ("foo, superchat", "superchat"), ("foo", None),
                ("foo, bar", None)):
            c = T.RawConn(port)
            h = c.upgrade("/echo",
                extra=[("Sec-WebSocket-Protocol", offered)])
            T.expect_eq(hdr(h, "sec-websocket-protocol"), want,
                "subprotocol answer to an offer of %r" % offered)
            echo_roundtrip(c)
            c.close()
        c = T.RawConn(port)
        h = c.upgrade("/echo", extra=[("Sec-WebSocket-Protocol", "foo"),
            ("Sec-WebSocket-Protocol", "superchat")])
        T.expect_eq(hdr(h, "sec-websocket-protocol"), "superchat",
            "subprotocol offered in a second header line")
        c.close()
        c = T.RawConn(port)
        h = c.upgrade("/strict", extra=[("Sec-WebSocket-Protocol",
            "x, chat")])
        T.expect_eq(hdr(h, "sec-websocket-protocol"), "chat",
            "require-subprotocol=yes route with an overlap")
        c.close()

    with T.subtest("handshake timeout (2s): partial request"):
        c = T.RawConn(port)
        t0 = time.monotonic()
        c.send(b"GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        try:
            st, _, _ = c.read_response(8)
            T.expect_eq(st, 408, "status after the handshake timeout")
        except T.Closed:
            T.log("   (connection closed without a response: accepted)")
        dt = time.monotonic() - t0
        T.check(1.5 <= dt <= 6.0, "ended about 2s after connect",
            "1.5..6.0s", "%.2fs" % dt)
        c.close()

    with T.subtest("handshake timeout (2s): silent client"):
        c = T.RawConn(port)
        t0 = time.monotonic()
        try:
            st, _, _ = c.read_response(8)
            T.expect_eq(st, 408, "status after the handshake timeout")
        except T.Closed:
            T.log("   (connection closed without a response: accepted)")
        dt = time.monotonic() - t0
        T.check(1.5 <= dt <= 6.0, "ended about 2s after connect",
            "1.5..6.0s", "%.2fs" % dt)
        c.close()

    with T.subtest("an open connection outlives the handshake timeout"):
        c = T.RawConn(port)
        c.upgrade("/echo")
        echo_roundtrip(c, "before")
        # Nothing to wait for: the point is to let the 2s timer pass.
        time.sleep(2.5)
        echo_roundtrip(c, "after 2.5s")
        c.close()

    with T.subtest("max-connections 2: third gets 503, first two unharmed"):
        m = T.Bridge("--route", "/echo=echo", "-o", "max-connections 2",
            name="wsbridge-maxconn")
        c1 = T.raw_ws(m.port, "/echo")
        c2 = T.raw_ws(m.port, "/echo")
        st, _ = status_of(m.port, R("/echo"))
        T.expect_eq(st, 503, "status for the third connection")
        echo_roundtrip(c1, "one")
        echo_roundtrip(c2, "two")
        c1.send_frame(T.OP_CLOSE, T.close_payload(1000))
        code, _ = c1.recv_close(5)
        T.expect_eq(code, 1000, "close echoed to the first connection")
        T.check(c1.wait_eof(5), "first connection's TCP closed")
        c1.close()
        # The slot frees when wsbridge has processed the close; no event
        # tells us when, so retry a bounded number of times.
        ok = None
        for _ in T.deadline_loop(30, "a free slot after closing one"):
            st, _ = status_of(m.port, R("/echo"))
            if st == 101:
                ok = st
                break
            T.expect_eq(st, 503, "status while the slot is being freed")
        T.expect_eq(ok, 101, "a new connection after one closed")
        echo_roundtrip(c2, "still two")
        c2.close()
        T.expect_eq(m.stop(), 0, "exit status")

    with T.subtest("max-connections 2: no slot leaks after failed and "
            "abandoned connections"):
        refused2 = T.closed_port()
        m = T.Bridge("--route", "/echo=echo",
            "--route", "/refused=127.0.0.1:%d" % refused2,
            "--route", "/hole=%s connect-timeout=1s" % hole.addr,
            "-o", "max-connections 2", "-o", "handshake-timeout 1s",
            name="wsbridge-maxconn-leaks")
        # Each of these ends one way or another; none may keep a slot.
        for raw, want in ((R("/nope"), 404), (R("/refused"), 502),
                (b"GARBAGE\r\n\r\n", 400), (R("/echo", version="8"), 426)):
            st, _ = status_of(m.port, raw)
            T.expect_eq(st, want, "status")
        def ws_when_free(path="/echo"):
            # A slot frees when wsbridge has read the previous peer's EOF,
            # which may come after our next connect: retry a 503, bounded.
            for _ in T.deadline_loop(30, "a free slot"):
                c = T.RawConn(m.port)
                c.upgrade(path, expect=None)
                if c.status == 101:
                    return c
                T.expect_eq(c.status, 503, "status while slots are busy")
                c.close()

        for _ in range(3):
            c = ws_when_free()	# upgraded, then TCP dropped
            c.close()
            c = ws_when_free()	# protocol error
            c.send(T.frame(T.OP_CONT, b"x"))
            c.recv_close(5)
            c.close()
            c = T.RawConn(m.port)		# half a request, then dropped
            c.send(b"GET /echo HTTP/1.1\r\nHost: x\r\n")
            c.close()
            c = T.RawConn(m.port)		# gone while the backend connects
            c.send(R("/hole"))
            c.close()
        quiet = T.RawConn(m.port)		# times out in the handshake
        try:
            quiet.read_response(5)
        except T.Closed:
            pass
        quiet.close()
        # Slots are released when wsbridge has seen the ends (the /hole ones
        # after the 1s connect-timeout at most): poll, bounded.
        for _ in T.deadline_loop(30, "two free slots"):
            c1 = T.RawConn(m.port)
            c1.send(R("/echo"))
            st1 = c1.read_response(5)[0]
            c2 = T.RawConn(m.port)
            c2.send(R("/echo"))
            st2 = c2.read_response(5)[0]
            if (st1, st2) == (101, 101):
                break
            c1.close()
            c2.close()
        T.expect_eq((st1, st2), (101, 101), "two connections fit again")
        echo_roundtrip(c1, "slot one")
        echo_roundtrip(c2, "slot two")
        c1.close()
        c2.close()
        T.expect_eq(m.stop(), 0, "exit status")

    with T.subtest("IPv6 listener [::1]:0"):
        try:
            s6 = socket.socket(socket.AF_INET6)
            s6.bind(("::1", 0))
            s6.close()
        except OSError as e:
            T.log("   (no IPv6 loopback here: %s; skipped)" % e)
        else:
            v6 = T.Bridge("--route", "/echo=echo",
                listen=("127.0.0.1:0", "[::1]:0"), name="wsbridge-ipv6")
            hosts = sorted(h for h, _ in v6.addrs)
            T.expect_eq(hosts, sorted(["127.0.0.1", "::1"]),
                "listening addresses")
            p6 = [p for h, p in v6.addrs if h == "::1"][0]
            c = T.RawConn(p6, host="::1", family=socket.AF_INET6)
            c.upgrade("/echo", host="[::1]:%d" % p6)
            echo_roundtrip(c, "over IPv6")
            c.close()
            p4 = [p for h, p in v6.addrs if h == "127.0.0.1"][0]
            c = T.raw_ws(p4, "/echo")
            echo_roundtrip(c, "over IPv4 beside it")
            c.close()
            v6.stop()

    with T.subtest("positional [HOST:]PORT TARGET bridges any path"):
        p = T.Bridge("127.0.0.1:0", "echo", listen=(), nlisteners=1,
            name="wsbridge-positional")
        for path in ("/", "/any/path", "/echo?q=1"):
            c = T.RawConn(p.port)
            c.upgrade(path)
            echo_roundtrip(c, "positional " + path)
            c.close()
        T.expect_eq(p.stop(), 0, "exit status")
        be = T.EchoBackend()
        p = T.Bridge("127.0.0.1:0", be.addr, listen=(), nlisteners=1,
            name="wsbridge-positional-tcp")
        c = T.RawConn(p.port)
        c.upgrade("/websockify")
        c.send_frame(T.OP_BINARY, b"to tcp")
        op, got = c.recv_message(5)
        T.expect_eq((op, got), (T.OP_BINARY, b"to tcp"),
            "echo through a TCP target given positionally")
        c.close()
        T.expect_eq(p.stop(), 0, "exit status")
        be.close()

    with T.subtest("-c FILE with listen and route lines serves them"):
        d = T.tmpdir()
        conf = os.path.join(d, "run.conf")
        with open(conf, "w") as f:
            f.write("listen 127.0.0.1:0\nroute /from-file echo\n"
                "handshake-timeout 5s\n")
        p = T.Bridge("-c", conf, listen=(), nlisteners=1,
            name="wsbridge-conffile")
        c = T.raw_ws(p.port, "/from-file")
        echo_roundtrip(c, "from a config file")
        c.close()
        st, _ = status_of(p.port, R("/echo"))
        T.expect_eq(st, 404, "a route not in the file")
        T.expect_eq(p.stop(), 0, "exit status")

    with T.subtest("--check on a good configuration file"):
        d = T.tmpdir()
        good = os.path.join(d, "good.conf")
        with open(good, "w") as f:
            f.write("# a comment\n"
                "listen 127.0.0.1:0\n"
                "\n"
                "route /echo echo subprotocols=chat,superchat\n"
                "route /tcp 127.0.0.1:9 mode=text max-frame=16k "
                "max-message=1M connect-timeout=2s idle-timeout=30s "
                "ping-interval=10s pong-timeout=5s\n"
                "route /o echo origins=https://a.example require-subprotocol=no\n"
                "max-connections 100\n"
                "max-header-size 8k\n"
                "handshake-timeout 250ms\n"
                "close-timeout 2s\n"
                "shutdown-timeout 5s\n"
                "buffer-size 64k\n"
                "log-level info\n")
        st, out = T.run_wsbridge("--check", "-c", good)
        T.expect_eq(st, 0, "exit status of --check on a good file "
            "(output: %r)" % out)
        T.check("configuration OK" in out, "prints 'configuration OK'",
            "configuration OK", out)

    bad_lines = [
        ("unknown directive", "frobnicate 3"),
        ("route without target", "route /x"),
        ("bad duration", "handshake-timeout 10parsecs"),
        ("bad size", "max-header-size lots"),
        ("unknown route key", "route /y echo colour=red"),
        ("bad mode", "route /z echo mode=morse"),
        ("listen without an address", "listen"),
    ]
    for name, line in bad_lines:
        with T.subtest("--check names the bad line: %s" % name):
            d = T.tmpdir()
            bad = os.path.join(d, "bad.conf")
            with open(bad, "w") as f:
                f.write("listen 127.0.0.1:0\nroute /echo echo\n%s\n"
                    "log-level info\n" % line)
            st, out = T.run_wsbridge("--check", "-c", bad)
            T.expect_eq(st, 1, "exit status for %r" % line)
            T.check("%s:3" % bad in out, "error names FILE:LINE",
                "%s:3 in the output" % bad, out)
            T.check("configuration OK" not in out,
                "does not claim the config is OK", "no 'configuration OK'",
                out)

    with T.subtest("--version and --help exit 0"):
        st, out = T.run_wsbridge("--version")
        T.expect_eq(st, 0, "--version exit status")
        T.check(out.strip() != "", "--version prints something", "text",
            out)
        st, out = T.run_wsbridge("--help")
        T.expect_eq(st, 0, "--help exit status")
        T.check("--route" in out and "--listen" in out,
            "--help mentions --listen and --route", "both", out[:500])

    with T.subtest("main bridge still healthy and exits 0 on SIGTERM"):
        c = T.raw_ws(port, "/echo")
        echo_roundtrip(c, "last")
        c.close()
        T.expect_eq(b.stop(), 0, "exit status after SIGTERM")
    hole.close()


T.run(main)
