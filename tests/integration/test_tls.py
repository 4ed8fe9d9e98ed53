#!/usr/bin/python3
"""test_tls.py -- TLS listeners: wss:// over HTTP/1.1 and HTTP/2 chosen by
ALPN, TLS 1.2 and 1.3, client certificates (mTLS) with a bad or missing one
refused, the tunnel's own TLS path (frames in the request's record, 1-byte
records, 8 MiB echoed with three cipher suites, close_notify after the close
frame, KeyUpdate, live stats), certificate reload on SIGHUP without dropping
live tunnels, clear start-up errors naming the file, and nghttp(1) seeing
SETTINGS_ENABLE_CONNECT_PROTOCOL = 1. Certificates are made at test time."""

import asyncio
import hashlib
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import certs  # noqa: E402
import h2ws  # noqa: E402
import wsbtest as T  # noqa: E402


def client_ctx(d, cert=None, key=None, alpn=None, version=None):
    ctx = ssl.create_default_context(cafile=d["ca"])
    if cert:
        ctx.load_cert_chain(cert, key)
    if alpn:
        ctx.set_alpn_protocols(alpn)
    if version:
        ctx.minimum_version = ctx.maximum_version = version
    return ctx


def peer_fingerprint(port, d):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        ctx = client_ctx(d)
        with ctx.wrap_socket(s, server_hostname="127.0.0.1") as t:
            return hashlib.sha256(t.getpeercert(binary_form=True)).hexdigest()


def file_fingerprint(path):
    der = ssl.PEM_cert_to_DER_cert(open(path).read())
    return hashlib.sha256(der).hexdigest()


class TLSRaw(T.RawConn):
    """wsbtest.RawConn over TLS: hand-built HTTP/1.1 upgrade and frames.
    A peer that ends TCP without close_notify raises ssl.SSLEOFError."""

    def __init__(self, port, ctx, timeout=10.0, rcvbuf=None):
        raw = socket.socket()
        if rcvbuf:
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        raw.settimeout(timeout)
        raw.connect(("127.0.0.1", port))
        self.sock = ctx.wrap_socket(raw, server_hostname="127.0.0.1",
            suppress_ragged_eofs=False)
        self.buf = bytearray()
        self.eof = False
        self.timeout = timeout


def close_cleanly(c):
    """Close handshake from the client, then a clean TLS end from
    wsbridge: close_notify, not a bare TCP FIN."""
    c.send_frame(T.OP_CLOSE, T.close_payload(1000, "bye"))
    T.expect_eq(c.recv_close(10)[0], 1000, "close answered")
    expect_close_notify(c)


def expect_close_notify(c):
    try:
        T.check(c.sock.recv(100) == b"", "close_notify after the close frame")
    except ssl.SSLEOFError as e:
        T.fail("TCP ended without close_notify: %s" % e)
    c.close()


def stuck_keepalive(d):
    """A backend that sends more than the sockets hold, a client that
    reads nothing: at the pong timeout wsbridge fails the connection with
    its TLS writer full, so the close frame waits behind that output; the
    client, reading at last, gets the backend's bytes intact, the close
    frame and close_notify."""
    n = 16 * T.MiB
    src = T.SourceBackend(n, seed=23)
    b = T.Bridge("--route", "/src=%s ping-interval=1s pong-timeout=1s" %
        src.addr, "-o", "close-timeout 60s", listen=("127.0.0.1:0 tls "
        "cert=%s key=%s" % (d["cert"], d["key"]),), name="wsbridge-stuck")
    c = TLSRaw(b.port, client_ctx(d), timeout=30, rcvbuf=4096)
    c.upgrade("/src")
    b.wait_log(r"c\d+: closing with 1011: keepalive pong timeout", 30)
    T.check(src.sent < n, "the backend is held back while the client "
        "reads nothing", "< %d" % n, src.sent)
    want = T.pattern_bytes(n, 23)
    got = bytearray()
    pings = 0
    while True:
        f = c.recv_frame(30)
        if f.opcode == T.OP_BINARY:
            got += f.payload
        elif f.opcode == T.OP_PING:
            pings += 1
        elif f.opcode == T.OP_CLOSE:
            break
        else:
            T.fail("unexpected frame %r" % f)
    T.log("   %d bytes queued before the close, %d ping(s)" % (len(got),
        pings))
    T.check(got == want[:len(got)], "the bytes before the close are the "
        "backend's, in order")
    T.expect_eq(f.close_code(), 1011, "close code after the pong timeout")
    T.check(pings >= 1, "the unanswered ping went out", ">= 1", pings)
    expect_close_notify(c)
    T.expect_eq(b.stop(), 0, "exit status")
    src.close()


