#!/usr/bin/python3
"""test_top.py -- wsbridge-top end to end in a real terminal: tmux runs it
at 160x48 against a running wsbridge while an independent client
(hol_client.py, Python websockets) downloads a 64 MiB message on one
connection, stalling its reads for a while, and pings on another. The pane
must show both connections with sensible numbers and the head-of-line
stall on the downloading one only; sort, filter (and its inversion),
detail, head-of-line, help and quit must change the screen as documented;
it must reconnect when wsbridge restarts; and --db must replay the
recorded session. Every wait polls capture-pane against a deadline."""

import os
import re
import shutil
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsbtest as T  # noqa: E402

W, H = 160, 48


def top_path():
    p = os.environ.get("WSBRIDGE_TOP") or os.path.join(
        os.path.dirname(T.wsbridge_path()), "wsbridge-top")
    if not os.access(p, os.X_OK):
        T.fail("wsbridge-top not found at %s (set WSBRIDGE_TOP)" % p)
    return p


class Pane:
    """A tmux session running one command; keys in, screen text out. Each
    pane has a tmux server of its own (-L name): one pane's server exiting
    as its last session goes cannot race the next pane's start."""

    def __init__(self, name, cmd):
        self.name = name
        self.tmux = ["tmux", "-L", name]
        subprocess.run(self.tmux + ["kill-server"], stderr=subprocess.DEVNULL)
        env = "LANG=C.UTF-8 LC_ALL=C.UTF-8 TERM=tmux-256color "
        subprocess.run(self.tmux + ["new-session", "-d", "-s", name, "-x",
            str(W), "-y", str(H), env + cmd + "; echo TOP-EXITED $?; "
            "sleep 120"], check=True)

    def text(self):
        p = subprocess.run(self.tmux + ["capture-pane", "-p", "-t",
            self.name], stdout=subprocess.PIPE, check=True)
        return p.stdout.decode("utf-8", "replace")

    def keys(self, *keys):
        subprocess.run(self.tmux + ["send-keys", "-t", self.name] +
            list(keys), check=True)

    def literal(self, s):
        subprocess.run(self.tmux + ["send-keys", "-t", self.name, "-l", s],
            check=True)

    def wait(self, pred, what, timeout=15.0):
        """Polls the screen until pred(text) is true; returns the text."""
        end = time.monotonic() + timeout
        while True:
            t = self.text()
            if pred(t):
                T.log("   ok: screen shows %s" % what)
                return t
            if time.monotonic() > end:
                T.log("----- screen -----\n" + t + "\n------------------")
                T.fail("screen never showed %s within %.0fs" % (what,
                    timeout))
            time.sleep(0.1)

    def kill(self):
        subprocess.run(self.tmux + ["kill-server"], stderr=subprocess.DEVNULL)


def row(text, needle):
    for line in text.splitlines():
        if needle in line:
            return line
    return None


DUR = r"(\d+\.\d\ds|\d+m\d\ds)"		# a second or more, as fmt_dur shows


