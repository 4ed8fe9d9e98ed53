#!/usr/bin/python3
"""test_static.py -- static files (issue 16 item 3): `web DIR` and
websockify's --web serve GET and HEAD of the files under DIR from the event
loop: MIME types, HEAD, ETag and Last-Modified with 304, index.html for a
directory (never a listing), 301 for a directory without its '/',
keep-alive and pipelining, 30 attempts to leave DIR (all 403/404, and
inotify sees nothing outside DIR opened), a 256 MiB sparse file downloaded
whole while a WebSocket on the same server keeps echoing (every echo
answered), over TLS too (tls=auto), WebSocket upgrades on any path still
bridged, 426 as before without a web root, and noVNC's own files from
Debian's novnc package (vnc.html is text/html)."""

import asyncio
import ctypes
import hashlib
import http.client
import os
import signal
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import certs  # noqa: E402
import wsbtest as T  # noqa: E402

import h2.config  # noqa: E402
import h2.connection  # noqa: E402
import h2.events  # noqa: E402
import websockets  # noqa: E402

SECRET = b"wsbridge-test-secret-outside-the-web-root\n"
BIG = 256 * T.MiB
MID = 32 * T.MiB	# over h2: Python's h2 parses every frame


def get(port, path, method="GET", headers=None, ctx=None):
    """One request on a new connection: (status, headers dict, body)."""
    if ctx is not None:
        c = http.client.HTTPSConnection("127.0.0.1", port, context=ctx,
            timeout=30)
    else:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request(method, path, headers=headers or {})
    r = c.getresponse()
    body = r.read()
    h = {k.lower(): v for k, v in r.getheaders()}
    c.close()
    return r.status, h, body


