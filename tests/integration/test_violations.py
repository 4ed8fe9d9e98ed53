#!/usr/bin/python3
"""test_violations.py -- hand-built frames that break RFC 6455, each on its
own raw connection: the close code wsbridge answers with, and the TCP close
after it. A healthy websockets connection runs beside them and must keep
echoing after every violation. Also: valid close codes echoed, ping/pong,
unsolicited pongs ignored, max-message (1009), and invalid UTF-8 failing fast
at the bad byte even inside an unfinished fragmented message."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsbtest as T  # noqa: E402

import websockets  # noqa: E402

F = T.frame
TEXT, BIN, CONT, CLOSE, PING, PONG = (T.OP_TEXT, T.OP_BINARY, T.OP_CONT,
    T.OP_CLOSE, T.OP_PING, T.OP_PONG)


def CP(code, reason=b""):
    return F(CLOSE, T.close_payload(code, reason))


VIOLATIONS = [
    ("unmasked text frame", F(TEXT, "hi", mask=False), 1002),
    ("unmasked close frame", F(CLOSE, T.close_payload(1000), mask=False),
        1002),
    ("RSV1 set (no extension negotiated)", F(TEXT, "hi", rsv=4), 1002),
    ("RSV2 set", F(BIN, b"hi", rsv=2), 1002),
    ("RSV3 set", F(BIN, b"hi", rsv=1), 1002),
    ("RSV1 on a ping", F(PING, b"p", rsv=4), 1002),
    ("reserved data opcode 0x3", F(3, b"x"), 1002),
    ("reserved data opcode 0x7", F(7, b"x"), 1002),
    ("reserved control opcode 0xB", F(0xB, b"x"), 1002),
    ("reserved control opcode 0xF", F(0xF, b""), 1002),
    ("ping with a 126-byte payload", F(PING, b"p" * 126), 1002),
    ("close with a 126-byte payload",
        F(CLOSE, T.close_payload(1000, b"r" * 124)), 1002),
    ("ping with 125 bytes in the 16-bit length form",
        F(PING, b"p" * 125, len_form=16), None),	# see note below
    ("fragmented ping", F(PING, b"a", fin=False) + F(CONT, b"b"), 1002),
    ("fragmented close", F(CLOSE, b"\x03", fin=False) +
        F(CONT, b"\xe8"), 1002),
    ("continuation without a message", F(CONT, b"x"), 1002),
    ("final continuation without a message", F(CONT, b"x", fin=True), 1002),
    ("text frame inside a fragmented text message",
        F(TEXT, "a", fin=False) + F(TEXT, "b"), 1002),
    ("binary frame inside a fragmented binary message",
        F(BIN, b"a", fin=False) + F(BIN, b"b"), 1002),
    ("text frame inside a fragmented binary message",
        F(BIN, b"a", fin=False) + F(CONT, b"b", fin=False) + F(TEXT, "c"),
        1002),
    ("64-bit length with the top bit set",
        F(BIN, b"", length=1 << 63, len_form=64), 1002),
    ("64-bit length 0xFFFFFFFFFFFFFFFF",
        F(BIN, b"", length=(1 << 64) - 1, len_form=64), 1002),
    ("invalid UTF-8: 0xFF", F(TEXT, b"ok\xff"), 1007),
    ("invalid UTF-8: overlong '/'", F(TEXT, b"\xc0\xaf"), 1007),
    ("invalid UTF-8: surrogate U+D800", F(TEXT, b"a\xed\xa0\x80b"), 1007),
    ("invalid UTF-8: above U+10FFFF", F(TEXT, b"\xf4\x90\x80\x80"), 1007),
    ("invalid UTF-8: message ends inside a character",
        F(TEXT, b"ab\xe2\x82"), 1007),
    ("invalid UTF-8 split across frames",
        F(TEXT, b"ab\xe2\x82", fin=False) + F(CONT, b"\x28cd"), 1007),
    ("invalid UTF-8 in the final continuation",
        F(TEXT, "€", fin=False) + F(CONT, b"", fin=False) +
        F(CONT, b"\xf0\x9d\x84"), 1007),
    ("close payload of 1 byte", F(CLOSE, b"\x03"), 1002),
    ("close reason not UTF-8", CP(1000, b"bad \xff reason"), 1007),
    ("close reason with a truncated character", CP(1000, b"\xe2\x82"), 1007),
]
for _code in (0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000,
        65535):
    VIOLATIONS.append(("invalid close code %d" % _code, CP(_code), 1002))

VALID_CLOSE_CODES = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011,
    3000, 3999, 4000, 4999]


class Healthy:
    """A websockets connection on its own loop thread that must keep
    echoing."""

    def __init__(self, b):
        self.lt = T.LoopThread()
        self.n = 0

        async def opener():
            return await websockets.connect(b.url("/echo"), max_size=None,
                ping_interval=None, open_timeout=10)
        self.ws = self.lt.call(opener(), 15)

    def check(self, after):
        self.n += 1
        msg = "healthy #%d %s" % (self.n, "é" * (self.n % 5))

        async def rt():
            await self.ws.send(msg)
            return await self.ws.recv()
        got = self.lt.call(rt(), 10)
        if got != msg:
            T.fail("healthy connection after %s: expected %r, got %r" % (
                after, msg, got))

    def close(self):
        async def c():
            await self.ws.close(1000)
            return self.ws.close_code
        return self.lt.call(c(), 10)


def expect_close(c, want, what, reply=True):
    """Reads up to the close frame, checks its code, then checks that TCP
    ends. reply: send a close frame back first (a well-behaved client)."""
    try:
        code, reason = c.recv_close(5)
    except T.Failure as e:
        T.fail("%s: no close frame: %s" % (what, e))
    if code is None and reason is None:
        T.fail("%s: TCP closed without a close frame (expected %d)" % (
            what, want))
    T.expect_eq(code, want, "close code for " + what)
    if reply:
        try:
            c.send_frame(CLOSE, T.close_payload(code))
        except OSError:
            pass	# already closed by wsbridge: fine
    T.check(c.wait_eof(5), "TCP closed after the close for " + what)


def main():
    b = T.Bridge("--route", "/echo=echo",
        "--route", "/limited=echo max-message=1k",
        "-o", "close-timeout 2s")
    healthy = Healthy(b)
    healthy.check("start")

    for name, data, want in VIOLATIONS:
        if want is None:
            continue
        with T.subtest("%s -> %d" % (name, want)):
            c = T.raw_ws(b.port, "/echo")
            c.send(data)
            expect_close(c, want, name)
            c.close()
            healthy.check(name)
            T.check(b.alive(), "wsbridge still running")

    with T.subtest("a 125-byte ping in the 16-bit length form is answered "
            "or refused with 1002"):
        # RFC 6455 5.2 says the minimal length form MUST be used, but does
        # not require the receiver to check: accept a pong or a 1002.
        c = T.raw_ws(b.port, "/echo")
        c.send(F(PING, b"p" * 125, len_form=16))
        f = c.recv_frame(5)
        if f.opcode == PONG:
            T.expect_eq(f.payload, b"p" * 125, "pong payload")
        else:
            T.expect_eq((f.opcode, f.close_code()), (CLOSE, 1002),
                "close instead of pong")
        c.close()
        healthy.check("non-minimal length")

    with T.subtest("invalid UTF-8 fails fast: first frame, no FIN, nothing "
            "more sent -> 1007"):
        for bad in (b"abc\xff", b"\xe2\x28", b"ok\xc0", b"\xed\xa0"):
            c = T.raw_ws(b.port, "/echo")
            t0 = time.monotonic()
            c.send(F(TEXT, bad, fin=False))
            expect_close(c, 1007, "unfinished text message %r" % bad)
            T.check(time.monotonic() - t0 < 4, "answered without waiting "
                "for more frames")
            c.close()
        c = T.raw_ws(b.port, "/echo")
        c.send(F(TEXT, b"good so far \xe2", fin=False))
        c.send(F(CONT, b"\x82", fin=False))
        c.send(F(CONT, b"\x41", fin=False))	# 'A' where \xac was due
        expect_close(c, 1007, "bad byte in the third unfinished fragment")
        c.close()
        healthy.check("fail-fast UTF-8")

    with T.subtest("a valid text message split inside a character is fine"):
        c = T.raw_ws(b.port, "/echo")
        s = "𝄞€é".encode()
        c.send(F(TEXT, s[:1], fin=False) + F(CONT, s[1:5], fin=False) +
            F(CONT, s[5:]))
        op, got = c.recv_message(5)
        T.expect_eq((op, got), (TEXT, s), "echo")
        c.close()

    with T.subtest("no TCP linger: closed after a 1002 even without a reply"):
        c = T.raw_ws(b.port, "/echo")
        t0 = time.monotonic()
        c.send(F(CONT, b"x"))
        expect_close(c, 1002, "continuation without a message", reply=False)
        dt = time.monotonic() - t0
        T.check(dt < 4.5, "TCP closed within close-timeout (2s) + margin",
            "< 4.5s", "%.2fs" % dt)
        c.close()

    for code in VALID_CLOSE_CODES:
        with T.subtest("client close %d echoed, then TCP closed" % code):
            c = T.raw_ws(b.port, "/echo")
            c.send(CP(code, "reason %d" % code))
            got, reason = c.recv_close(5)
            T.expect_eq(got, code, "close code echoed")
            T.check(c.wait_eof(5), "TCP closed by wsbridge")
            c.close()
    healthy.check("valid close codes")

    with T.subtest("data after the client's close frame is not processed"):
        c = T.raw_ws(b.port, "/echo")
        c.send(CP(1000, "bye") + F(TEXT, "after close") + F(PING, b"late"))
        seen = []
        got, reason = c.recv_close(5, collect=seen)
        T.expect_eq(seen, [], "frames before the close answer")
        T.expect_eq(got, 1000, "close code echoed")
        extra = []
        try:
            while True:
                extra.append(c.recv_frame(3))
        except T.Closed:
            pass
        T.expect_eq(extra, [], "frames after the close answer")
        c.close()

    with T.subtest("empty close payload -> empty close or 1000"):
        c = T.raw_ws(b.port, "/echo")
        c.send(F(CLOSE, b""))
        got, reason = c.recv_close(5)
        T.check(reason is not None, "a close frame came back", "close frame",
            "TCP close without one")
        T.expect_in(got, (None, 1000), "close code")
        T.check(c.wait_eof(5), "TCP closed by wsbridge")
        c.close()

    with T.subtest("ping -> pong with the same payload; unsolicited pong "
            "ignored"):
        c = T.raw_ws(b.port, "/echo")
        for p in (b"", b"x", bytes(range(125))):
            c.send_frame(PING, p)
            f = c.recv_frame(5)
            T.expect_eq((f.opcode, f.payload), (PONG, p),
                "pong for a %d-byte ping" % len(p))
            T.check(not f.masked, "server frames are unmasked")
        c.send_frame(PONG, b"unsolicited")
        c.send_frame(TEXT, "after pong")
        op, got = c.recv_message(5, answer_pings=False)
        T.expect_eq((op, got), (TEXT, b"after pong"),
            "echo after an unsolicited pong")
        c.close()

    with T.subtest("max-message=1k: 1024 B echoed, 1025 B -> 1009"):
        c = T.raw_ws(b.port, "/limited")
        c.send_frame(BIN, b"k" * 1024)
        op, got = c.recv_message(5)
        T.expect_eq((op, len(got)), (BIN, 1024), "1024-byte message echoed")
        c.send_frame(BIN, b"k" * 1025)
        expect_close(c, 1009, "a 1025-byte message")
        c.close()
        c = T.raw_ws(b.port, "/limited")
        c.send(F(TEXT, "a" * 600, fin=False) + F(CONT, "b" * 600))
        expect_close(c, 1009, "600+600 bytes in two fragments")
        c.close()
        c = T.raw_ws(b.port, "/limited")
        c.send(F(BIN, b"", length=1 << 40, len_form=64))
        expect_close(c, 1009, "a frame announcing 1 TiB")
        c.close()
        healthy.check("max-message")

    with T.subtest("healthy connection closes normally at the end"):
        T.expect_eq(healthy.close(), 1000, "close code")

    T.expect_eq(b.stop(), 0, "exit status after SIGTERM")


T.run(main)
