#!/usr/bin/python3
"""test_tcp_backend.py -- bridging to TCP (and unix) backends: 100 MiB each
way with sha256 checks, varied message sizes both ways, max-frame on the
way out, mode=text with characters split across backend writes, invalid
UTF-8 from a text-mode backend (1011), backend EOF mid-stream (every byte,
then 1000), backend reset (data, then 1011), refused backend (502), and 100
concurrent tunnels."""

import asyncio
import hashlib
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsbtest as T  # noqa: E402

import websockets  # noqa: E402

BIG = 100 * T.MiB


def connect(b, path, **kw):
    kw.setdefault("max_size", None)
    kw.setdefault("ping_interval", None)
    kw.setdefault("compression", None)
    kw.setdefault("open_timeout", 10)
    kw.setdefault("close_timeout", 10)
    return websockets.connect(b.url(path), **kw)


async def drain(ws, timeout, what):
    """Receives until the server closes. Returns (bytes, sha256 hex, types
    seen, close code, close reason)."""
    h = hashlib.sha256()
    n = 0
    types = set()

    async def loop():
        nonlocal n
        try:
            while True:
                m = await ws.recv()
                types.add(type(m).__name__)
                if isinstance(m, str):
                    m = m.encode()
                h.update(m)
                n += len(m)
        except websockets.ConnectionClosed:
            pass
    await T.wait_for(loop(), timeout, what + " (got %d bytes so far)" % n)
    return n, h.hexdigest(), types, ws.close_code, ws.close_reason


async def read_bytes(ws, n, timeout, what):
    """Reads binary messages until n bytes arrived; returns them and the
    message types seen."""
    got = bytearray()
    types = set()

    async def loop():
        while len(got) < n:
            m = await ws.recv()
            types.add(type(m).__name__)
            got.extend(m.encode() if isinstance(m, str) else m)
    await T.wait_for(loop(), timeout, "%s: %d of %d bytes" % (what,
        len(got), n))
    return bytes(got), types