class Client:
    """hol_client.py in its own process; its lines gathered in a thread."""

    def __init__(self, url, stall):
        self.lines = []
        self.cond = threading.Condition()
        self.proc = subprocess.Popen(["/usr/bin/python3", os.path.join(T.HERE,
            "hol_client.py"), url, "--stall", str(stall), "--linger", "4"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for raw in iter(self.proc.stdout.readline, b""):
            with self.cond:
                self.lines.append(raw.decode().rstrip())
                self.cond.notify_all()

    def wait(self, prefix, timeout=60):
        end = time.monotonic() + timeout
        with self.cond:
            while True:
                for l in self.lines:
                    if l.startswith(prefix):
                        return l
                left = end - time.monotonic()
                if left <= 0:
                    T.fail("client never said %r; it said %r" % (prefix,
                        self.lines))
                self.cond.wait(left)


def live_pane(d, tag):
    """A wsbridge with an echo route, a control socket and a frame log, and
    wsbridge-top watching it: (socket, log, bridge, pane)."""
    sock = os.path.join(d, tag + ".sock")
    db = os.path.join(d, tag + ".db")
    b = T.Bridge("--route", "/echo=echo", "--control", sock, "--log-db", db,
        name="wsbridge-top-" + tag)
    pane = Pane("wsbtop%s%d" % (tag, os.getpid()), "%s -s %s -d 0.5" % (
        top_path(), sock))
    return sock, db, b, pane


def test_live_and_replay(d):
    sock, db, b, pane = live_pane(d, "live")
    try:
        pane.wait(lambda t: "pid %d" % b.pid in t, "the title with "
            "wsbridge's pid")
        c = Client(b.url("/echo"), stall=20)
        bport = c.wait("B-port").split()[1]
        aport = c.wait("A-port").split()[1]
        a_id, b_id = "127.0.0.1:" + aport, "127.0.0.1:" + bport
        c.wait("A-stalled")

        # Both rows; the stall on A only, with bytes queued for it.
        def stalled(t):
            ra, rb = row(t, a_id), row(t, b_id)
            return (ra is not None and rb is not None and
                re.search(DUR + r"\s*$", ra) is not None and
                re.search(r"(-|\d+(us|ms))\s*$", rb) is not None)
        t = pane.wait(stalled, "A stalled for a second or more, B not")
        ra = row(t, a_id)
        T.check(re.search(r"\d+(\.\d+)?[KM]\s+\d+(\.\d+)?[KM]\s+" + DUR +
            r"\s*$", ra) is not None, "A has bytes queued in wsbridge and "
            "the kernel: %r" % ra)
        T.check("h1 ws 2" in t, "header counts two h1 connections")
        T.check(re.search(r"bytes out\s+\S+", t) is not None and
            "frame log  " + db[:30] in t, "header: rates and frame log")
        T.check(t.splitlines().index(ra) < t.splitlines().index(
            row(t, b_id)), "default sort: the stalled one first")

        # Sort by OUT/s, then back to the stall.
        pane.keys("O")
        pane.wait(lambda t: "OUT/s↓" in t, "the sort marker on OUT/s")
        pane.keys("O")
        pane.wait(lambda t: "OUT/s↑" in t, "the same key inverts")
        pane.keys("S")
        pane.wait(lambda t: "HOL↓" in t, "sorted by stall again")

        # Filter: B's port only; then inverted; then cleared.
        pane.keys("/")
        pane.wait(lambda t: "filter (regex" in t, "the filter prompt")
        pane.literal(bport)
        pane.keys("Enter")
        pane.wait(lambda t: row(t, b_id) is not None and row(t, a_id) is None
            and "shown 1/2" in t, "only B after /" + bport)
        pane.keys("/")
        pane.keys("C-u")
        pane.literal("!" + bport)
        pane.keys("Enter")
        pane.wait(lambda t: row(t, a_id) is not None and row(t, b_id) is None
            and "filter !" + bport in t, "only A after /!" + bport)
        pane.keys("/")
        for _ in range(len(bport) + 2):
            pane.keys("BSpace")
        pane.keys("Enter")
        pane.wait(lambda t: "shown 2/2" in t, "filter cleared")

        # Head-of-line view: A ranked first, what it waits behind.
        pane.keys("h")
        t = pane.wait(lambda t: "CAUSED BY" in t and row(t, a_id) is not
            None, "the head-of-line view")
        lines = t.splitlines()
        hdr = [i for i, l in enumerate(lines) if "CAUSED BY" in l][0]
        T.check(a_id in lines[hdr + 1], "A ranked first by stall: %r" %
            lines[hdr + 1])
        T.check(re.search(r"#1 \S+/\S+", lines[hdr + 1]) is not None,
            "A's message #1 in flight with its progress")
        pane.keys("g")
        pane.wait(lambda t: "timeline of connection" in t and "░" in t,
            "A's timeline with bytes still queued")

        # Detail of A.
        pane.keys("Enter")
        pane.wait(lambda t: "frame sizes (log2" in t and a_id in t and
            "in flight #1" in t, "the detail view of A")
        # The view fills in as its data comes: wait for it, not one look.
        t = pane.wait(lambda t: "user agent Python" in t and "OPCODE" in t,
            "handshake facts and the frames table")
        T.check("backend local -" in t, "the backend's local address "
            "(none for the built-in echo) among the facts")

        # Help overlay, then any key closes it.
        pane.keys("?")
        pane.wait(lambda t: "wsbridge-top keys" in t and "regex" in t,
            "the help overlay")
        pane.keys("x")
        pane.wait(lambda t: "wsbridge-top keys" not in t, "help closed")
        pane.keys("Escape")
        pane.wait(lambda t: "LARGEST" in t, "back to the table")

        c.wait("A-resumed", 40)
        c.wait("A-done", 60)
        pane.wait(lambda t: row(t, a_id) is None or re.search(
            r"(-|\d+(us|ms))\s*$", row(t, a_id)), "A's stall over")
        c.wait("done", 30)
        T.expect_eq(c.proc.wait(30), 0, "client exit status")

        # wsbridge restarts: the dashboard says so, then reconnects.
        T.expect_eq(b.stop(), 0, "wsbridge exit status")
        pane.wait(lambda t: "disconnected" in t, "the lost connection")
        b2 = T.Bridge("--route", "/echo=echo", "--control", sock,
            name="wsbridge-top-again")
        pane.wait(lambda t: "pid %d" % b2.pid in t and "disconnected" not
            in t, "reconnected to the new wsbridge", timeout=20)
        pane.keys("q")
        pane.wait(lambda t: "TOP-EXITED 0" in t, "q quits with status 0")
        b2.stop()
    finally:
        pane.kill()

    # Replay of the recorded session.
    pane = Pane("wsbtopdb%d" % os.getpid(), "%s --db %s" % (top_path(), db))
    try:
        t = pane.wait(lambda t: row(t, a_id) is not None and
            row(t, b_id) is not None, "both recorded sessions")
        T.check("replay " + db[:20] in t, "the replay title")
        T.check(re.search(r"64\.0M", row(t, a_id)) is not None,
            "A's largest message: 64.0M")
        pane.keys("/")
        pane.literal(bport)
        pane.keys("Enter")
        pane.wait(lambda t: row(t, a_id) is None, "filtered to B")
        pane.keys("Enter")
        t = pane.wait(lambda t: "OPCODE" in t and re.search(
            r"out\s+pong", t) is not None and re.search(r"in\s+ping", t),
            "B's recorded pings and pongs")
        T.check(re.search(r"out\s+pong.*waited", t) is not None,
            "pong waits from schema 2")
        pane.keys("Escape")
        pane.keys("/")
        for _ in range(len(bport) + 2):
            pane.keys("BSpace")
        pane.keys("Enter")
        pane.keys("h")
        t = pane.wait(lambda t: "CAUSED BY" in t and row(t, a_id) is
            not None, "the head-of-line view of the recording")
        T.check(re.search(DUR, row(t, a_id)) is not None,
            "A's message took seconds to transfer: %r" % row(t, a_id))
        pane.keys("q")
        pane.wait(lambda t: "TOP-EXITED 0" in t, "q quits the replay")
    finally:
        pane.kill()


def test_replay_deflate(d):
    """A recorded permessage-deflate session: CMP in the table and the
    ratio each way in the detail view, from frames.len and plain_len."""
    import asyncio
    import json
    import websockets
    from websockets.extensions.permessage_deflate import (
        ClientPerMessageDeflateFactory)
    db = os.path.join(d, "z.db")
    b = T.Bridge("--route", "/z=echo deflate=on deflate-min-size=0",
        "--route", "/p=echo", "--log-db", db, name="wsbridge-top-z")
    msg = json.dumps([{"id": i, "name": "x%d" % (i % 5)} for i in range(400)])
    ports = {}

    async def client(path):
        async with websockets.connect(b.url(path), max_size=None,
                ping_interval=None, extensions=[
                ClientPerMessageDeflateFactory()]) as ws:
            ports[path] = ws.local_address[1]
            for _ in range(3):
                await ws.send(msg)
                await ws.recv()
    T.arun(client("/z"), 30)
    T.arun(client("/p"), 30)
    T.expect_eq(b.stop(), 0, "wsbridge exit status")
    z_id, p_id = ["127.0.0.1:%d" % ports[k] for k in ("/z", "/p")]
    pane = Pane("wsbtopz%d" % os.getpid(), "%s --db %s" % (top_path(), db))
    try:
        t = pane.wait(lambda t: row(t, z_id) is not None and
            row(t, p_id) is not None and "CMP" in t, "both sessions, CMP")
        m = re.search(r"\s(\d+\.\d)x\s", row(t, z_id))
        T.check(m is not None and float(m.group(1)) > 3, "the compressed "
            "session's ratio: %r" % row(t, z_id))
        T.check(re.search(r"\s-\s", row(t, p_id)) is not None,
            "the plain session shows -: %r" % row(t, p_id))
        T.check(re.search(r"\s%s\s" % re.escape("%.1fK" % (len(msg) /
            1024)), row(t, z_id)) is not None, "LARGEST is the inflated "
            "size: %r" % row(t, z_id))
        pane.keys("Z")
        t = pane.wait(lambda t: "CMP↓" in t, "sorted by ratio")
        lines = t.splitlines()
        T.check(lines.index(row(t, z_id)) < lines.index(row(t, p_id)),
            "best ratio first")
        # The selection stays on its connection through a re-sort, and
        # which one the first sort put on top depends on the sessions'
        # rates: go to the first row, the best ratio.
        pane.keys("g", "Enter")
        t = pane.wait(lambda t: "compression " in t and "OPCODE" in t,
            "the detail view's compression line")
        T.check(re.search(r"in \d+\.\dx \(\S+ -> \S+ wire, 3 msgs "
            r"compressed\)", row(t, "compression ")) is not None,
            "ratio in, bytes and messages: %r" % row(t, "compression "))
        pane.keys("q")
        pane.wait(lambda t: "TOP-EXITED 0" in t, "q quits the replay")
    finally:
        pane.kill()


def ctl_stats(sock):
    """One "stats" answer from the control socket, as a dict."""
    import json
    import socket
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(sock)
    f = s.makefile("rwb")
    f.readline()                        # hello
    f.write(b'{"cmd":"stats"}\n')
    f.flush()
    while True:
        o = json.loads(f.readline())
        if o.get("type") == "stats":
            s.close()
            return o["global"]


def test_closed_detail(d):
    """The detail view of a connection that closes keeps running: it says
    the connection closed and the header's uptime goes on. Its frames
    carry message numbers. The frame log's live "written" counts frame
    rows only, not the head-of-line results that update them."""
    import sqlite3
    sock, db, b, pane = live_pane(d, "closed")
    try:
        pane.wait(lambda t: "pid %d" % b.pid in t, "the title")
        c = T.RawConn(b.port)
        c.upgrade("/echo")
        cid = "127.0.0.1:%d" % c.sock.getsockname()[1]
        pane.wait(lambda t: row(t, cid) is not None, "the connection")
        pane.keys("Enter")
        pane.wait(lambda t: "no frames seen since" in t, "its detail view")
        for i in range(3):
            c.send_frame(T.OP_TEXT, b"m%d" % i)
            c.recv_message()
        c.send_frame(T.OP_PING, b"p")
        T.check(c.recv_frame().opcode == T.OP_PONG, "a pong")
        # TIME DIR OPCODE FIN RSV MASK LENGTH MSG CLOSE
        t = pane.wait(lambda t: re.search(r"in\s+text\s+1\s+0\s+1\s+2\s+3"
            r"\s+-", t) is not None and re.search(r"in\s+ping\s+1\s+0\s+1"
            r"\s+1\s+-\s+-", t) is not None, "message numbers in MSG (in "
            "#3 last; none for the ping)")
        T.check(re.search(r"out\s+(text|cont)\s+1\s+0\s+0\s+\d+\s+3\s", t)
            is not None, "the echo's last frame is out message #3")
        c.send_frame(T.OP_CLOSE, T.close_payload(1000))
        c.recv_close()
        c.close()
        t = pane.wait(lambda t: "has closed" in t and "OPCODE" in t,
            "the detail view says it closed and keeps what it knew")
        up = re.search(r" up (\S+) ", t.splitlines()[0]).group(1)
        pane.wait(lambda t: re.search(r" up (\S+) ", t.splitlines()[0])
            .group(1) != up, "the header's uptime going on after %s" % up)
        pane.keys("Escape")
        pane.wait(lambda t: "LARGEST" in t, "back to the table")

        # Every record is written: "written" is the frame rows.
        def settled():
            g = ctl_stats(sock)["log"]
            con = sqlite3.connect(db)
            n = con.execute("SELECT count(*) FROM frames").fetchone()[0]
            hol = con.execute("SELECT count(*) FROM frames WHERE "
                "transfer_ns IS NOT NULL OR wait_ns IS NOT NULL")\
                .fetchone()[0]
            con.close()
            return g, n, hol
        last = None
        for _ in T.deadline_loop(20, "the frame log settling"):
            now = settled()
            if now[0]["queue"] == 0 and now == last:
                break
            last = now
            time.sleep(0.3)
        g, n, hol = last
        T.check(hol > 0, "head-of-line results were logged", "> 0", hol)
        T.expect_eq(g["written"], n, "frames written (live) vs frame rows")
        pane.keys("q")
        pane.wait(lambda t: "TOP-EXITED 0" in t, "q quits")
    finally:
        pane.kill()
    T.expect_eq(b.stop(), 0, "wsbridge exit status")


def test_man_page():
    """wsbridge(1) documents every option of wsbridge --help's first block,
    points to wsbridge-top(1), and does not call permessage-deflate
    missing."""
    man = open(os.path.join(T.HERE, "..", "..", "man", "wsbridge.1")).read()
    p = subprocess.run([T.wsbridge_path(), "--help"], stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, timeout=30)
    helptext = p.stdout.decode().split("websockify's options")[0]
    opts = sorted(set(re.findall(r"^\s+(?:-(\w), )?--([a-z][a-z-]+)",
        helptext, re.M)))
    T.check(("", "log-db") in opts, "--help lists --log-db: %r" % opts)
    for short, o in opts:
        # The long form, or the short one it comes with.
        T.check(re.search(r"^\.It Fl (Fl %s|%s)\b" % (re.escape(o),
            short or "-"), man, re.M) is not None,
            "wsbridge(1) documents --%s" % o)
    see = man.split(".Sh SEE ALSO")[1].split(".Sh ")[0]
    T.check(".Xr wsbridge-top 1" in see, "SEE ALSO names wsbridge-top(1)")
    caveats = man.split(".Sh CAVEATS")[1].split(".Sh ")[0]
    T.check("not implemented" not in caveats and "deflate" in caveats,
        "CAVEATS says how permessage-deflate is enabled: %r" % caveats)


def main():
    with T.subtest("wsbridge(1): options, SEE ALSO, CAVEATS"):
        test_man_page()
    if shutil.which("tmux") is None:
        raise T.Skip("no tmux")
    d = T.tmpdir()
    with T.subtest("live dashboard, keys, reconnect, replay"):
        test_live_and_replay(d)
    with T.subtest("replay of a permessage-deflate session: CMP, detail"):
        test_replay_deflate(d)
    with T.subtest("a closed connection's detail view; frames written"):
        test_closed_detail(d)


T.run(main)