def wss_h1_echo(port, ctx, payload=b"over TLS"):
    """A WebSocket over HTTP/1.1 on TLS; returns the connection after one
    echo (kept open)."""
    c = TLSRaw(port, ctx)
    alpn = c.sock.selected_alpn_protocol()
    T.check(alpn in (None, "http/1.1"), "ALPN for an HTTP/1.1 client",
        "http/1.1 or none", alpn)
    c.upgrade("/echo")
    c.send_frame(T.OP_BINARY, payload)
    T.expect_eq(c.recv_message(), (T.OP_BINARY, payload), "echo over wss")
    return c


class SClient:
    """openssl s_client as a wss:// client: what it prints is collected by
    a thread, and each step waits for the bytes it expects."""

    def __init__(self, port):
        self.p = subprocess.Popen(["openssl", "s_client", "-connect",
            "127.0.0.1:%d" % port, "-tls1_3"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.out = bytearray()
        self.cv = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        while True:
            d = self.p.stdout.read1(65536)
            with self.cv:
                if not d:
                    self.out += b"<EOF>"
                    self.cv.notify_all()
                    return
                self.out += d
                self.cv.notify_all()

    def send(self, b):
        self.p.stdin.write(b)
        self.p.stdin.flush()

    def expect(self, want, what, timeout=10):
        with self.cv:
            if not self.cv.wait_for(lambda: want in self.out or
                    b"<EOF>" in self.out, timeout) or want not in self.out:
                T.fail("s_client: %s: %r not seen in %r" % (what, want,
                    bytes(self.out[-300:])))
            del self.out[:self.out.index(want) + len(want)]

    def close(self):
        self.p.kill()
        self.p.wait()


def refused(port, ctx, what):
    """The TLS handshake (or the first read after it, TLS 1.3) fails."""
    try:
        s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port),
            timeout=5), server_hostname="127.0.0.1")
    except (ssl.SSLError, ConnectionResetError, OSError) as e:
        T.log("   handshake refused: %s" % e)
        return
    try:
        s.sendall(T.upgrade_request("/echo"))
        d = s.recv(4096)
        T.check(d == b"", what + ": no HTTP answer", b"", d[:60])
    except (ssl.SSLError, ConnectionResetError, OSError) as e:
        T.log("   refused after the handshake: %s" % e)
    finally:
        s.close()


