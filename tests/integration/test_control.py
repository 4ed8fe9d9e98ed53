#!/usr/bin/python3
"""test_control.py -- the control socket (control PATH / --control): mode
0600, hello and versions, snapshot and per-connection fields against known
traffic, head-of-line numbers of a stalled reader, the event stream (open,
close, frames with a per-second cap), errors for bad requests, a client
that never reads does not slow the bridge, wsbridge ctl, a stale socket
file, and the frame log's schema 2 head-of-line columns (also after
upgrading a version-1 file)."""

import asyncio
import json
import os
import re
import socket
import sqlite3
import stat
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsbtest as T  # noqa: E402

import websockets  # noqa: E402
from websockets.extensions.permessage_deflate import (  # noqa: E402
    ClientPerMessageDeflateFactory)


def connect(b, path="/echo", **kw):
    kw.setdefault("max_size", None)
    kw.setdefault("ping_interval", None)
    return websockets.connect(b.url(path), **kw)


def ctl_bin(*args):
    p = subprocess.run([T.wsbridge_path(), "ctl"] + list(args),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=20)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def test_basics(d):
    sock = os.path.join(d, "c.sock")
    b = T.Bridge("--route", "/echo=echo subprotocols=chat", "--control", sock,
        name="wsbridge-ctl")
    T.expect_eq(oct(stat.S_IMODE(os.stat(sock).st_mode)), oct(0o600),
        "socket mode")
    c = T.Ctl(sock)
    h = c.hello
    T.expect_eq((h["type"], h["protocol"], h["server"]), ("hello", 1,
        "wsbridge"), "hello line on connect")
    T.check(re.match(r"\d+\.\d+", h["version"]) is not None, "version given")
    T.expect_eq(c.ask({"cmd": "hello"})["pid"], b.pid, "pid in hello")

    info = {}

    async def traffic():
        async with connect(b, "/echo?k=v", origin="http://o.example",
                user_agent_header="ctl-test/2", subprotocols=["chat"]) as ws:
            info["port"] = ws.local_address[1]
            for n in (10, 1000, 70000):
                await ws.send(b"a" * n)
                await ws.recv()
            await ws.send("text!")
            await ws.recv()
            pong = await ws.ping(b"p")
            await pong
            s = c.ask({"cmd": "snapshot"})
            info["snap"] = s
            info["conn"] = c.ask({"cmd": "conn", "conn": s["conns"][0][0]})
            info["list"] = c.ask({"cmd": "list"})
    T.arun(traffic(), 60)

    s = info["snap"]
    g = s["global"]
    T.expect_eq(g["open"]["h1_ws"], 1, "open h1 ws")
    T.expect_eq(g["conns_total"], 1, "connections so far")
    T.expect_eq((g["bytes_in"], g["msgs_in"], g["msgs_out"]),
        (71015, 4, 4), "global bytes and messages")
    for w in ("2s", "10s", "40s"):
        T.check(g["rates"][w]["bytes_in"] > 0, "rate over %s" % w)
    T.check(g["peak"]["bytes_in"] >= 0, "peak present")
    T.expect_eq(len(g["hist_in"]), 34, "log2 histogram buckets")
    T.expect_eq(g["log"]["enabled"], False, "frame log off")
    cols = s["cols"]
    T.check({"id", "bytes_in", "q_kernel", "stall_out_ns", "ctl_wait_max_ns",
        "inflight_msg"} <= set(cols), "snapshot columns")
    row = dict(zip(cols, s["conns"][0]))
    T.expect_eq((row["msgs_in"], row["largest_in"], row["largest_out"]),
        (4, 70000, 70000), "row counters")
    T.expect_eq((row["wire_in"], row["plain_in"], row["zmsgs_in"],
        row["zratio_in"], row["zratio"]), (71015, 71015, 0, 0, 0),
        "no deflate: wire = plain, ratio 0 (not compressed)")
    new = s["new"][0]
    T.expect_eq((new["peer"], new["route"], new["backend"], new["proto"],
        new["origin"], new["user_agent"], new["subprotocol"]),
        ("127.0.0.1:%d" % info["port"], "/echo", "echo", "h1",
        "http://o.example", "ctl-test/2", "chat"), "static facts")
    cn = info["conn"]["conn"]
    T.expect_eq(cn["query"], "k=v", "detail: query")
    T.expect_eq(cn["hist_in"][stats_bucket(70000)], 1, "70000-byte frame "
        "in its log2 bucket")
    T.expect_eq(cn["queue_out"]["ctl_count"], 1, "one pong timed")
    T.check(0 < cn["queue_out"]["ctl_max_ns"] < 5e9, "pong wait measured")
    T.check(len(cn["series"]["bytes_in"]) == 40, "40 s series")
    T.check(any(f["opcode"] == 10 for f in cn["frames"]) or
        cn["frames"] == [], "recent frames ring (kept from the first ask)")
    T.expect_eq(len(info["list"]["conns"]), 1, "list: one connection")

    # Errors.
    c.send(b"{not json")
    e = c.recv_type("error")
    T.expect_eq(e["code"], "bad-json", "not JSON")
    T.expect_eq(c.ask({"cmd": "frobnicate"})["code"], "unknown-command",
        "unknown command")
    T.expect_eq(c.ask({"nocmd": 1})["code"], "bad-request", "no cmd")
    T.expect_eq(c.ask({"cmd": "conn", "conn": "x"})["code"], "bad-argument",
        "conn id not an integer")
    T.expect_eq(c.ask({"cmd": "conn", "conn": 999})["code"],
        "no-such-connection", "unknown connection")
    T.expect_eq(c.ask({"cmd": "subscribe", "snapshot_ms": 5})["code"],
        "bad-argument", "too fast a snapshot rate")
    T.expect_eq(c.ask({"cmd": "subscribe", "events": ["nope"]})["code"],
        "bad-argument", "unknown event kind")
    T.expect_eq(c.ask({"cmd": "hello"})["type"], "hello",
        "still answering after errors")

    # Events: open, frames, close; a periodic snapshot.
    T.expect_eq(c.ask({"cmd": "subscribe", "snapshot_ms": 100,
        "events": ["open", "close", "frame"]})["type"], "subscribed",
        "subscribe")
    seen = []

    async def more():
        async with connect(b) as ws:
            await ws.send("one")
            await ws.recv()
    T.arun(more(), 30)
    end = time.monotonic() + 10
    while time.monotonic() < end:
        o = c.recv()
        if o["type"] == "event":
            seen.append(o)
            if o["event"] == "close":
                break
    kinds = [o["event"] for o in seen]
    T.check(kinds[0] == "open" and kinds[-1] == "close", "open first, close "
        "last: %s" % kinds)
    frames = [o for o in seen if o["event"] == "frame"]
    T.check(any(f["dir"] == "in" and f["opcode"] == 1 and f["len"] == 3
        for f in frames), "frame event for the text message in")
    T.check(any(f["opcode"] == 8 for f in frames), "close frames reported")
    T.expect_eq(seen[-1]["msgs_in"], 1, "close event counters")
    T.check(c.recv_type("snapshot")["global"]["conns_total"] == 2,
        "periodic snapshots")
    c.send({"cmd": "unsubscribe"})
    c.recv_type("unsubscribed")
    c.close()

    # wsbridge ctl.
    rc, out, err = ctl_bin("-s", sock, "stats")
    T.expect_eq(rc, 0, "ctl stats status")
    T.check("total conns     2" in out, "ctl stats text: %r" % out[:200])
    rc, out, err = ctl_bin("-s", sock, "--json", "list")
    T.expect_eq((rc, json.loads(out)["type"]), (0, "list"), "ctl list --json")
    rc, out, err = ctl_bin("-s", sock, "conn", "12345")
    T.check(rc == 1 and "no-such-connection" in err, "ctl conn error")
    rc, out, err = ctl_bin("-s", os.path.join(d, "none.sock"), "stats")
    T.check(rc == 1 and "No such file" in err, "ctl without wsbridge")
    # Usage: asked for, on stdout with status 0; a command line it cannot
    # run, on stderr with status 2, before it looks for the socket (the
    # path given does not exist: that would be status 1).
    rc, out, err = ctl_bin("--help")
    T.check(rc == 0 and out.startswith("usage: wsbridge ctl") and
        "events [N]" in out and err == "", "ctl --help",
        "status 0, usage on stdout", (rc, out[:60], err[:60]))
    for args in ([], ["frobnicate"], ["--bogus", "stats"], ["conn"],
            ["send"], ["events", "1", "2"]):
        rc, out, err = ctl_bin("-s", os.path.join(d, "none.sock"), *args)
        T.check(rc == 2 and "usage: wsbridge ctl" in err and out == "",
            "ctl %s: usage" % (" ".join(args) or "(no command)"),
            "status 2, usage on stderr", (rc, out[:60], err[:120]))

    # A second wsbridge may not take a live socket.
    st, text = T.run_wsbridge("--listen", "127.0.0.1:0", "--route",
        "/=echo", "--control", sock)
    T.check(st != 0 and "another process listens" in text,
        "live control socket refused")
    T.expect_eq(b.stop(), 0, "exit status")
    T.check(not os.path.exists(sock), "socket removed at exit")


