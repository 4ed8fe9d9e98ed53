#!/usr/bin/python3
"""bench-deflate.py -- what permessage-deflate costs and saves on a JSON-like
text stream: payload bytes on the wire and wsbridge CPU time per MiB, with
compression off and at a few settings, in both directions.

    backend -> client: a TCP backend writes --mib MiB of JSON lines to a
                       mode=text route; a websockets client reads it all.
    client -> backend: the client sends --mib MiB of JSON lines as 16 KiB
                       text messages (compressed by the client when agreed);
                       a TCP backend reads it all.

Wire bytes are the payload bytes wsbridge framed or received (its close log
line: wire-out / wire-in; frame headers excluded); CPU is wsbridge's user +
system time from /proc/PID/stat across the transfer. Build without
sanitizers for meaningful CPU numbers:

    mkdir -p build-rel && cd build-rel && ../configure -q && make -j2 && cd ..
    /usr/bin/python3 contrib/bench-deflate.py --wsbridge build-rel/wsbridge

Needs Python websockets (Debian: python3-websockets).
"""

import argparse
import asyncio
import json
import os
import random
import re
import socket
import subprocess
import sys
import threading
import time

import websockets

MiB = 1024 * 1024
CONFIGS = [
    ("off", "deflate=off"),
    ("level 1, window 12, mem 5", "deflate=on deflate-level=1"),
    ("level 6, window 12, mem 5", "deflate=on"),	# the defaults
    ("level 9, window 12, mem 5", "deflate=on deflate-level=9"),
    ("level 6, window 15, mem 8", "deflate=on deflate-window-bits=15 "
        "deflate-mem-level=8"),
    ("level 1, window 15, mem 8", "deflate=on deflate-level=1 "
        "deflate-window-bits=15 deflate-mem-level=8"),
]


def json_stream(total, seed=1):
    """total bytes of JSON lines, in ~64 KiB chunks."""
    rng = random.Random(seed)
    events = ["login", "logout", "click", "view", "purchase", "search"]
    left = total
    while left > 0:
        lines = []
        size = 0
        while size < 65536:
            line = json.dumps({"ts": 1700000000 + rng.randrange(10 ** 6),
                "id": rng.randrange(10 ** 9), "user": "user%d" %
                rng.randrange(5000), "event": rng.choice(events),
                "path": "/shop/item/%d" % rng.randrange(10000),
                "price": round(rng.random() * 500, 2),
                "ok": rng.random() < 0.9}) + "\n"
            lines.append(line)
            size += len(line)
        chunk = "".join(lines).encode()[:min(left, 65536)]
        # Whole lines only, except for the very end.
        if len(chunk) < left:
            chunk = chunk[:chunk.rindex(b"\n") + 1]
        left -= len(chunk)
        yield chunk


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / tick


class Bridge:
    def __init__(self, path, routes):
        cmd = [path, "--listen", "127.0.0.1:0"]
        for r in routes:
            cmd += ["--route", r]
        self.proc = subprocess.Popen(cmd, stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        self.lines = []
        self.cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()
        self.port = int(self.wait(r"listening on [^:]+:(\d+)").group(1))

    def _read(self):
        for raw in self.proc.stderr:
            with self.cond:
                self.lines.append(raw.decode(errors="replace"))
                self.cond.notify_all()

    def wait(self, pattern, start=0, timeout=60):
        rx = re.compile(pattern)
        end = time.monotonic() + timeout
        with self.cond:
            i = start
            while True:
                while i < len(self.lines):
                    m = rx.search(self.lines[i])
                    if m:
                        return m
                    i += 1
                if not self.cond.wait(max(0.0, end - time.monotonic())):
                    sys.exit("no log line %r" % pattern)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(15)


def serve(handler):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(16)

    def loop():
        while True:
            c, _ = s.accept()
            threading.Thread(target=handler, args=(c,), daemon=True).start()
    threading.Thread(target=loop, daemon=True).start()
    return s.getsockname()[1]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--wsbridge", default="build/wsbridge")
    ap.add_argument("--mib", type=int, default=64)
    args = ap.parse_args()
    total = args.mib * MiB

    def source(c):
        for chunk in json_stream(total):
            c.sendall(chunk)
        c.shutdown(socket.SHUT_WR)
        while c.recv(65536):
            pass
        c.close()

    got = {}

    def sink(c):
        n = 0
        while True:
            d = c.recv(256 * 1024)
            if not d:
                break
            n += len(d)
        got["n"] = n
        c.close()

    src_port = serve(source)
    sink_port = serve(sink)
    routes = []
    for i, (_, opts) in enumerate(CONFIGS):
        routes.append("/down%d=127.0.0.1:%d mode=text %s" % (i, src_port,
            opts))
        routes.append("/up%d=127.0.0.1:%d %s" % (i, sink_port, opts))
    b = Bridge(args.wsbridge, routes)
    pid = b.proc.pid
    upload = [c.decode() for c in json_stream(total, seed=2)]
    # 16 KiB messages, whole lines.
    msgs = []
    for c in upload:
        for k in range(0, len(c), 16384):
            msgs.append(c[k:k + 16384])

    async def down(path):
        async with websockets.connect("ws://127.0.0.1:%d%s" % (b.port, path),
                max_size=None, ping_interval=None) as ws:
            n = 0
            try:
                while True:
                    m = await ws.recv()
                    n += len(m)
            except websockets.ConnectionClosed:
                pass
            return n

    async def up(path):
        async with websockets.connect("ws://127.0.0.1:%d%s" % (b.port, path),
                max_size=None, ping_interval=None) as ws:
            for m in msgs:
                await ws.send(m)

    print("wsbridge %s, %d MiB of JSON lines each way" % (args.wsbridge,
        args.mib))
    print("%-27s %-16s %9s %9s %6s %9s %8s" % ("settings", "direction",
        "payload", "wire", "ratio", "CPU ms/MiB", "MiB/s"))
    for i, (name, _) in enumerate(CONFIGS):
        for direction, path, fn in (("backend->client", "/down%d" % i, down),
                ("client->backend", "/up%d" % i, up)):
            start = len(b.lines)
            c0, t0 = cpu_seconds(pid), time.monotonic()
            asyncio.run(fn(path))
            m = b.wait(r"route=%s .* in=(\d+)/\d+ out=(\d+)/\d+ " %
                re.escape(path), start)
            c1, t1 = cpu_seconds(pid), time.monotonic()
            pin, pout = int(m.group(1)), int(m.group(2))
            w = re.search(r"wire-in=(\d+) wire-out=(\d+)", m.string)
            win, wout = (int(w.group(1)), int(w.group(2))) if w else \
                (pin, pout)
            payload, wire = (pout, wout) if path.startswith("/down") else \
                (pin, win)
            print("%-27s %-16s %7.1f M %7.1f M %5.2fx %9.1f %8.0f" % (name,
                direction, payload / MiB, wire / MiB, payload / max(wire, 1),
                (c1 - c0) * 1000 / (payload / MiB), (payload / MiB) /
                (t1 - t0)))
    b.stop()


if __name__ == "__main__":
    main()