def main():
    d = certs.make(T.tmpdir())
    live = os.path.join(d["dir"], "live")
    os.mkdir(live)
    cert, key = os.path.join(live, "cert.pem"), os.path.join(live, "key.pem")
    shutil.copy(d["cert"], cert)
    shutil.copy(d["key"], key)

    with T.subtest("start-up errors name the file and the reason"):
        cases = [
            ("cert=/nonexistent/c.pem key=%s" % key,
                "cert /nonexistent/c.pem: No such file or directory"),
            ("cert=%s key=/nonexistent/k.pem" % cert,
                "key /nonexistent/k.pem: No such file or directory"),
            ("cert=%s key=%s" % (cert, d["key2"]),
                "key %s does not match cert %s" % (d["key2"], cert)),
            ("cert=%s key=%s" % (d["ca"] + ".ext", key),
                "cert %s: " % (d["ca"] + ".ext")),
            ("cert=%s key=%s ca=/nonexistent/ca.pem" % (cert, key),
                "ca /nonexistent/ca.pem: No such file or directory"),
        ]
        open(d["ca"] + ".ext", "w").write("not a certificate\n")
        for opts, want in cases:
            st, out = T.run_wsbridge("--listen", "127.0.0.1:0 tls " + opts,
                "--route", "/echo=echo")
            T.expect_eq(st, 1, "exit status for %s" % opts)
            T.check(want in out, "message names file and reason", want, out)
        st, out = T.run_wsbridge("--listen", "127.0.0.1:0 tls key=x",
            "--route", "/echo=echo")
        T.expect_eq(st, 1, "exit status without cert=")
        T.check("tls needs cert=FILE [key=FILE]" in out, "config error",
            "tls needs cert=FILE [key=FILE]", out)

    b = T.Bridge("--route", "/echo=echo", listen=(
        "127.0.0.1:0 tls cert=%s key=%s" % (cert, key),
        "127.0.0.1:0 tls cert=%s key=%s ca=%s" % (d["cert"], d["key"],
            d["ca"])))
    port, mport = b.addrs[0][1], b.addrs[1][1]

    with T.subtest("wss:// over HTTP/1.1: ALPN http/1.1, and no ALPN"):
        for alpn in (["http/1.1"], None):
            wss_h1_echo(port, client_ctx(d, alpn=alpn)).close()
        b.wait_log(r"open peer=\S+ proto=h1 /echo", 30)

    with T.subtest("wss:// over HTTP/2 when the client offers h2 first"):
        c = h2ws.H2Client(port, tls=True, ctx=client_ctx(d))
        st = c.connect_ws("/echo")
        c.send_message(st, "h2 over TLS")
        c.wait(lambda: st.messages, 10, "echo")
        T.expect_eq(st.messages[0][1], b"h2 over TLS", "echo over h2")
        c.close()
        b.wait_log(r"open peer=\S+ proto=h2 /echo", 30)

    with T.subtest("TLS 1.2 and TLS 1.3 both work"):
        for v in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
            c = wss_h1_echo(port, client_ctx(d, version=v))
            T.expect_eq(c.sock.version(), v.name.replace("v1_", "v1."),
                "negotiated version")
            c.close()

    with T.subtest("nghttp -nv sees SETTINGS_ENABLE_CONNECT_PROTOCOL(0x08):1"):
        if shutil.which("nghttp") is None:
            T.log("   (nghttp not installed: skipped)")
        else:
            p = subprocess.run(["nghttp", "-nv", "https://127.0.0.1:%d/" %
                port], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                timeout=20)
            out = p.stdout.decode("utf-8", "replace")
            T.check("SETTINGS_ENABLE_CONNECT_PROTOCOL(0x08):1" in out,
                "nghttp output", "SETTINGS_ENABLE_CONNECT_PROTOCOL(0x08):1",
                out[-1500:])
            T.check(":status: 404" in out, "GET / answered (404)", "404",
                out[-600:])

    with T.subtest("mTLS: a client certificate from our CA is accepted"):
        ctx = client_ctx(d, d["client_cert"], d["client_key"])
        wss_h1_echo(mport, ctx).close()
        c = h2ws.H2Client(mport, tls=True, ctx=client_ctx(d,
            d["client_cert"], d["client_key"]))
        st = c.connect_ws("/echo")
        c.send_message(st, b"mtls")
        c.wait(lambda: st.messages, 10, "echo over h2 with mTLS")
        c.close()

    with T.subtest("mTLS: a certificate from another CA is refused"):
        n = b.nlines()
        refused(mport, client_ctx(d, d["rogue_cert"], d["rogue_key"]),
            "rogue client certificate")
        b.wait_log(r"TLS handshake failed", 5, start=n)

    with T.subtest("mTLS: no client certificate is refused"):
        n = b.nlines()
        refused(mport, client_ctx(d), "no client certificate")
        b.wait_log(r"TLS handshake failed", 5, start=n)

    with T.subtest("wss:// tunnel: frames in the request's TLS record, a "
            "frame cut into 1-byte records, 8 MiB both ways, TLS 1.2 and "
            "1.3, AES-GCM and ChaCha20"):
        for v, cipher in ((ssl.TLSVersion.TLSv1_3, None),
                (ssl.TLSVersion.TLSv1_2, "ECDHE-RSA-CHACHA20-POLY1305:"
                "ECDHE-ECDSA-CHACHA20-POLY1305"),
                (ssl.TLSVersion.TLSv1_2, "ECDHE-RSA-AES128-GCM-SHA256:"
                "ECDHE-ECDSA-AES128-GCM-SHA256")):
            ctx = client_ctx(d, version=v)
            if cipher:
                ctx.set_ciphers(cipher)
            c = TLSRaw(port, ctx)
            # The request and two frames in one write (one TLS record).
            c.send(T.upgrade_request("/echo", key=T.make_key()) +
                T.frame(T.OP_TEXT, "behind") + T.frame(T.OP_BINARY, b"\1"))
            c.read_response()
            T.expect_eq(c.status, 101, "upgrade status")
            T.expect_eq(c.recv_message(), (T.OP_TEXT, b"behind"),
                "first frame sent with the request")
            T.expect_eq(c.recv_message(), (T.OP_BINARY, b"\1"),
                "second frame sent with the request")
            one = T.frame(T.OP_BINARY, b"x" * 300)
            for i in range(len(one)):
                c.send(one[i:i + 1])
            T.expect_eq(c.recv_message(), (T.OP_BINARY, b"x" * 300),
                "a frame sent one byte per TLS record")
            # 8 MiB each way, a 1 MiB message at a time (the echo of one
            # fits the socket buffers: no second thread on the SSL socket).
            name = v.name + (" " + cipher.split("-")[2] if cipher else "")
            for k in range(8):
                m = T.pattern_bytes(T.MiB, 31 + k)
                c.send_frame(T.OP_BINARY, m)
                op, back = c.recv_message(30)
                if back != m:
                    T.fail("1 MiB echo #%d over %s differs" % (k, name))
            T.log("   ok: 8 MiB echoed intact over %s" % name)
            close_cleanly(c)

    with T.subtest("wss:// tunnel: a client that stops reading and "
            "answering pings: 1011 after pong-timeout, sent behind what "
            "was queued, then close_notify"):
        stuck_keepalive(d)

    with T.subtest("wss:// tunnel: a forged TLS record is logged with the "
            "connection's id and ends that connection only"):
        keep = wss_h1_echo(port, client_ctx(d))
        c = wss_h1_echo(port, client_ctx(d))
        n = b.nlines()
        # An application-data record whose bytes no key made.
        os.write(c.sock.fileno(), b"\x17\x03\x03\x00\x40" + os.urandom(64))
        line = b.wait_log(r"c\d+: TLS error: \S", 5, start=n)
        T.log("   " + line.strip())
        c.sock.settimeout(5)
        try:
            d2 = c.sock.recv(100)
            T.check(d2 == b"" or d2[:1] == b"\x88", "the connection ends",
                "EOF or a close frame", d2[:20])
        except socket.timeout:
            T.fail("the connection stayed open after the forged record")
        except (ssl.SSLError, OSError) as e:
            T.log("   client saw: %s" % e)
        c.close()
        keep.send_frame(T.OP_BINARY, b"still here")
        T.expect_eq(keep.recv_message(), (T.OP_BINARY, b"still here"),
            "another wss:// tunnel unharmed")
        keep.close()

    with T.subtest("wss:// tunnel: TLS 1.3 KeyUpdates from the client "
            "(openssl s_client, update requested), echoes before and "
            "after"):
        sc = SClient(port)
        sc.send(T.upgrade_request("/echo", key=T.make_key()))
        sc.expect(b"101 Switching Protocols", "upgrade")
        sc.expect(b"\r\n\r\n", "end of the 101 head")
        for word in (b"before", b"after1", b"after2"):
            if word != b"before":
                sc.send(b"K\n")	# KeyUpdate, update_requested
                sc.expect(b"KEYUPDATE", "key update sent")
            sc.send(T.frame(T.OP_BINARY, word, key=b"\0\0\0\0"))
            sc.expect(b"\x82\x06" + word, "echo of %r" % word)
        sc.close()

    with T.subtest("SIGHUP reloads the certificate; live tunnels stay"):
        T.expect_eq(peer_fingerprint(port, d), file_fingerprint(d["cert"]),
            "certificate before the reload")
        old_h1 = wss_h1_echo(port, client_ctx(d))
        old_h2 = h2ws.H2Client(port, tls=True, ctx=client_ctx(d))
        st = old_h2.connect_ws("/echo")
        shutil.copy(d["cert2"], cert)
        shutil.copy(d["key2"], key)
        n = b.nlines()
        b.signal(signal.SIGHUP)
        b.wait_log(r"certificate reloaded from " + cert, 10, start=n)
        T.expect_eq(peer_fingerprint(port, d), file_fingerprint(d["cert2"]),
            "certificate for new connections after the reload")
        old_h1.send_frame(T.OP_TEXT, "still open")
        T.expect_eq(old_h1.recv_message(), (T.OP_TEXT, b"still open"),
            "HTTP/1.1 tunnel from before the reload")
        old_h2.send_message(st, b"still open too")
        old_h2.wait(lambda: st.messages, 10, "h2 echo after the reload")
        # A broken file: the error is logged, the previous pair stays.
        open(cert, "w").write("garbage\n")
        n = b.nlines()
        b.signal(signal.SIGHUP)
        b.wait_log(r"reload failed, keeping the running config and its "
            r"listeners: listen .*cert", 10, start=n)
        T.expect_eq(peer_fingerprint(port, d), file_fingerprint(d["cert2"]),
            "certificate after a failed reload")
        old_h1.close()
        old_h2.close()

    T.expect_eq(b.stop(), 0, "exit status after SIGTERM")

    with T.subtest("live stats (a control socket) over wss://: every byte "
            "counted, clean close; SIGTERM: close 1001, close_notify, clean "
            "exit"):
        sock = os.path.join(d["dir"], "ctl.sock")
        b = T.Bridge("--route", "/echo=echo", "--control", sock, listen=(
            "127.0.0.1:0 tls cert=%s key=%s" % (d["cert"], d["key"]),),
            name="wsbridge-ctl-tls")
        ctl = T.Ctl(sock)
        c = TLSRaw(b.port, client_ctx(d))
        c.upgrade("/echo")
        for n in (10, 1000, 70000, 300000):
            m = T.pattern_bytes(n, n)
            c.send_frame(T.OP_BINARY, m)
            T.expect_eq(c.recv_message(20), (T.OP_BINARY, m),
                "%d-byte echo" % n)
        g = ctl.ask({"cmd": "snapshot"})["global"]
        T.expect_eq(g["open"]["h1_wss"], 1, "open h1 wss")
        T.expect_eq((g["bytes_in"], g["msgs_in"], g["msgs_out"]),
            (371010, 4, 4), "bytes and messages counted")
        close_cleanly(c)
        for _ in T.deadline_loop(10, "the tunnel to leave the snapshot"):
            if ctl.ask({"cmd": "snapshot"})["global"]["open"]["h1_wss"] == 0:
                break
        # SIGTERM with a wss:// tunnel open: close 1001, then close_notify.
        c = TLSRaw(b.port, client_ctx(d))
        c.upgrade("/echo")
        c.send_frame(T.OP_TEXT, "before SIGTERM")
        T.expect_eq(c.recv_message(), (T.OP_TEXT, b"before SIGTERM"), "echo")
        b.signal(signal.SIGTERM)
        T.expect_eq(c.recv_close(10)[0], 1001, "close code on shutdown")
        c.send_frame(T.OP_CLOSE, T.close_payload(1001))
        try:
            T.check(c.sock.recv(100) == b"", "close_notify after the close "
                "handshake")
        except ssl.SSLEOFError as e:
            T.fail("TCP ended without close_notify: %s" % e)
        c.close()
        T.expect_eq(b.wait_exit(15), 0, "exit status after SIGTERM")
        T.expect_eq(b.stop(), 0, "clean log after SIGTERM")


T.run(main)
