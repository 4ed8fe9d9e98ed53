#!/usr/bin/python3
"""test_workers.py -- workers 2: two event loops sharing the listening port
(SO_REUSEPORT). Many concurrent clients echo SHA-256-checked payloads
through a TCP backend and both workers serve some of them; the control
socket lists every connection of both, with unique ids, sums the totals
and delivers every open and close event in order; SIGHUP reloads both
workers; SIGTERM drains both (1001 to every client, exit 0); the frame log
holds every frame of every session under unique session ids; SIGINT drains
both as SIGTERM does."""

import asyncio
import hashlib
import json
import os
import random
import signal
import ssl
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import certs  # noqa: E402
import wsbtest as T  # noqa: E402

import websockets  # noqa: E402

NCLIENTS = 40


def sql(db, query):
    p = subprocess.run(["sqlite3", "-json", "-bail", db],
        input=(".timeout 5000\n" + query).encode(), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, timeout=20)
    if p.returncode != 0:
        T.fail("sqlite3 %r: %s" % (query[:80], p.stderr.decode()))
    out = p.stdout.decode().strip()
    return json.loads(out) if out else []


def connect(b, path):
    return websockets.connect(b.url(path), max_size=None, ping_interval=None,
        open_timeout=10, close_timeout=10)


async def echo_some(ws, rng, n):
    """n binary messages of random sizes; each echo checked by SHA-256. A
    TCP backend has no message boundaries: the echo may come in pieces."""
    for _ in range(n):
        msg = rng.randbytes(rng.choice((1, 100, 4096, 65536, 200000)))
        await ws.send(msg)
        got = hashlib.sha256()
        left = len(msg)
        while left > 0:
            part = await asyncio.wait_for(ws.recv(), 10)
            got.update(part)
            left -= len(part)
        if left != 0 or got.digest() != hashlib.sha256(msg).digest():
            T.fail("echo of %d bytes differs" % len(msg))


def list_conns(ctl):
    r = ctl.ask({"cmd": "list"})
    T.expect_eq(r.get("type"), "list", "list answer")
    return r["conns"]


def check_spread(conns, n, what):
    ids = [c["id"] for c in conns]
    T.expect_eq(len(ids), n, "%s: connections listed" % what)
    T.expect_eq(len(set(ids)), n, "%s: connection ids are unique" % what)
    workers = sorted(set(c["worker"] for c in conns))
    T.expect_eq(workers, [0, 1], "%s: workers serving connections" % what)
    T.expect_eq([c["id"] for c in conns if (c["id"] - 1) % 2 !=
        c["worker"]], [], "ids whose worker is not (id - 1) % 2")


