"""wsbtest.py -- shared helpers for wsbridge's integration tests.

Starts wsbridge on OS-picked ports (always --listen 127.0.0.1:0, port learnt
from its "listening on HOST:PORT" stderr line), drains its stderr in a thread,
stops it with SIGTERM and fails on sanitizer reports; runs Python backends in
threads on 127.0.0.1:0; speaks raw RFC 6455 over plain sockets for the checks
that need hand-built bytes.

A test script does:

    import wsbtest as T
    def main():
        with T.subtest("echo of a text message"):
            ...
            T.expect_eq(got, expected, "echoed payload")
    T.run(main)

Exit status follows automake: 0 pass, 77 skip, 1 fail. Every wait has a
timeout; nothing sleeps where an event can be awaited.

With WSB_WATCH=1 (make check runs every integration test a second time
so, as TEST.py.watched) each Bridge that does not open a control socket of
its own gets one (--control) with a live subscriber attached before the
test sees the bridge (watcher.py: snapshots, a detail request per
snapshot, open/close/frame events, all read as they come); its findings
fail the test when the bridge stops.
"""

import asyncio
import base64
import contextlib
import hashlib
import json
import os
import queue
import random
import re
import signal
import socket
import ssl
import struct
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse
import urllib.request

import watcher

SKIP = 77
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
HERE = os.path.dirname(os.path.abspath(__file__))
SANITIZER_MARKS = ("AddressSanitizer", "runtime error:", "LeakSanitizer",
                   "ThreadSanitizer")

OP_CONT, OP_TEXT, OP_BINARY = 0x0, 0x1, 0x2
OP_CLOSE, OP_PING, OP_PONG = 0x8, 0x9, 0xA

MiB = 1024 * 1024

WATCH = os.environ.get("WSB_WATCH") == "1"
MODE = "watched" if WATCH else "plain"


# ---------------------------------------------------------------- reporting

class Failure(Exception):
    """A check did not hold; the message says expected vs got."""


class Skip(Exception):
    """The test cannot run here (missing tool); exit 77."""


_failures = []
_bridges = []		# every Bridge started, for log dumps and final stop
_tmpdirs = []


def log(msg):
    print(msg, flush=True)


def step(msg):
    log("-- " + msg)


def fail(msg):
    raise Failure(msg)


def check(cond, what, expected=None, got=None):
    """Raises Failure unless cond; prints 'ok: what' otherwise."""
    if not cond:
        if expected is None and got is None:
            raise Failure(what)
        raise Failure("%s: expected %s, got %s" % (what, _short(expected),
            _short(got)))
    log("   ok: " + what)


def expect_eq(got, expected, what):
    check(got == expected, what, expected, got)


def expect_in(got, allowed, what):
    check(got in allowed, what, "one of %r" % (allowed,), got)


def _short(v):
    r = repr(v)
    if len(r) > 300:
        r = r[:300] + "...(%d chars)" % len(r)
    return r


@contextlib.contextmanager
def subtest(name):
    """Runs one independent sub-check: a failure is recorded, printed, and
    the script goes on with the next sub-check."""
    log("== " + name)
    t0 = time.monotonic()
    try:
        yield
    except Skip:
        raise
    except Failure as e:
        _failures.append((name, str(e)))
        log("FAIL: %s: %s" % (name, e))
    except Exception as e:  # a crash of the check itself is a failure too
        _failures.append((name, "%s: %s" % (type(e).__name__, e)))
        log("FAIL: %s: unexpected %s: %s" % (name, type(e).__name__, e))
        traceback.print_exc(file=sys.stdout)
    else:
        log("PASS: %s (%.2fs)" % (name, time.monotonic() - t0))


def run(main):
    """Runs main(), stops every bridge, and exits 0/1/77."""
    status = 0
    log("mode: %s" % MODE)
    try:
        main()
    except Skip as e:
        log("SKIP: %s" % e)
        _cleanup(quiet=True)
        sys.exit(SKIP)
    except Failure as e:
        _failures.append(("main", str(e)))
        log("FAIL: %s" % e)
    except Exception as e:
        _failures.append(("main", "%s: %s" % (type(e).__name__, e)))
        log("FAIL: unexpected %s: %s" % (type(e).__name__, e))
        traceback.print_exc(file=sys.stdout)
    _cleanup()
    if _failures:
        log("")
        log("%d check(s) failed (mode %s):" % (len(_failures), MODE))
        for name, msg in _failures:
            log("  - %s: %s" % (name, msg))
        for b in _bridges:
            b.dump_log()
        status = 1
    else:
        log("all checks passed (mode %s)" % MODE)
    sys.stdout.flush()
    os._exit(status)	# daemon threads may still block in recv


