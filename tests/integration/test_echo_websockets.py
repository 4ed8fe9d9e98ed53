#!/usr/bin/python3
"""test_echo_websockets.py -- the built-in echo target driven by the Python
websockets library: text and binary messages from 0 bytes to 16 MiB,
fragmented messages, ping/pong, subprotocol negotiation, close code and
reason echoed; plus a raw-socket check that the echo keeps fragmentation."""

import asyncio
import hashlib
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsbtest as T  # noqa: E402

import websockets  # noqa: E402

SIZES = [0, 1, 125, 126, 127, 65535, 65536, 65537, T.MiB, 16 * T.MiB]
TEXT_UNIT = "héllo wörld € 𝄞 ascii ÿ "


def text_of_size(n):
    """A str whose UTF-8 encoding is exactly n bytes, with 2-, 3- and 4-byte
    characters throughout."""
    unit = TEXT_UNIT.encode()
    b = unit * (n // len(unit) + 1)
    b = b[:n]
    # Cut back to a code point boundary and pad with ASCII.
    while b and (b[-1] & 0xC0) == 0x80:
        b = b[:-1]
    if b and b[-1] >= 0xC0:
        b = b[:-1]
    b = b + b"a" * (n - len(b))
    s = b.decode("utf-8")
    assert len(s.encode()) == n
    return s


def connect(b, path="/echo", **kw):
    kw.setdefault("max_size", None)
    kw.setdefault("ping_interval", None)
    kw.setdefault("open_timeout", 10)
    kw.setdefault("close_timeout", 10)
    return websockets.connect(b.url(path), **kw)


async def roundtrip(ws, msg, what, timeout=30):
    await T.wait_for(ws.send(msg), timeout, "send " + what)
    got = await T.wait_for(ws.recv(), timeout, "echo of " + what)
    T.check(type(got) is type(msg), "%s echoed with the same type" % what,
        type(msg).__name__, type(got).__name__)
    if isinstance(msg, str):
        ok = got == msg
    else:
        ok = hashlib.sha256(got).digest() == hashlib.sha256(msg).digest()
    T.check(ok and len(got) == len(msg), "%s echoed intact" % what,
        "%d units sha256 %s" % (len(msg), hashlib.sha256(
            msg.encode() if isinstance(msg, str) else msg).hexdigest()[:16]),
        "%d units sha256 %s" % (len(got), hashlib.sha256(
            got.encode() if isinstance(got, str) else got).hexdigest()[:16]))


def main():
    b = T.Bridge("--route", "/echo=echo subprotocols=chat,superchat")

    async def sizes():
        async with connect(b) as ws:
            for n in SIZES:
                await roundtrip(ws, T.pattern_bytes(n, n), "binary %d B" % n)
                await roundtrip(ws, text_of_size(n), "text %d B" % n)

    with T.subtest("text and binary messages of 0 B .. 16 MiB"):
        T.arun(sizes(), 120)

    async def default_client():
        # The library's defaults: offers permessage-deflate, 1 MiB max_size.
        async with websockets.connect(b.url("/echo"), open_timeout=10) as ws:
            await roundtrip(ws, "plain defaults", "text with library defaults")
            await roundtrip(ws, os.urandom(100000),
                "binary 100000 B with library defaults")

    with T.subtest("client with library defaults (offers permessage-deflate)"):
        T.arun(default_client(), 60)

    async def fragmented():
        async with connect(b) as ws:
            await T.wait_for(ws.send(["frag-one ", "", "frag-two ",
                "€𝄞 three"]), 10, "send fragmented text")
            got = await T.wait_for(ws.recv(), 10, "fragmented text echo")
            T.expect_eq(got, "frag-one frag-two €𝄞 three",
                "fragmented text message reassembled")
            big = [T.pattern_bytes(300000, i) for i in range(5)]
            await T.wait_for(ws.send(big), 20, "send fragmented binary")
            got = await T.wait_for(ws.recv(), 20, "fragmented binary echo")
            T.check(got == b"".join(big), "5 x 300000 B fragments echoed "
                "as one 1.5 MB binary message", len(b"".join(big)), len(got))
            await T.wait_for(ws.send([b"", b"", b"z"]), 10, "send")
            T.expect_eq(await T.wait_for(ws.recv(), 10, "echo"), b"z",
                "binary message with two empty leading fragments")

    with T.subtest("fragmented messages"):
        T.arun(fragmented(), 60)

    async def ordering():
        async with connect(b) as ws:
            msgs = ["m%04d" % i if i % 2 else ("b%04d" % i).encode()
                for i in range(1000)]
            for m in msgs:
                await ws.send(m)
            got = []
            for _ in msgs:
                got.append(await T.wait_for(ws.recv(), 10, "pipelined echo"))
            T.expect_eq(got, msgs, "1000 pipelined messages echoed in order "
                "with their types")

    with T.subtest("1000 pipelined messages keep order and type"):
        T.arun(ordering(), 60)

    async def pings():
        async with connect(b) as ws:
            for payload in (b"", b"x", os.urandom(125)):
                waiter = await ws.ping(payload)
                await T.wait_for(waiter, 5,
                    "pong for a %d-byte ping" % len(payload))
                T.check(True, "pong for a %d-byte ping" % len(payload))
            # Interleave pings with a large message in flight.
            big = os.urandom(4 * T.MiB)
            send = asyncio.ensure_future(ws.send(big))
            waiters = [await ws.ping(b"during-%d" % i) for i in range(3)]
            await T.wait_for(send, 20, "send 4 MiB")
            for w in waiters:
                await T.wait_for(w, 20, "pong during a 4 MiB message")
            got = await T.wait_for(ws.recv(), 20, "4 MiB echo")
            T.check(got == big, "4 MiB message intact around pings",
                len(big), len(got))
            await ws.pong(b"unsolicited")
            await roundtrip(ws, "after an unsolicited pong",
                "text after an unsolicited pong")

    with T.subtest("ping/pong"):
        T.arun(pings(), 60)

    async def subprotocols():
        for offered, want in ((["superchat", "chat"], "chat"),
                (["superchat"], "superchat"), (["chat"], "chat"),
                (["unknown"], None), (None, None),
                (["x-1", "x-2", "superchat"], "superchat")):
            async with connect(b, subprotocols=offered) as ws:
                T.expect_eq(ws.subprotocol, want,
                    "subprotocol for offer %r" % (offered,))
                await roundtrip(ws, "proto", "text")

    with T.subtest("subprotocol negotiation"):
        T.arun(subprotocols(), 60)

    async def closes():
        for code, reason in ((1000, ""), (1000, "normal bye"),
                (1001, "going away"), (3000, "app"), (4999, "é€𝄞 reason"),
                (4001, "r" * 123)):
            async with connect(b) as ws:
                await roundtrip(ws, "before close", "text")
                await T.wait_for(ws.close(code, reason), 10, "close")
                T.expect_eq((ws.close_code, ws.close_reason), (code, reason),
                    "close code and reason echoed for %d" % code)

    with T.subtest("close code and reason echoed"):
        T.arun(closes(), 60)

    with T.subtest("raw: echo keeps the fragmentation (and control frames "
            "between fragments are answered)"):
        c = T.raw_ws(b.port, "/echo")
        parts = [b"ab", b"", b"cdef", b"g"]
        c.send_frame(T.OP_BINARY, parts[0], fin=False)
        c.send_frame(T.OP_CONT, parts[1], fin=False)
        c.send_frame(T.OP_PING, b"mid")
        c.send_frame(T.OP_CONT, parts[2], fin=False)
        c.send_frame(T.OP_CONT, parts[3], fin=True)
        data, pong = [], None
        while len(data) < 4:
            f = c.recv_frame(5)
            if f.opcode == T.OP_PONG:
                pong = f.payload
            else:
                data.append((f.opcode, f.fin, f.payload))
        T.expect_eq(data, [(T.OP_BINARY, False, b"ab"),
            (T.OP_CONT, False, b""), (T.OP_CONT, False, b"cdef"),
            (T.OP_CONT, True, b"g")], "echoed frames")
        if pong is None:
            f = c.recv_frame(5)
            pong = f.payload if f.opcode == T.OP_PONG else f
        T.expect_eq(pong, b"mid", "pong payload")
        c.send_frame(T.OP_TEXT, "é".encode()[:1], fin=False)
        c.send_frame(T.OP_CONT, "é".encode()[1:], fin=True)
        got = [c.recv_frame(5), c.recv_frame(5)]
        T.expect_eq([(f.opcode, f.fin, f.payload) for f in got],
            [(T.OP_TEXT, False, b"\xc3"), (T.OP_CONT, True, b"\xa9")],
            "text fragments split inside a character echoed as sent")
        # 10000 one-byte fragments in one write: same fragmentation back.
        n = 10000
        c.send(T.frame(T.OP_BINARY, b"\x00", fin=False) + b"".join(
            T.frame(T.OP_CONT, bytes([i % 256]), fin=(i == n - 1))
            for i in range(1, n)))
        frames = [c.recv_frame(10) for _ in range(n)]
        T.check(all(len(f.payload) == 1 for f in frames) and
            frames[0].opcode == T.OP_BINARY and frames[-1].fin and
            not any(f.fin for f in frames[:-1]) and
            all(f.opcode == T.OP_CONT for f in frames[1:]),
            "10000 one-byte fragments echoed as 10000 frames")
        T.expect_eq(b"".join(f.payload for f in frames),
            bytes(i % 256 for i in range(n)), "their payload")
        c.send_frame(T.OP_CLOSE, T.close_payload(1000, "done"))
        code, reason = c.recv_close(5)
        T.expect_eq((code, reason), (1000, b"done"), "close echoed")
        T.check(c.wait_eof(5), "TCP closed after the close handshake")
        c.close()

    T.expect_eq(b.stop(), 0, "exit status after SIGTERM")


T.run(main)