def main():
    if subprocess.run(["sqlite3", "-version"], stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL).returncode != 0:
        raise T.Skip("no sqlite3 shell")
    backend = T.EchoBackend()
    d = T.tmpdir()
    db = os.path.join(d, "log.db")
    sock = os.path.join(d, "ctl.sock")
    conf = os.path.join(d, "wsbridge.conf")
    with open(conf, "w") as f:
        f.write("route /tcp %s\n" % backend.addr)
    b = T.Bridge("--workers", "2", "-c", conf, "--log-db", db, "--control",
        sock, "-o", "log-overflow block", "-o", "log-capture 0",
        "-o", "shutdown-timeout 10s")
    b.wait_log(r"2 workers, one event loop each")
    events = T.Ctl(sock)
    events.ask({"cmd": "subscribe", "events": ["open", "close"]})
    ctl = T.Ctl(sock)
    lt = T.LoopThread()
    sent = {"msgs": 0}

    with T.subtest("%d concurrent clients echo through a TCP backend, on "
            "both workers; the control socket lists them all" % NCLIENTS):
        async def many():
            conns = [await connect(b, "/tcp") for _ in range(NCLIENTS)]
            await asyncio.gather(*(echo_some(ws, random.Random(i), 8)
                for i, ws in enumerate(conns)))
            sent["msgs"] += 8 * NCLIENTS
            return conns
        clients = lt.call(many(), 60)
        check_spread(list_conns(ctl), NCLIENTS, "while open")
        g = ctl.ask({"cmd": "stats"})["global"]
        T.expect_eq(g["workers"], 2, "stats: workers")
        T.expect_eq(g["connections"], NCLIENTS, "stats: connections")
        T.expect_eq(g["open"]["h1_ws"], NCLIENTS, "stats: open h1_ws")
        T.expect_eq(g["msgs_in"], 8 * NCLIENTS, "stats: msgs_in, summed")

        async def close_all():
            await asyncio.gather(*(ws.close() for ws in clients))
        lt.call(close_all(), 30)
        end = time.monotonic() + 10
        while list_conns(ctl) and time.monotonic() < end:
            time.sleep(0.05)
        T.expect_eq(list_conns(ctl), [], "list after the clients closed")

    with T.subtest("open and close events of both workers, each open "
            "before its close"):
        seen = {}
        while sum(1 for v in seen.values() if "close" in v) < NCLIENTS:
            o = events.recv()
            if o.get("type") != "event":
                continue
            if o["event"] == "open":
                seen.setdefault(o["conn"]["id"], []).append("open")
            elif o["event"] == "close":
                seen.setdefault(o["id"], []).append("close")
        T.expect_eq(len(seen), NCLIENTS, "connections with events")
        T.expect_eq([k for k, v in seen.items() if v != ["open", "close"]],
            [], "connections whose events were not one open, one close")

    with T.subtest("SIGHUP reloads both workers; live tunnels go on, the "
            "new route works on both"):
        async def open_some(path, n):
            return [await connect(b, path) for _ in range(n)]
        live = lt.call(open_some("/tcp", 10), 30)
        mark = b.nlines()
        with open(conf, "a") as f:
            f.write("route /new %s\n" % backend.addr)
        b.signal(signal.SIGHUP)
        b.wait_log(r"info configuration reloaded", start=mark)
        b.wait_log(r"worker 1: configuration reloaded", start=mark)
        new = lt.call(open_some("/new", 16), 30)

        async def echo_all(conns, seed):
            await asyncio.gather(*(echo_some(ws, random.Random(seed + i), 3)
                for i, ws in enumerate(conns)))
        lt.call(echo_all(live + new, 1000), 60)
        sent["msgs"] += 3 * len(live + new)
        conns = list_conns(ctl)
        check_spread(conns, len(live + new), "after SIGHUP")
        T.expect_eq(sorted(set(c["worker"] for c in conns if c["path"] ==
            "/new")), [0, 1], "workers serving the new route")

    with T.subtest("SIGTERM drains both workers: 1001 to every client, "
            "exit 0"):
        mark = b.nlines()
        b.signal(signal.SIGTERM)

        async def closes():
            codes = []
            for ws in live + new:
                try:
                    await asyncio.wait_for(ws.recv(), 10)
                except websockets.ConnectionClosed:
                    pass
                await ws.wait_closed()
                codes.append(ws.close_code)
            return codes
        codes = lt.call(closes(), 30)
        T.expect_eq(codes, [1001] * len(codes), "close codes")
        b.wait_log(r"worker 1: SIGTERM: draining", start=mark)
        T.expect_eq(b.wait_exit(15), 0, "exit status")
        T.expect_eq(b.stop(), 0, "clean stop")

    with T.subtest("the frame log holds every frame of every session, "
            "unique session ids"):
        total = NCLIENTS + len(live + new)
        rows = sql(db, "SELECT id, conn, frames_in, frames_out, msgs_in, "
            "close_code_out, t_end FROM sessions")
        T.expect_eq(len(rows), total, "sessions")
        T.expect_eq(len(set(r["id"] for r in rows)), total,
            "unique session ids")
        T.expect_eq(len(set(r["conn"] for r in rows)), total,
            "unique connection ids")
        counts = {(r["session_id"], r["dir"]): r["n"] for r in sql(db,
            "SELECT session_id, dir, count(*) AS n FROM frames GROUP BY "
            "session_id, dir")}
        T.expect_eq([r["id"] for r in rows if r["t_end"] is None], [],
            "sessions without an end")
        T.expect_eq([r["id"] for r in rows if counts.get((r["id"], "in"),
            0) != r["frames_in"] or counts.get((r["id"], "out"), 0) !=
            r["frames_out"]], [], "sessions whose frames are not all logged")
        T.check(sum(r["frames_in"] for r in rows) >= sent["msgs"],
            "inbound frames counted")
        T.expect_eq(sum(r["msgs_in"] for r in rows), sent["msgs"],
            "messages logged")
        T.expect_eq(sum(1 for r in rows if r["close_code_out"] == 1001),
            len(live + new), "sessions closed with 1001 by SIGTERM")
        st = sql(db, "SELECT frames_dropped, records_lost FROM log_status")
        T.expect_eq(st, [{"frames_dropped": 0, "records_lost": 0}],
            "nothing dropped or lost")

    with T.subtest("wss:// and the built-in echo on 2 workers, then a "
            "clean exit (each worker frees its thread buffers)"):
        cd = certs.make(T.tmpdir())
        b = T.Bridge("--workers", "2", "--route", "/echo=echo", listen=(
            "127.0.0.1:0 tls cert=%s key=%s" % (cd["cert"], cd["key"]),),
            name="wsbridge-w2-tls")
        ctx = ssl.create_default_context(cafile=cd["ca"])
        for i in range(16):
            c = T.RawConn(b.port)
            c.sock = ctx.wrap_socket(c.sock, server_hostname="127.0.0.1")
            c.upgrade("/echo")
            m = T.pattern_bytes(1000 + 7000 * i, 90 + i)
            c.send_frame(T.OP_BINARY, m)
            T.expect_eq(c.recv_message(), (T.OP_BINARY, m), "echo %d" % i)
            c.close()
        T.expect_eq(b.stop(), 0, "exit status, log free of sanitizer "
            "reports")

    with T.subtest("SIGINT drains both workers as SIGTERM does: 1001 to "
            "every client, exit 0"):
        b = T.Bridge("--workers", "2", "--route", "/echo=echo",
            name="wsbridge-w2-int")
        conns = [T.raw_ws(b.port, "/echo") for _ in range(8)]
        for i, c in enumerate(conns):
            c.send_frame(T.OP_TEXT, b"before %d" % i)
            T.expect_eq(c.recv_message(10), (T.OP_TEXT, b"before %d" % i),
                "echo before SIGINT")
        mark = b.nlines()
        b.signal(signal.SIGINT)
        for c in conns:
            T.expect_eq(c.recv_close(10)[0], 1001, "close code after SIGINT")
            c.send_frame(T.OP_CLOSE, T.close_payload(1001))
        b.wait_log(r"^\S+ info SIGINT: draining \d+ connections", 10,
            start=mark)
        b.wait_log(r"worker 1: SIGINT: draining \d+ connections", 10,
            start=mark)
        T.expect_eq(b.wait_exit(15), 0, "exit status after SIGINT")
        T.expect_eq(b.stop(), 0, "log free of sanitizer reports")
        for c in conns:
            c.close()


T.run(main)