def h2_get(port, path, ctx=None, method="GET", headers=()):
    """One request over HTTP/2 (TLS with ALPN h2 when ctx, else h2c with
    prior knowledge), read to the end: (status, headers dict, body)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=60)
    if ctx is not None:
        s = ctx.wrap_socket(s, server_hostname="127.0.0.1")
        T.expect_eq(s.selected_alpn_protocol(), "h2", "ALPN")
    conn = h2.connection.H2Connection(h2.config.H2Configuration(
        client_side=True, header_encoding="utf-8"))
    conn.initiate_connection()
    conn.increment_flow_control_window(1 << 30)
    sid = conn.get_next_available_stream_id()
    conn.send_headers(sid, [(":method", method), (":scheme", "https" if
        ctx else "http"), (":path", path), (":authority", "127.0.0.1")] +
        list(headers), end_stream=True)
    s.sendall(conn.data_to_send())
    status, hdrs, body, done = None, {}, bytearray(), False
    while not done:
        data = s.recv(1 << 20)
        if not data:
            T.fail("h2 connection closed before the response ended")
        for ev in conn.receive_data(data):
            if isinstance(ev, h2.events.ResponseReceived):
                hdrs = dict(ev.headers)
                status = int(hdrs[":status"])
            elif isinstance(ev, h2.events.DataReceived):
                body += ev.data
                conn.acknowledge_received_data(
                    ev.flow_controlled_length, ev.stream_id)
            elif isinstance(ev, (h2.events.StreamEnded,
                    h2.events.StreamReset)):
                done = True
        s.sendall(conn.data_to_send())
    s.close()
    return status, hdrs, bytes(body)


def exchange(port, raw):
    """Sends raw bytes as they are and reads until the server closes."""
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.sendall(raw)
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    return data


def raw_get(port, target):
    """A request line sent as is (no client-side normalisation); returns
    (status, body)."""
    data = exchange(port, b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n"
        b"Connection: close\r\n\r\n")
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


class Inotify:
    """Opens and reads of the files directly in one directory (ctypes over
    inotify(7)): proof that nothing outside the web root was touched."""

    IN_ACCESS, IN_OPEN = 0x1, 0x20

    def __init__(self, path):
        libc = ctypes.CDLL(None, use_errno=True)
        self.fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if self.fd < 0:
            raise T.Skip("inotify_init1 failed")
        if libc.inotify_add_watch(self.fd, path.encode(),
                self.IN_ACCESS | self.IN_OPEN) < 0:
            raise T.Skip("inotify_add_watch failed")

    def names(self):
        out = []
        while True:
            try:
                buf = os.read(self.fd, 65536)
            except BlockingIOError:
                return out
            i = 0
            while i < len(buf):
                _, mask, _, n = struct.unpack_from("iIII", buf, i)
                name = buf[i + 16:i + 16 + n].rstrip(b"\0").decode()
                out.append((name, mask))
                i += 16 + n

    def close(self):
        os.close(self.fd)


ESCAPES = [
    b"/../secret.txt", b"/..%2fsecret.txt", b"/%2e%2e/secret.txt",
    b"/%2E%2E/secret.txt", b"/.%2e/secret.txt", b"/%2e./secret.txt",
    b"/sub/../../secret.txt", b"/sub/%2e%2e/%2e%2e/secret.txt",
    b"/..\\secret.txt", b"/%5c..%5csecret.txt", b"/..%5csecret.txt",
    b"/out.txt", b"/outdir/secret.txt", b"/outdir/web/index.html",
    b"/secret.txt%00.html", b"/index.html%00", b"/%2fetc%2fpasswd",
    b"//etc/passwd", b"/./../secret.txt", b"/sub/./../..//secret.txt",
    b"/....//secret.txt", b"/%252e%252e/secret.txt", b"/..;/secret.txt",
    b"/%c0%ae%c0%ae/secret.txt", b"/..%c0%afsecret.txt",
    b"/sub/..%2f..%2fsecret.txt", b"/%2e%2e%2fsecret.txt",
    b"/../../../../etc/passwd", b"/%2e%2e%5c%2e%2e%5cetc%5cpasswd",
    b"/outfile", b"/sub/out2/secret.txt",
]


def make_root(d):
    top = os.path.join(d, "site")
    root = os.path.join(top, "web")
    os.makedirs(os.path.join(root, "sub"))
    os.makedirs(os.path.join(root, "emptydir"))
    files = {
        "index.html": b"<!doctype html><title>root</title>\n",
        "app.js": b"export const x = 1;\n",
        "mod.mjs": b"export default 2;\n",
        "style.css": b"body { color: red }\n",
        "data.json": b"{\"a\": 1}\n",
        "pic.png": b"\x89PNG\r\n\x1a\n",
        "pic.svg": b"<svg xmlns='http://www.w3.org/2000/svg'/>\n",
        "font.woff2": b"wOF2",
        "bin.wasm": b"\0asm\1\0\0\0",
        "noext": b"plain bytes\n",
        "odd.xyz": b"unknown type\n",
        "sub/index.html": b"<!doctype html><title>sub</title>\n",
        "sub/page.htm": b"<p>page</p>\n",
    }
    for name, data in files.items():
        with open(os.path.join(root, name), "wb") as f:
            f.write(data)
    with open(os.path.join(top, "secret.txt"), "wb") as f:
        f.write(SECRET)
    os.symlink("index.html", os.path.join(root, "in.html"))
    os.symlink("../secret.txt", os.path.join(root, "out.txt"))
    os.symlink(os.path.join(top, "secret.txt"), os.path.join(root,
        "outfile"))
    os.symlink("..", os.path.join(root, "outdir"))
    os.symlink("../..", os.path.join(root, "sub", "out2"))
    with open(os.path.join(root, "mid.bin"), "wb") as f:
        f.truncate(MID)
    with open(os.path.join(root, "big.bin"), "wb") as f:
        f.truncate(BIG)
        f.seek(BIG - 16)
        f.write(b"end of big file!")
    return top, root, files


def download(port, path, ctx=None, pause=0.0):
    """GET path reading it in pieces; returns (status, length, sha256)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=60)
    if ctx is not None:
        s = ctx.wrap_socket(s, server_hostname="127.0.0.1")
    s.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = s.recv(65536)
        if not d:
            T.fail("connection closed in the response head")
        buf += d
    head, _, body = buf.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = int([l for l in head.split(b"\r\n") if
        l.lower().startswith(b"content-length:")][0].split(b":")[1])
    h = hashlib.sha256(body)
    got = len(body)
    while got < length:
        d = s.recv(min(256 * 1024, length - got))
        if not d:
            break
        h.update(d)
        got += len(d)
        if pause:
            time.sleep(pause)
    s.close()
    return status, got, h.hexdigest()