def stats_bucket(n):
    b = 0
    while n > 1:
        n >>= 1
        b += 1
    return b + 1


def test_slow_client(d):
    """A client subscribed to everything at 50 ms that never reads: echo
    throughput stays, wsbridge's memory stays bounded, it gets skipped."""
    sock = os.path.join(d, "s.sock")
    b = T.Bridge("--route", "/echo=echo", "--control", sock,
        name="wsbridge-slowctl")

    async def echo_loop(n):
        async with connect(b) as ws:
            t0 = time.monotonic()
            for i in range(n):
                await ws.send(b"x" * 512)
                await ws.recv()
            return time.monotonic() - t0
    base = T.arun(echo_loop(3000), 120)
    stuck = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stuck.connect(sock)
    stuck.sendall(json.dumps({"cmd": "subscribe", "snapshot_ms": 50,
        "events": ["open", "close", "frame"],
        "max_frames_per_sec": 100000}).encode() + b"\n")
    rss0 = b.rss_kib()
    slow = T.arun(echo_loop(3000), 120)
    rss1 = b.rss_kib()
    T.log("   3000 echoes: %.2fs alone, %.2fs with a stuck control client; "
        "RSS %d -> %d KiB" % (base, slow, rss0, rss1))
    T.check(slow < base * 3 + 1.0, "echo not slowed by a client that does "
        "not read (%.2fs vs %.2fs)" % (slow, base))
    T.check(rss1 - rss0 < 64 * 1024, "memory bounded (grew %d KiB)" %
        (rss1 - rss0))
    c = T.Ctl(sock)
    g = c.ask({"cmd": "stats"})["global"]
    T.expect_eq(g["control_clients"], 2, "both clients still counted")
    c.close()
    stuck.close()
    T.expect_eq(b.stop(), 0, "exit status")


