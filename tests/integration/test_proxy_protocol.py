#!/usr/bin/python3
"""test_proxy_protocol.py -- PROXY protocol on listeners (proxy-protocol=,
proxy-from=): v1 and v2 headers from raw sockets, whole and in pieces,
with TLVs, LOCAL, IPv6; truncated, oversized, garbage, the wrong version
and an untrusted source refused with one log line each while a live tunnel
keeps working; HTTP/1.1 and HTTP/2 (h2c, and h2 by ALPN over TLS) behind a
header; and Debian's HAProxy in TCP mode with send-proxy-v2 and send-proxy
in front of wsbridge, a client on 127.0.0.2: the log line, the control
socket and the frame log show the client, not HAProxy's 127.0.0.1.
send-proxy= on routes: a backend of the test's own parses the header
wsbridge writes first (v1, v2; over HTTP/1.1 and HTTP/2; the ALPN,
AUTHORITY and SSL TLVs with the client certificate's CN; before the TLS
handshake of a tls: backend) and finds the client behind HAProxy.
trusted-proxies: X-Forwarded-For and Forwarded for= believed from a
trusted peer only (the rightmost untrusted hop), over HTTP/1.1 and
HTTP/2, after a PROXY header too, and passed on by send-proxy."""

import os
import queue
import re
import socket
import sqlite3
import ssl
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsbtest as T  # noqa: E402
import certs  # noqa: E402
import h2ws  # noqa: E402

SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def v1(src, sport, dst=None, dport=80):
    fam = "TCP6" if ":" in src else "TCP4"
    dst = dst or ("::1" if ":" in src else "127.0.0.1")
    return ("PROXY %s %s %s %d %d\r\n" % (fam, src, dst, sport, dport)
        ).encode()


def tlv(t, v):
    return bytes([t]) + struct.pack(">H", len(v)) + v


def v2(src, sport, dst="127.0.0.1", dport=80, tlvs=b"", cmd=1):
    if cmd == 0:
        return SIG + b"\x20\x00" + struct.pack(">H", len(tlvs)) + tlvs
    if ":" in src:
        fam, af = 0x21, socket.AF_INET6
    else:
        fam, af = 0x11, socket.AF_INET
    body = (socket.inet_pton(af, src) + socket.inet_pton(af, dst) +
        struct.pack(">HH", sport, dport) + tlvs)
    return SIG + bytes([0x21, fam]) + struct.pack(">H", len(body)) + body


def read_exact(c, n):
    b = b""
    while len(b) < n:
        d = c.recv(n - len(b))
        if not d:
            raise EOFError("EOF inside the PROXY header")
        b += d
    return b


def parse_tlvs(b):
    out = {}
    while b:
        t, n = b[0], struct.unpack(">H", b[1:3])[0]
        if n > len(b) - 3:
            raise ValueError("TLV %#x runs past the header" % t)
        out[t] = b[3:3 + n]
        b = b[3 + n:]
    return out


def read_pp(c):
    """Reads one PROXY header off socket c (a byte at a time for v1, so
    nothing behind it is taken) and returns what it says."""
    first = read_exact(c, 1)
    if first == b"P":
        line = first
        while not line.endswith(b"\r\n"):
            line += read_exact(c, 1)
            if len(line) > 107:
                raise ValueError("v1 line over 107 bytes")
        w = line[:-2].decode().split(" ")
        r = {"version": 1, "proto": w[1], "tlvs": {}}
        if w[1] in ("TCP4", "TCP6"):
            r["src"] = "%s:%s" % (w[2], w[4])
            r["dst"] = "%s:%s" % (w[3], w[5])
        return r
    hdr = first + read_exact(c, 15)
    if hdr[:12] != SIG:
        raise ValueError("bad v2 signature %r" % hdr[:12])
    n = struct.unpack(">H", hdr[14:16])[0]
    body = read_exact(c, n)
    r = {"version": 2, "cmd": hdr[12] & 0xF, "fam": hdr[13]}
    if hdr[13] == 0x11:
        a, off = socket.AF_INET, 4
    elif hdr[13] == 0x21:
        a, off = socket.AF_INET6, 16
    else:
        a, off = None, 0
    if a is not None:
        sp, dp = struct.unpack(">HH", body[2 * off:2 * off + 4])
        fmt = "[%s]:%d" if a == socket.AF_INET6 else "%s:%d"
        r["src"] = fmt % (socket.inet_ntop(a, body[:off]), sp)
        r["dst"] = fmt % (socket.inet_ntop(a, body[off:2 * off]), dp)
        off = 2 * off + 4
    r["tlvs"] = parse_tlvs(body[off:])
    ssl_tlv = r["tlvs"].get(0x20)
    if ssl_tlv is not None:
        r["ssl_client"] = ssl_tlv[0]
        r["ssl_verify"] = struct.unpack(">I", ssl_tlv[1:5])[0]
        r["ssl"] = parse_tlvs(ssl_tlv[5:])
    return r


