#!/usr/bin/python3
"""test_sameport.py -- ws:// and wss:// on one port (issue 16 item 2), as
websockify serves them: a listener with tls=auto (websockify's --cert
without --ssl-only) peeks the client's first byte and speaks TLS when it
starts a handshake, plain HTTP otherwise. Real clients: Python websockets
over ws:// and wss:// against the same port at the same time, HTTP/2 over
TLS (ALPN h2, RFC 8441) and h2c with prior knowledge there too; a client
that sends nothing is dropped at handshake-timeout without holding the
loop; --ssl-only refuses plain; a combined PEM (key in the cert file);
--key-password and key-password-file= right and wrong."""

import asyncio
import os
import socket
import ssl
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import certs  # noqa: E402
import h2ws  # noqa: E402
import wsbtest as T  # noqa: E402

import websockets  # noqa: E402


def client_ctx(ca):
    ctx = ssl.create_default_context(cafile=ca)
    return ctx


async def echo_many(url, n, ctx=None):
    """Opens a WebSocket at url, sends n messages, expects each echoed."""
    kw = {"ssl": ctx} if ctx is not None else {}
    async with websockets.connect(url, open_timeout=30, **kw) as ws:
        for i in range(n):
            msg = os.urandom(1 + (i * 997) % 5000)
            await ws.send(msg)
            got = await asyncio.wait_for(ws.recv(), 30)
            if got != msg:
                T.fail("%s: message %d not echoed intact" % (url, i))
    return n


def both_at_once(port, ca, n=50):
    """A ws:// and a wss:// client on the same port, concurrently."""
    async def go():
        return await asyncio.gather(
            echo_many("ws://127.0.0.1:%d/" % port, n),
            echo_many("wss://127.0.0.1:%d/" % port, n, client_ctx(ca)))
    got = asyncio.run(go())
    T.expect_eq(got, [n, n], "ws:// and wss:// echoes on one port")


def websockify(*args):
    return T.Bridge(*args, listen=(), nlisteners=1)