def test_framelog_hol(d):
    """Schema 2: the pong's wait and each message's transfer time reach the
    frame log; a version-1 file is upgraded in place."""
    db = os.path.join(d, "hol.db")
    # A version-1 file, from the first migration step of this source.
    src = open(os.path.join(T.HERE, "..", "..", "src",
        "framelog_db.c")).read()
    step0 = src.split("/* 0 -> 1: the first schema. */", 1)[1]
    step0 = step0.split("/*\n\t * 1 -> 2", 1)[0]
    sql1 = "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', step0))
    sql1 = sql1.replace("\\'", "'")
    con = sqlite3.connect(db)
    con.executescript(sql1)
    con.execute("PRAGMA user_version = 1")
    con.execute("INSERT INTO sessions (id, t_start) VALUES (1, 1)")
    con.execute("INSERT INTO frames (session_id, t, dir, opcode, fin, rsv1, "
        "rsv2, rsv3, masked, hdr_len, len) VALUES (1, 1, 'in', 1, 1, 0, 0, "
        "0, 1, 6, 5)")
    con.commit()
    con.close()
    sock = os.path.join(d, "h.sock")
    b = T.Bridge("--route", "/echo=echo", "--control", sock, "--log-db", db,
        name="wsbridge-holdb")

    async def client():
        async with connect(b) as ws:
            for n in (100, 200000):
                await ws.send(b"y" * n)
                await ws.recv()
            await (await ws.ping())
    T.arun(client(), 60)
    T.expect_eq(b.stop(), 0, "exit status")
    con = sqlite3.connect(db)
    T.expect_eq(con.execute("PRAGMA user_version").fetchone()[0], 5,
        "upgraded to schema 5")
    T.expect_eq(con.execute("SELECT count(*) FROM frames WHERE session_id = "
        "1 AND wait_ns IS NULL").fetchone()[0], 1, "old row kept")
    sid = con.execute("SELECT max(id) FROM sessions").fetchone()[0]
    pong = con.execute("SELECT wait_ns FROM frames WHERE session_id = ? AND "
        "dir = 'out' AND opcode = 10", (sid,)).fetchone()
    T.check(pong is not None and pong[0] is not None and 0 < pong[0] < 5e9,
        "pong wait_ns recorded: %r" % (pong,))
    rows = con.execute("SELECT msg_no, transfer_ns, next_delay_ns FROM "
        "messages WHERE session_id = ? AND dir = 'out' ORDER BY msg_no",
        (sid,)).fetchall()
    T.expect_eq([r[0] for r in rows], [1, 2], "two messages out")
    T.check(all(r[1] is not None and r[1] > 0 for r in rows),
        "transfer_ns per message: %r" % rows)
    T.check(rows[0][2] is not None, "next_delay_ns of the first")
    con.close()