def _cleanup(quiet=False):
    for f in _forwarders:
        f.stop()
    for b in _bridges:
        if not b.stopped:
            try:
                b.stop()
            except Failure as e:
                if not quiet:
                    _failures.append(("stop " + b.name, str(e)))
                    log("FAIL: stop %s: %s" % (b.name, e))
    for d in _tmpdirs:
        subprocess.run(["rm", "-rf", d], check=False)


_forwarders = []


class TlsForwarder:
    """A TLS client in front of a plain-socket test: each TCP connection to
    127.0.0.1:self.port is carried over TLS (Python's ssl module, that is
    OpenSSL as a client; no certificate check) to 127.0.0.1:tls_port, so
    the test speaks wss://. Each direction is pumped on its own with
    asyncio, 64 KiB at a time, each write awaited (a full side never blocks
    the other), over sockets whose buffers are fixed at 64 KiB: a stalled
    peer holds the other side back about as soon as over a direct
    connection."""

    BUF = 65536

    def __init__(self, tls_port):
        self.tls_port = tls_port
        self.loop = asyncio.new_event_loop()
        self.ctx = ssl.create_default_context()
        self.ctx.check_hostname = False
        self.ctx.verify_mode = ssl.CERT_NONE
        ready = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(ready,),
            daemon=True)
        self.thread.start()
        if not ready.wait(10):
            fail("TLS forwarder did not start")
        _forwarders.append(self)

    def _run(self, ready):
        asyncio.set_event_loop(self.loop)
        ls = socket.socket()
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.BUF)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self.BUF)
        ls.bind(("127.0.0.1", 0))
        self.port = ls.getsockname()[1]
        self.server = self.loop.run_until_complete(asyncio.start_server(
            self._serve, sock=ls))
        ready.set()
        self.loop.run_forever()

    async def _pump(self, r, w):
        try:
            while True:
                d = await r.read(self.BUF)
                if not d:
                    break
                w.write(d)
                await w.drain()
            if w.can_write_eof():
                w.write_eof()
        except (OSError, ssl.SSLError, ConnectionError):
            w.transport.abort()

    async def _serve(self, cr, cw):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.BUF)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self.BUF)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.setblocking(False)
        try:
            await self.loop.sock_connect(s, ("127.0.0.1", self.tls_port))
            tr, tw = await asyncio.open_connection(sock=s, ssl=self.ctx,
                server_hostname="localhost")
        except (OSError, ssl.SSLError):
            cw.transport.abort()
            return
        cw.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP,
            socket.TCP_NODELAY, 1)
        await asyncio.gather(self._pump(cr, tw), self._pump(tr, cw))
        for w in (cw, tw):
            w.close()

    def stop(self):
        if self.loop.is_running():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)


def tmpdir():
    d = tempfile.mkdtemp(prefix="wsbtest-")
    _tmpdirs.append(d)
    return d