class PPBackend(T.Backend):
    """A backend that reads the PROXY header wsbridge sends first (then,
    with ctx, a TLS handshake), records it, and echoes what follows."""

    def __init__(self, ctx=None):
        self.ctx = ctx
        self.got = queue.Queue()
        super().__init__()

    def handle(self, c):
        try:
            h = read_pp(c)
        except (ValueError, EOFError) as e:
            self.got.put({"error": str(e)})
            return
        self.got.put(h)
        if self.ctx is not None:
            c = self.ctx.wrap_socket(c, server_side=True)
        while True:
            d = c.recv(65536)
            if not d:
                return
            c.sendall(d)

    def header(self):
        try:
            h = self.got.get(timeout=30)
        except queue.Empty:
            T.fail("the backend got no connection with a PROXY header")
        T.check("error" not in h, "backend parsed the header: %r" % h)
        return h


def echo_through(c, payload):
    """A message through a backend that echoes bytes: they may come back
    in more than one message."""
    c.send_frame(T.OP_BINARY, payload)
    got = b""
    while len(got) < len(payload):
        got += c.recv_message(30)[1]
    T.expect_eq(got, payload, "bytes back through the backend")


def raw(port, pre, source="127.0.0.1"):
    c = T.RawConn(port, source=source, timeout=30)
    if pre:
        c.send(pre)
    return c


def echo(c, payload):
    c.send_frame(T.OP_BINARY, payload)
    op, got = c.recv_message(30)
    T.expect_eq((op, got), (T.OP_BINARY, payload), "echo of %r" % payload)