def test_deflate(d):
    """Per-connection wire and inflated bytes and the compression ratio in
    the snapshot, list, conn and wsbridge ctl list."""
    sock = os.path.join(d, "z.sock")
    b = T.Bridge("--route", "/z=echo deflate=on deflate-min-size=0",
        "--control", sock, name="wsbridge-ctlz")
    c = T.Ctl(sock)
    msgs = [json.dumps([{"id": i, "kind": "reading", "value": i % 17}
        for i in range(n)]) for n in (20, 500, 2000)]
    info = {}

    async def traffic():
        async with connect(b, "/z", extensions=[
                ClientPerMessageDeflateFactory()]) as ws:
            info["ext"] = ws.response_headers.get("Sec-WebSocket-Extensions")
            for m in msgs:
                await ws.send(m)
                T.expect_eq(await ws.recv(), m, "echo")
            info["snap"] = c.ask({"cmd": "snapshot"})
            info["list"] = c.ask({"cmd": "list"})
            cid = info["snap"]["conns"][0][0]
            info["conn"] = c.ask({"cmd": "conn", "conn": cid})
            info["ctl"] = ctl_bin("-s", sock, "list")
    T.arun(traffic(), 60)
    c.close()
    T.expect_eq(b.stop(), 0, "exit status")
    T.check((info["ext"] or "").startswith("permessage-deflate"),
        "deflate agreed: %r" % info["ext"])

    s = info["snap"]
    row = dict(zip(s["cols"], s["conns"][0]))
    plain = sum(len(m) for m in msgs)
    T.expect_eq((row["plain_in"], row["plain_out"], row["zmsgs_in"],
        row["zmsgs_out"]), (plain, plain, 3, 3), "plain bytes and "
        "compressed messages each way")
    T.check(0 < row["wire_in"] < plain / 3 and 0 < row["wire_out"] < plain / 3,
        "wire bytes well below plain: %r" % row)
    T.expect_eq((row["bytes_in"], row["bytes_out"], row["largest_out"]),
        (plain, plain, len(msgs[-1])), "bytes and largest count inflated "
        "payload both ways")
    for k, p_, w in (("zratio_in", row["plain_in"], row["wire_in"]),
            ("zratio_out", row["plain_out"], row["wire_out"]),
            ("zratio", 2 * plain, row["wire_in"] + row["wire_out"])):
        T.expect_eq(row[k], int(p_ * 1000 / w + 0.5), "%s = plain / wire "
            "in thousandths" % k)
    T.check(row["zratio"] > 3000, "ratio above 3: %d" % row["zratio"])
    T.expect_eq(s["new"][0]["extensions"], info["ext"], "static facts: "
        "the agreed extension")
    lo = info["list"]["conns"][0]
    cn = info["conn"]["conn"]
    for k in ("wire_in", "wire_out", "plain_in", "plain_out", "zmsgs_in",
            "zmsgs_out", "zratio_in", "zratio_out", "zratio"):
        T.expect_eq((lo[k], cn[k]), (row[k], row[k]), "list and conn: %s" % k)
    rc, out, err = info["ctl"]
    T.expect_eq(rc, 0, "ctl list status")
    lines = out.splitlines()
    T.check(len(lines) == 2 and "CMP" in lines[0].split(), "ctl list header "
        "has CMP: %r" % out)
    want = "%.1fx" % (row["zratio"] / 1000)
    T.check(want in lines[1].split(), "ctl list shows the ratio %s: %r" %
        (want, lines[1] if len(lines) > 1 else out))


