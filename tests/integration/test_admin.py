#!/usr/bin/python3
"""test_admin.py -- the admin endpoint (admin ADDR): /healthz, /readyz and
/metrics over TCP and a unix socket, HEAD, 404 and 405; the metrics count
exactly what the test did (tunnels opened over two workers, messages and
frames each way, handshake statuses, close codes); /readyz turns 503 while
a shutdown-mode wait drain runs; promtool finds the exposition clean; a
real Prometheus (Debian's) started here scrapes wsbridge every second, its
recording rules from contrib/prometheus load, and a query of the
connections gauge through its HTTP API equals what the test opened."""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsbtest as T  # noqa: E402
import certs  # noqa: E402
import h2ws  # noqa: E402

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CONTRIB = os.path.join(TOP, "contrib", "prometheus")
WAIT = 60.0     # failure-only bound of every wait for an event

_ADMIN_RE = re.compile(r"admin endpoint on (\S+): ")


def admin_addr(b):
    """(host, port) or a unix path, from the bridge's log line."""
    a = _ADMIN_RE.search(b.wait_log(r"admin endpoint on ", WAIT)).group(1)
    if a.startswith("unix:"):
        return a[5:]
    host, port = a.rsplit(":", 1)
    return (host, int(port))


def http(addr, method, path, timeout=WAIT):
    """One request (Connection: close) to addr, a (host, port) or a unix
    socket path. Returns (status, headers, body)."""
    if isinstance(addr, str):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    else:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(addr)
        s.sendall(("%s %s HTTP/1.1\r\nHost: admin\r\nConnection: close\r\n"
            "\r\n" % (method, path)).encode())
        data = b""
        while True:
            d = s.recv(65536)
            if not d:
                break
            data += d
    finally:
        s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for l in lines[1:]:
        k, _, v = l.partition(":")
        headers[k.strip().lower()] = v.strip()
    return status, headers, body


def metrics(addr):
    st, h, body = http(addr, "GET", "/metrics")
    ctype = h.get("content-type", "")
    if st != 200 or not ctype.startswith("text/plain; version=0.0.4"):
        T.fail("GET /metrics: %d %s" % (st, ctype))
    return body.decode()


def parse(text):
    """{(name, frozenset(labels)): value} of an exposition."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r'([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$', line)
        if m is None:
            T.fail("not an exposition line: %r" % line)
        labels = frozenset(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"',
            m.group(2) or ""))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


def value(ms, name, **labels):
    """The sum of name's series whose labels include labels."""
    want = set(labels.items())
    return sum(v for (n, ls), v in ms.items() if n == name and want <= ls)


def wait_metric(addr, what, cond):
    """Waits (bounded) until cond(parsed metrics) holds: the workers
    publish about once a second. Returns the metrics."""
    ms = None
    for _ in T.deadline_loop(WAIT, what, 0.1):
        ms = parse(metrics(addr))
        if cond(ms):
            return ms
    return ms


def promtool_clean(text, what):
    p = subprocess.run(["promtool", "check", "metrics"], input=text.encode(),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=WAIT)
    out = p.stdout.decode()
    T.check(p.returncode == 0 and out.strip() == "", "promtool check "
        "metrics on " + what, "exit 0, no findings", (p.returncode, out))


def endpoints(addr, where):
    st, _, body = http(addr, "GET", "/healthz")
    T.expect_eq((st, body), (200, b"ok\n"), "GET /healthz " + where)
    st, _, body = http(addr, "GET", "/readyz")
    T.expect_eq((st, body), (200, b"ready\n"), "GET /readyz " + where)
    st, h, body = http(addr, "HEAD", "/metrics")
    T.expect_eq((st, body), (200, b""), "HEAD /metrics " + where)
    st, h, body = http(addr, "HEAD", "/healthz")
    T.expect_eq((st, body, h.get("content-length")), (200, b"", "3"),
        "HEAD /healthz " + where)
    st, h, _ = http(addr, "POST", "/metrics")
    T.expect_eq((st, h.get("allow")), (405, "GET, HEAD"),
        "POST /metrics " + where)
    st, _, _ = http(addr, "DELETE", "/readyz")
    T.expect_eq(st, 405, "DELETE /readyz " + where)
    st, _, _ = http(addr, "GET", "/")
    T.expect_eq(st, 404, "GET / " + where)
    st, _, _ = http(addr, "GET", "/metricsx")
    T.expect_eq(st, 404, "GET /metricsx " + where)
    st, _, _ = http(addr, "GET", "/healthz?verbose=1")
    T.expect_eq(st, 200, "GET /healthz?verbose=1 " + where)
    promtool_clean(metrics(addr), "a fresh bridge " + where)