def deadline_loop(timeout, what, interval=0.05):
    """Bounded polling for state that has no event to wait on (e.g. a file
    reload seen only through behaviour). Yields until the caller breaks;
    raises Failure at the deadline."""
    end = time.monotonic() + timeout
    while True:
        yield
        if time.monotonic() > end:
            fail("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(interval)


# ---------------------------------------------------------------- wsbridge

def wsbridge_path():
    p = os.environ.get("WSBRIDGE") or os.path.join(HERE, "..", "..",
        "wsbridge")
    return os.path.abspath(p)


def is_asan_build():
    try:
        with open(wsbridge_path(), "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False


def asan_rss_env():
    """For a test that bounds RSS: None, or on an ASan build an environment
    that shrinks ASan's quarantine (it keeps freed buffers resident), so
    RSS shows live memory; such a test also allows for shadow memory."""
    if not is_asan_build():
        return None
    opts = os.environ.get("ASAN_OPTIONS", "")
    return {"ASAN_OPTIONS": (opts + ":" if opts else "") +
        "quarantine_size_mb=4:thread_local_quarantine_size_kb=64"}


def link_to_precious(d, link):
    """A symbolic link at link to a new file in d holding "keep me\n": what
    wsbridge must refuse to follow. Returns the target's path."""
    target = os.path.join(d, os.path.basename(link) + ".target")
    with open(target, "w") as f:
        f.write("keep me\n")
    os.symlink(target, link)
    return target


def expect_refused(args, why, what):
    """Runs wsbridge with args (it must not start); checks it exits 1 and
    says why."""
    rc, out = run_wsbridge(*args, timeout=30)
    check(rc == 1 and why in out, what, why, (rc, out))


_LISTEN_RE = re.compile(r"listening on (\[[0-9a-fA-F:.]+\]|[^\s:\[\]]+):(\d+)")


class Bridge:
    """One wsbridge process. args are extra arguments; listen lists the
    --listen addresses (default one on 127.0.0.1 port 0); nlisteners: how
    many "listening on" lines to wait for (default len(listen)), for
    listeners given another way (positional PORT, config file); 0: none
    (port is None). prefix: a command that runs wsbridge (e.g.
    systemd-socket-activate ...)."""

    def __init__(self, *args, listen=("127.0.0.1:0",), env=None,
            name="wsbridge", start_timeout=10.0, nlisteners=None,
            prefix=()):
        self.name = name
        self.lines = []
        self.cond = threading.Condition()
        self.stopped = False
        self.exitcode = None
        self.watcher = None
        watch_sock = None
        if WATCH and not _own_control(args):
            watch_sock = os.path.join(tmpdir(), "watch.sock")
            args += ("--control", watch_sock)
        cmd = list(prefix) + [wsbridge_path()]
        for l in listen:
            cmd += ["--listen", l]
        cmd += list(args)
        self.cmd = cmd
        if not os.access(wsbridge_path(), os.X_OK):
            fail("wsbridge binary not found or not executable: %s "
                "(set WSBRIDGE)" % wsbridge_path())
        e = dict(os.environ)
        if env:
            e.update(env)
        log("   start: %s" % " ".join(_shq(a) for a in cmd))
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=e)
        self.pid = self.proc.pid
        _bridges.append(self)
        self._eof = 0
        for stream, tag in ((self.proc.stderr, ""), (self.proc.stdout,
                "[stdout] ")):
            threading.Thread(target=self._drain, args=(stream, tag),
                daemon=True).start()
        self.addrs = []
        self._wait_listeners(len(listen) if nlisteners is None else
            nlisteners, start_timeout)
        self.port = self.addrs[0][1] if self.addrs else None
        if watch_sock is not None:
            try:
                self.watcher = watcher.Watcher(watch_sock, self.pid)
            except (OSError, RuntimeError) as e:
                fail("%s: %s" % (self.name, e))
            log("   watched: %s" % self.watcher.summary())

    def _drain(self, stream, tag):
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self.cond:
                self.lines.append(tag + line)
                self.cond.notify_all()
        with self.cond:
            self._eof += 1
            self.cond.notify_all()

    def _wait_listeners(self, n, timeout):
        end = time.monotonic() + timeout
        seen = 0
        while True:
            with self.cond:
                new = self.lines[seen:]
                seen = len(self.lines)
                eof = self._eof
            for line in new:
                m = _LISTEN_RE.search(line)
                if m:
                    self.addrs.append((m.group(1).strip("[]"),
                        int(m.group(2))))
            if len(self.addrs) >= n:
                return
            if eof >= 2 or self.proc.poll() is not None:
                try:
                    self.proc.wait(5)
                except subprocess.TimeoutExpired:
                    pass
                with self.cond:
                    self.cond.wait_for(lambda: self._eof >= 2, 2)
                self.stopped = True
                self.exitcode = self.proc.returncode
                fail("wsbridge exited (status %s) before printing %d "
                    "'listening on' line(s); log:\n%s" % (
                    self.proc.returncode, n, self.log_text()))
            left = end - time.monotonic()
            if left <= 0:
                fail("no 'listening on HOST:PORT' line for %d listener(s) "
                    "within %.0fs; log so far:\n%s" % (n, timeout,
                    self.log_text()))
            with self.cond:
                if len(self.lines) == seen and self._eof < 2:
                    self.cond.wait(min(left, 0.5))

    def log_text(self):
        with self.cond:
            return "\n".join(self.lines)

    def wait_log(self, pattern, timeout=10.0, start=0):
        """Waits for a stderr line matching regex pattern (from line index
        start); returns the line. Raises Failure at the timeout."""
        rx = re.compile(pattern)
        end = time.monotonic() + timeout
        with self.cond:
            i = start
            while True:
                while i < len(self.lines):
                    if rx.search(self.lines[i]):
                        return self.lines[i]
                    i += 1
                left = end - time.monotonic()
                if left <= 0 or self._eof >= 2:
                    fail("no wsbridge log line matching %r within %.0fs" %
                        (pattern, timeout))
                self.cond.wait(left)

    def nlines(self):
        with self.cond:
            return len(self.lines)

    def alive(self):
        return self.proc.poll() is None

    def signal(self, sig):
        self.proc.send_signal(sig)

    def rss_kib(self):
        with open("/proc/%d/status" % self.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        fail("no VmRSS in /proc/%d/status" % self.pid)

    def wait_exit(self, timeout):
        """Waits for the process to exit by itself; returns its status or
        None at the timeout."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, timeout=15.0):
        """SIGTERM, wait, check the log for sanitizer reports. Returns the
        exit status. Raises Failure on a hang, crash or sanitizer report."""
        if self.stopped:
            return self.exitcode
        self.stopped = True
        problems = []
        if self.watcher is not None:
            bad = self.watcher.check()
            if bad:
                problems.append("control subscriber: " + bad)
            else:
                log("   watched %s: %s" % (self.name,
                    self.watcher.summary()))
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
                problems.append("did not exit within %.0fs of SIGTERM "
                    "(killed)" % timeout)
        self.exitcode = self.proc.returncode
        # Let the drain threads reach EOF so the log is complete.
        end = time.monotonic() + 5
        with self.cond:
            while self._eof < 2 and time.monotonic() < end:
                self.cond.wait(0.2)
        if self.exitcode is not None and self.exitcode < 0:
            problems.append("killed by signal %d" % -self.exitcode)
        text = self.log_text()
        for mark in SANITIZER_MARKS:
            if mark in text:
                problems.append("stderr contains %r" % mark)
        if self.watcher is not None:
            self.watcher.close()
        if problems:
            fail("%s (pid %d): %s" % (self.name, self.pid,
                "; ".join(problems)))
        return self.exitcode

    def dump_log(self, last=300):
        with self.cond:
            lines = list(self.lines)
        log("----- %s log (pid %d, %d lines%s) -----" % (self.name, self.pid,
            len(lines), ", last %d" % last if len(lines) > last else ""))
        for l in lines[-last:]:
            log("   | " + l)
        log("----- end of %s log -----" % self.name)

    def url(self, path="/"):
        return "ws://127.0.0.1:%d%s" % (self.port, path)


def _own_control(args):
    """Whether wsbridge's args open a control socket already (--control,
    -o 'control PATH', or -c FILE with a control line): such a test watches
    itself and keeps its own."""
    args = list(args)
    for i, a in enumerate(args):
        nxt = args[i + 1] if i + 1 < len(args) else ""
        if a == "--control" or a.startswith("--control="):
            return True
        if a in ("-o", "--option") and re.match(r"\s*control\s", nxt):
            return True
        if a in ("-c", "--config") and os.path.isfile(nxt):
            with open(nxt) as f:
                if re.search(r"^\s*control\s", f.read(), re.M):
                    return True
    return False


def _shq(a):
    if re.fullmatch(r"[\w@%+=:,./-]+", a):
        return a
    return "'" + a.replace("'", "'\\''") + "'"


# ---------------------------------------------------------------- Prometheus

PROM_WAIT = 60.0


def prom_get(port, path, timeout=10):
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path),
            timeout=timeout) as r:
        return r.status, r.read()


def prom_query(port, q):
    """The single value of instant query q, or None when it has none."""
    try:
        st, body = prom_get(port, "/api/v1/query?query=" +
            urllib.parse.quote(q))
    except OSError:
        return None
    res = json.loads(body)
    if res.get("status") != "success" or not res["data"]["result"]:
        return None
    return float(res["data"]["result"][0]["value"][1])


def prometheus_scrapes(addrs, want):
    """A Prometheus of our own (Debian's prometheus) scrapes the admin
    endpoints at addrs ((host, port) each) every second with
    contrib/prometheus's rules; the open-connections gauge summed over
    them (raw and as recorded) must come to want, every target up."""
    d = tmpdir()
    rules = os.path.join(d, "wsbridge.rules.yml")
    shutil.copy(os.path.join(HERE, "..", "..", "contrib", "prometheus", "wsbridge.rules.yml"), rules)
    conf = os.path.join(d, "prometheus.yml")
    with open(conf, "w") as f:
        f.write("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
            "rule_files:\n  - %s\n"
            "scrape_configs:\n  - job_name: wsbridge\n"
            "    static_configs:\n      - targets: [%s]\n" % (rules,
            ", ".join("'%s:%d'" % a for a in addrs)))
    port = closed_port()
    plog = open(os.path.join(d, "prometheus.log"), "w")
    log("   start: prometheus on 127.0.0.1:%d scraping %s" % (port,
        ", ".join("%s:%d" % a for a in addrs)))
    p = subprocess.Popen(["prometheus", "--config.file=" + conf,
        "--storage.tsdb.path=" + os.path.join(d, "data"),
        "--web.listen-address=127.0.0.1:%d" % port, "--log.level=warn"],
        stdin=subprocess.DEVNULL, stdout=plog, stderr=subprocess.STDOUT)
    try:
        for _ in deadline_loop(PROM_WAIT, "Prometheus ready", 0.2):
            if p.poll() is not None:
                fail("prometheus exited with %s; see %s" % (p.returncode,
                    plog.name))
            try:
                if prom_get(port, "/-/ready")[0] == 200:
                    break
            except OSError:
                pass
        got = None
        for _ in deadline_loop(PROM_WAIT, "Prometheus's query of the "
                "connections gauge", 0.2):
            got = prom_query(port, 'sum(wsbridge_connections'
                '{state="open"})')
            if got == want:
                break
        expect_eq(got, want, "sum(wsbridge_connections{state=\"open\"}) "
            "through Prometheus's HTTP API")
        got = None
        for _ in deadline_loop(PROM_WAIT, "the recording rule's value", 0.2):
            got = prom_query(port, "job:wsbridge_connections_open:sum")
            if got == want:
                break
        expect_eq(got, want, "job:wsbridge_connections_open:sum (contrib "
            "rules)")
        st, body = prom_get(port, "/api/v1/targets")
        health = [t["health"] for t in
            json.loads(body)["data"]["activeTargets"]]
        expect_eq(health, ["up"] * len(addrs), "Prometheus's target health")
    finally:
        p.terminate()
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(10)
        plog.close()


def terminate(proc, timeout=30.0):
    """SIGTERM to a helper process (HAProxy, a server), SIGKILL if it has
    not exited after timeout."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def run_wsbridge(*args, timeout=15.0):
    """Runs wsbridge to completion (e.g. --check, --help). Returns
    (status, stdout+stderr text)."""
    p = subprocess.run([wsbridge_path()] + list(args), stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
    return p.returncode, p.stdout.decode("utf-8", "replace")


# ---------------------------------------------------------------- payloads

def pattern(n, seed, chunk=256 * 1024):
    """Deterministic pseudo-random bytes: yields chunks totalling n."""
    rng = random.Random(seed)
    left = n
    while left > 0:
        k = min(chunk, left)
        yield rng.randbytes(k)
        left -= k


def pattern_bytes(n, seed, chunk=256 * 1024):
    return b"".join(pattern(n, seed, chunk))


def pattern_digest(n, seed, chunk=256 * 1024):
    h = hashlib.sha256()
    for c in pattern(n, seed, chunk):
        h.update(c)
    return h.hexdigest()


# ---------------------------------------------------------------- backends

class Backend:
    """A TCP server on 127.0.0.1:0 in a thread; handle(conn) runs in a thread
    per connection. self.accepted counts connections."""

    def __init__(self, backlog=128):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(backlog)
        self.port = self.sock.getsockname()[1]
        self.addr = "127.0.0.1:%d" % self.port
        self.accepted = 0
        self.errors = []
        self.closing = False
        self.conns = []
        threading.Thread(target=self._accept_loop, daemon=True).start()

    def _accept_loop(self):
        while not self.closing:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            self.conns.append(c)
            threading.Thread(target=self._run, args=(c,), daemon=True).start()

    def _run(self, c):
        try:
            self.handle(c)
        except Exception as e:
            self.errors.append("%s: %s" % (type(e).__name__, e))
        finally:
            try:
                c.close()
            except OSError:
                pass

    def handle(self, c):
        raise NotImplementedError

    def close(self):
        self.closing = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


class EchoBackend(Backend):
    """Sends back every byte it receives; closes when the peer does."""

    def handle(self, c):
        while True:
            d = c.recv(256 * 1024)
            if not d:
                return
            c.sendall(d)


class UnixEchoBackend:
    """An echo server on the unix socket path; self.accepted counts
    connections."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.bind(path)
        self.sock.listen(16)
        self.accepted = 0
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            threading.Thread(target=self._serve, args=(c,),
                daemon=True).start()

    @staticmethod
    def _serve(c):
        with c:
            while True:
                x = c.recv(65536)
                if not x:
                    return
                c.sendall(x)

    def close(self):
        self.sock.close()


def replace_file(path, text):
    """Writes text to path through a new file renamed over it, as editors
    and configuration tools do."""
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


class SinkBackend(Backend):
    """Hashes what it receives; on EOF puts (byte count, sha256 hex) in
    self.results. gate: an Event to wait for before reading anything (a slow
    reader); read_delay: seconds to pause between small reads."""

    def __init__(self, gate=None, read_size=256 * 1024, read_delay=0.0):
        self.results = queue.Queue()
        self.gate = gate
        self.read_size = read_size
        self.read_delay = read_delay
        self.received = 0
        super().__init__()

    def handle(self, c):
        if self.gate is not None:
            self.gate.wait(60)
        h = hashlib.sha256()
        n = 0
        try:
            while True:
                d = c.recv(self.read_size)
                if not d:
                    break
                h.update(d)
                n += len(d)
                self.received += len(d)
                if self.read_delay:
                    time.sleep(self.read_delay)
        finally:
            self.results.put((n, h.hexdigest()))

    def wait_result(self, timeout):
        try:
            return self.results.get(timeout=timeout)
        except queue.Empty:
            fail("sink backend saw no EOF within %.0fs (received %d bytes "
                "so far)" % (timeout, self.received))


class SourceBackend(Backend):
    """Sends n bytes of pattern(n, seed) to each connection, then closes.
    self.sent counts bytes handed to the kernel."""

    def __init__(self, n, seed=1):
        self.n = n
        self.seed = seed
        self.sent = 0
        self.done = threading.Event()
        super().__init__()

    def handle(self, c):
        for chunk in pattern(self.n, self.seed):
            c.sendall(chunk)
            self.sent += len(chunk)
        c.shutdown(socket.SHUT_WR)
        self.done.set()
        # Wait for the peer to close so our FIN is not turned into a RST by
        # unread data (the bridge may still write to us).
        c.settimeout(60)
        try:
            while c.recv(65536):
                pass
        except OSError:
            pass


class MidCloseBackend(Backend):
    """Sends k bytes of pattern(k, seed) and then ends the connection: with a
    FIN, or with a RST (SO_LINGER 0) once release is set (so that the bytes
    are known to have reached the client first)."""

    def __init__(self, k, seed=2, rst=False, release=None):
        self.k = k
        self.seed = seed
        self.rst = rst
        self.release = release
        super().__init__()

    def handle(self, c):
        for chunk in pattern(self.k, self.seed):
            c.sendall(chunk)
        if self.rst:
            if self.release is not None:
                self.release.wait(30)
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                struct.pack("ii", 1, 0))
            c.close()
        else:
            c.shutdown(socket.SHUT_WR)
            c.settimeout(30)
            try:
                while c.recv(65536):
                    pass
            except OSError:
                pass


class ScriptBackend(Backend):
    """Runs fn(conn) for each connection (custom behaviour)."""

    def __init__(self, fn):
        self.fn = fn
        super().__init__()

    def handle(self, c):
        self.fn(c)


def closed_port():
    """A port on 127.0.0.1 with nothing listening (connect: refused)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class BlackholeBackend:
    """A listener whose accept queue is full (backlog 0, never accepts, one
    connection parked in it): further SYNs are dropped, so connects to it
    hang until the caller's timeout."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(0)
        self.port = self.sock.getsockname()[1]
        self.addr = "127.0.0.1:%d" % self.port
        self.fillers = []
        for _ in range(2):
            f = socket.socket()
            f.setblocking(False)
            f.connect_ex(("127.0.0.1", self.port))
            self.fillers.append(f)
        # Prove it: a fresh connect must not complete quickly.
        probe = socket.socket()
        probe.settimeout(0.5)
        try:
            probe.connect(("127.0.0.1", self.port))
            self.works = False
        except (socket.timeout, OSError):
            self.works = True
        finally:
            probe.close()

    def close(self):
        for f in self.fillers:
            f.close()
        self.sock.close()


# ---------------------------------------------------------------- raw RFC 6455

def make_key():
    return base64.b64encode(os.urandom(16)).decode()


def accept_for(key):
    return base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()
        ).decode()


def upgrade_request(path="/", host="127.0.0.1", key=None, version="13",
        method="GET", upgrade="websocket", connection="Upgrade",
        extra=(), omit=(), http="HTTP/1.1"):
    """Builds a request head. omit: header names (lower case) to leave out;
    extra: (name, value) pairs appended."""
    if key is None:
        key = make_key()
    hdrs = [("Host", host), ("Upgrade", upgrade), ("Connection", connection),
        ("Sec-WebSocket-Key", key), ("Sec-WebSocket-Version", version)]
    lines = ["%s %s %s" % (method, path, http)]
    for n, v in hdrs:
        if n.lower() not in omit:
            lines.append("%s: %s" % (n, v))
    for n, v in extra:
        lines.append("%s: %s" % (n, v))
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def mask_bytes(payload, key):
    if not payload or key == b"\0\0\0\0":
        return bytes(payload)
    n = len(payload)
    rep = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "little") ^ int.from_bytes(rep, "little")
        ).to_bytes(n, "little")


def frame(opcode, payload=b"", fin=True, rsv=0, mask=True, key=None,
        length=None, len_form=None):
    """Builds one frame. rsv: the 3 RSV bits as an int (4=RSV1). length:
    override the encoded payload length; len_form: force 7/16/64-bit form."""
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    n = len(payload) if length is None else length
    b0 = (0x80 if fin else 0) | ((rsv & 7) << 4) | (opcode & 0xF)
    mbit = 0x80 if mask else 0
    form = len_form or (7 if n < 126 else 16 if n < 65536 else 64)
    if form == 7:
        hdr = struct.pack("!BB", b0, mbit | n)
    elif form == 16:
        hdr = struct.pack("!BBH", b0, mbit | 126, n)
    else:
        hdr = struct.pack("!BBQ", b0, mbit | 127, n)
    if mask:
        if key is None:
            key = os.urandom(4)
        return hdr + key + mask_bytes(payload, key)
    return hdr + bytes(payload)


def close_payload(code, reason=b""):
    if isinstance(reason, str):
        reason = reason.encode("utf-8")
    return struct.pack("!H", code) + reason


class Frame:
    __slots__ = ("fin", "rsv", "opcode", "masked", "payload")

    def __init__(self, fin, rsv, opcode, masked, payload):
        self.fin, self.rsv, self.opcode = fin, rsv, opcode
        self.masked, self.payload = masked, payload

    def close_code(self):
        if len(self.payload) >= 2:
            return struct.unpack("!H", self.payload[:2])[0]
        return None

    def __repr__(self):
        return "Frame(op=%d fin=%d rsv=%d len=%d %r)" % (self.opcode,
            self.fin, self.rsv, len(self.payload), bytes(self.payload[:40]))


class Closed(Exception):
    """The TCP connection ended (EOF or reset)."""


class RawConn:
    """A plain TCP client speaking hand-built HTTP and frames."""

    def __init__(self, port, host="127.0.0.1", family=socket.AF_INET,
            timeout=10.0, rcvbuf=None, source=None):
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        if source is not None:	# another loopback address, say
            self.sock.bind((source, 0))
        self.sock.settimeout(timeout)
        self.sock.connect((host, port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.eof = False
        self.timeout = timeout

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self, deadline, want=256 * 1024):
        """Reads more into buf. Raises Closed on EOF/reset, Failure at the
        deadline."""
        if self.eof:
            raise Closed("EOF")
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("deadline passed")
        self.sock.settimeout(left)
        try:
            d = self.sock.recv(want)
        except (ConnectionResetError, BrokenPipeError) as e:
            self.eof = True
            raise Closed(str(e))
        if not d:
            self.eof = True
            raise Closed("EOF")
        self.buf += d

    def read_response(self, timeout=10.0):
        """Reads an HTTP response head. Returns (status, reason, headers)
        where headers maps lower-case names to lists of values. Raises
        Closed if the server closed without a complete head."""
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in self.buf:
            try:
                self._fill(deadline, 4096)
            except socket.timeout:
                fail("no HTTP response head within %.1fs (got %r)" % (
                    timeout, bytes(self.buf[:200])))
        i = self.buf.index(b"\r\n\r\n")
        head = bytes(self.buf[:i]).decode("latin-1")
        del self.buf[:i + 4]
        lines = head.split("\r\n")
        m = re.match(r"HTTP/1\.1 (\d{3})(?: (.*))?$", lines[0])
        if not m:
            fail("malformed status line %r" % lines[0])
        headers = {}
        for l in lines[1:]:
            if ":" not in l:
                fail("malformed header line %r" % l)
            n, v = l.split(":", 1)
            headers.setdefault(n.strip().lower(), []).append(v.strip())
        self.status = int(m.group(1))
        self.headers = headers
        return int(m.group(1)), m.group(2) or "", headers

    def upgrade(self, path="/", timeout=10.0, expect=101, **kw):
        """Sends an upgrade request and reads the response; checks the
        status (and the accept key for 101). Returns headers."""
        key = kw.pop("key", None) or make_key()
        self.send(upgrade_request(path=path, key=key, **kw))
        st, reason, h = self.read_response(timeout)
        if expect is not None and st != expect:
            fail("upgrade %s: expected status %d, got %d %s" % (path, expect,
                st, reason))
        if st == 101:
            acc = h.get("sec-websocket-accept", [None])[0]
            if acc != accept_for(key):
                fail("Sec-WebSocket-Accept: expected %r, got %r" % (
                    accept_for(key), acc))
        return h

    def send_frame(self, opcode, payload=b"", **kw):
        self.send(frame(opcode, payload, **kw))

    def recv_frame(self, timeout=10.0):
        """Returns the next Frame. Raises Closed on EOF/reset, Failure on a
        timeout."""
        deadline = time.monotonic() + timeout
        try:
            while len(self.buf) < 2:
                self._fill(deadline)
            b0, b1 = self.buf[0], self.buf[1]
            n = b1 & 0x7F
            off = 2
            if n == 126:
                while len(self.buf) < 4:
                    self._fill(deadline)
                n = struct.unpack("!H", self.buf[2:4])[0]
                off = 4
            elif n == 127:
                while len(self.buf) < 10:
                    self._fill(deadline)
                n = struct.unpack("!Q", self.buf[2:10])[0]
                off = 10
            masked = bool(b1 & 0x80)
            if masked:
                off += 4
            while len(self.buf) < off + n:
                self._fill(deadline, max(256 * 1024, off + n - len(self.buf)))
        except socket.timeout:
            fail("no complete frame within %.1fs (%d bytes buffered)" % (
                timeout, len(self.buf)))
        payload = bytes(self.buf[off:off + n])
        if masked:
            payload = mask_bytes(payload, bytes(self.buf[off - 4:off]))
        del self.buf[:off + n]
        return Frame(bool(b0 & 0x80), (b0 >> 4) & 7, b0 & 0xF, masked, payload)

    def recv_message(self, timeout=10.0, answer_pings=True):
        """Returns (opcode, payload) of the next data message, reassembling
        fragments; answers pings. A close frame raises Failure."""
        deadline = time.monotonic() + timeout
        op, parts = None, []
        while True:
            f = self.recv_frame(max(0.01, deadline - time.monotonic()))
            if f.opcode == OP_PING:
                if answer_pings:
                    self.send_frame(OP_PONG, f.payload)
                continue
            if f.opcode == OP_PONG:
                continue
            if f.opcode == OP_CLOSE:
                fail("expected a data message, got close %r" % (
                    f.close_code(),))
            if op is None:
                if f.opcode == OP_CONT:
                    fail("continuation frame without a message")
                op = f.opcode
            parts.append(f.payload)
            if f.fin:
                return op, b"".join(parts)

    def recv_close(self, timeout=10.0, collect=None):
        """Reads frames until a close frame. Returns (code, reason bytes),
        code None for an empty close; (None, None) if TCP ended without a
        close frame. collect: list that gets the data frames seen before."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                f = self.recv_frame(max(0.01, deadline - time.monotonic()))
            except Closed:
                return None, None
            if f.opcode == OP_CLOSE:
                self.close_frame = f
                return f.close_code(), bytes(f.payload[2:])
            if collect is not None:
                collect.append(f)

    def wait_eof(self, timeout=10.0):
        """True if the peer ends the TCP connection within timeout (extra
        data is discarded)."""
        deadline = time.monotonic() + timeout
        self.buf.clear()
        while True:
            try:
                self._fill(deadline)
                self.buf.clear()
            except Closed:
                return True
            except socket.timeout:
                return False


def raw_ws(port, path="/", **kw):
    """A RawConn already upgraded on path."""
    c = RawConn(port)
    c.upgrade(path, **kw)
    return c


def echo_binary(c, data, timeout=30.0):
    """Sends data as one binary message on c and returns what comes back,
    as many messages as it takes to get as many bytes."""
    c.send_frame(OP_BINARY, data)
    got = bytearray()
    while len(got) < len(data):
        got += c.recv_message(timeout)[1]
    return bytes(got)


class Hammer:
    """Opens WebSockets one after another, one echo each, until finished:
    connect(i) returns the i-th, upgraded. Counts what worked and what
    failed (refused, reset, a wrong echo), with the first errors."""

    def __init__(self, connect):
        self.connect = connect
        self.ok = self.failed = 0
        self.errors = []
        self.stop = threading.Event()
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        i = 0
        while not self.stop.is_set():
            i += 1
            msg = b"hammer %d" % i
            try:
                c = self.connect(i)
                got = echo_binary(c, msg)
                c.close()
                if got != msg:
                    raise RuntimeError("echo %r != %r" % (got, msg))
                self.ok += 1
            except Exception as e:  # noqa: BLE001 -- counted, reported
                self.failed += 1
                if len(self.errors) < 5:
                    self.errors.append("#%d: %r" % (i, e))

    def wait_ok(self, n, timeout=30.0, what="connections"):
        """Waits until n more connections worked than now."""
        want = self.ok + n
        for _ in deadline_loop(timeout, what):
            if self.ok >= want:
                break

    def finish(self):
        """Stops; returns (worked, failed)."""
        self.stop.set()
        self.t.join(60)
        return self.ok, self.failed


# ---------------------------------------------------------------- control socket

class Ctl:
    """A control-socket client speaking JSON lines."""

    def __init__(self, path, timeout=10.0):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(timeout)
        self.s.connect(path)
        self.buf = b""
        self.hello = self.recv()

    def send(self, obj):
        data = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
        self.s.sendall(data + b"\n")

    def recv(self):
        while b"\n" not in self.buf:
            d = self.s.recv(1 << 20)
            if not d:
                fail("control socket closed")
            self.buf += d
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def recv_type(self, typ, timeout=10.0):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            o = self.recv()
            if o.get("type") == typ:
                return o
        fail("no %r message within %.0fs" % (typ, timeout))

    def ask(self, obj):
        obj = dict(obj, req=obj.get("req", 7))
        self.send(obj)
        while True:
            o = self.recv()
            if o.get("req") == obj["req"]:
                return o

    def close(self):
        self.s.close()


# ---------------------------------------------------------------- asyncio peers

class LoopThread:
    """An asyncio loop in a daemon thread; call(coro, timeout) runs a
    coroutine on it from synchronous code."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever,
            daemon=True)
        self.thread.start()

    def call(self, coro, timeout=30.0):
        fut = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return fut.result(timeout)
        except TimeoutError:
            fut.cancel()
            fail("operation did not finish within %.0fs" % timeout)


async def wait_for(aw, timeout, what):
    try:
        return await asyncio.wait_for(aw, timeout)
    except asyncio.TimeoutError:
        fail("timed out after %.1fs: %s" % (timeout, what))


def arun(coro, timeout=120.0):
    """asyncio.run with an overall bound."""
    async def bounded():
        return await wait_for(coro, timeout, "async test body")
    return asyncio.run(bounded())