def test_pipelined(d):
    """Workers build their parts of an answer on their own loops and post
    them back: requests sent in one write are still answered in order,
    with every worker's numbers, and a client that leaves while its
    answers are being built costs nothing."""
    sock = os.path.join(d, "p.sock")
    b = T.Bridge("--route", "/echo=echo", "--control", sock, "-o",
        "workers 3", name="wsbridge-pipe")
    c = T.Ctl(sock)
    reqs = [{"cmd": "stats", "req": 1}, {"cmd": "list", "req": 2},
        {"cmd": "snapshot", "req": 3}, {"cmd": "hello", "req": 4},
        {"cmd": "conn", "conn": 5, "req": 5},
        {"cmd": "subscribe", "snapshot_ms": 50, "req": 6}]
    c.send(b"\n".join(json.dumps(r).encode() for r in reqs))
    got = []
    while len(got) < len(reqs):
        o = c.recv()
        if o.get("req") is not None:
            got.append(o)
    T.expect_eq([(o["req"], o["type"]) for o in got], [(1, "stats"),
        (2, "list"), (3, "snapshot"), (4, "hello"), (5, "error"),
        (6, "subscribed")], "answers in the order of the requests")
    T.expect_eq(got[0]["global"]["workers"], 3, "stats: three workers")
    T.expect_eq(c.recv_type("snapshot")["global"]["workers"], 3,
        "subscription snapshots follow")
    c.close()
    gone = T.Ctl(sock)
    gone.send(b"\n".join([b'{"cmd":"snapshot"}'] * 50))
    gone.close()
    c = T.Ctl(sock)
    T.expect_eq(c.ask({"cmd": "stats"})["type"], "stats",
        "answers go on after a client left mid-answer")
    c.close()
    T.expect_eq(b.stop(), 0, "exit status")


def flood(sock, n, seconds):
    """n clients on sock that send stats requests and never read, for up
    to seconds or until wsbridge cut them all. Returns the number cut."""
    req = b'{"cmd":"stats"}\n' * 256
    hogs = []
    for _ in range(n):
        h = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        h.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        h.connect(sock)
        h.setblocking(False)
        hogs.append(h)
    live = list(hogs)
    end = time.monotonic() + seconds
    while live and time.monotonic() < end:
        sent = False
        for h in list(live):
            try:
                h.send(req)
                sent = True
            except BlockingIOError:
                pass
            except OSError:     # cut: EPIPE or ECONNRESET
                live.remove(h)
        if not sent:
            time.sleep(0.01)
    for h in hogs:
        h.close()
    return n - len(live)


