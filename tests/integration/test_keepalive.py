#!/usr/bin/python3
"""test_keepalive.py -- ping-interval sends pings a live client answers,
pong-timeout closes a client that doesn't, idle-timeout closes an idle
connection with 1001 and is pushed back by traffic."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsbtest as T  # noqa: E402


def main():
    def ticker(c):
        for _ in range(6):
            c.sendall(b"t")
            time.sleep(0.4)	# pacing the backend's traffic
        c.settimeout(15)
        try:
            while c.recv(4096):
                pass
        except OSError:
            pass
    tick = T.ScriptBackend(ticker)
    b = T.Bridge("--route", "/ka=echo ping-interval=1s pong-timeout=1s",
        "--route", "/tick=%s idle-timeout=1s" % tick.addr,
        "--route", "/idle=echo idle-timeout=1s",
        "--route", "/plain=echo")

    with T.subtest("ping-interval=1s: pings arrive, answered pongs keep the "
            "connection"):
        c = T.raw_ws(b.port, "/ka")
        t0 = time.monotonic()
        times = []
        payloads = []
        deadline = t0 + 6
        while len(times) < 3:
            left = deadline - time.monotonic()
            if left <= 0:
                T.fail("only %d ping(s) within 6s: %r" % (len(times), times))
            try:
                f = c.recv_frame(left)
            except T.Closed:
                T.fail("connection closed after %d ping(s) although every "
                    "ping was answered" % len(times))
            if f.opcode == T.OP_PING:
                times.append(round(time.monotonic() - t0, 2))
                payloads.append(f.payload)
                T.check(not f.masked, "server ping is unmasked")
                c.send_frame(T.OP_PONG, f.payload)
            elif f.opcode == T.OP_CLOSE:
                T.fail("closed with %r after pings at %r although every ping "
                    "was answered" % (f.close_code(), times))
        T.log("   pings at %r s" % times)
        T.check(0.5 <= times[0] <= 2.5, "first ping about 1s after the "
            "upgrade", "0.5..2.5s", times[0])
        gaps = [b_ - a_ for a_, b_ in zip(times, times[1:])]
        T.check(all(0.5 <= g <= 2.5 for g in gaps), "pings about 1s apart",
            "gaps 0.5..2.5s", gaps)
        c.send_frame(T.OP_TEXT, "still here")
        op, got = c.recv_message(5)
        T.expect_eq((op, got), (T.OP_TEXT, b"still here"),
            "echo after %.1fs of pings" % (time.monotonic() - t0))
        c.close()

    with T.subtest("pong-timeout=1s: a client that never answers is closed"):
        c = T.raw_ws(b.port, "/ka")
        t0 = time.monotonic()
        pings = 0
        how = None
        while time.monotonic() - t0 < 8:
            try:
                f = c.recv_frame(max(0.05, 8 - (time.monotonic() - t0)))
            except T.Closed:
                how = "TCP close"
                break
            except T.Failure:
                break
            if f.opcode == T.OP_PING:
                pings += 1	# deliberately not answered
            elif f.opcode == T.OP_CLOSE:
                how = "close %r" % (f.close_code(),)
                break
        dt = time.monotonic() - t0
        T.check(how is not None, "closed within 8s", "a close", "still open "
            "after %.1fs (%d pings)" % (dt, pings))
        T.log("   ended by %s after %.2fs, %d ping(s) seen" % (how, dt, pings))
        T.check(pings >= 1, "at least one ping before the close", ">= 1",
            pings)
        T.check(1.5 <= dt <= 5.0, "closed after ping-interval + pong-timeout",
            "1.5..5.0s", "%.2fs" % dt)
        if how and how.startswith("close"):
            T.check(c.wait_eof(5), "TCP closed after the close frame")
        c.close()

    with T.subtest("idle-timeout=1s: an idle connection gets 1001"):
        c = T.raw_ws(b.port, "/idle")
        t0 = time.monotonic()
        code, _ = c.recv_close(6)
        dt = time.monotonic() - t0
        T.expect_eq(code, 1001, "close code")
        T.check(0.8 <= dt <= 3.5, "closed about 1s after the last traffic",
            "0.8..3.5s", "%.2fs" % dt)
        c.send_frame(T.OP_CLOSE, T.close_payload(1001))
        T.check(c.wait_eof(5), "TCP closed")
        c.close()

    with T.subtest("idle-timeout=1s: traffic every 0.4s keeps it open"):
        c = T.raw_ws(b.port, "/idle")
        t0 = time.monotonic()
        for i in range(7):
            c.send_frame(T.OP_TEXT, "tick %d" % i)
            op, got = c.recv_message(5)
            T.expect_eq(got, b"tick %d" % i, "echo at %.1fs" % (
                time.monotonic() - t0))
            time.sleep(0.4)	# pacing the traffic: the point is the gap
        T.log("   alive after %.1fs of traffic" % (time.monotonic() - t0))
        t1 = time.monotonic()
        code, _ = c.recv_close(6)
        T.expect_eq(code, 1001, "close code once traffic stops")
        dt = time.monotonic() - t1
        T.check(dt <= 3.5, "closed about 1s after the traffic stopped",
            "<= 3.5s", "%.2fs" % dt)
        c.close()

    with T.subtest("idle-timeout=1s: backend-to-client traffic counts as "
            "activity"):
        c = T.raw_ws(b.port, "/tick")
        t0 = time.monotonic()
        for i in range(6):
            try:
                op, got = c.recv_message(3)
            except T.Failure as e:
                T.fail("tick %d at %.1fs: %s" % (i, time.monotonic() - t0, e))
            T.expect_eq(got, b"t", "tick %d at %.1fs" % (i,
                time.monotonic() - t0))
        t1 = time.monotonic()
        code, _ = c.recv_close(6)
        dt = time.monotonic() - t1
        T.expect_eq(code, 1001, "close code once the backend goes quiet")
        T.check(0.3 <= dt <= 3.5, "closed about 1s after the last tick",
            "0.3..3.5s", "%.2fs" % dt)
        c.close()

    with T.subtest("no keepalive options: no pings, no idle close for 2.5s"):
        c = T.raw_ws(b.port, "/plain")
        try:
            f = c.recv_frame(2.5)
            T.fail("unexpected frame on a route without keepalive: %r" % f)
        except T.Failure as e:
            if "no complete frame" not in str(e):
                raise
        except T.Closed:
            T.fail("route without idle-timeout closed the connection")
        c.send_frame(T.OP_TEXT, "ok")
        T.expect_eq(c.recv_message(5), (T.OP_TEXT, b"ok"), "echo")
        c.close()

    T.expect_eq(b.stop(), 0, "exit status after SIGTERM")


T.run(main)
