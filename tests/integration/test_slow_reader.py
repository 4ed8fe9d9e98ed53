#!/usr/bin/python3
"""test_slow_reader.py -- backpressure: a 200 MiB download to a client that
stops reading, and a 200 MiB upload to a backend that stops reading. While
the slow side stalls, wsbridge's VmRSS must stay within a bound over its
baseline and the fast side must be held back; afterwards every byte arrives
intact. Everything runs over ws:// and again over wss:// (Python's ssl as
the TLS client, through wsbtest.TlsForwarder), where wsbridge reads and
writes through its own TLS path (sockread.c, tlsout.c)."""

import hashlib
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import certs  # noqa: E402
import wsbtest as T  # noqa: E402

TOTAL = 200 * T.MiB
STALL = 3.0		# seconds the slow side does not read


def sample_rss(b, seconds, what):
    """Samples VmRSS every 100 ms for `seconds` (a measurement, not a wait
    for an event); returns the maximum in KiB."""
    peak = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        peak = max(peak, b.rss_kib())
        time.sleep(0.1)
    T.log("   %s: peak VmRSS %d KiB" % (what, peak))
    return peak


def scenarios(b, port, over, source, sink, gate, bound_kib):
    """Every stall scenario against the listener at port (ws:// directly,
    or wss:// through a TLS forwarder)."""
    # Warm up the allocator on a small exchange, then take the baseline.
    c = T.raw_ws(port, "/echo")
    c.send_frame(T.OP_BINARY, os.urandom(200000))
    c.recv_message(5)
    c.close()
    base = b.rss_kib()
    T.log("   %s baseline VmRSS %d KiB" % (over, base))

    with T.subtest(over + " download of 200 MiB to a client that stops "
            "reading"):
        sent0 = source.sent
        c = T.RawConn(port, rcvbuf=65536)
        c.upgrade("/source")
        peak = sample_rss(b, STALL, "client not reading for %.0fs" % STALL)
        sent_stalled = source.sent - sent0
        T.check(peak - base <= bound_kib, "VmRSS within +%d MiB of the "
            "baseline while the client stalls" % (bound_kib // 1024),
            "<= %d KiB" % (base + bound_kib), "%d KiB (+%d)" % (peak,
            peak - base))
        T.check(sent_stalled < TOTAL // 2, "backend held back (bytes it "
            "could send so far)", "< %d" % (TOTAL // 2), sent_stalled)
        # Slow reading: 64 KiB every 20 ms for a second.
        h = hashlib.sha256()
        n = 0
        code = "none"
        slow_end = time.monotonic() + 1.0
        frames = 0
        while True:
            f = c.recv_frame(30)
            if f.opcode == T.OP_CLOSE:
                code = f.close_code()
                break
            if f.opcode not in (T.OP_BINARY, T.OP_CONT):
                T.fail("unexpected frame %r" % f)
            h.update(f.payload)
            n += len(f.payload)
            frames += 1
            if time.monotonic() < slow_end:
                time.sleep(0.02)
            elif frames % 256 == 0:
                peak = max(peak, b.rss_kib())
        T.log("   peak VmRSS over the whole download %d KiB" % peak)
        T.expect_eq(n, TOTAL, "bytes received")
        T.expect_eq(h.hexdigest(), T.pattern_digest(TOTAL, 21), "sha256")
        T.expect_eq(code, 1000, "close code after the backend's EOF")
        T.check(peak - base <= bound_kib, "VmRSS bound held during the "
            "whole download", "<= %d KiB" % (base + bound_kib),
            "%d KiB" % peak)
        c.close()

    with T.subtest(over + " upload of one 200 MiB frame to a backend that "
            "stops reading"):
        base = b.rss_kib()
        c = T.RawConn(port)
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
        c.upgrade("/sink")
        progress = {"sent": 0, "error": None}
        zero = b"\0\0\0\0"	# all-zero mask key: payload bytes unchanged

        def uploader():
            # One 200 MiB frame: wsbridge must cut it through, never hold
            # a whole message.
            try:
                c.sock.settimeout(60)
                c.sock.sendall(T.frame(T.OP_BINARY, b"", length=TOTAL,
                    len_form=64, key=zero))
                for chunk in T.pattern(TOTAL, 22):
                    c.sock.sendall(chunk)
                    progress["sent"] += len(chunk)
                c.sock.sendall(T.frame(T.OP_CLOSE, T.close_payload(1000),
                    key=zero))
            except Exception as e:
                progress["error"] = "%s: %s" % (type(e).__name__, e)
        th = threading.Thread(target=uploader, daemon=True)
        th.start()
        peak = sample_rss(b, STALL, "backend not reading for %.0fs" % STALL)
        sent_stalled = progress["sent"]
        gate.set()
        T.check(peak - base <= bound_kib, "VmRSS within +%d MiB while the "
            "backend stalls" % (bound_kib // 1024), "<= %d KiB" % (
            base + bound_kib), "%d KiB (+%d)" % (peak, peak - base))
        T.check(sent_stalled < TOTAL // 2, "client held back (bytes it "
            "could send so far)", "< %d" % (TOTAL // 2), sent_stalled)
        th.join(60)
        T.check(not th.is_alive(), "upload finished within 60s after the "
            "backend started reading")
        T.expect_eq(progress["error"], None, "upload error")
        n, digest = sink.wait_result(30)
        T.expect_eq(n, TOTAL, "bytes received by the backend")
        T.expect_eq(digest, T.pattern_digest(TOTAL, 22), "sha256")
        code, _ = c.recv_close(10)
        T.expect_eq(code, 1000, "close echoed")
        c.close()

    with T.subtest(over + " echo of one 200 MiB frame to a client that "
            "does not read the echo"):
        base = b.rss_kib()
        c = T.RawConn(port, rcvbuf=65536)
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
        c.upgrade("/echo")
        zero = b"\0\0\0\0"
        progress = {"sent": 0, "error": None}

        def sender():
            try:
                c.sock.settimeout(60)
                c.sock.sendall(T.frame(T.OP_BINARY, b"", length=TOTAL,
                    len_form=64, key=zero))
                for chunk in T.pattern(TOTAL, 23):
                    c.sock.sendall(chunk)
                    progress["sent"] += len(chunk)
            except Exception as e:
                progress["error"] = "%s: %s" % (type(e).__name__, e)
        th = threading.Thread(target=sender, daemon=True)
        th.start()
        peak = sample_rss(b, STALL, "echo client not reading for %.0fs" %
            STALL)
        sent_stalled = progress["sent"]
        T.check(peak - base <= bound_kib, "VmRSS within +%d MiB while the "
            "echo is not read" % (bound_kib // 1024), "<= %d KiB" % (
            base + bound_kib), "%d KiB (+%d)" % (peak, peak - base))
        T.check(sent_stalled < TOTAL // 2, "sender held back", "< %d" % (
            TOTAL // 2), sent_stalled)
        h = hashlib.sha256()
        n = 0
        op0 = None
        while n < TOTAL:
            f = c.recv_frame(30)
            if op0 is None:
                op0 = f.opcode
                T.expect_eq(op0, T.OP_BINARY, "first echoed frame opcode")
            elif f.opcode != T.OP_CONT:
                T.fail("unexpected frame inside the echo: %r" % f)
            h.update(f.payload)
            n += len(f.payload)
        T.check(f.fin, "the echo ends with FIN after %d bytes" % TOTAL)
        th.join(30)
        T.expect_eq(progress["error"], None, "send error")
        T.expect_eq(h.hexdigest(), T.pattern_digest(TOTAL, 23),
            "sha256 of the echo")
        c.close()

    with T.subtest(over + " ping flood from a client that does not read"):
        base = b.rss_kib()
        npings = 100000
        c = T.RawConn(port, rcvbuf=65536)
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
        c.upgrade("/echo")
        zero = b"\0\0\0\0"
        ping = T.frame(T.OP_PING, b"p" * 120, key=zero)
        progress = {"sent": 0, "error": None}

        def flooder():
            try:
                c.sock.settimeout(60)
                for _ in range(npings // 1000):
                    c.sock.sendall(ping * 1000)
                    progress["sent"] += 1000
            except Exception as e:
                progress["error"] = "%s: %s" % (type(e).__name__, e)
        th = threading.Thread(target=flooder, daemon=True)
        th.start()
        peak = sample_rss(b, STALL, "client flooding pings, not reading")
        sent_stalled = progress["sent"]
        T.check(peak - base <= bound_kib, "VmRSS within +%d MiB during the "
            "flood" % (bound_kib // 1024), "<= %d KiB" % (base + bound_kib),
            "%d KiB (+%d)" % (peak, peak - base))
        T.check(sent_stalled < npings, "flooder held back (pings sent so "
            "far)", "< %d" % npings, sent_stalled)
        pongs = 0
        deadline = time.monotonic() + 40
        while pongs < npings and time.monotonic() < deadline:
            f = c.recv_frame(max(0.1, deadline - time.monotonic()))
            if f.opcode != T.OP_PONG or f.payload != b"p" * 120:
                T.fail("expected pong #%d, got %r" % (pongs + 1, f))
            pongs += 1
        th.join(10)
        T.expect_eq(progress["error"], None, "flood error")
        T.expect_eq(pongs, npings, "pongs received, one per ping")
        c.send_frame(T.OP_TEXT, "after the flood")
        op, got = c.recv_message(5)
        T.expect_eq(got, b"after the flood", "echo after the flood")
        c.close()



def main():
    env = T.asan_rss_env()
    bound_kib = 32 * 1024
    if env is not None:
        bound_kib = 64 * 1024
        T.log("   (ASan build: bound raised to +64 MiB, small quarantine)")

    d = certs.make(T.tmpdir())
    source = T.SourceBackend(TOTAL, seed=21)
    gate = threading.Event()
    sink = T.SinkBackend(gate=gate)
    b = T.Bridge("--route", "/source=%s" % source.addr,
        "--route", "/sink=%s" % sink.addr,
        "--route", "/echo=echo", env=env, listen=("127.0.0.1:0",
        "127.0.0.1:0 tls cert=%s key=%s" % (d["cert"], d["key"])))
    fwd = T.TlsForwarder(b.addrs[1][1])

    for port, over in ((b.port, "ws://"), (fwd.port, "wss://")):
        gate.clear()
        scenarios(b, port, over, source, sink, gate, bound_kib)
    fwd.stop()

    T.expect_eq(b.stop(), 0, "exit status after SIGTERM")


T.run(main)
