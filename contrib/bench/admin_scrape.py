#!/usr/bin/python3
"""admin_scrape.py -- what scraping the admin endpoint costs wsbridge.

Starts WSBRIDGE (an optimised build) with an echo route, opens N idle
WebSocket tunnels from this process, then measures wsbridge's CPU time
(utime + stime from /proc) over D seconds three ways, in turn, on the same
process: idle without scrapes, with one GET /metrics every second, and idle
again. Prints CPU per wall second (percent of one core) of each and what
the scrapes added.

    contrib/bench/admin_scrape.py [-n 10000] [-d 60] [-w WORKERS] WSBRIDGE
    contrib/bench/admin_scrape.py --no-admin ...   (the same without admin)
"""

import argparse
import os
import re
import socket
import subprocess
import sys
import time

KEY = b"dGhlIHNhbXBsZSBub25jZQ=="


def cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / tick


def open_tunnels(port, n):
    """n upgraded sockets, opened 200 at a time."""
    socks = []
    while len(socks) < n:
        batch = []
        for _ in range(min(200, n - len(socks))):
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(b"GET /echo HTTP/1.1\r\nHost: b\r\nUpgrade: websocket\r\n"
                b"Connection: Upgrade\r\nSec-WebSocket-Key: " + KEY +
                b"\r\nSec-WebSocket-Version: 13\r\n\r\n")
            batch.append(s)
        for s in batch:
            s.settimeout(30)
            head = b""
            while b"\r\n\r\n" not in head:
                d = s.recv(4096)
                if not d:
                    sys.exit("tunnel refused")
                head += d
            if not head.startswith(b"HTTP/1.1 101"):
                sys.exit("no 101: %r" % head[:80])
        socks += batch
    return socks


def scrape(addr):
    s = socket.create_connection(addr, timeout=30)
    s.sendall(b"GET /metrics HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    n = 0
    while True:
        d = s.recv(65536)
        if not d:
            break
        n += len(d)
    s.close()
    return n


def measure(pid, secs, addr):
    """CPU percent of one core over secs, scraping once a second if addr."""
    t0, c0 = time.monotonic(), cpu_s(pid)
    size = 0
    k = 0
    while time.monotonic() - t0 < secs:
        k += 1
        if addr is not None:
            size = scrape(addr)
        left = t0 + k - time.monotonic()
        if left > 0:
            time.sleep(left)
    t1, c1 = time.monotonic(), cpu_s(pid)
    return 100.0 * (c1 - c0) / (t1 - t0), size


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=10000)
    ap.add_argument("-d", type=float, default=60.0)
    ap.add_argument("-w", type=int, default=1)
    ap.add_argument("--no-admin", action="store_true")
    ap.add_argument("wsbridge")
    a = ap.parse_args()
    cmd = [a.wsbridge, "-l", "127.0.0.1:0", "-r", "/echo=echo", "--workers",
        str(a.w), "-o", "max-connections %d" % (a.n + 100)]
    if not a.no_admin:
        cmd += ["--admin", "127.0.0.1:0"]
    logf = open("/tmp/admin_scrape.%d.log" % os.getpid(), "w+")
    p = subprocess.Popen(cmd, stderr=logf, stdout=subprocess.DEVNULL)
    port = admin = None
    end = time.monotonic() + 30
    while port is None or (admin is None and not a.no_admin):
        if time.monotonic() > end or p.poll() is not None:
            sys.exit("wsbridge did not start; see " + logf.name)
        time.sleep(0.1)
        logf.seek(0)
        text = logf.read()
        m = re.search(r"listening on 127\.0\.0\.1:(\d+)", text)
        port = int(m.group(1)) if m else None
        m = re.search(r"admin endpoint on 127\.0\.0\.1:(\d+)", text)
        admin = ("127.0.0.1", int(m.group(1))) if m else None
    try:
        socks = open_tunnels(port, a.n)
        time.sleep(3)
        print("wsbridge pid %d, %d idle tunnels, %d worker(s), %.0f s each"
            % (p.pid, len(socks), a.w, a.d))
        idle1, _ = measure(p.pid, a.d, None)
        scr, size = measure(p.pid, a.d, None if a.no_admin else admin)
        idle2, _ = measure(p.pid, a.d, None)
        print("idle:             %.3f %% of a core" % idle1)
        print("scraping at 1 Hz: %.3f %% of a core (%d-byte answers)" % (
            scr, size))
        print("idle again:       %.3f %% of a core" % idle2)
        print("scrapes added:    %.3f %% of a core" % (
            scr - (idle1 + idle2) / 2))
    finally:
        p.terminate()
        p.wait(60)
        logf.close()
        os.unlink(logf.name)


main()
