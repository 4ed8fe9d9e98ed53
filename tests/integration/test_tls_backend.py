#!/usr/bin/python3
"""test_tls_backend.py -- tls:HOST:PORT targets against Python ssl servers
with certificates from a test CA (certs.py): the backend's certificate
verified against backend-ca= (SNI = the host name, none for an address), a
refused certificate (unknown issuer through the system store, another CA,
a name it was not issued for) answered 502 before any 101 with the
verification error in the log, backend-verify=no, and a backend that ends
its TLS stream by just closing the socket."""

import hashlib
import os
import socket
import ssl
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import certs  # noqa: E402
import wsbtest as T  # noqa: E402


class TLSBackend(T.Backend):
    """A TLS server on 127.0.0.1:0; script(conn) runs on the TLS socket.
    self.sni lists the server names clients sent (None: no SNI)."""

    def __init__(self, cert, key, script):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert, key)
        self.sni = []
        self.ctx.sni_callback = lambda s, name, c: self.sni.append(name)
        self.script = script
        super().__init__()

    def handle(self, c):
        c.settimeout(20)
        t = self.ctx.wrap_socket(c, server_side=True)
        try:
            self.script(t)
        finally:
            t.close()


def echo(t):
    while True:
        d = t.recv(256 * 1024)
        if not d:
            return
        t.sendall(d)


def say_bye(t):
    """Sends and closes the socket without a close_notify alert (Python
    sends one only from unwrap())."""
    t.sendall(b"bye")


def echo_round(port, path, n=1024 * 1024):
    c = T.RawConn(port)
    c.upgrade(path)
    data = T.pattern_bytes(n, 7)
    c.send_frame(T.OP_BINARY, data)
    got = bytearray()
    while len(got) < n:
        f = c.recv_frame()
        T.expect_eq(f.opcode, T.OP_BINARY, "opcode of the echo")
        got += f.payload
    T.expect_eq(hashlib.sha256(got).hexdigest(),
        hashlib.sha256(data).hexdigest(), "SHA-256 of %d bytes through "
        "the TLS backend" % n)
    c.send_frame(T.OP_CLOSE, T.close_payload(1000))
    f = c.recv_frame()
    T.expect_eq(f.opcode, T.OP_CLOSE, "close frame back")
    c.close()


def refused(b, port, path, why_re):
    n = b.nlines()
    c = T.RawConn(port)
    c.upgrade(path, expect=502)
    c.close()
    line = b.wait_log(r"backend tls:\S+ for \S+: " + why_re, 10, start=n)
    T.log("   log: " + line.strip())


def main():
    d = certs.make(T.tmpdir())
    other_cert, other_key = certs._leaf(d["dir"], "other", d["ca"],
        os.path.join(d["dir"], "ca.key"), "other.example",
        "subjectAltName=DNS:other.example\nextendedKeyUsage=serverAuth\n")
    good = TLSBackend(d["cert"], d["key"], echo)
    other = TLSBackend(other_cert, other_key, echo)
    bye = TLSBackend(d["cert"], d["key"], say_bye)
    gp, op = good.port, other.port
    routes = [
        "/ip=tls:127.0.0.1:%d backend-ca=%s" % (gp, d["ca"]),
        "/name=tls:localhost:%d backend-ca=%s" % (gp, d["ca"]),
        "/system=tls:127.0.0.1:%d" % gp,
        "/insecure=tls:127.0.0.1:%d backend-verify=no" % gp,
        "/rogue=tls:127.0.0.1:%d backend-ca=%s" % (gp, d["rogue_cert"]),
        "/wrongname=tls:localhost:%d backend-ca=%s" % (op, d["ca"]),
        "/bye=tls:127.0.0.1:%d backend-ca=%s" % (bye.port, d["ca"]),
    ]
    args = []
    for r in routes:
        args += ["--route", r]
    b = T.Bridge(*args)

    with T.subtest("tls:127.0.0.1 verified with backend-ca: 1 MiB echo, "
            "no SNI for an address"):
        echo_round(b.port, "/ip")
        T.expect_eq(good.sni[-1], None, "SNI sent for an IP literal")
        b.wait_log(r"open peer=\S+ proto=h1 /ip route=/ip "
            r"backend=tls:127\.0\.0\.1:\d+", 5)
    with T.subtest("tls:localhost verified, SNI = localhost"):
        echo_round(b.port, "/name", 65536)
        T.expect_eq(good.sni[-1], "localhost", "SNI")
    with T.subtest("a certificate from an issuer the system store does "
            "not know: 502 with the reason"):
        refused(b, b.port, "/system", r"certificate verify failed: "
            r"unable to get local issuer certificate")
    with T.subtest("backend-verify=no accepts it"):
        echo_round(b.port, "/insecure", 4096)
    with T.subtest("backend-ca of another CA: 502"):
        refused(b, b.port, "/rogue", r"certificate verify failed: ")
    with T.subtest("a certificate for another name: 502"):
        refused(b, b.port, "/wrongname", r"certificate verify failed: "
            r"hostname mismatch")
    with T.subtest("a TLS backend that closes without close_notify: its "
            "bytes, then close 1000"):
        c = T.RawConn(b.port)
        c.upgrade("/bye")
        f = c.recv_frame()
        T.expect_eq((f.opcode, bytes(f.payload)), (T.OP_BINARY, b"bye"),
            "the backend's bytes")
        f = c.recv_frame()
        T.expect_eq(f.opcode, T.OP_CLOSE, "then a close frame")
        T.expect_eq(f.close_code(), 1000, "close code")
        c.close()
    T.expect_eq(b.stop(), 0, "exit status after SIGTERM")
    for be in (good, other, bye):
        be.close()


T.run(main)