def main():
    sink = T.SinkBackend()
    source = T.SourceBackend(BIG, seed=12)
    echo = T.EchoBackend()
    midclose = T.MidCloseBackend(3 * T.MiB + 17, seed=13)
    release = threading.Event()
    reset = T.MidCloseBackend(100003, seed=14, rst=True, release=release)
    refused = T.closed_port()
    smallsrc = T.SourceBackend(200000, seed=15)

    text = ("aé€𝄞 ÿ—✓ z" * 40)
    tbytes = text.encode()
    cuts = list(range(0, len(tbytes), 7)) + [len(tbytes)]
    tchunks = [tbytes[a:b] for a, b in zip(cuts, cuts[1:])]
    got_msg = threading.Event()
    text_errors = []

    def text_backend(c):
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i, ch in enumerate(tchunks):
            got_msg.clear()
            c.sendall(ch)
            # Lockstep: the next chunk only after the client saw a message,
            # so every split really reaches wsbridge as its own read.
            if i + 1 < len(tchunks) and not got_msg.wait(5):
                text_errors.append("no text message within 5s after backend "
                    "chunk %d %r" % (i, ch))
        c.shutdown(socket.SHUT_WR)
        c.settimeout(10)
        try:
            while c.recv(4096):
                pass
        except OSError:
            pass

    def bad_utf8_backend(payload):
        def fn(c):
            c.sendall(payload)
            c.shutdown(socket.SHUT_WR)
            c.settimeout(10)
            try:
                while c.recv(4096):
                    pass
            except OSError:
                pass
        return fn

    textsrc = T.ScriptBackend(text_backend)
    bad1 = T.ScriptBackend(bad_utf8_backend(b"valid " + b"\xff" + b" more"))
    bad2 = T.ScriptBackend(bad_utf8_backend(b"sur" + b"\xed\xa0\x80" + b"x"))
    bad3 = T.ScriptBackend(bad_utf8_backend(b"truncated at EOF \xe2\x82"))

    def banner_backend(c):
        c.sendall(b"HELLO FROM BACKEND\r\n")
        while True:
            x = c.recv(65536)
            if not x:
                return
            c.sendall(x)

    late = T.queue.Queue()

    def halfclose_backend(c):
        # Says goodbye and half-closes, but keeps reading: what the client
        # sends before it answers wsbridge's close must still arrive.
        c.sendall(b"bye")
        c.shutdown(socket.SHUT_WR)
        got = bytearray()
        c.settimeout(20)
        try:
            while True:
                x = c.recv(65536)
                if not x:
                    break
                got += x
        except OSError as e:
            got += ("<%s>" % e).encode()
        late.put(bytes(got))

    mbtext = "€𝄞é" * 200 + "end"

    def multibyte_backend(c):
        c.sendall(mbtext.encode())
        c.shutdown(socket.SHUT_WR)
        c.settimeout(10)
        try:
            while c.recv(4096):
                pass
        except OSError:
            pass

    banner = T.ScriptBackend(banner_backend)
    mbsrc = T.ScriptBackend(multibyte_backend)
    halfclose = T.ScriptBackend(halfclose_backend)
    sink2 = T.SinkBackend()

    d = T.tmpdir()
    upath = os.path.join(d, "echo.sock")
    uecho = T.UnixEchoBackend(upath)

    b = T.Bridge(
        "--route", "/sink=%s" % sink.addr,
        "--route", "/source=%s" % source.addr,
        "--route", "/echo=%s" % echo.addr,
        "--route", "/midclose=%s" % midclose.addr,
        "--route", "/reset=%s" % reset.addr,
        "--route", "/refused=127.0.0.1:%d" % refused,
        "--route", "/smallframes=%s max-frame=1k" % smallsrc.addr,
        "--route", "/text=%s mode=text" % textsrc.addr,
        "--route", "/bad1=%s mode=text" % bad1.addr,
        "--route", "/bad2=%s mode=text" % bad2.addr,
        "--route", "/bad3=%s mode=text" % bad3.addr,
        "--route", "/unix=unix:%s" % upath,
        "--route", "/banner=%s" % banner.addr,
        "--route", "/halfclose=%s" % halfclose.addr,
        "--route", "/sink2=%s" % sink2.addr,
        "--route", "/localhost=localhost:%d" % echo.port,
        "--route", "/textframes=%s mode=text max-frame=1" % mbsrc.addr,
        "--route", "/nounix=unix:%s" % os.path.join(d, "missing.sock"),
        "-o", "close-timeout 2s")

    async def upload():
        async with connect(b, "/sink") as ws:
            for chunk in T.pattern(BIG, 11):
                await T.wait_for(ws.send(chunk), 30, "send 256 KiB")
        return sink.wait_result(30)

    with T.subtest("tcp-keepalive: both sockets of a tunnel probe an idle "
            "peer (the kernel's timer, seen with ss); 0 turns it off"):
        import subprocess

        def timers(port):
            """ss's timer column for established TCP sockets with local
            or remote port, one string per socket."""
            out = subprocess.run(["ss", "-tnoH", "state", "established",
                "( sport = :%d or dport = :%d )" % (port, port)],
                capture_output=True, text=True, timeout=30).stdout
            return [l for l in out.splitlines() if l.strip()]

        kecho = T.EchoBackend()  # only this subtest connects to it
        for arg, want in (("30s", True), ("0", False)):
            kb = T.Bridge("--route", "/e=%s" % kecho.addr, "-o",
                "tcp-keepalive " + arg, name="wsbridge-ka-" + arg)
            t = T.raw_ws(kb.port, "/e")
            t.send_frame(T.OP_BINARY, b"hello")
            T.expect_eq(t.recv_message(10), (T.OP_BINARY, b"hello"),
                "echo (tcp-keepalive %s)" % arg)
            # wsbridge's two sockets, once nothing is in flight on them
            # (ss shows one timer: a retransmit one while bytes wait).
            for _ in T.deadline_loop(30, "both sockets idle"):
                client_side = [l for l in timers(kb.port)
                    if l.split()[2].endswith(":%d" % kb.port)]
                backend_side = [l for l in timers(kecho.port)
                    if l.split()[3].endswith(":%d" % kecho.port)]
                lines = client_side + backend_side
                if len(client_side) == 1 and len(backend_side) >= 1 and \
                        all(l.split()[1] == "0" for l in lines) and \
                        not any("timer:(on" in l for l in lines):
                    break
            T.check(len(client_side) >= 1 and len(backend_side) >= 1,
                "ss sees both sockets", ">= 1 each",
                (client_side, backend_side))
            for what, lines in (("client", client_side),
                    ("backend", backend_side)):
                has = any("keepalive" in l for l in lines)
                T.expect_eq(has, want, "keepalive timer on the %s socket "
                    "with tcp-keepalive %s: %s" % (what, arg, lines))
            t.close()
            kb.stop()

    with T.subtest("100 MiB upload to a sink backend"):
        n, digest = T.arun(upload(), 90)
        T.expect_eq(n, BIG, "bytes received by the backend")
        T.expect_eq(digest, T.pattern_digest(BIG, 11),
            "sha256 of what the backend received")

    async def download():
        async with connect(b, "/source") as ws:
            return await drain(ws, 90, "100 MiB download")

    with T.subtest("100 MiB download from a source backend"):
        n, digest, types, code, _ = T.arun(download(), 100)
        T.expect_eq(n, BIG, "bytes received by the client")
        T.expect_eq(digest, T.pattern_digest(BIG, 12), "sha256")
        T.expect_eq(types, {"bytes"}, "message types (binary only)")
        T.expect_eq(code, 1000, "close code after the backend's EOF")

    async def varied():
        sizes = [1, 2, 125, 126, 1000, 65535, 65536, 65537, 300000, T.MiB]
        async with connect(b, "/echo") as ws:
            for n in sizes:
                data = T.pattern_bytes(n, 100 + n)
                await ws.send(data)
                got, types = await read_bytes(ws, n, 20, "echo of %d B" % n)
                T.check(got == data, "%d-byte binary message came back "
                    "intact" % n, n, len(got))
                T.expect_eq(types, {"bytes"}, "types of the replies")
            # Text from the client goes to the backend as raw bytes too.
            s = "text → backend € 𝄞"
            await ws.send(s)
            got, types = await read_bytes(ws, len(s.encode()), 10, "text")
            T.expect_eq(got, s.encode(), "text payload forwarded as bytes")
            # Empty messages forward nothing and break nothing.
            await ws.send(b"")
            await ws.send("")
            # Pipelined: all sizes at once, then read the total back.
            blob = [T.pattern_bytes(n, 200 + n) for n in sizes]
            for x in blob:
                await ws.send(x)
            want = b"".join(blob)
            got, _ = await read_bytes(ws, len(want), 30, "pipelined echo")
            T.check(got == want, "%d pipelined bytes in order" % len(want),
                len(want), len(got))

    with T.subtest("varied message sizes both ways through a TCP echo"):
        T.arun(varied(), 90)

    with T.subtest("max-frame=1k bounds outbound frames"):
        c = T.raw_ws(b.port, "/smallframes")
        data = bytearray()
        biggest = 0
        nframes = 0
        in_msg = False
        code = None
        for _ in range(100000):
            f = c.recv_frame(10)
            if f.opcode == T.OP_CLOSE:
                code = f.close_code()
                break
            nframes += 1
            want_op = T.OP_CONT if in_msg else T.OP_BINARY
            if f.opcode != want_op:
                T.fail("frame %d: expected opcode %d, got %r" % (nframes,
                    want_op, f))
            in_msg = not f.fin
            biggest = max(biggest, len(f.payload))
            data += f.payload
        T.check(biggest <= 1024, "largest frame payload <= 1024", "<= 1024",
            biggest)
        T.expect_eq(len(data), 200000, "bytes received")
        T.expect_eq(hashlib.sha256(data).hexdigest(),
            T.pattern_digest(200000, 15), "sha256")
        T.expect_eq(code, 1000, "close code")
        c.close()

    async def textmode():
        async with connect(b, "/text") as ws:
            parts = []
            try:
                while True:
                    m = await T.wait_for(ws.recv(), 15, "text message")
                    parts.append(m)
                    got_msg.set()
            except websockets.ConnectionClosed:
                pass
            return parts, ws.close_code

    with T.subtest("mode=text: characters split across backend writes"):
        parts, code = T.arun(textmode(), 60)
        T.expect_eq(text_errors, [], "lockstep errors")
        T.expect_eq(sorted({type(p).__name__ for p in parts}), ["str"],
            "all messages are text")
        T.check(len(parts) >= len(tchunks) - 1, "one message per backend "
            "write or so", ">= %d" % (len(tchunks) - 1), len(parts))
        T.expect_eq("".join(parts), text, "concatenation of the messages")
        T.expect_eq(code, 1000, "close code after the backend's EOF")

    async def bad(path):
        async with connect(b, path) as ws:
            parts = []
            try:
                while True:
                    parts.append(await T.wait_for(ws.recv(), 10, "message"))
            except websockets.ConnectionClosed:
                pass
            return parts, ws.close_code

    for path, what, prefix in (("/bad1", "a 0xFF byte", "valid "),
            ("/bad2", "a UTF-16 surrogate", "sur"),
            ("/bad3", "a sequence truncated by EOF", "truncated at EOF ")):
        with T.subtest("mode=text: %s from the backend -> 1011" % what):
            parts, code = T.arun(bad(path), 30)
            T.expect_eq(code, 1011, "close code")
            joined = "".join(p for p in parts if isinstance(p, str))
            T.check(prefix.startswith(joined), "only the valid prefix was "
                "delivered (if anything)", repr(prefix), repr(joined))

    async def mid():
        async with connect(b, "/midclose") as ws:
            return await drain(ws, 30, "mid-stream close")

    with T.subtest("backend closes after 3 MiB+17: every byte, then 1000"):
        n, digest, types, code, _ = T.arun(mid(), 40)
        T.expect_eq(n, 3 * T.MiB + 17, "bytes received")
        T.expect_eq(digest, T.pattern_digest(3 * T.MiB + 17, 13), "sha256")
        T.expect_eq(code, 1000, "close code")

    async def rst():
        async with connect(b, "/reset") as ws:
            got, _ = await read_bytes(ws, 100003, 20, "data before the reset")
            release.set()
            try:
                extra = await T.wait_for(ws.recv(), 10, "close after reset")
                T.fail("unexpected message after all data: %d bytes" %
                    len(extra))
            except websockets.ConnectionClosed:
                pass
            return got, ws.close_code

    with T.subtest("backend resets after sending data: data, then 1011"):
        got, code = T.arun(rst(), 40)
        T.expect_eq(hashlib.sha256(got).hexdigest(),
            T.pattern_digest(100003, 14), "sha256 of the data")
        T.expect_eq(code, 1011, "close code after a backend reset")

    with T.subtest("backend refused -> 502"):
        c = T.RawConn(b.port)
        c.send(T.upgrade_request("/refused"))
        st, _, _ = c.read_response(10)
        T.expect_eq(st, 502, "status")
        c.close()

    async def unix():
        async with connect(b, "/unix") as ws:
            data = os.urandom(200000)
            await ws.send(data)
            got, _ = await read_bytes(ws, len(data), 10, "unix echo")
            T.check(got == data, "200000 bytes echoed via a unix socket",
                len(data), len(got))

    with T.subtest("unix:/path target"):
        T.arun(unix(), 30)

    async def concurrent():
        async def one(i):
            async with connect(b, "/echo") as ws:
                data = ("conn %03d " % i).encode() + T.pattern_bytes(1000, i)
                await ws.send(data)
                got, _ = await read_bytes(ws, len(data), 30, "conn %d" % i)
                if got != data:
                    T.fail("connection %d: echo differs" % i)
                await ws.send("second %d" % i)
                got, _ = await read_bytes(ws, len("second %d" % i), 30,
                    "conn %d again" % i)
                if got != ("second %d" % i).encode():
                    T.fail("connection %d: second echo differs" % i)
            return i
        before = echo.accepted
        res = await asyncio.gather(*(one(i) for i in range(100)),
            return_exceptions=True)
        errs = [r for r in res if not isinstance(r, int)]
        T.check(not errs, "100 concurrent tunnels succeeded", "0 errors",
            "%d errors, first: %r" % (len(errs), errs[:3]))
        T.check(echo.accepted - before >= 100, "backend saw 100 connections",
            ">= 100", echo.accepted - before)

    with T.subtest("100 concurrent connections through a TCP echo backend"):
        T.arun(concurrent(), 60)

    with T.subtest("frames in the same write as the request reach a TCP "
            "backend"):
        c = T.RawConn(b.port)
        c.send(T.upgrade_request("/echo") + T.frame(T.OP_BINARY, b"early") +
            T.frame(T.OP_TEXT, " and text"))
        st, _, _ = c.read_response(10)
        T.expect_eq(st, 101, "status")
        got = bytearray()
        while len(got) < len(b"early and text"):
            op, part = c.recv_message(5)
            got += part
        T.expect_eq(bytes(got), b"early and text", "echo through the backend")
        c.close()

    with T.subtest("a backend that speaks first (banner): delivered after "
            "the 101"):
        c = T.raw_ws(b.port, "/banner")
        op, got = c.recv_message(5)
        T.expect_eq((op, got), (T.OP_BINARY, b"HELLO FROM BACKEND\r\n"),
            "banner as the first message")
        c.send_frame(T.OP_BINARY, b"then echo")
        op, got = c.recv_message(5)
        T.expect_eq(got, b"then echo", "echo after the banner")
        c.close()

    with T.subtest("client closes during a 100 MiB download: close answered "
            "promptly"):
        c = T.raw_ws(b.port, "/source")
        n = 0
        while n < T.MiB:
            f = c.recv_frame(10)
            n += len(f.payload)
        t0 = time.monotonic()
        c.send_frame(T.OP_CLOSE, T.close_payload(1000, "enough"))
        skipped = []
        code, reason = c.recv_close(10, collect=skipped)
        dt = time.monotonic() - t0
        T.expect_eq(code, 1000, "close code answered")
        T.check(dt < 5, "close answered within 5s", "< 5s", "%.2fs" % dt)
        T.check(c.wait_eof(5), "TCP closed after the close handshake")
        T.log("   (%d data frames arrived between our close and its answer)"
            % len(skipped))
        c.close()

    with T.subtest("client vanishes (TCP EOF, no close frame) after 5 MiB: "
            "backend gets every byte, then EOF"):
        c = T.raw_ws(b.port, "/sink2")
        zero = b"\0\0\0\0"
        for chunk in T.pattern(5 * T.MiB, 31):
            c.send(T.frame(T.OP_BINARY, chunk, key=zero))
        c.sock.shutdown(socket.SHUT_WR)
        n, digest = sink2.wait_result(15)
        T.expect_eq(n, 5 * T.MiB, "bytes received by the backend")
        T.expect_eq(digest, T.pattern_digest(5 * T.MiB, 31), "sha256")
        T.check(c.wait_eof(5), "wsbridge closed the client's TCP")
        c.close()

    with T.subtest("backend EOF: close 1000; data the client sends before "
            "answering still reaches the backend"):
        c = T.raw_ws(b.port, "/halfclose")
        op, got = c.recv_message(5)
        T.expect_eq(got, b"bye", "backend's last bytes")
        code, _ = c.recv_close(5)
        T.expect_eq(code, 1000, "close code after the backend's EOF")
        c.send_frame(T.OP_BINARY, b"late data")
        c.send_frame(T.OP_CLOSE, T.close_payload(1000))
        T.check(c.wait_eof(5), "TCP closed after the close handshake")
        try:
            got = late.get(timeout=10)
        except T.queue.Empty:
            T.fail("half-closed backend saw no EOF within 10s")
        T.expect_eq(got, b"late data", "what the half-closed backend read")
        c.close()

    with T.subtest("client that never answers wsbridge's close: TCP closed "
            "after close-timeout (2s)"):
        c = T.raw_ws(b.port, "/midclose")
        t0 = None
        n = 0
        while True:
            f = c.recv_frame(10)
            if f.opcode == T.OP_CLOSE:
                t0 = time.monotonic()
                T.expect_eq(f.close_code(), 1000, "close code")
                break
            n += len(f.payload)
        T.expect_eq(n, 3 * T.MiB + 17, "bytes before the close")
        T.check(c.wait_eof(8), "TCP closed without our answer")
        dt = time.monotonic() - t0
        T.check(1.0 <= dt <= 4.5, "closed after about close-timeout",
            "1.0..4.5s", "%.2fs" % dt)
        c.close()

    with T.subtest("target by name (localhost:PORT, backend on 127.0.0.1 "
            "only)"):
        c = T.raw_ws(b.port, "/localhost")
        c.send_frame(T.OP_BINARY, b"via localhost")
        op, got = c.recv_message(5)
        T.expect_eq(got, b"via localhost", "echo")
        c.close()

    with T.subtest("missing unix socket -> 502"):
        c = T.RawConn(b.port)
        c.send(T.upgrade_request("/nounix"))
        st, _, _ = c.read_response(10)
        T.expect_eq(st, 502, "status")
        c.close()

    with T.subtest("mode=text with max-frame=1: frames never split a "
            "message into invalid text"):
        c = T.raw_ws(b.port, "/textframes")
        msgs = []
        cur, op0 = [], None
        biggest = 0
        while True:
            f = c.recv_frame(10)
            if f.opcode == T.OP_CLOSE:
                code = f.close_code()
                break
            biggest = max(biggest, len(f.payload))
            if op0 is None:
                op0 = f.opcode
                T.expect_eq(op0, T.OP_TEXT, "first frame of a message")
            cur.append(f.payload)
            if f.fin:
                msgs.append(b"".join(cur))
                cur, op0 = [], None
        try:
            text = "".join(m.decode("utf-8") for m in msgs)
        except UnicodeDecodeError as e:
            T.fail("a text message is not valid UTF-8: %s" % e)
        T.expect_eq(text, mbtext, "concatenated text")
        T.check(biggest <= 4, "frames hold at most one character", "<= 4",
            biggest)
        T.expect_eq(code, 1000, "close code")
        c.close()

    with T.subtest("a ping during a fast 100 MiB download is answered "
            "without waiting for the download"):
        c = T.raw_ws(b.port, "/source")
        n = 0
        while n < 4 * T.MiB:
            n += len(c.recv_frame(10).payload)
        c.send_frame(T.OP_PING, b"are you there")
        after = 0
        while True:
            f = c.recv_frame(10)
            if f.opcode == T.OP_PONG:
                break
            if f.opcode == T.OP_CLOSE:
                T.fail("download ended (%d bytes after the ping) without a "
                    "pong" % after)
            after += len(f.payload)
        T.log("   pong after %d payload bytes" % after)
        T.expect_eq(f.payload, b"are you there", "pong payload")
        T.check(after <= 24 * T.MiB, "pong not stuck behind the download",
            "<= 24 MiB of data first", after)
        c.send_frame(T.OP_CLOSE, T.close_payload(1000))
        c.recv_close(10)
        c.close()

    with T.subtest("backend threads saw no errors"):
        errs = []
        for be in (sink, source, echo, midclose, smallsrc, textsrc, bad1):
            errs += be.errors
        T.expect_eq([e for e in errs if "Broken pipe" not in e and
            "reset" not in e], [], "backend errors")

    T.expect_eq(b.stop(), 0, "exit status after SIGTERM")
    uecho.close()


T.run(main)