def main():
    d = T.tmpdir()
    a = T.EchoBackend()
    cs = certs.make(d)
    combined = os.path.join(d, "combined.pem")
    with open(combined, "w") as f:
        f.write(open(cs["cert"]).read() + open(cs["key"]).read())
    enc = os.path.join(d, "enc.key")
    subprocess.run(["openssl", "pkey", "-in", cs["key"], "-aes256",
        "-passout", "pass:s3cret wsb", "-out", enc], check=True)

    with T.subtest("websockify --cert (combined PEM): ws:// and wss:// on "
            "one port"):
        br = websockify("--cert", combined, "127.0.0.1:0", a.addr)
        br.wait_log(r"tls or plain by the first byte")
        both_at_once(br.port, cs["ca"])
        st, out = T.run_wsbridge("--print-config", "--cert", combined,
            "6080", a.addr)
        T.check("tls=auto cert=" in out and "websockify also takes" not in
            out, "--print-config: tls=auto, no warning", "tls=auto", out)
        br.stop()

    with T.subtest("native tls=auto: HTTP/2 over TLS and h2c, HTTP/1.1 "
            "both ways"):
        br = T.Bridge("-r", "*=echo", listen=("127.0.0.1:0 tls=auto "
            "cert=%s" % combined,))
        ctx = ssl.create_default_context(cafile=cs["ca"])
        c = h2ws.H2Client(br.port, tls=True, ctx=ctx)
        st = c.connect_ws("/h2")
        c.send_message(st, b"over h2")
        c.wait(lambda: st.messages, 30, "echo over h2")
        T.expect_eq(st.messages[0][1], b"over h2", "h2 echo (ALPN)")
        c.close()
        c = h2ws.H2Client(br.port, tls=False)
        st = c.connect_ws("/h2c")
        c.send_message(st, b"over h2c")
        c.wait(lambda: st.messages, 30, "echo over h2c")
        T.expect_eq(st.messages[0][1], b"over h2c",
            "h2c echo (prior knowledge, plain)")
        c.close()
        both_at_once(br.port, cs["ca"], 20)
        br.stop()

    with T.subtest("tls=auto behind a PROXY header: the byte after it "
            "decides"):
        br = T.Bridge("-r", "*=echo", listen=("127.0.0.1:0 tls=auto "
            "cert=%s proxy-protocol=v1" % combined,))
        for tls in (False, True):
            c = T.RawConn(br.port)
            c.send(b"PROXY TCP4 192.0.2.7 127.0.0.1 40000 %d\r\n" % br.port)
            if tls:
                c.sock = client_ctx(cs["ca"]).wrap_socket(c.sock,
                    server_hostname="127.0.0.1")
            c.upgrade("/")
            c.send_frame(T.OP_TEXT, b"behind a balancer")
            T.expect_eq(c.recv_message(30)[1], b"behind a balancer",
                "echo over %s after the PROXY header" % ("TLS" if tls else
                "plain HTTP"))
            c.close()
        br.wait_log(r"open peer=192\.0\.2\.7:40000")
        br.stop()

    with T.subtest("a silent client is dropped at handshake-timeout; "
            "others go on meanwhile"):
        br = T.Bridge("-r", "*=echo", "-o", "handshake-timeout 2s",
            listen=("127.0.0.1:0 tls=auto cert=%s" % combined,))
        silent = [socket.create_connection(("127.0.0.1", br.port))
            for _ in range(5)]
        # The loop is not held by them: both kinds echo at once.
        both_at_once(br.port, cs["ca"], 5)
        for s in silent:
            s.settimeout(30)
            T.expect_eq(s.recv(1), b"", "a silent client is closed")
            s.close()
        br.wait_log(r"sent nothing within handshake-timeout")
        # One byte, then nothing: the same deadline covers the request.
        s = socket.create_connection(("127.0.0.1", br.port))
        s.sendall(b"G")
        s.settimeout(30)
        got = s.recv(4096)
        T.check(got.startswith(b"HTTP/1.1 408"), "a partial plain "
            "request gets 408", "HTTP/1.1 408", got[:40])
        s.close()
        br.stop()

    with T.subtest("--ssl-only refuses plain"):
        br = websockify("--cert", combined, "--ssl-only", "127.0.0.1:0",
            a.addr)
        c = T.RawConn(br.port)
        c.send(T.upgrade_request("/"))
        try:
            st, _, _ = c.read_response(30)
        except (T.Closed, OSError, T.Failure):
            st = None
        T.check(st is None, "no HTTP answer on an --ssl-only port", None,
            st)
        br.wait_log(r"TLS handshake failed")
        asyncio.run(echo_many("wss://127.0.0.1:%d/" % br.port, 3,
            client_ctx(cs["ca"])))
        br.stop()

    with T.subtest("--key-password on a tls=auto port, right and wrong"):
        br = websockify("--cert", cs["cert"], "--key", enc,
            "--key-password", "s3cret wsb", "127.0.0.1:0", a.addr)
        both_at_once(br.port, cs["ca"], 5)
        br.stop()
        for extra in (("--key-password", "wrong"), ()):
            st, out = T.run_wsbridge("--cert", cs["cert"], "--key", enc,
                *(extra + ("127.0.0.1:0", a.addr)))
            T.expect_eq(st, 1, "exit status with %s" % (extra,))
            T.check("key %s" % enc in out, "the message names the key",
                enc, out)

    with T.subtest("key-password-file: the passphrase off the command "
            "line"):
        pw = os.path.join(d, "pw")
        with open(pw, "w") as f:
            f.write("s3cret wsb\n")
        os.chmod(pw, 0o600)
        br = T.Bridge("-r", "*=echo", listen=("127.0.0.1:0 tls=auto "
            "cert=%s key=%s key-password-file=%s" % (cs["cert"], enc, pw),))
        both_at_once(br.port, cs["ca"], 5)
        T.check("s3cret" not in br.log_text(), "the passphrase is not "
            "logged")
        br.stop()
        with open(pw, "w") as f:
            f.write("wrong\n")
        st, out = T.run_wsbridge("-r", "*=echo", "-l", "127.0.0.1:0 "
            "tls=auto cert=%s key=%s key-password-file=%s" % (cs["cert"],
            enc, pw))
        T.expect_eq(st, 1, "a wrong passphrase in the file: exit status")
        T.check("key %s" % enc in out, "the message names the key", enc,
            out)
        st, out = T.run_wsbridge("-r", "*=echo", "-l", "127.0.0.1:0 "
            "tls cert=%s key=%s key-password-file=%s" % (cs["cert"], enc,
            os.path.join(d, "nope")))
        T.expect_eq(st, 1, "a missing password file: exit status")
        T.check("key-password-file %s" % os.path.join(d, "nope") in out,
            "the message names the file", "key-password-file", out)


T.run(main)
