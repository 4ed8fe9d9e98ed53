#!/usr/bin/python3
"""test_h2.py -- WebSockets over HTTP/2 (RFC 8441) against an independent
client (python3-h2 + wsproto framing, see h2ws.py), over TLS (ALPN h2) and
h2c with prior knowledge: many streams on one connection with SHA-256 per
stream, a slow backend that must stall only its own stream, every negative
case with its status or RST_STREAM while a keeper stream goes on working,
the close rules (close frame then END_STREAM, no waiting for the client's
END_STREAM, RST_STREAM(CANCEL) on abort), the stream limit, GOAWAY with
draining on SIGTERM, and bytes nghttp2 refuses (a PING flood, a bad
preface) answered with GOAWAY and the code nghttp2 names, what the client
sends after it read and dropped."""

import hashlib
import os
import random
import signal
import socket
import ssl
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import h2.errors  # noqa: E402
import h2.settings  # noqa: E402

import certs  # noqa: E402
import h2ws  # noqa: E402
import wsbtest as T  # noqa: E402

MiB = 1024 * 1024
E = h2.errors.ErrorCodes


def text_payload(n, seed):
    """About n bytes of UTF-8 with 1- to 4-byte characters."""
    chars = "a\u00e9\u20ac\U0001d11e"
    s = "".join(chars[(i * 7 + seed) % 4] for i in range(n // 2 + 1))
    b = s.encode("utf-8")
    return b[:n].decode("utf-8", "ignore")


def tiny_data(b, port, tls):
    """DATA cut into 1-9 byte frames, interleaved over 4 streams and written
    at once: wsbridge parses hundreds of DATA frames per read (its flat
    path pauses nghttp2 every 64 chunks), WebSocket headers cut across
    frames. 3 streams to a TCP echo backend (the whole byte stream compared),
    1 on the built-in echo (message by message)."""
    c = h2ws.H2Client(port, tls=tls)
    sts = [c.connect_ws("/tcp") for _ in range(3)] + [c.connect_ws("/echo")]
    plan = []
    for i, st in enumerate(sts):
        msgs = [T.pattern_bytes(n, 70 + i) for n in (1, 125, 126, 5000,
            70000, 3)]
        wire = b"".join(st.fp.send_data(m, True) for m in msgs)
        plan.append([st, msgs, wire, 0])
    rng = random.Random(8)
    pieces = 0
    while any(p[3] < len(p[2]) for p in plan):
        for p in plan:
            if p[3] >= len(p[2]):
                continue
            n = rng.randint(1, 9) if pieces < 4000 else 8192
            c.conn.send_data(p[0].sid, p[2][p[3]:p[3] + n])
            p[3] += n
            pieces += 1
    c._flush_h2()
    T.log("   %d DATA frames, %d bytes in one write" % (pieces, len(c.wbuf)))
    c.flush(30)

    def all_back():
        for st, msgs, _, _ in plan:
            got = sum(len(m[1]) for m in st.messages)
            if got < sum(len(m) for m in msgs):
                return False
        return True
    c.wait(all_back, 30, "every echo of the tiny DATA frames")
    for st, msgs, _, _ in plan[:3]:
        T.expect_eq(hashlib.sha256(b"".join(m[1] for m in st.messages))
            .hexdigest(), hashlib.sha256(b"".join(msgs)).hexdigest(),
            "TCP echo on stream %d, every byte in order" % st.sid)
    st, msgs = plan[3][0], plan[3][1]
    T.expect_eq([m[1] for m in st.messages], msgs,
        "built-in echo on stream %d, message by message" % st.sid)
    c.close()


def many_streams(b, port, tls):
    """10 WebSocket streams on one connection: 6 on the built-in echo (per
    message SHA-256, text and binary up to 16 MiB), 4 to a TCP echo backend
    (SHA-256 of the whole byte stream)."""
    c = h2ws.H2Client(port, tls=tls)
    T.expect_eq(c.settings.get(8), 1, "SETTINGS_ENABLE_CONNECT_PROTOCOL")
    plan = []
    for i in range(6):
        st = c.connect_ws("/echo", protocols=["superchat"], keep=False)
        T.expect_eq(st.headers.get("sec-websocket-protocol"), ["superchat"],
            "subprotocol on stream %d" % st.sid)
        msgs = [("text", text_payload(100 + i, i)), ("bin", b""),
                ("bin", T.pattern_bytes(65536 + i, i))]
        if i == 0:
            msgs.append(("bin", T.pattern_bytes(16 * MiB, 99)))
        elif i == 1:
            msgs.append(("text", text_payload(4 * MiB, 5)))
        else:
            msgs.append(("bin", T.pattern_bytes(MiB + 17 * i, i)))
        plan.append((st, msgs, None))
    for i in range(4):
        st = c.connect_ws("/tcp", keep=False)
        data = T.pattern_bytes((8 if i == 0 else 1) * MiB + i, 50 + i)
        plan.append((st, [("bin", data[j:j + 300000]) for j in
            range(0, len(data), 300000)], data))
    t0 = time.monotonic()
    total = 0
    for st, msgs, _ in plan:
        for kind, p in msgs:
            c.send_message(st, p)
            total += len(p.encode() if isinstance(p, str) else p)

    def all_back():
        for st, msgs, whole in plan:
            if whole is not None:
                if st.recv_payload < len(whole):
                    return False
            elif len(st.digests) < len(msgs):
                return False
        return True
    c.wait(all_back, 120, "every echo on 10 streams")
    dt = time.monotonic() - t0
    T.log("   %d streams, %.1f MiB each way in %.2fs" % (len(plan),
        total / MiB, dt))
    # We advertised max_frame 256 KiB; wsbridge sends up to 64 KiB.
    T.expect_eq(c.max_data, 64 * 1024, "largest DATA frame payload sent "
        "to a client that allows more than 16 KiB")
    import hashlib
    for st, msgs, whole in plan:
        if whole is not None:
            T.expect_eq(st.all_hash.hexdigest(),
                hashlib.sha256(whole).hexdigest(),
                "SHA-256 of %d bytes through the TCP backend on stream %d" %
                (len(whole), st.sid))
            continue
        want = []
        for kind, p in msgs:
            raw = p.encode() if isinstance(p, str) else p
            want.append((1 if kind == "text" else 2, len(raw),
                hashlib.sha256(raw).hexdigest()))
        got = [(int(op), n, h) for op, n, h in st.digests]
        T.expect_eq(got, want, "opcode, length, SHA-256 of each message "
            "on stream %d" % st.sid)
    for st, _, _ in plan:
        c.send_close(st, 1000, "done")
    c.wait(lambda: all(st.done() for st, _, _ in plan), 15,
        "close handshakes on every stream")
    for st, _, _ in plan:
        T.check(st.close is not None and st.close[0] == 1000 and
            st.remote_ended and st.reset is None,
            "stream %d: close 1000 echoed, then END_STREAM" % st.sid)
    c.close()
    return dt


def slow_backend(b, port, slow):
    """A stream whose backend reads slowly must not slow the others."""
    n, size = 4, 4 * MiB

    def run_echoes(c):
        sts = [c.connect_ws("/echo", keep=False) for _ in range(n)]
        t0 = time.monotonic()
        for i, st in enumerate(sts):
            c.send_message(st, T.pattern_bytes(size, 200 + i))
        c.wait(lambda: all(len(st.digests) == 1 for st in sts), 60,
            "4 x 4 MiB echoes")
        dt = time.monotonic() - t0
        for i, st in enumerate(sts):
            T.expect_eq(st.digests[0][2], T.pattern_digest(size, 200 + i),
                "echo SHA-256 on stream %d" % st.sid)
            c.send_close(st)
        return dt

    c = h2ws.H2Client(port)
    alone = run_echoes(c)
    c.close()

    c = h2ws.H2Client(port)
    st_slow = c.connect_ws("/slow", keep=False)
    c.send_message(st_slow, T.pattern_bytes(32 * MiB, 7))
    # Let the slow stream fill every buffer on its way first.
    c.wait(lambda: c.conn.local_flow_control_window(st_slow.sid) == 0 and
        slow.received > 0, 20, "the slow stream's window to close")
    with_slow = run_echoes(c)
    win = c.conn.local_flow_control_window(st_slow.sid)
    sent = st_slow.out_off
    T.log("   4 x 4 MiB echo: %.2fs alone, %.2fs beside the slow stream; "
        "slow stream: %d bytes sent, %d read by its backend, window now %d"
        % (alone, with_slow, sent, slow.received, win))
    T.check(with_slow <= 2 * alone + 1.0,
        "echo streams beside a stalled stream take at most 2x + 1s",
        "<= %.2fs" % (2 * alone + 1.0), "%.2fs" % with_slow)
    T.check(sent < 32 * MiB, "the slow stream could not push everything "
        "(window closed by its backend)", "< 32 MiB", sent)
    # Abort it: RST_STREAM(CANCEL) closes its backend.
    c.reset_stream(st_slow, E.CANCEL)
    r = slow.wait_result(15)
    T.log("   slow backend got %d bytes before the abort" % r[0])
    b.wait_log(r"/s%d: stream done .*recv-stall=(?!0\.000)" % st_slow.sid, 10)
    c2 = c.connect_ws("/echo")
    c.send_message(c2, b"still here")
    c.wait(lambda: c2.messages, 10, "echo after the abort")
    c.close()


def expect_status(c, st, status, what, timeout=10):
    c.wait(lambda: st.status is not None or st.reset is not None, timeout,
        "an answer to: " + what)
    T.check(st.status == status, what + ": :status %d" % status, status,
        (st.status, st.reset, bytes(st.body[:100])))


def expect_reset(c, st, code, what, timeout=10):
    c.wait(lambda: st.status is not None or st.reset is not None, timeout,
        "an answer to: " + what)
    T.check(st.reset == code and st.status is None,
        what + ": RST_STREAM(%s)" % code.name, code,
        (st.status, st.reset, bytes(st.body[:100])))


def negative_cases(b, port, tls, hole):
    c = h2ws.H2Client(port, tls=tls, validate=False)
    keeper = c.connect_ws("/echo")
    a = c.authority
    sch = c.scheme
    rounds = [0]

    def keeper_ok():
        rounds[0] += 1
        msg = b"keeper %d" % rounds[0]
        c.send_message(keeper, msg)
        c.wait(lambda: keeper.messages and keeper.messages[-1][1] == msg, 10,
            "the keeper stream's echo")

    base = [(":method", "CONNECT"), (":protocol", "websocket"),
        (":scheme", sch), (":path", "/echo"), (":authority", a),
        ("sec-websocket-version", "13")]

    def without(name):
        return [h for h in base if h[0] != name]

    cases = [
        ("CONNECT with :path but no :protocol", without(":protocol"),
            False, ("reset", E.PROTOCOL_ERROR)),
        ("pseudo-header after a regular field", [(":method", "CONNECT"),
            (":protocol", "websocket"), ("sec-websocket-version", "13"),
            (":scheme", sch), (":path", "/echo"), (":authority", a)],
            False, ("reset", E.PROTOCOL_ERROR)),
        ("extended CONNECT without :authority", without(":authority"),
            False, ("reset", E.PROTOCOL_ERROR)),
        ("plain CONNECT (no proxying)", [(":method", "CONNECT"),
            (":authority", "example.com:443")], False, ("status", 405)),
        (":protocol other than websocket",
            [(n, "h3-datagram" if n == ":protocol" else v) for n, v in base],
            False, ("status", 501)),
        ("sec-websocket-version 8",
            [(n, "8" if n == "sec-websocket-version" else v) for n, v in base],
            False, ("status", 400)),
        ("no sec-websocket-version", without("sec-websocket-version"),
            False, ("status", 400)),
        ("no route for the path",
            [(n, "/nowhere" if n == ":path" else v) for n, v in base],
            False, ("status", 404)),
        ("Origin not on the allowlist",
            [(n, "/only" if n == ":path" else v) for n, v in base] +
            [("origin", "https://evil.example")], False, ("status", 403)),
        ("a required subprotocol not offered",
            [(n, "/req" if n == ":path" else v) for n, v in base] +
            [("sec-websocket-protocol", "other")], False, ("status", 400)),
        ("END_STREAM on the CONNECT", base, True, ("status", 400)),
        ("backend refused", [(n, "/down" if n == ":path" else v)
            for n, v in base], False, ("status", 502)),
        ("GET /", [(":method", "GET"), (":scheme", sch), (":path", "/"),
            (":authority", a)], True, ("status", 404)),
        ("POST /echo", [(":method", "POST"), (":scheme", sch),
            (":path", "/echo"), (":authority", a)], True, ("status", 405)),
        ("header list over max-header-size", base +
            [("x-big", "b" * 9000)], False, ("status", 431)),
    ]
    if hole is not None:
        cases.append(("backend connect timeout", [(n, "/hole" if n == ":path"
            else v) for n, v in base], False, ("status", 504)))
    for what, hdrs, end, (kind, want) in cases:
        st = c.request(hdrs, end_stream=end)
        if kind == "reset":
            expect_reset(c, st, want, what)
        else:
            expect_status(c, st, want, what)
            if want == 400 and "version" in what:
                T.expect_eq(st.headers.get("sec-websocket-version"), ["13"],
                    what + ": sec-websocket-version: 13 in the answer")
            if want == 405 and "POST" in what:
                T.expect_eq(st.headers.get("allow"), ["CONNECT"],
                    what + ": allow header")
            c.wait(lambda: st.remote_ended or st.reset is not None, 10,
                "the end of the answer")
            T.check(st.body.startswith(b"%d " % want),
                what + ": body says the status", "%d ..." % want,
                bytes(st.body[:60]))
        keeper_ok()

    st = c.request([(":method", "HEAD"), (":scheme", sch), (":path", "/"),
        (":authority", a)], end_stream=True)
    expect_status(c, st, 404, "HEAD /")
    c.wait(lambda: st.remote_ended, 10, "END_STREAM of the HEAD answer")
    T.expect_eq(bytes(st.body), b"", "HEAD answer has no body")
    keeper_ok()
    c.send_close(keeper)
    c.wait(keeper.done, 10, "keeper close")
    c.close()

    # RFC 8441 3: :protocol before the client has seen our SETTINGS.
    c = h2ws.H2Client(port, tls=tls, handshake=False)
    st = c.open_ws("/echo")
    expect_reset(c, st, E.PROTOCOL_ERROR,
        "extended CONNECT sent before our SETTINGS")
    st2 = c.connect_ws("/echo")
    c.send_message(st2, "after")
    c.wait(lambda: st2.messages, 10, "echo on the same connection after")
    c.close()


def close_rules(b, port, src_port_path, silent_path):
    c = h2ws.H2Client(port)
    # The backend ends: data, close 1000, END_STREAM; the client answers the
    # close but keeps its side open, as Firefox does: we reset it ourselves.
    st = c.connect_ws(src_port_path, keep=False, auto_end=False)
    c.wait(lambda: st.close is not None, 15, "close frame after the data")
    T.expect_eq(st.recv_payload, 256 * 1024, "bytes before the close")
    T.expect_eq(st.close[0], 1000, "close code when the backend ends")
    c.queue(st, st.fp.close(1000))
    c.wait(lambda: st.remote_ended, 5, "END_STREAM after the close handshake")
    t0 = time.monotonic()
    c.wait(lambda: st.reset is not None, 6,
        "RST_STREAM while our side stays open")
    T.expect_eq(st.reset, E.NO_ERROR, "RST_STREAM code after the close")
    T.check(time.monotonic() - t0 < 4.5, "reset within the stream linger "
        "(2 s)", "< 4.5s", time.monotonic() - t0)

    # A client that never answers our close frame: RST_STREAM(CANCEL).
    st = c.connect_ws(silent_path, keep=False, auto_end=False)
    c.wait(lambda: st.close is not None, 15, "close frame from the server")
    c.wait(lambda: st.reset is not None, 8, "RST_STREAM after close-timeout")
    T.expect_eq(st.reset, E.CANCEL, "abort after an unanswered close")

    c.close()


PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
GOAWAY = 7
TCP_CLOSE = 7		# tcp_info's tcpi_state


def raw_frame(typ, flags, sid, payload=b""):
    return (struct.pack(">I", len(payload))[1:] + bytes((typ, flags)) +
        struct.pack(">I", sid) + payload)


def goaway_then_eof(sock, timeout=30):
    """Reads the server's frames up to the end of the stream; returns the
    error codes of its GOAWAY frames."""
    buf = bytearray()
    sock.settimeout(timeout)
    while True:
        d = sock.recv(65536)
        if not d:
            break
        buf += d
    codes = []
    i = 0
    while i + 9 <= len(buf):
        n = int.from_bytes(buf[i:i + 3], "big")
        if buf[i + 3] == GOAWAY:
            codes.append(int.from_bytes(buf[i + 13:i + 17], "big"))
        i += 9 + n
    T.expect_eq(i, len(buf), "whole frames up to the end of the stream")
    return codes


def refused_bytes(b, plain, tls, ctx):
    # A PING flood in one burst from a client that reads nothing meanwhile:
    # nghttp2 says FLOODED once its unsent ACKs pass its limit.
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", plain))
    mark = b.nlines()
    burst = PREFACE + raw_frame(4, 0, 0) + raw_frame(6, 0, 0,
        b"flooding") * 200000
    sender = threading.Thread(target=lambda: s.sendall(burst), daemon=True)
    sender.start()
    sender.join(60)
    T.check(not sender.is_alive(), "wsbridge reads the whole flood",
        "3.4 MB taken within 60 s", "the send still blocked")
    T.expect_eq(goaway_then_eof(s), [E.ENHANCE_YOUR_CALM],
        "GOAWAY code after a PING flood")
    b.wait_log(r"c\d+: peer=127\.0\.0\.1:\d+: Flooding was detected", 10,
        start=mark)
    # wsbridge has shut its write side and reads and drops what still
    # comes: bytes sent after the GOAWAY, then our end, close the
    # connection cleanly (a close with unread bytes would be a reset).
    s.sendall(b"\0" * MiB)
    s.shutdown(socket.SHUT_WR)
    for _ in T.deadline_loop(30, "wsbridge to close the connection"):
        if s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)[0] == \
                TCP_CLOSE:
            break
    T.expect_eq(s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR), 0,
        "a clean close after bytes sent past the GOAWAY (not a reset)")
    s.close()

    # Over TLS, ALPN h2 and then not the HTTP/2 preface.
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", tls)),
        server_hostname="127.0.0.1", suppress_ragged_eofs=False)
    T.expect_eq(s.selected_alpn_protocol(), "h2", "ALPN")
    mark = b.nlines()
    s.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    try:
        codes = goaway_then_eof(s)
    except ssl.SSLEOFError as e:
        T.fail("TCP ended without close_notify: %s" % e)
    T.expect_eq(codes, [E.PROTOCOL_ERROR], "GOAWAY code after a bad preface")
    b.wait_log(r"c\d+: peer=127\.0\.0\.1:\d+: Received bad client magic",
        10, start=mark)
    s.close()