def big_digest():
    h = hashlib.sha256()
    zero = bytes(T.MiB)
    for _ in range(BIG // T.MiB - 1):
        h.update(zero)
    h.update(bytes(T.MiB - 16) + b"end of big file!")
    return h.hexdigest()


def download_while_echoing(port, ctx=None, pause=0.002):
    """Downloads big.bin while a WebSocket on the same server echoes
    message after message; returns (status, length, digest, echoes)."""
    result = {}

    def dl():
        try:
            result["dl"] = download(port, "/big.bin", ctx, pause)
        except Exception as e:  # reported by the main thread
            result["dl_error"] = e

    async def echo():
        scheme = "wss" if ctx is not None else "ws"
        kw = {"ssl": ctx} if ctx is not None else {}
        n = 0
        async with websockets.connect("%s://127.0.0.1:%d/ws" % (scheme,
                port), open_timeout=30, max_size=None, **kw) as ws:
            t = threading.Thread(target=dl)
            t.start()
            while t.is_alive():
                msg = os.urandom(64) + n.to_bytes(4, "big")
                await ws.send(msg)
                got = await asyncio.wait_for(ws.recv(), 30)
                if got != msg:
                    T.fail("echo %d not answered intact" % n)
                n += 1
            t.join()
        return n

    n = asyncio.run(echo())
    if "dl_error" in result:
        raise result["dl_error"]
    return result["dl"] + (n,)


def main():
    d = T.tmpdir()
    top, root, files = make_root(d)
    digest = big_digest()

    with T.subtest("MIME types, HEAD, index.html, 301, 404, no listing"):
        br = T.Bridge("-r", "*=echo", "-o", "web " + root)
        want = {
            "/index.html": "text/html", "/app.js": "text/javascript",
            "/mod.mjs": "text/javascript", "/style.css": "text/css",
            "/data.json": "application/json", "/pic.png": "image/png",
            "/pic.svg": "image/svg+xml", "/font.woff2": "font/woff2",
            "/bin.wasm": "application/wasm",
            "/noext": "application/octet-stream",
            "/odd.xyz": "application/octet-stream",
            "/sub/page.htm": "text/html", "/in.html": "text/html",
        }
        for path, mime in want.items():
            st, h, body = get(br.port, path)
            T.expect_eq((st, h.get("content-type")), (200, mime),
                "GET %s" % path)
            name = "index.html" if path == "/in.html" else path[1:]
            T.check(body == files[name], "%s: the file's bytes" % path)
            T.expect_eq(h.get("x-content-type-options"), "nosniff",
                "%s: nosniff" % path)
        st, h, body = get(br.port, "/app.js", "HEAD")
        T.expect_eq((st, h.get("content-length"), body),
            (200, str(len(files["app.js"])), b""),
            "HEAD: the length GET would send, no body")
        T.check("etag" in h and "last-modified" in h, "HEAD: validators")
        for path, name in (("/", "index.html"), ("/sub/",
                "sub/index.html"), ("/?x=1", "index.html")):
            st, h, body = get(br.port, path)
            T.expect_eq((st, body), (200, files[name]),
                "%s: its index.html" % path)
        st, h, _ = get(br.port, "/sub?q=1")
        T.expect_eq((st, h.get("location")), (301, "/sub/?q=1"),
            "a directory without its '/': 301 to it")
        st, _, body = get(br.port, "/emptydir/")
        T.expect_eq(st, 404, "a directory without index.html: 404")
        T.check(b"noext" not in body and b"index" not in body,
            "and no listing")
        T.expect_eq(get(br.port, "/nope.html")[0], 404, "a missing file")
        T.expect_eq(get(br.port, "/app.js/")[0], 404,
            "a file named as a directory")
        st, h, _ = get(br.port, "/app.js", "POST")
        T.expect_eq((st, h.get("allow")), (405, "GET, HEAD"),
            "POST: 405 with Allow")
        br.stop()

    with T.subtest("304 by ETag and by date"):
        br = T.Bridge("-r", "*=echo", "-o", "web " + root)
        st, h, _ = get(br.port, "/style.css")
        etag, lm = h["etag"], h["last-modified"]
        st, h2, body = get(br.port, "/style.css", headers={
            "If-None-Match": etag})
        T.expect_eq((st, body, h2.get("etag")), (304, b"", etag),
            "If-None-Match with its ETag")
        st, _, _ = get(br.port, "/style.css", headers={
            "If-None-Match": 'W/"other", ' + "W/" + etag})
        T.expect_eq(st, 304, "a weak match in a list")
        st, _, _ = get(br.port, "/style.css", headers={
            "If-None-Match": '"other"'})
        T.expect_eq(st, 200, "another ETag: 200")
        st, _, _ = get(br.port, "/style.css", headers={
            "If-Modified-Since": lm})
        T.expect_eq(st, 304, "If-Modified-Since its Last-Modified")
        st, _, _ = get(br.port, "/style.css", headers={
            "If-Modified-Since": "Sat, 01 Jan 2000 00:00:00 GMT"})
        T.expect_eq(st, 200, "modified since 2000: 200")
        st, _, _ = get(br.port, "/style.css", headers={
            "If-None-Match": '"other"', "If-Modified-Since": lm})
        T.expect_eq(st, 200, "If-None-Match decides over the date")
        # A new version of the file: a new ETag.
        time.sleep(0.01)
        with open(os.path.join(root, "style.css"), "ab") as f:
            f.write(b"/* v2 */\n")
        st, h3, _ = get(br.port, "/style.css", headers={
            "If-None-Match": etag})
        T.check(st == 200 and h3["etag"] != etag, "changed file: 200, new "
            "ETag", (200, "new"), (st, h3.get("etag")))
        files["style.css"] += b"/* v2 */\n"
        br.stop()

    with T.subtest("keep-alive, pipelining, HTTP/1.0, a request body"):
        br = T.Bridge("-r", "*=echo", "-o", "web " + root)
        c = http.client.HTTPConnection("127.0.0.1", br.port, timeout=30)
        for path in ("/app.js", "/style.css", "/", "/nope", "/app.js"):
            c.request("GET", path)
            r = c.getresponse()
            r.read()
        T.expect_eq(r.status, 200, "five requests on one connection")
        c.close()
        data = exchange(br.port, b"GET /app.js HTTP/1.1\r\nHost: x\r\n\r\n"
            b"GET /data.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        T.check(data.count(b"HTTP/1.1 200 OK") == 2 and
            data.endswith(files["data.json"]), "two pipelined requests, two "
            "answers in order", 2, data.count(b"HTTP/1.1 200 OK"))
        data = exchange(br.port, b"GET /app.js HTTP/1.0\r\n\r\n")
        T.check(b"Connection: close" in data and data.endswith(
            files["app.js"]), "HTTP/1.0: served, then closed")
        s = socket.create_connection(("127.0.0.1", br.port), timeout=30)
        s.sendall(b"GET /app.js HTTP/1.1\r\nHost: x\r\nContent-Length: 5"
            b"\r\n\r\nGET /")
        data = s.recv(65536)
        T.check(data.startswith(b"HTTP/1.1 400"), "a request body: 400",
            "400", data[:20])
        br.stop()

    with T.subtest("30 attempts to leave the web root: 403/404, nothing "
            "outside opened"):
        br = T.Bridge("-r", "*=echo", "-o", "web " + root)
        ino = Inotify(top)
        T.check(len(ESCAPES) >= 30, "30 attempts", 30, len(ESCAPES))
        for tgt in ESCAPES:
            st, body = raw_get(br.port, tgt)
            T.check(st in (403, 404) and SECRET not in body and
                b"root:" not in body, "%r: %d" % (tgt, st), "403 or 404",
                (st, body[:60]))
        # Inside the root, the same server still serves.
        T.expect_eq(raw_get(br.port, b"/in.html")[0], 200,
            "a symlink inside the root is followed")
        seen = [n for n, _ in ino.names() if n and n != "web"]
        T.expect_eq(seen, [], "files opened or read beside the web root")
        # The watch sees an open when there is one.
        with open(os.path.join(top, "secret.txt"), "rb") as f:
            f.read()
        T.check("secret.txt" in [n for n, _ in ino.names()],
            "the inotify watch works (our own read is seen)")
        ino.close()
        br.stop()

    with T.subtest("256 MiB sparse file while a WebSocket echoes"):
        br = T.Bridge("-r", "*=echo", "-o", "web " + root,
            env=T.asan_rss_env())
        rss0 = br.rss_kib()
        st, n, dig, echoes = download_while_echoing(br.port)
        T.expect_eq((st, n), (200, BIG), "the whole file")
        T.expect_eq(dig, digest, "its bytes")
        T.check(echoes >= 10, "echoes answered during the download",
            ">= 10", echoes)
        rss = br.rss_kib()
        T.log("   rss %d KiB before, %d KiB after" % (rss0, rss))
        T.check(rss - rss0 < 64 * 1024, "memory did not grow with the "
            "file", "< 64 MiB more", "%d KiB" % (rss - rss0))
        br.stop()

    with T.subtest("a client that stops reading a file is dropped; idle "
            "keep-alive ends quietly"):
        br = T.Bridge("-r", "*=echo", "-o", "web " + root, "-o",
            "handshake-timeout 2s")
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        s.connect(("127.0.0.1", br.port))
        s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        br.wait_log(r"took nothing of /big.bin for handshake-timeout", 60)
        s.close()
        T.expect_eq(get(br.port, "/app.js")[0], 200, "others still served")
        s = socket.create_connection(("127.0.0.1", br.port), timeout=60)
        s.sendall(b"GET /app.js HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        while not data.endswith(files["app.js"]):
            data += s.recv(65536)
        rest = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            rest += chunk
        T.expect_eq(rest, b"", "an idle keep-alive connection is closed "
            "without a 408")
        s.close()
        br.stop()

    with T.subtest("over TLS (tls=auto): files and WebSockets, both "
            "schemes"):
        cd = os.path.join(d, "certs")
        os.makedirs(cd, exist_ok=True)
        cs = certs.make(cd)
        br = T.Bridge("-r", "*=echo", "-o", "web " + root,
            listen=("127.0.0.1:0 tls=auto cert=%s key=%s" % (cs["cert"],
            cs["key"]),), env=T.asan_rss_env())
        ctx = ssl.create_default_context(cafile=cs["ca"])
        ctx.set_alpn_protocols(["http/1.1"])
        st, h, body = get(br.port, "/app.js", ctx=ctx)
        T.expect_eq((st, h.get("content-type"), body), (200,
            "text/javascript", files["app.js"]), "https GET")
        T.expect_eq(get(br.port, "/app.js")[0], 200, "http GET, same port")
        # A browser on https:// gets h2 by ALPN: pages come over it too.
        h2ctx = ssl.create_default_context(cafile=cs["ca"])
        h2ctx.set_alpn_protocols(["h2", "http/1.1"])
        st, h, body = h2_get(br.port, "/app.js", h2ctx)
        T.expect_eq((st, h.get("content-type"), body), (200,
            "text/javascript", files["app.js"]), "h2 GET (ALPN)")
        st, h, body = h2_get(br.port, "/app.js", h2ctx, headers=[
            ("if-none-match", h["etag"])])
        T.expect_eq((st, body), (304, b""), "h2 304")
        st, h, body = h2_get(br.port, "/sub", h2ctx)
        T.expect_eq((st, h.get("location")), (301, "/sub/"), "h2 301")
        st, h, body = h2_get(br.port, "/app.js", h2ctx, method="HEAD")
        T.expect_eq((st, h.get("content-length"), body), (200,
            str(len(files["app.js"])), b""), "h2 HEAD")
        T.expect_eq(h2_get(br.port, "/../secret.txt", h2ctx)[0], 403,
            "h2: no escape either")
        st, h, body = h2_get(br.port, "/mid.bin", h2ctx)
        T.check(st == 200 and body == bytes(MID), "h2: a 32 MiB file whole",
            (200, MID), (st, len(body)))
        st, h, body = h2_get(br.port, "/index.html")
        T.expect_eq((st, body), (200, files["index.html"]),
            "h2c GET (prior knowledge)")
        rss0 = br.rss_kib()
        st, n, dig, echoes = download_while_echoing(br.port, ctx=ctx,
            pause=0.0)
        T.expect_eq((st, n, dig), (200, BIG, digest),
            "the whole file over TLS")
        T.check(echoes >= 1, "wss:// echoes answered during the download",
            ">= 1", echoes)
        rss = br.rss_kib()
        T.log("   rss %d KiB before, %d KiB after (TLS)" % (rss0, rss))
        T.check(rss - rss0 < 64 * 1024, "memory did not grow with the "
            "file", "< 64 MiB more", "%d KiB" % (rss - rss0))
        br.stop()

    with T.subtest("upgrades on any path still bridge; without web, 426"):
        br = T.Bridge("-r", "*=echo", "-o", "web " + root)
        for path in ("/index.html", "/websockify", "/sub/"):
            c = T.RawConn(br.port)
            c.upgrade(path)
            c.send_frame(T.OP_TEXT, b"hi")
            T.expect_eq(c.recv_message(30)[1], b"hi", "echo on %s" % path)
            c.close()
        br.stop()
        br = T.Bridge("-r", "*=echo")
        c = T.RawConn(br.port)
        c.send(b"GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n")
        st, _, _ = c.read_response(30)
        T.expect_eq(st, 426, "no web root: 426 as before")
        c.close()
        br.stop()

    with T.subtest("listings only when asked: listing=yes, websockify's "
            "--web without --file-only"):
        ld = os.path.join(root, "listme")
        os.makedirs(os.path.join(ld, "d"))
        for name in ("a&b <c>.txt", ".hidden", "z.js"):
            with open(os.path.join(ld, name), "w") as f:
                f.write(name)
        st, out = T.run_wsbridge("--print-config", "--web", root,
            "--file-only", "6080", "127.0.0.1:5900")
        T.expect_eq(st, 0, "--print-config status")
        T.check('web "%s"\n' % root in out, "--file-only: the web line "
            "without a listing", "web", out)
        st, out = T.run_wsbridge("--print-config", "--web", root, "6080",
            "127.0.0.1:5900")
        T.check('web "%s" listing=yes' % root in out, "--web alone: "
            "listing=yes, as websockify", "listing=yes", out)
        br = T.Bridge("--web", root, "--file-only", "127.0.0.1:0", "echo",
            listen=(), nlisteners=1)
        T.expect_eq(get(br.port, "/app.js")[0], 200, "--web serves")
        T.expect_eq(get(br.port, "/listme/")[0], 404, "--file-only: no "
            "listing")
        br.stop()
        br = T.Bridge("--web", root, "127.0.0.1:0", "echo", listen=(),
            nlisteners=1)
        st, h, body = get(br.port, "/listme/")
        T.expect_eq((st, h.get("content-type")), (200,
            "text/html; charset=utf-8"), "a listing")
        T.check(b'<a href="a%26b%20%3Cc%3E.txt">a&amp;b &lt;c&gt;.txt</a>'
            in body and b'<a href="d/">d/</a>' in body and b"z.js" in body,
            "names escaped, links encoded, a directory with its /", "links",
            body)
        T.check(b"hidden" not in body, "dotfiles not listed")
        st, _, body = get(br.port, "/listme/a%26b%20%3Cc%3E.txt")
        T.expect_eq((st, body), (200, b"a&b <c>.txt"), "a listed link works")
        T.expect_eq(get(br.port, "/")[2], files["index.html"],
            "index.html still wins over a listing")
        br.stop()
        st, out = T.run_wsbridge("--check", "-r", "*=echo", "-l", "0",
            "-o", "web " + os.path.join(d, "none"))
        T.check(st != 0 and "none" in out, "a missing web root fails "
            "--check", "names it", out)
        st, out = T.run_wsbridge("--check", "-r", "*=echo", "-l", "0",
            "-o", "web relative/dir")
        T.check(st != 0 and "absolute" in out, "a relative web root is "
            "refused", "absolute", out)

    with T.subtest("noVNC's files (Debian's novnc package)"):
        nv = "/usr/share/novnc"
        if not os.path.isfile(os.path.join(nv, "vnc.html")):
            T.fail("%s/vnc.html missing: contrib/install-deps.sh test "
                "installs novnc" % nv)
        br = T.Bridge("--web", nv, "127.0.0.1:0", "echo", listen=(),
            nlisteners=1)
        st, h, body = get(br.port, "/vnc.html")
        T.expect_eq((st, h.get("content-type")), (200, "text/html"),
            "vnc.html")
        T.check(b"noVNC" in body, "noVNC's page")
        st, h, _ = get(br.port, "/app/ui.js")
        T.expect_eq((st, h.get("content-type")), (200, "text/javascript"),
            "app/ui.js (an ES module: needs a JavaScript type)")
        st, h, _ = get(br.port, "/vnc_auto.html")
        T.expect_eq(st, 200, "vnc_auto.html (a symlink inside)")
        br.stop()

    with T.subtest("noVNC's launcher: utils/novnc_proxy with wsbridge as "
            "its websockify"):
        shim = os.path.join(d, "bin")
        os.makedirs(shim, exist_ok=True)
        with open(os.path.join(shim, "websockify"), "w") as f:
            f.write("#!/bin/sh\nexec %s \"$@\"\n" % T.wsbridge_path())
        os.chmod(os.path.join(shim, "websockify"), 0o755)
        vnc = T.EchoBackend()
        ls = socket.socket()
        ls.bind(("127.0.0.1", 0))
        port = ls.getsockname()[1]
        ls.close()
        env = dict(os.environ, PATH=shim + ":" + os.environ["PATH"])
        p = subprocess.Popen(["bash", "/usr/share/novnc/utils/novnc_proxy",
            "--listen", str(port), "--vnc", vnc.addr], env=env,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, start_new_session=True)
        try:
            st = None
            end = time.monotonic() + 60
            while st is None and time.monotonic() < end and \
                    p.poll() is None:
                try:
                    st, h, _ = get(port, "/vnc.html")
                except OSError:
                    time.sleep(0.1)
            T.expect_eq((st, h.get("content-type") if st else None),
                (200, "text/html"), "vnc.html through novnc_proxy")
            c = T.RawConn(port)
            c.upgrade("/websockify")
            c.send_frame(T.OP_BINARY, b"RFB 003.008\n")
            T.expect_eq(c.recv_message(30)[1], b"RFB 003.008\n",
                "/websockify bridges to --vnc")
            c.close()
        finally:
            # novnc_proxy and its wsbridge: the group we started.
            os.killpg(p.pid, signal.SIGTERM)
            out = p.communicate(timeout=30)[0].decode("utf-8", "replace")
            T.log("   novnc_proxy said: " + out.replace("\n", " | ")[:600])
        T.check("AddressSanitizer" not in out and "runtime error" not in
            out, "no sanitizer report")
        vnc.close()


T.run(main)