def main():
    if shutil.which("promtool") is None or shutil.which("prometheus") is None:
        T.fail("promtool and prometheus are needed (Debian package "
            "prometheus; contrib/install-deps.sh test installs it)")

    with T.subtest("contrib/prometheus: promtool checks the scrape config "
            "and the recording rules"):
        for args in (["check", "config", os.path.join(CONTRIB,
                "prometheus.yml")], ["check", "rules", os.path.join(CONTRIB,
                "wsbridge.rules.yml")]):
            p = subprocess.run(["promtool"] + args, stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, timeout=WAIT)
            T.check(p.returncode == 0, "promtool " + " ".join(args[:2]),
                "exit 0", p.stdout.decode())

    with T.subtest("config: admin lines that are refused"):
        for line, why in (("admin", "admin needs one address"),
                ("admin unix:relative", "must be absolute"),
                ("admin 127.0.0.1:80 mode=0600", "unknown option"),
                ("admin 127.0.0.1:99999", "bad port")):
            T.expect_refused(["--check", "-r", "/e=echo", "-o", line], why,
                "-o '%s'" % line)

    n_tun, n_msg = 6, 7
    b = T.Bridge("--workers", "2", "-r", "/echo=echo", "-r", "/other=echo",
        "--admin", "127.0.0.1:0")
    addr = admin_addr(b)

    with T.subtest("TCP: /healthz, /readyz, /metrics, HEAD, 404, 405"):
        endpoints(addr, "over TCP")
        ms = parse(metrics(addr))
        T.expect_eq(value(ms, "wsbridge_workers"), 2, "wsbridge_workers")
        T.expect_eq(value(ms, "wsbridge_build_info"), 1, "build_info")
        T.check(abs(value(ms, "process_start_time_seconds") - time.time())
            < 3600, "process_start_time_seconds is about now")
        T.check(value(ms, "process_cpu_seconds_total") > 0 and
            value(ms, "process_resident_memory_bytes") > 1 << 20,
            "process CPU and resident memory are reported")

    conns = []
    sizes = [1 + 37 * k for k in range(n_msg)]
    with T.subtest("metrics count %d tunnels over 2 workers and %d messages "
            "each way on each, exactly" % (n_tun, n_msg)):
        for _ in range(n_tun):
            conns.append(T.raw_ws(b.port, "/echo"))
        for c in conns:
            for k, size in enumerate(sizes):
                msg = bytes([k & 0xFF]) * size
                c.send_frame(T.OP_BINARY, msg)
                op, got = c.recv_message(WAIT)
                if got != msg:
                    T.fail("echo %d: %d bytes back, not %d" % (k, len(got),
                        len(msg)))
        refused = T.RawConn(b.port)
        refused.upgrade("/nowhere", expect=404)
        refused.close()
        total = n_tun * n_msg
        nbytes = n_tun * sum(sizes)
        ms = wait_metric(addr, "the metrics of %d open tunnels" % n_tun,
            lambda m: value(m, "wsbridge_connections", state="open",
                route="/echo") == n_tun and value(m, "wsbridge_messages_total",
                direction="out", route="/echo") == total)
        for name, labels, want in (
                ("wsbridge_connections", dict(state="open", protocol="http1",
                    scheme="ws", route="/echo"), n_tun),
                ("wsbridge_connections", dict(route="/other"), 0),
                ("wsbridge_connections_opened_total", dict(route="/echo"),
                    n_tun),
                ("wsbridge_client_sockets", {}, n_tun),
                ("wsbridge_handshakes_total", dict(protocol="http1",
                    code="101"), n_tun),
                ("wsbridge_handshakes_total", dict(code="404"), 1),
                ("wsbridge_closes_total", {}, 0),
                ("wsbridge_h2_connections_total", {}, 0)):
            T.expect_eq(value(ms, name, **labels), want, "%s%s" % (name,
                labels))
        for d in ("in", "out"):
            for name, want in (("wsbridge_messages_total", total),
                    ("wsbridge_frames_total", total),
                    ("wsbridge_payload_bytes_total", nbytes)):
                T.expect_eq(value(ms, name, direction=d, route="/echo"),
                    want, "%s %s" % (name, d))
        lag = value(ms, "wsbridge_worker_loop_lag_seconds_count", worker="1")
        T.check(lag > 0, "worker 1's loop lag is measured", "> 0", lag)

    with T.subtest("closes: %d client closes with 1000 are counted by who "
            "and code" % n_tun):
        for c in conns:
            c.send_frame(T.OP_CLOSE, b"\x03\xe8")
            T.expect_eq(c.recv_close(WAIT)[0], 1000, "close echoed")
            c.close()
        ms = wait_metric(addr, "the closes counted", lambda m: value(m,
            "wsbridge_closes_total", by="client", code="1000") == n_tun and
            value(m, "wsbridge_client_sockets") == 0)
        T.expect_eq(value(ms, "wsbridge_connections", route="/echo"), 0,
            "no connection left")
        T.expect_eq(value(ms, "wsbridge_connections_opened_total",
            route="/echo"), n_tun, "opened_total stays")
        T.expect_eq(value(ms, "wsbridge_messages_total", direction="in",
            route="/echo"), total, "messages in stay counted")
        # The close frames each way count as frames.
        T.expect_eq(value(ms, "wsbridge_frames_total", direction="in",
            route="/echo"), total + n_tun, "frames in with the closes")
        T.expect_eq(value(ms, "wsbridge_frames_total", direction="out",
            route="/echo"), total + n_tun, "frames out with the closes")
        promtool_clean(metrics(addr), "the counted bridge")

    with T.subtest("Prometheus scrapes it: the connections gauge equals "
            "the %d tunnels open" % n_tun):
        conns = [T.raw_ws(b.port, "/other") for _ in range(n_tun)]
        T.prometheus_scrapes([addr], n_tun)
        for c in conns:
            c.close()
    b.stop()

    with T.subtest("unix socket: the same endpoints, mode 0600"):
        d = T.tmpdir()
        path = os.path.join(d, "admin.sock")
        u = T.Bridge("-r", "/echo=echo", "--admin", "unix:" + path)
        T.expect_eq(admin_addr(u), path, "the admin socket's path")
        T.expect_eq(oct(os.stat(path).st_mode & 0o777), "0o600",
            "the admin socket's mode")
        endpoints(path, "over a unix socket")
        u.stop()
        T.check(not os.path.exists(path), "the admin socket is removed at "
            "exit")

    with T.subtest("head-of-line histogram with live stats (a control "
            "socket): messages and control frames are observed"):
        d = T.tmpdir()
        h = T.Bridge("-r", "/echo=echo", "--admin", "127.0.0.1:0",
            "--control", os.path.join(d, "ctl.sock"))
        ha = admin_addr(h)
        c = T.raw_ws(h.port, "/echo")
        for k in range(n_msg):
            c.send_frame(T.OP_TEXT, b"x" * 100)
            c.recv_message(WAIT)
        c.send_frame(T.OP_PING, b"p")
        T.expect_eq(c.recv_frame(WAIT).opcode, T.OP_PONG, "pong")
        ms = wait_metric(ha, "the head-of-line histogram", lambda m:
            value(m, "wsbridge_hol_stall_seconds_count", direction="out",
                kind="message") == n_msg - 1 and value(m,
                "wsbridge_hol_stall_seconds_count", direction="out",
                kind="control") == 1)
        inf = value(ms, "wsbridge_hol_stall_seconds_bucket", direction="out",
            kind="message", le="+Inf")
        T.expect_eq(inf, n_msg - 1, "the +Inf bucket is the count")
        promtool_clean(metrics(ha), "a bridge with live stats")
        c.close()
        h.stop()

    with T.subtest("TLS and HTTP/2: handshakes, failures, connections and "
            "streams"):
        d = certs.make(T.tmpdir())
        s = T.Bridge("-r", "/echo=echo", "--admin", "127.0.0.1:0",
            listen=("127.0.0.1:0 tls cert=%s key=%s" % (d["cert"], d["key"]),))
        sa = admin_addr(s)
        bad = socket.create_connection(("127.0.0.1", s.port), timeout=WAIT)
        bad.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            bad.recv(100)       # an alert, or the end
        except ConnectionResetError:
            pass
        bad.close()
        c = h2ws.H2Client(s.port, tls=True, timeout=WAIT)
        st = c.connect_ws("/echo", timeout=WAIT)
        c.send_message(st, b"over h2")
        c.wait(lambda: st.messages, WAIT, "the echo over h2")
        ms = wait_metric(sa, "the h2 stream counted", lambda m: value(m,
            "wsbridge_connections", protocol="h2", scheme="wss",
            state="open", route="/echo") == 1 and value(m,
            "wsbridge_tls_handshake_failures_total") == 1)
        for name, labels, want in (
                ("wsbridge_tls_handshakes_total", {}, 1),
                ("wsbridge_h2_connections", {}, 1),
                ("wsbridge_h2_connections_total", {}, 1),
                ("wsbridge_h2_streams", {}, 1),
                ("wsbridge_h2_streams_total", {}, 1),
                ("wsbridge_handshakes_total", dict(protocol="h2",
                    code="200"), 1),
                ("wsbridge_messages_total", dict(direction="in"), 1)):
            T.expect_eq(value(ms, name, **labels), want, "%s%s" % (name,
                labels))
        c.close()
        ms = wait_metric(sa, "the h2 connection's end", lambda m: value(m,
            "wsbridge_h2_connections") == 0 and value(m,
            "wsbridge_h2_streams") == 0)
        for wait in ("send_stream_window", "send_connection_window",
                "receive_full"):
            T.expect_eq(value(ms, "wsbridge_h2_flow_wait_seconds_count",
                wait=wait), 1, "the ended stream's %s wait observed" % wait)
        s.stop()

    with T.subtest("readyz: 503 while a token route's source is gone, "
            "200 once it is back"):
        d = T.tmpdir()
        tf = os.path.join(d, "tokens")
        T.replace_file(tf, "alpha: 127.0.0.1:9\n")
        k = T.Bridge("-r", "/t=token token-plugin=TokenFile token-source=" +
            tf, "--admin", "127.0.0.1:0")
        ka = admin_addr(k)
        T.expect_eq(http(ka, "GET", "/readyz")[0], 200, "ready with the file")
        os.rename(tf, tf + ".away")
        st, _, body = http(ka, "GET", "/readyz")
        T.expect_eq(st, 503, "GET /readyz without the token file")
        T.check(body.startswith(b"token source " + tf.encode()),
            "/readyz names the source", "token source ...", body)
        os.rename(tf + ".away", tf)
        T.expect_eq(http(ka, "GET", "/readyz")[0], 200, "ready again")
        k.stop()

    with T.subtest("readyz: 503 while a shutdown-mode wait drain runs, "
            "healthz stays 200"):
        w = T.Bridge("-r", "/echo=echo", "--admin", "127.0.0.1:0",
            "-o", "shutdown-mode wait", "-o", "shutdown-timeout 120s")
        wa = admin_addr(w)
        c = T.raw_ws(w.port, "/echo")
        T.expect_eq(http(wa, "GET", "/readyz")[0], 200, "ready before")
        w.signal(signal.SIGTERM)
        w.wait_log(r"SIGTERM: draining 1 connections", WAIT)
        st, _, body = http(wa, "GET", "/readyz")
        T.expect_eq(st, 503, "GET /readyz while draining")
        T.check(body.startswith(b"draining"), "/readyz says why",
            "draining...", body)
        T.expect_eq(http(wa, "GET", "/healthz")[0], 200,
            "GET /healthz while draining")
        ms = parse(metrics(wa))
        T.expect_eq((value(ms, "wsbridge_draining"), value(ms,
            "wsbridge_ready")), (1, 0), "draining and ready gauges")
        c.send_frame(T.OP_TEXT, b"still here")
        T.expect_eq(c.recv_message(WAIT)[1], b"still here",
            "the tunnel runs on while draining")
        c.send_frame(T.OP_CLOSE, b"\x03\xe8")
        c.recv_close(WAIT)
        c.close()
        T.expect_eq(w.wait_exit(WAIT), 0, "exit once the tunnel ended")
        w.stop()


T.run(main)
