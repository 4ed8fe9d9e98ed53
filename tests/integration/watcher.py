#!/usr/bin/python3
"""watcher.py -- a live subscriber on wsbridge's control socket, for the
integration tests' "watched" mode (WSB_WATCH=1, see wsbtest.py).

It does what wsbridge-top does while someone looks at it, and a little
more: subscribes to a snapshot every 100 ms with connection rows, asks
for one open connection's details after each snapshot (the detail view,
which makes wsbridge keep that connection's recent frames), and takes
open and close events. It reads all the time, so wsbridge never sees a
slow client. Frame events are not asked for: wsbridge-top does not, and
one JSON object built and freed per frame fills an ASan build's
quarantine (a few hundred MiB of RSS), which tests that bound memory
would take for a leak.

What it checks (each a problem the test reports):
- the hello line says protocol 1, a "subscribed" answer and a first
  snapshot arrive within the start timeout;
- every line is a JSON object with a "type"; every snapshot row has as
  many values as "cols" names; no error answers (but "no-such-connection"
  for a detail request about a connection that closed meanwhile);
- the connection stays open while wsbridge runs (an end of file is only
  accepted once the process has exited);
- when the test stops wsbridge, a stats request is still answered.

Used two ways: wsbtest.py imports Watcher; wsbtest.mjs runs this file as
a program ("watcher.py SOCKET PID"), which prints "ready ..." once
subscribed, and for each "check" line on its stdin prints "ok ..." or
"fail REASON".
"""

import json
import os
import socket
import sys
import threading
import time

SNAPSHOT_MS = 100
EVENTS = ["open", "close"]


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie has exited: its parent just has not reaped it yet.
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