def test_limits(d):
    """control-max-clients and control-client-buffer: clients that ask and
    never read are cut once their unread answers pass their budget
    (counted, logged) and wsbridge's memory stays within max-clients x
    budget; a client that reads still gets an answer larger than its
    budget; a client past the limit gets a clear error instead of hello;
    the others are served meanwhile."""
    maxc, budget = 16, 1024 * 1024
    env = T.asan_rss_env()
    slack = 32 * 1024 if env is None else 64 * 1024
    sock = os.path.join(d, "limits.sock")
    b = T.Bridge("--route", "/echo=echo", "--control", sock, "-o",
        "control-max-clients %d" % maxc, "-o", "control-client-buffer 1M",
        env=env, name="wsbridge-ctl-limits")
    keeper = T.Ctl(sock)
    g = keeper.ask({"cmd": "stats"})["global"]
    T.expect_eq((g["control_clients_refused"], g["control_clients_cut"]),
        (0, 0), "no client refused or cut yet")
    rss0 = b.rss_kib()
    peak = [rss0]
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            try:
                peak[0] = max(peak[0], b.rss_kib())
            except (T.Failure, OSError):
                return
            time.sleep(0.05)
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    # The keeper and 15 hogs fill the 16 places; the hogs ask until cut.
    cut = flood(sock, maxc - 1, 120)
    stop.set()
    sampler.join()
    T.log("   %d clients asking and never reading: %d cut; RSS %d KiB "
        "before, peak %d KiB (bound: %d x %d KiB + %d KiB)" % (maxc - 1,
        cut, rss0, peak[0], maxc, budget // 1024, slack))
    T.expect_eq(cut, maxc - 1, "every hog cut")
    T.check(peak[0] - rss0 < maxc * budget // 1024 + slack, "memory within "
        "max-clients x budget", "< %d KiB" % (maxc * budget // 1024 + slack),
        peak[0] - rss0)
    b.wait_log(r"control client \d+: \d+ bytes unread and \d+ more would "
        r"pass its budget of 1048576 \(control-client-buffer\); "
        r"disconnecting", 30)
    g = keeper.ask({"cmd": "stats"})["global"]
    T.expect_eq(g["control_clients_cut"], maxc - 1, "cut clients counted")

    # A client that reads gets an answer larger than its whole budget.
    q = "q=" + "x" * 7000
    conns = [T.raw_ws(b.port, "/echo?" + q) for _ in range(160)]
    keeper.send({"cmd": "list", "req": 8})
    while b"\n" not in keeper.buf:
        x = keeper.s.recv(1 << 20)
        T.check(x != b"", "the list arrives (not cut)")
        keeper.buf += x
    size = keeper.buf.index(b"\n") + 1
    lst = keeper.recv()
    T.check(size > budget, "a list larger than the budget", "> %d" % budget,
        size)
    T.expect_eq(len(lst["conns"]), 160, "every connection listed")
    g = keeper.ask({"cmd": "stats"})["global"]
    T.expect_eq(g["control_clients_cut"], maxc - 1, "the reader not cut")
    for c in conns:
        c.close()

    # Full house: the next client gets an error line instead of hello.
    others = [T.Ctl(sock) for _ in range(maxc - 1)]
    r = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    r.settimeout(30)
    r.connect(sock)
    line = b""
    while not line.endswith(b"\n"):
        x = r.recv(4096)
        if not x:
            break
        line += x
    T.check(r.recv(4096) == b"", "refused client's connection closed")
    r.close()
    o = json.loads(line)
    T.expect_eq((o["type"], o["code"]), ("error", "too-many-clients"),
        "refused with an error line")
    T.check("control-max-clients 16" in o["message"], "the message names "
        "the limit", "control-max-clients 16", o["message"])
    rc, out, err = ctl_bin("-s", sock, "stats")
    T.expect_eq(rc, 1, "wsbridge ctl refused: exit status")
    T.check("too-many-clients" in err and "control-max-clients" in err,
        "wsbridge ctl says why", "too-many-clients", err)
    b.wait_log(r"control client refused: 16 clients already connected "
        r"\(control-max-clients 16\)", 30)
    # The clients inside are still served.
    for c in others:
        T.expect_eq(c.ask({"cmd": "stats"})["type"], "stats",
            "a client inside is served")
        c.close()
    g = keeper.ask({"cmd": "stats"})["global"]
    T.expect_eq(g["control_clients_refused"], 2, "refusals counted")
    keeper.close()
    rc, out, err = ctl_bin("-s", sock, "stats")
    T.expect_eq(rc, 0, "wsbridge ctl stats once there is room")
    T.check(re.search(r"control +\d+ clients, 2 refused \(too many\), 15 "
        r"cut \(output over budget\)", out) is not None, "ctl stats shows "
        "the counters", "control ... 2 refused ... 15 cut", out)
    T.expect_eq(b.stop(), 0, "exit status")


def test_files(d):
    """The socket file: control-mode; a symbolic link, another user's
    socket or a plain file at the path refused (at start and by --check);
    a missing directory reported by --check."""
    sock = os.path.join(d, "mode.sock")
    b = T.Bridge("--route", "/echo=echo", "--control", sock, "-o",
        "control-mode 0660", name="wsbridge-ctl-mode")
    T.expect_eq(oct(stat.S_IMODE(os.lstat(sock).st_mode)), oct(0o660),
        "control-mode 0660")
    T.expect_eq(b.stop(), 0, "exit status")
    link = os.path.join(d, "link.sock")
    target = T.link_to_precious(d, link)
    plain = os.path.join(d, "plain.sock")
    with open(plain, "w") as f:
        f.write("not a socket\n")
    cases = [(link, "is a symbolic link; refusing"),
        (plain, "exists and is not a socket"),
        (os.path.join(d, "no", "such", "dir.sock"),
            "directory %s: No such file" % os.path.join(d, "no", "such"))]
    if os.geteuid() == 0:
        theirs = os.path.join(d, "theirs.sock")
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(theirs)
        s.close()
        os.lchown(theirs, 65534, 65534)
        cases.append((theirs, "a socket of uid 65534, not of wsbridge's "
            "uid 0; refusing"))
    for path, why in cases:
        name = os.path.basename(path)
        T.expect_refused(("--check", "127.0.0.1:0", "echo", "--control",
            path), why, "--check refuses " + name)
        if "directory" not in why:
            T.expect_refused(("127.0.0.1:0", "echo", "--control", path), why,
                "start refuses " + name)
    with open(target) as f:
        T.expect_eq(f.read(), "keep me\n", "the link's target untouched")
    T.check(os.path.islink(link), "the link left in place")


def main():
    d = T.tmpdir()
    with T.subtest("protocol, fields, events, errors, ctl"):
        test_basics(d)
    with T.subtest("a control client that never reads"):
        test_slow_client(d)
    with T.subtest("frame log head-of-line columns, v1 upgrade"):
        test_framelog_hol(d)
    with T.subtest("permessage-deflate: wire and inflated bytes, ratio"):
        test_deflate(d)
    with T.subtest("pipelined requests on three workers, a client that "
            "leaves mid-answer"):
        test_pipelined(d)
    with T.subtest("control-max-clients and control-client-buffer: clients "
            "that never read are cut, memory bounded, the next refused"):
        test_limits(d)
    with T.subtest("socket file: control-mode, links and others' files "
            "refused, --check"):
        test_files(d)


T.run(main)