def ctl(sock, *args):
    p = subprocess.run([T.wsbridge_path(), "ctl", "-s", sock] + list(args),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def refused(b, port, pre, why, source="127.0.0.1", close=False):
    """Sends pre (and ends the connection when close): wsbridge closes
    it and logs one refusal naming why."""
    n = b.nlines()
    c = raw(port, pre, source)
    if close:
        c.sock.shutdown(socket.SHUT_WR)
    T.check(c.wait_eof(60), "closed: %s" % why)
    c.close()
    b.wait_log(r"PROXY header refused: peer=%s:\d+ on 127\.0\.0\.1:%d: %s"
        % (source.replace(".", r"\."), port, why), 30, n)
    T.log("   ok: logged: %s" % why)


def test_h1(d):
    sock = os.path.join(d, "c.sock")
    db = os.path.join(d, "frames.db")
    b = T.Bridge("--route", "/echo=echo", "--control", sock, "--log-db", db,
        "-o", "handshake-timeout 3s",
        listen=("127.0.0.1:0 proxy-protocol=any",
            "127.0.0.1:0 proxy-protocol=v2 proxy-from=127.0.0.3,::1",
            "127.0.0.1:0 proxy-protocol=v1"), name="wsbridge-pp")
    anyp, v2p, v1p = (a[1] for a in b.addrs)

    T.step("a live tunnel behind a v1 header, kept open throughout")
    live = raw(anyp, v1("192.0.2.10", 1000, dport=anyp))
    live.upgrade("/echo", timeout=30)
    echo(live, b"before")
    b.wait_log(r"open peer=192\.0\.2\.10:1000 proto=h1 /echo .* "
        r"via=127\.0\.0\.1:\d+$", 30)

    with T.subtest("v1 and v2 headers name the client"):
        for pre, shown in (
                (v1("192.0.2.7", 5555), r"192\.0\.2\.7:5555"),
                (v1("2001:db8::7", 6), r"\[2001:db8::7\]:6"),
                (v2("198.51.100.9", 4369), r"198\.51\.100\.9:4369"),
                (v2("2001:db8::9", 7, "2001:db8::1", 443),
                    r"\[2001:db8::9\]:7"),
                (v2("198.51.100.10", 9, tlvs=tlv(1, b"h2") +
                    tlv(2, b"example.org") + tlv(0x20, b"\x01\0\0\0\0" +
                    tlv(0x21, b"TLSv1.3")) + tlv(4, b"\0" * 40)),
                    r"198\.51\.100\.10:9")):
            n = b.nlines()
            c = raw(anyp, pre)
            c.upgrade("/echo", timeout=30)
            echo(c, b"x" * 10)
            b.wait_log(r"open peer=%s proto=h1 /echo .* via=127\.0\.0\.1:\d+$"
                % shown, 30, n)
            c.close()

    with T.subtest("v2 LOCAL (a health check) keeps the socket's address"):
        n = b.nlines()
        c = raw(anyp, v2("0.0.0.0", 0, cmd=0))
        c.upgrade("/echo", timeout=30)
        echo(c, b"local")
        port = c.sock.getsockname()[1]
        line = b.wait_log(r"open peer=127\.0\.0\.1:%d proto=h1" % port, 30, n)
        T.check("via=" not in line, "no via= for LOCAL")
        c.close()

    with T.subtest("a header arriving a byte at a time"):
        n = b.nlines()
        c = raw(anyp, b"")
        for ch in v2("203.0.113.77", 77, tlvs=tlv(4, b"\0" * 8)):
            c.send(bytes([ch]))
            time.sleep(0.005)
        c.upgrade("/echo", timeout=30)
        echo(c, b"pieces")
        b.wait_log(r"open peer=203\.0\.113\.77:77 proto=h1", 30, n)
        c.close()

    with T.subtest("bad headers are refused and logged"):
        good = v1("192.0.2.7", 5555)
        refused(b, anyp, good[:20], "closed in the middle of its header",
            close=True)
        refused(b, anyp, b"", "closed before its header", close=True)
        refused(b, anyp, good[:20], "header incomplete within "
            "handshake-timeout")
        refused(b, anyp, b"PROXY UNKNOWN " + b"x" * 120,
            "v1 header longer than 107 bytes")
        refused(b, anyp, SIG + b"\x21\x11" + struct.pack(">H", 5000),
            "v2 header longer than 4096 bytes")
        refused(b, anyp, T.upgrade_request("/echo"), "no PROXY header")
        refused(b, anyp, b"PROXY TCP4 192.0.2.7 127.0.0.1 99999 80\r\n",
            "v1 header with a bad port")
        refused(b, anyp, v2("192.0.2.7", 1, tlvs=b"\x01\x00\x09h2"),
            "v2 header with a malformed TLV")
        refused(b, anyp, SIG + b"\x21\x11\x00\x08" + b"\x01" * 8,
            "v2 header too short for its addresses")
        refused(b, v2p, good, "source not in proxy-from", source="127.0.0.2")
        refused(b, v2p, v2("192.0.2.7", 1), "source not in proxy-from")
        refused(b, v1p, v2("192.0.2.7", 1), "PROXY v2 header where v1 is "
            "expected")

    with T.subtest("a trusted source in proxy-from is served"):
        n = b.nlines()
        c = raw(v2p, v2("192.0.2.99", 99), source="127.0.0.3")
        c.upgrade("/echo", timeout=30)
        echo(c, b"trusted")
        b.wait_log(r"open peer=192\.0\.2\.99:99 proto=h1 .* "
            r"via=127\.0\.0\.3:\d+$", 30, n)
        c.close()

    with T.subtest("the control socket shows the client and the balancer"):
        rc, out, err = ctl(sock, "list")
        T.check(rc == 0 and "192.0.2.10:1000" in out, "ctl list names the "
            "client: %r" % out)
        T.check("127.0.0.1:%d" % live.sock.getsockname()[1] not in out,
            "ctl list does not name the balancer's socket as the client")
        rc, out, err = ctl(sock, "--json", "list")
        rows = [l for l in out.splitlines() if "192.0.2.10" in l]
        T.check(rc == 0 and rows, "ctl --json list names the client")

    with T.subtest("the live tunnel was not disturbed"):
        echo(live, b"after")
        live.send_frame(T.OP_CLOSE, T.close_payload(1000))
        T.expect_eq(live.recv_close(30)[0], 1000, "close echoed")
        live.close()

    with T.subtest("the frame log records the client's address"):
        want = {"192.0.2.10", "192.0.2.7", "198.51.100.9", "2001:db8::9"}

        def have():
            try:
                with sqlite3.connect("file:%s?mode=ro" % db, uri=True) as q:
                    return {r[0] for r in q.execute(
                        "SELECT client_addr FROM sessions")}
            except sqlite3.Error:
                return set()
        for _ in T.deadline_loop(60, "frame log sessions of %s" % want):
            if want <= have():
                break
        T.check(want <= have(), "sessions.client_addr holds %s" % want)
        T.check("127.0.0.1" in have(), "and the LOCAL one its socket's")
    b.stop()


def tls_h1(port, pre, cafile):
    """An upgrade over TLS (ALPN http/1.1) behind pre; returns the socket
    and the response head."""
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.sendall(pre)
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.set_alpn_protocols(["http/1.1"])
    t = ctx.wrap_socket(s, server_hostname="127.0.0.1")
    t.sendall(T.upgrade_request("/echo"))
    head = b""
    while b"\r\n\r\n" not in head:
        d = t.recv(4096)
        if not d:
            break
        head += d
    return t, head


def test_h2_tls(d):
    c = certs.make(d)
    be = PPBackend()
    sctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    sctx.load_cert_chain(c["cert"], c["key"])
    tbe = PPBackend(sctx)
    b = T.Bridge("--route", "/echo=echo",
        "--route", "/pp2=%s send-proxy=v2" % be.addr,
        "--route", "/pp1=%s send-proxy=v1" % be.addr,
        "--route", "/ppt=tls:%s send-proxy=v2 backend-ca=%s" % (tbe.addr,
            c["ca"]),
        listen=("127.0.0.1:0 proxy-protocol=any",
            "127.0.0.1:0 tls cert=%s key=%s proxy-protocol=v2" % (c["cert"],
            c["key"]),
            "127.0.0.1:0 tls cert=%s key=%s ca=%s" % (c["cert"], c["key"],
            c["ca"])), name="wsbridge-pp-h2")
    plain, tls, mtls = (a[1] for a in b.addrs)

    with T.subtest("h2c (prior knowledge) behind a v1 header"):
        n = b.nlines()
        cl = h2ws.H2Client(plain, pre=v1("192.0.2.21", 21), timeout=30)
        st = cl.connect_ws("/echo", timeout=30)
        cl.send_message(st, b"h2c")
        cl.wait(lambda: st.messages, 30, "the echo over h2c")
        b.wait_log(r"open peer=192\.0\.2\.21:21 proto=h2 /echo .* "
            r"via=127\.0\.0\.1:\d+$", 30, n)
        cl.close()

    with T.subtest("TLS: the header comes before the ClientHello (h2, h1)"):
        n = b.nlines()
        cl = h2ws.H2Client(tls, tls=True, pre=v2("192.0.2.22", 22,
            tlvs=tlv(1, b"h2")), timeout=30,
            ctx=ssl.create_default_context(cafile=c["ca"]))
        st = cl.connect_ws("/echo", timeout=30)
        cl.send_message(st, b"h2")
        cl.wait(lambda: st.messages, 30, "the echo over h2")
        b.wait_log(r"open peer=192\.0\.2\.22:22 proto=h2 /echo", 30, n)
        cl.close()
        n = b.nlines()
        t, head = tls_h1(tls, v2("192.0.2.23", 23), c["ca"])
        T.check(head.startswith(b"HTTP/1.1 101"), "101 over TLS: %r" %
            head[:40])
        t.close()
        b.wait_log(r"open peer=192\.0\.2\.23:23 proto=h1 /echo", 30, n)
        refused(b, tls, b"\x16\x03\x01\x02\x00\x01\x00", "no PROXY header")

    with T.subtest("send-proxy over HTTP/2: h2c, and h2 with its TLVs"):
        cl = h2ws.H2Client(plain, pre=v1("192.0.2.31", 31), timeout=30)
        st = cl.connect_ws("/pp1", timeout=30)
        h = be.header()
        T.expect_eq((h["version"], h["src"], h["dst"]), (1, "192.0.2.31:31",
            "127.0.0.1:%d" % plain), "h2c: the client in a v1 header")
        cl.send_message(st, b"h2c through")
        cl.wait(lambda: st.messages, 30, "bytes back over h2c")
        cl.close()
        ctx = ssl.create_default_context(cafile=c["ca"])
        ctx.check_hostname = False	# an SNI the certificate does not name
        cl = h2ws.H2Client(tls, tls=True, pre=v2("192.0.2.32", 32),
            timeout=30, ctx=ctx, sni="localhost")
        st = cl.connect_ws("/pp2", timeout=30)
        h = be.header()
        T.expect_eq((h["version"], h["src"]), (2, "192.0.2.32:32"),
            "h2: the client in a v2 header")
        T.expect_eq(h["tlvs"].get(0x01), b"h2", "PP2_TYPE_ALPN")
        T.expect_eq(h["tlvs"].get(0x02), b"localhost", "PP2_TYPE_AUTHORITY "
            "(the SNI)")
        T.expect_eq((h["ssl_client"], h["ssl_verify"]), (0x01, 1),
            "PP2_TYPE_SSL: TLS, no client certificate")
        T.check(h["ssl"].get(0x21, b"").startswith(b"TLSv1."),
            "PP2_SUBTYPE_SSL_VERSION %r" % h["ssl"].get(0x21))
        T.check(0x23 in h["ssl"], "PP2_SUBTYPE_SSL_CIPHER")
        T.check(0x22 not in h["ssl"], "no CN without a certificate")
        cl.send_message(st, b"h2 through")
        cl.wait(lambda: st.messages, 30, "bytes back over h2")
        cl.close()

    with T.subtest("send-proxy v2 with a client certificate's CN (mTLS)"):
        ctx = ssl.create_default_context(cafile=c["ca"])
        ctx.load_cert_chain(c["client_cert"], c["client_key"])
        ctx.set_alpn_protocols(["http/1.1"])
        t = ctx.wrap_socket(socket.create_connection(("127.0.0.1", mtls),
            timeout=30), server_hostname="127.0.0.1")
        t.sendall(T.upgrade_request("/pp2"))
        h = be.header()
        T.expect_eq(h["src"], "127.0.0.1:%d" % t.getsockname()[1],
            "no PROXY listener: the socket's peer")
        T.expect_eq(h["tlvs"].get(0x01), b"http/1.1", "PP2_TYPE_ALPN")
        T.expect_eq((h["ssl_client"], h["ssl_verify"]), (0x07, 0),
            "PP2_TYPE_SSL: a verified client certificate")
        T.expect_eq(h["ssl"].get(0x22), b"client", "PP2_SUBTYPE_SSL_CN")
        t.close()

    with T.subtest("send-proxy before the TLS handshake of a tls: backend"):
        cl = T.RawConn(plain, timeout=30)
        cl.send(v2("192.0.2.33", 33))
        cl.upgrade("/ppt", timeout=30)
        h = tbe.header()
        T.expect_eq((h["version"], h["src"]), (2, "192.0.2.33:33"),
            "the header came first, in the clear")
        echo_through(cl, b"over TLS to the backend")
        cl.close()
    b.stop()
    be.close()
    tbe.close()


class HAProxy:
    """Debian's haproxy in TCP mode in front of 127.0.0.1:wport, with the
    server options given (send-proxy-v2, send-proxy)."""

    def __init__(self, d, wport, server_opts):
        exe = "/usr/sbin/haproxy"
        if not os.access(exe, os.X_OK):
            T.fail("haproxy not installed (contrib/install-deps.sh test "
                "installs it)")
        for attempt in range(5):
            self.port = T.closed_port()
            cfg = os.path.join(d, "haproxy-%d.cfg" % self.port)
            with open(cfg, "w") as f:
                f.write("global\n  maxconn 200\n"
                    "defaults\n  mode tcp\n  timeout connect 10s\n"
                    "  timeout client 60s\n  timeout server 60s\n"
                    "frontend fe\n  bind 127.0.0.1:%d\n"
                    "  default_backend be\n"
                    "backend be\n  server w1 127.0.0.1:%d %s\n" % (
                    self.port, wport, server_opts))
            self.log = open(os.path.join(d, "haproxy-%d.log" % self.port),
                "w+")
            T.log("   start: haproxy -db -f %s (%s)" % (cfg, server_opts))
            self.proc = subprocess.Popen([exe, "-db", "-f", cfg],
                stdin=subprocess.DEVNULL, stdout=self.log,
                stderr=subprocess.STDOUT)
            for _ in T.deadline_loop(30, "haproxy listening on %d" %
                    self.port):
                if self.proc.poll() is not None:
                    break
                try:
                    socket.create_connection(("127.0.0.1", self.port),
                        timeout=5).close()
                    return
                except OSError:
                    pass
            self.log.seek(0)
            T.log("   haproxy exited: %s" % self.log.read()[-500:])
        T.fail("haproxy did not start")

    def stop(self):
        T.terminate(self.proc)


def test_haproxy(d):
    sock = os.path.join(d, "hc.sock")
    be = PPBackend()
    b = T.Bridge("--route", "/echo=echo", "--control", sock,
        "--route", "/pp2=%s send-proxy=v2" % be.addr,
        "--route", "/pp1=%s send-proxy=v1" % be.addr,
        listen=("127.0.0.1:0 proxy-protocol=any",), name="wsbridge-ha")
    for opts in ("send-proxy-v2", "send-proxy"):
        with T.subtest("HAProxy %s: the client on 127.0.0.2" % opts):
            ha = HAProxy(d, b.port, opts)
            try:
                n = b.nlines()
                c = T.RawConn(ha.port, source="127.0.0.2", timeout=30)
                c.upgrade("/echo", timeout=30)
                echo(c, b"through haproxy")
                cport = c.sock.getsockname()[1]
                b.wait_log(r"open peer=127\.0\.0\.2:%d proto=h1 /echo .* "
                    r"via=127\.0\.0\.1:\d+$" % cport, 30, n)
                rc, out, err = ctl(sock, "list")
                T.check(rc == 0 and "127.0.0.2:%d" % cport in out,
                    "ctl list names the client: %r" % out)
                c.send_frame(T.OP_CLOSE, T.close_payload(1000))
                T.expect_eq(c.recv_close(30)[0], 1000, "close echoed")
                c.close()
                for v in (2, 1):
                    c = T.RawConn(ha.port, source="127.0.0.2", timeout=30)
                    c.upgrade("/pp%d" % v, timeout=30)
                    cport = c.sock.getsockname()[1]
                    h = be.header()
                    T.expect_eq((h["version"], h["src"], h["dst"]), (v,
                        "127.0.0.2:%d" % cport, "127.0.0.1:%d" % b.port),
                        "send-proxy=v%d: the backend's header names the "
                        "client and the listener" % v)
                    T.expect_eq(h["tlvs"], {}, "no TLVs without TLS")
                    echo_through(c, b"after the header %d" % v)
                    c.close()
            finally:
                ha.stop()
    b.stop()
    be.close()


def test_forwarded(d):
    be = PPBackend()
    b = T.Bridge("--route", "/echo=echo",
        "--route", "/pp1=%s send-proxy=v1" % be.addr,
        "-o", "trusted-proxies 127.0.0.3,10.0.0.0/8",
        listen=("127.0.0.1:0", "127.0.0.1:0 proxy-protocol=v2"),
        name="wsbridge-xff")
    plain, pp = (a[1] for a in b.addrs)

    def opened(source, extra, path="/echo", port=None, pre=b""):
        n = b.nlines()
        c = raw(port or plain, pre, source)
        c.upgrade(path, timeout=30, extra=extra)
        line = b.wait_log(r"c\d+: open peer=", 30, n)
        c.close()
        return line

    with T.subtest("X-Forwarded-For and Forwarded from a trusted proxy"):
        line = opened("127.0.0.3", [("X-Forwarded-For",
            "203.0.113.5, 198.51.100.7")])
        T.check("open peer=198.51.100.7:0 " in line and
            " via=127.0.0.3:" in line, "the rightmost untrusted hop, the "
            "proxy as via: %r" % line)
        line = opened("127.0.0.3", [("X-Forwarded-For", "192.0.2.1"),
            ("X-Forwarded-For", "10.1.2.3")])
        T.check("open peer=192.0.2.1:0 " in line, "trusted hops skipped, "
            "header lines joined: %r" % line)
        line = opened("127.0.0.3", [("Forwarded",
            'for="[2001:db8::5]:4711";proto=http')])
        T.check("open peer=[2001:db8::5]:4711 " in line, "Forwarded for=: "
            "%r" % line)

    with T.subtest("ignored from anyone else"):
        line = opened("127.0.0.2", [("X-Forwarded-For", "203.0.113.5")])
        T.check(re.search(r"open peer=127\.0\.0\.2:\d+ ", line) and
            "via=" not in line, "an untrusted peer's header ignored: %r" %
            line)
        line = opened("127.0.0.3", [("X-Forwarded-For", "unknown")])
        T.check(re.search(r"open peer=127\.0\.0\.3:\d+ ", line), "no "
            "address in the header: the peer stays: %r" % line)

    with T.subtest("after a PROXY header, the client it names must be "
            "trusted too"):
        line = opened("127.0.0.1", [("X-Forwarded-For", "203.0.113.5")],
            port=pp, pre=v2("192.0.2.50", 50))
        T.check("open peer=192.0.2.50:50 " in line, "an untrusted client's "
            "X-Forwarded-For ignored: %r" % line)
        line = opened("127.0.0.1", [("X-Forwarded-For", "203.0.113.5")],
            port=pp, pre=v2("10.0.0.9", 50))
        T.check("open peer=203.0.113.5:0 " in line and " via=10.0.0.9:50" in
            line, "a trusted one's believed: %r" % line)

    with T.subtest("over HTTP/2, and on to a backend with send-proxy"):
        n = b.nlines()
        cl = h2ws.H2Client(plain, source=("127.0.0.3", 0), timeout=30)
        cl.connect_ws("/echo", timeout=30, extra=[("x-forwarded-for",
            "198.51.100.8")])
        b.wait_log(r"open peer=198\.51\.100\.8:0 proto=h2 .* "
            r"via=127\.0\.0\.3:\d+$", 30, n)
        cl.close()
        c = raw(plain, b"", "127.0.0.3")
        c.upgrade("/pp1", timeout=30, extra=[("X-Forwarded-For",
            "198.51.100.9")])
        h = be.header()
        T.expect_eq(h["src"], "198.51.100.9:0", "the backend's PROXY header "
            "names the forwarded client")
        c.close()
    b.stop()
    be.close()


def main():
    d = T.tmpdir()
    with T.subtest("HTTP/1.1 listeners"):
        test_h1(d)
    with T.subtest("HTTP/2 and TLS listeners"):
        test_h2_tls(d)
    with T.subtest("behind HAProxy"):
        test_haproxy(d)
    with T.subtest("trusted-proxies: X-Forwarded-For and Forwarded"):
        test_forwarded(d)


T.run(main)