class Watcher:
    """Connects to the control socket at path of the wsbridge with process
    id pid, subscribes, and reads in a daemon thread. Raises RuntimeError
    if the subscription does not come up within timeout seconds."""

    def __init__(self, path, pid, timeout=30.0):
        self.path = path
        self.pid = pid
        self.problems = []
        self.snapshots = 0
        self.events = 0
        self.details = 0
        self.lines = 0
        self.eof = False
        self.cond = threading.Condition()
        self._answers = {}
        self._send_mu = threading.Lock()
        self._next_detail = 0
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(timeout)
        self.s.connect(path)
        self.s.settimeout(None)
        threading.Thread(target=self._read, daemon=True).start()
        self._send({"cmd": "subscribe", "snapshot_ms": SNAPSHOT_MS,
            "conns": True, "events": EVENTS, "req": "subscribe"})
        end = time.monotonic() + timeout
        with self.cond:
            while not (self.problems or self.eof or (self.snapshots and
                    "subscribe" in self._answers)):
                left = end - time.monotonic()
                if left <= 0:
                    break
                self.cond.wait(left)
            bad = self.problems or self.eof or not self.snapshots
        if bad:
            raise RuntimeError("control subscriber did not come up: %s" %
                self.summary())

    def _send(self, obj):
        with self._send_mu:
            try:
                self.s.sendall(json.dumps(obj).encode() + b"\n")
            except (BrokenPipeError, ConnectionResetError):
                # wsbridge hung up: the reader judges the end of file.
                pass
            except OSError as e:
                self._problem("send failed: %s" % e)

    def _problem(self, msg):
        if len(msg) > 300:
            msg = msg[:300] + "..."
        with self.cond:
            if len(self.problems) < 5:
                self.problems.append(msg)
            self.cond.notify_all()

    def _read(self):
        buf = b""
        while True:
            try:
                d = self.s.recv(1 << 20)
            except ConnectionResetError:
                # wsbridge exiting with a request of ours unread: judged
                # below like an end of file.
                d = b""
            except OSError as e:
                self._problem("read failed: %s" % e)
                d = b""
            if not d:
                break
            buf += d
            *lines, buf = buf.split(b"\n")
            for line in lines:
                self._line(line)
        if buf:
            self._problem("unterminated last line: %r" % buf[:200])
        # wsbridge closes control clients as it exits; before, never. The
        # exit may follow a drain of up to shutdown-timeout (10 s by
        # default) on a busy machine: wait well past it (failure only).
        end = time.monotonic() + 60
        while _pid_alive(self.pid) and time.monotonic() < end:
            time.sleep(0.05)
        if _pid_alive(self.pid):
            self._problem("wsbridge closed the control connection while "
                "it kept running")
        with self.cond:
            self.eof = True
            self.cond.notify_all()

    def _line(self, line):
        self.lines += 1
        try:
            o = json.loads(line)
        except ValueError as e:
            self._problem("not JSON (%s): %r" % (e, line[:200]))
            return
        if not isinstance(o, dict) or not isinstance(o.get("type"), str):
            self._problem("not an object with a type: %r" % line[:200])
            return
        t = o["type"]
        if t == "hello":
            if o.get("protocol") != 1:
                self._problem("hello with protocol %r" % o.get("protocol"))
        elif t == "snapshot":
            self._snapshot(o)
        elif t == "event":
            with self.cond:
                self.events += 1
        elif t == "conn":
            with self.cond:
                self.details += 1
        elif t == "error":
            if not (o.get("code") == "no-such-connection" and
                    str(o.get("req", "")).startswith("detail")):
                self._problem("error answer: %r" % line[:300])
        # Only the answers someone waits for are kept.
        if o.get("req") in ("subscribe", "final-stats"):
            with self.cond:
                self._answers[o["req"]] = o
                self.cond.notify_all()

    def _snapshot(self, o):
        cols = o.get("cols")
        rows = o.get("conns")
        if not isinstance(o.get("global"), dict) or not isinstance(cols,
                list) or not isinstance(rows, list):
            self._problem("snapshot without global, cols or conns: %r" %
                json.dumps(o)[:300])
            return
        for r in rows:
            if not isinstance(r, list) or len(r) != len(cols):
                self._problem("snapshot row of %s values for %d cols: %r" %
                    (len(r) if isinstance(r, list) else "no", len(cols), r))
                return
        with self.cond:
            self.snapshots += 1
            self.cond.notify_all()
        # The detail view: one connection at a time, in turn.
        if rows and "id" in cols:
            self._next_detail += 1
            r = rows[self._next_detail % len(rows)]
            self._send({"cmd": "conn", "conn": r[cols.index("id")],
                "req": "detail-%d" % self._next_detail})

    def summary(self):
        with self.cond:
            return "%d snapshots, %d events, %d details, %d lines%s%s" % (
                self.snapshots, self.events, self.details, self.lines,
                ", closed" if self.eof else "",
                "; problems: " + "; ".join(self.problems)
                if self.problems else "")

    def check(self, timeout=30.0):
        """Called before wsbridge is stopped: while it runs, a stats request
        must be answered. Returns None if all held, else what did not."""
        if _pid_alive(self.pid) and not self.eof:
            req = "final-stats"
            self._send({"cmd": "stats", "req": req})
            end = time.monotonic() + timeout
            with self.cond:
                while req not in self._answers and not self.eof and \
                        not self.problems:
                    left = end - time.monotonic()
                    if left <= 0:
                        self.problems.append("no answer to a stats "
                            "request within %.0fs" % timeout)
                        break
                    self.cond.wait(left)
                a = self._answers.get(req)
                if a is not None and a.get("type") != "stats":
                    self.problems.append("stats request answered with %r" %
                        a.get("type"))
        with self.cond:
            if self.problems:
                return self.summary()
        return None

    def close(self):
        try:
            self.s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.s.close()


def main():
    if len(sys.argv) != 3:
        sys.stderr.write("usage: watcher.py SOCKET PID\n")
        sys.exit(2)
    try:
        w = Watcher(sys.argv[1], int(sys.argv[2]))
    except (OSError, RuntimeError) as e:
        print("fail %s" % e, flush=True)
        sys.exit(1)
    print("ready " + w.summary(), flush=True)
    for line in sys.stdin:
        if line.strip() == "check":
            bad = w.check()
            print(("fail " + bad) if bad else ("ok " + w.summary()),
                flush=True)
    w.close()


if __name__ == "__main__":
    main()
