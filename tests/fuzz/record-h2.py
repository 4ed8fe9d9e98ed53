#!/usr/bin/python3
"""record-h2.py -- records what real HTTP/2 clients send to wsbridge, as
seeds for fuzz_h2 (tests/fuzz/seeds/h2). Not part of make check.

    WSBRIDGE=build/wsbridge tests/fuzz/record-h2.py OUTDIR [client...]

Clients: python-h2 (h2ws.py's extended CONNECT, plus its negative cases),
nghttp (h2c, prior knowledge), chromium and firefox (headless, over TLS).
Each client talks to a recording proxy in front of wsbridge's cleartext
listener; for browsers the proxy ends TLS (ALPN h2) with a test
certificate, so the file holds the client's HTTP/2 bytes as decrypted. One
file per client connection: <client>-<n>.bin, the connection preface first.
"""

import os
import socket
import ssl
import subprocess
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(TESTS, "integration"))

import certs  # noqa: E402
import h2ws  # noqa: E402
import wsbtest as T  # noqa: E402


class Recorder:
    """Accepts connections on 127.0.0.1:port (TLS when ctx is given),
    forwards each to 127.0.0.1:to and writes the client's bytes to
    outdir/<name>-<n>.bin."""

    def __init__(self, to, outdir, name, ctx=None):
        self.to, self.outdir, self.name, self.ctx = to, outdir, name, ctx
        self.lsock = socket.socket()
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(16)
        self.port = self.lsock.getsockname()[1]
        self.n = 0
        self.files = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            threading.Thread(target=self._conn, args=(c,),
                daemon=True).start()

    def _conn(self, c):
        if self.ctx is not None:
            try:
                c = self.ctx.wrap_socket(c, server_side=True)
            except (OSError, ssl.SSLError):
                return
        self.n += 1
        path = os.path.join(self.outdir, "%s-%d.bin" % (self.name, self.n))
        up = socket.create_connection(("127.0.0.1", self.to))
        f = open(path, "wb")
        self.files.append(path)

        def back():
            try:
                while True:
                    d = up.recv(65536)
                    if not d:
                        break
                    c.sendall(d)
            except OSError:
                pass
            for s in (c, up):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        threading.Thread(target=back, daemon=True).start()
        try:
            while True:
                d = c.recv(65536)
                if not d:
                    break
                f.write(d)
                f.flush()
                up.sendall(d)
        except OSError:
            pass
        f.close()
        if os.path.getsize(path) == 0:		# a browser's spare connection
            os.unlink(path)
            self.files.remove(path)
        try:
            up.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def python_h2(b, rec):
    c = h2ws.H2Client(rec.port)
    st = c.connect_ws("/echo", protocols=["superchat", "chat"],
        origin="http://127.0.0.1")
    c.send_message(st, "h\u00e9llo")
    c.send_message(st, T.pattern_bytes(3000, 1))
    c.wait(lambda: len(st.messages) == 2, 10, "echoes")
    c.send_close(st)
    c.wait(st.done, 10, "close")
    c.close()
    # The negative cases of test_h2.py, each on its own stream.
    c = h2ws.H2Client(rec.port, validate=False)
    a = c.authority
    base = [(":method", "CONNECT"), (":protocol", "websocket"),
        (":scheme", "http"), (":path", "/echo"), (":authority", a),
        ("sec-websocket-version", "13")]
    for hdrs, end in [
            ([h for h in base if h[0] != ":protocol"], False),
            ([(":method", "CONNECT"), (":authority", "example.com:443")],
                False),
            ([(n, "8" if n == "sec-websocket-version" else v)
                for n, v in base], False),
            ([(n, "/nowhere" if n == ":path" else v) for n, v in base],
                False),
            (base, True),
            ([(":method", "GET"), (":scheme", "http"), (":path", "/"),
                (":authority", a)], True),
            ([(":method", "HEAD"), (":scheme", "http"), (":path", "/"),
                (":authority", a)], True),
            (base + [("x-big", "b" * 9000)], False)]:
        st = c.request(hdrs, end_stream=end)
        c.wait(lambda: st.status is not None or st.reset is not None, 10,
            "answer")
    c.close()


def nghttp(b, rec):
    subprocess.run(["nghttp", "-nv", "http://127.0.0.1:%d/" % rec.port],
        stdout=subprocess.DEVNULL, timeout=20)


BROWSER = r"""
import * as T from '%(tests)s/integration/wsbtest.mjs';
const url = 'https://127.0.0.1:%(port)d';
let browser, page, close;
if ('%(which)s' === 'chromium') {
  const { chromium } = await import('playwright-core');
  const ctx = await chromium.launchPersistentContext(T.makeTmpdir(), {
    executablePath: '/usr/bin/chromium', headless: true, ignoreHTTPSErrors: true,
    args: ['--no-sandbox', '--disable-gpu', '--ignore-certificate-errors'] });
  page = await ctx.newPage();
  close = () => ctx.close();
} else {
  const puppeteer = (await import('puppeteer-core')).default;
  browser = await puppeteer.launch({ browser: 'firefox',
    executablePath: '/usr/bin/firefox-esr', headless: true,
    acceptInsecureCerts: true, userDataDir: T.makeTmpdir() });
  page = await browser.newPage();
  close = () => browser.close();
}
await page.goto(url + '/');
await page.evaluate(async (u) => {
  const ws = new WebSocket(u, ['chat']);
  ws.binaryType = 'arraybuffer';
  await new Promise((res, rej) => { ws.onopen = res; ws.onerror = rej; });
  const got = [];
  const done = new Promise((res) => { ws.onmessage = (e) => { got.push(e.data); if (got.length === 2) res(); }; });
  ws.send('hello');
  ws.send(new Uint8Array(3000).fill(7));
  await done;
  ws.close(1000, 'done');
  await new Promise((res) => { ws.onclose = res; });
}, url.replace('https', 'wss') + '/echo');
await close();
"""


def browser(which, b, rec):
    src = BROWSER % {"tests": TESTS, "port": rec.port, "which": which}
    subprocess.run(["node", "--input-type=module", "-e", src], cwd=TESTS,
        timeout=90, check=True)


def main():
    outdir = sys.argv[1]
    which = sys.argv[2:] or ["python-h2", "nghttp", "chromium", "firefox"]
    os.makedirs(outdir, exist_ok=True)
    d = certs.make(T.tmpdir())
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(d["cert"], d["key"])
    ctx.set_alpn_protocols(["h2"])
    b = T.Bridge("--route", "/echo=echo subprotocols=chat,superchat")
    for name in which:
        tls = name in ("chromium", "firefox")
        rec = Recorder(b.port, outdir, name, ctx if tls else None)
        fn = {"python-h2": python_h2, "nghttp": nghttp}.get(name)
        if fn is None:
            browser(name, b, rec)
        else:
            fn(b, rec)
        T.log("%s: %s" % (name, ", ".join(rec.files)))
    b.stop()


if __name__ == "__main__":
    main()