def main():
    d = certs.make(T.tmpdir())
    echo_be = T.EchoBackend()
    slow = T.SinkBackend(read_size=16 * 1024, read_delay=0.02)
    src = T.SourceBackend(256 * 1024, seed=3)
    quiet = T.ScriptBackend(lambda conn: (conn.sendall(b"x"),
        conn.shutdown(socket.SHUT_WR), time.sleep(15)))
    hole = T.BlackholeBackend()
    watch_eof = threading.Event()

    def watch(conn):
        conn.settimeout(30)
        try:
            while conn.recv(65536):
                pass
        except OSError:
            pass
        watch_eof.set()
    watcher = T.ScriptBackend(watch)
    routes = ["/echo=echo subprotocols=chat,superchat",
        "/tcp=%s" % echo_be.addr, "/slow=%s" % slow.addr,
        "/src=%s" % src.addr, "/quiet=%s" % quiet.addr,
        "/watch=%s" % watcher.addr,
        "/only=echo origins=https://good.example",
        "/req=echo subprotocols=chat require-subprotocol=yes",
        "/down=127.0.0.1:%d" % T.closed_port(),
        "/hole=%s connect-timeout=500ms" % hole.addr]
    args = []
    for r in routes:
        args += ["--route", r]
    b = T.Bridge(*args, "-o", "close-timeout 1s", listen=("127.0.0.1:0",
        "127.0.0.1:0 tls cert=%s key=%s" % (d["cert"], d["key"])))
    plain, tls = b.addrs[0][1], b.addrs[1][1]

    with T.subtest("10 WebSocket streams on one h2c connection (prior "
            "knowledge), text and binary up to 16 MiB, SHA-256 per stream"):
        many_streams(b, plain, False)
    with T.subtest("10 WebSocket streams on one TLS connection (ALPN h2)"):
        many_streams(b, tls, True)
        b.wait_log(r"open peer=\S+ proto=h2 /echo", 30)
    with T.subtest("DATA in 1-9 byte frames over 4 streams, h2c and TLS"):
        tiny_data(b, plain, False)
        tiny_data(b, tls, True)
    with T.subtest("a stream whose backend reads slowly stalls only itself"):
        slow_backend(b, plain, slow)
    with T.subtest("negative cases over TLS: status or RST_STREAM each, "
            "the keeper stream unharmed"):
        negative_cases(b, tls, True, hole if hole.works else None)
    with T.subtest("negative cases over h2c"):
        negative_cases(b, plain, False, None)
    with T.subtest("closing: close frame then END_STREAM, RST_STREAM when "
            "the client keeps its side open, CANCEL on abort"):
        close_rules(b, plain, "/src", "/quiet")
        c = h2ws.H2Client(plain)
        st = c.connect_ws("/watch")
        c.send_message(st, b"some bytes")
        c.pump(0.1)
        c.reset_stream(st, E.CANCEL)
        c.pump(0.1)
        T.check(watch_eof.wait(10), "client RST_STREAM(CANCEL) closes the "
            "stream's backend connection")
        c.close()
    with T.subtest("bytes nghttp2 refuses: a PING flood gets GOAWAY "
            "(ENHANCE_YOUR_CALM), a bad preface over TLS GOAWAY "
            "(PROTOCOL_ERROR); later bytes read and dropped"):
        ctx = ssl.create_default_context(cafile=d["ca"])
        ctx.set_alpn_protocols(["h2"])
        refused_bytes(b, plain, tls, ctx)
        c = h2ws.H2Client(plain)
        st = c.connect_ws("/echo")
        c.send_message(st, b"after")
        c.wait(lambda: st.messages, 10, "an echo on a new connection")
        c.close()
    with T.subtest("h2-max-streams: advertised and enforced"):
        b2 = T.Bridge("--route", "/echo=echo", "-o", "h2-max-streams 3",
            name="wsbridge-limits")
        c = h2ws.H2Client(b2.port)
        T.expect_eq(c.settings.get(3), 3, "SETTINGS_MAX_CONCURRENT_STREAMS")
        T.expect_eq(c.settings.get(4), 256 * 1024,
            "SETTINGS_INITIAL_WINDOW_SIZE = buffer-size")
        sts = [c.connect_ws("/echo") for _ in range(3)]
        c.send_message(sts[2], b"ok")
        c.wait(lambda: sts[2].messages, 10, "echo on a stream within the limit")
        # Make h2 believe the server allows more, to send a 4th anyway,
        # after the limit was acknowledged: RFC 9113 5.1.2, a stream error
        # (REFUSED_STREAM: the client may retry it), the other streams and
        # the connection untouched.
        c.wait(lambda: c.settings_acked, 10, "our SETTINGS acknowledged")
        c.conn.remote_settings.max_concurrent_streams = 100
        c.conn.remote_settings.acknowledge()
        extra = c.open_ws("/echo")
        c.wait(lambda: extra.reset is not None, 10, "RST_STREAM")
        T.expect_eq(extra.reset, E.REFUSED_STREAM,
            "RST_STREAM code for a 4th concurrent stream")
        for i, st in enumerate(sts):
            c.send_message(st, b"still %d" % i)
        c.wait(lambda: all(len(st.messages) >= (2 if i == 2 else 1)
            for i, st in enumerate(sts)), 10,
            "the 3 streams within the limit still echo")
        T.check(c.goaway is None, "no GOAWAY")
        # A stream ends: a new one fits again.
        c.send_close(sts[0])
        c.wait(lambda: sts[0].done(), 10, "stream 1 ended")
        again = c.connect_ws("/echo")
        c.send_message(again, b"again")
        c.wait(lambda: again.messages, 10, "echo on a stream opened after "
            "one ended")
        c.close()
        T.expect_eq(b2.stop(), 0, "exit status")
    with T.subtest("rapid reset: streams reset before they open cost "
            "bounded backend connects, then GOAWAY(ENHANCE_YOUR_CALM)"):
        be = T.EchoBackend(backlog=1024)
        b4 = T.Bridge("--route", "/tcp=%s" % be.addr, "-o",
            "h2-max-streams 5", name="wsbridge-reset")
        c = h2ws.H2Client(b4.port)
        # 300 CONNECTs, each reset at once, in one write: a flood.
        sent = 300
        for _ in range(sent):
            sid = c.conn.get_next_available_stream_id()
            c.conn.send_headers(sid, c.ws_headers("/tcp"))
            c.conn.reset_stream(sid, E.CANCEL)
        c._flush_h2()
        try:
            c.flush(30)
        except OSError:
            pass		# the server may hang up before it read them all
        c.wait(lambda: c.goaway is not None, 10, "GOAWAY")
        T.expect_eq(c.goaway.error_code, E.ENHANCE_YOUR_CALM,
            "GOAWAY code after a burst of reset CONNECTs")
        b4.wait_log(r"reset 6 streams before they opened within 10 s: "
            r"GOAWAY\(ENHANCE_YOUR_CALM\)")
        T.check(c.wait_eof(10), "the server closes the connection")
        T.log("   %d CONNECTs reset, %d backend connects" % (sent,
            be.accepted))
        T.check(be.accepted <= 2 * 5 + 1, "backend connects bounded by "
            "2 x h2-max-streams + 1", "<= 11", be.accepted)
        c.close()
        c2 = h2ws.H2Client(b4.port)
        st = c2.connect_ws("/tcp")
        c2.send_message(st, b"calm")
        c2.wait(lambda: st.messages, 10, "echo on a new connection")
        c2.close()
        T.expect_eq(b4.stop(), 0, "exit status")
        be.close()
    with T.subtest("SIGTERM: GOAWAY, close 1001 on every stream, drained exit"):
        b3 = T.Bridge("--route", "/echo=echo", name="wsbridge-term")
        c = h2ws.H2Client(b3.port)
        sts = [c.connect_ws("/echo") for _ in range(3)]
        b3.signal(signal.SIGTERM)
        c.wait(lambda: all(st.close is not None for st in sts), 10,
            "close frames")
        T.expect_eq([st.close[0] for st in sts], [1001] * 3,
            "close codes after SIGTERM")
        late = c.open_ws("/echo")
        expect_status(c, late, 503, "a new stream while draining")
        c.wait(lambda: all(st.done() for st in sts), 10, "streams ended")
        c.wait(lambda: c.goaway is not None, 10, "GOAWAY once drained")
        T.expect_eq(c.goaway.error_code, E.NO_ERROR, "GOAWAY error code")
        T.check(c.wait_eof(10), "the server closes the connection")
        T.expect_eq(b3.wait_exit(10), 0, "drained exit status")
        b3.stop()
    T.expect_eq(b.stop(), 0, "exit status after SIGTERM")


T.run(main)
