#!/usr/bin/python3
"""test_websockify_cli.py -- websockify's command line on wsbridge (issue
16 items 1 and 4): websockify-style invocations bridging to real TCP and
unix echo backends (":PORT", --heartbeat, a combined PEM with --ssl-only,
--unix-target), the options not done yet refused with a clear message,
--print-config read back by --check, the process-life options (--run-once,
--idle-timeout, --timeout, -D with --log-file), and token routing:
TokenFile over a file and a directory (good token, unknown token -> 404
with no backend connect and no full token in the log, the file edited while
running), ReadOnlyTokenFile, TokenFileName, noVNC's
path=websockify?token=X and --host-token."""

import base64
import hashlib
import hmac
import json
import os
import re
import signal
import socket
import sqlite3
import ssl
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import certs  # noqa: E402
import h2ws  # noqa: E402
import wsbtest as T  # noqa: E402


def echo_check(port, path="/", payload=None, host="127.0.0.1", conn=None):
    """Upgrades on path, sends a binary message, expects it echoed."""
    c = conn or T.RawConn(port)
    c.upgrade(path, host=host)
    data = payload or os.urandom(3000)
    c.send_frame(T.OP_BINARY, data)
    op, got = c.recv_message(10)
    T.expect_eq(op, T.OP_BINARY, "echoed opcode")
    T.check(got == data, "echoed payload", len(data), len(got))
    return c


def status_of(port, path, host="127.0.0.1"):
    c = T.RawConn(port)
    c.send(T.upgrade_request(path, host=host))
    st, _, _ = c.read_response(10)
    c.close()
    return st


def websockify(*args, control=False, **kw):
    """A Bridge started the websockify way: the listen address is a
    positional word in args, so no --listen. control: give it a control
    socket of its own (no watcher), for bridges that exit by themselves."""
    if control:
        args = ("--control", os.path.join(T.tmpdir(), "ctl%d.sock" %
            time.monotonic_ns())) + args
    return T.Bridge(*args, listen=(), nlisteners=1, **kw)


def tls_context(ca, tls12=False, ciphers=None, cert=None):
    ctx = ssl.create_default_context(cafile=ca)
    if cert:
        ctx.load_cert_chain(*cert)
    if tls12:
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    if ciphers:
        ctx.set_ciphers(ciphers)
    return ctx


def tls_conn(port, ca, **kw):
    """A RawConn over TLS, certificate checked against ca."""
    c = T.RawConn(port)
    c.sock = tls_context(ca, **kw).wrap_socket(c.sock,
        server_hostname="127.0.0.1")
    return c


def tls_refused(port, ca, probe=False, **kw):
    """Whether the TLS handshake fails. probe: also try an upgrade, as a
    TLS 1.3 server refuses a client certificate after the handshake."""
    try:
        c = tls_conn(port, ca, **kw)
        if probe:
            c.send(T.upgrade_request("/"))
            c.read_response(5)
        c.close()
    except (ssl.SSLError, OSError, T.Closed):
        return True
    return False


def jwt_hs256(secret, claims):
    """A JWS compact HS256 token, made here with hmac."""
    def b64(b):
        return base64.urlsafe_b64encode(b).rstrip(b"=").decode()
    inp = b64(b'{"alg":"HS256","typ":"JWT"}') + "." + b64(
        json.dumps(claims).encode())
    sig = hmac.new(secret, inp.encode(), hashlib.sha256).digest()
    return inp + "." + b64(sig)


def running(pid):
    """Whether pid runs (a zombie waiting for its reaper does not)."""
    try:
        stat = open("/proc/%d/stat" % pid).read()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def main():
    d = T.tmpdir()
    a, b = T.EchoBackend(), T.EchoBackend()
    uecho = T.UnixEchoBackend(os.path.join(d, "echo.sock"))

    with T.subtest("websockify form: [HOST:]PORT HOST:PORT bridges"):
        br = websockify("-v", "--heartbeat", "1", "127.0.0.1:0", a.addr)
        before = a.accepted
        c = echo_check(br.port, "/any/path")
        T.expect_eq(a.accepted, before + 1, "backend connections")
        # --heartbeat 1: a ping within a few seconds.
        f = c.recv_frame(5)
        T.expect_eq(f.opcode, T.OP_PING, "heartbeat ping")
        c.close()
        br.stop()

    with T.subtest("':PORT' listens on every address"):
        br = websockify(":0", a.addr)
        T.check(br.addrs[0][0] in ("0.0.0.0", "::", "*"),
            "wildcard listen address", "0.0.0.0 or ::", br.addrs[0][0])
        echo_check(br.port).close()
        br.stop()

    with T.subtest("--unix-target"):
        br = websockify("--unix-target", uecho.path, "127.0.0.1:0")
        echo_check(br.port).close()
        T.expect_eq(uecho.accepted, 1, "unix backend connections")
        br.stop()

    with T.subtest("--unix-listen and --unix-listen-mode"):
        up = os.path.join(d, "ws.sock")
        # A stale socket from an earlier run is replaced, as websockify.
        stale = socket.socket(socket.AF_UNIX)
        stale.bind(up)
        stale.close()
        br = T.Bridge("--unix-listen", up, "--unix-listen-mode", "0660",
            a.addr)
        br.wait_log(r"listening on unix:" + up)
        T.expect_eq(oct(os.stat(up).st_mode & 0o777), oct(0o660),
            "socket file mode")
        c = T.RawConn(br.port)
        c.sock.close()
        c.sock = socket.socket(socket.AF_UNIX)
        c.sock.settimeout(10)
        c.sock.connect(up)
        before = a.accepted
        echo_check(br.port, conn=c).close()
        T.expect_eq(a.accepted, before + 1, "bridged from the unix socket")
        br.stop()
        T.check(not os.path.exists(up), "socket file removed at exit")
        st, out = T.run_wsbridge("--unix-listen", up, "6080", a.addr)
        T.expect_eq(st, 2, "a listen port besides --unix-listen")
        T.check("Too many arguments" in out, "websockify's message",
            "Too many arguments", out)

    with T.subtest("--inetd: the listening socket is stdin"):
        ls = socket.socket()
        ls.bind(("127.0.0.1", 0))
        ls.listen(16)
        lport = ls.getsockname()[1]
        p = subprocess.Popen([T.wsbridge_path(), "--inetd", a.addr],
            stdin=ls.fileno(), stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE)
        ls.close()
        try:
            line = p.stderr.readline().decode()
            while line and "listening on" not in line:
                line = p.stderr.readline().decode()
            T.check("listening on 127.0.0.1:%d" % lport in line,
                "listens on the given socket", lport, line)
            before = a.accepted
            echo_check(lport).close()
            T.expect_eq(a.accepted, before + 1, "bridged")
        finally:
            p.send_signal(signal.SIGTERM)
            rest = p.communicate(timeout=15)[1].decode()
        T.expect_eq(p.returncode, 0, "exit status after SIGTERM")
        for mark in T.SANITIZER_MARKS:
            T.check(mark not in rest, "no sanitizer report", "", rest)
        st, out = T.run_wsbridge("--inetd", a.addr)
        T.expect_eq(st, 1, "stdin that is no listening socket")
        T.check("listen fd:0" in out, "the message names it", "fd:0", out)

    with T.subtest("--syslog HOST:PORT (UDP), RFC 5424 and --legacy-syslog"):
        for legacy in (False, True):
            us = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            us.bind(("127.0.0.1", 0))
            us.settimeout(10)
            args = [T.wsbridge_path(), "--syslog",
                "127.0.0.1:%d" % us.getsockname()[1]]
            if legacy:
                args.append("--legacy-syslog")
            p = subprocess.Popen(args + ["127.0.0.1:0", a.addr],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE)
            try:
                port, lines = None, []
                while port is None:
                    m = us.recv(4096).decode()
                    lines.append(m)
                    if "listening on 127.0.0.1:" in m:
                        port = int(m.rsplit(":", 1)[1].split()[0])
                echo_check(port).close()
            finally:
                p.send_signal(signal.SIGTERM)
                err = p.communicate(timeout=15)[1].decode()
                us.close()
            T.expect_eq(p.returncode, 0, "exit status")
            T.expect_eq(err.strip(), "", "nothing on stderr")
            pat = (r"<14>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \S+ "
                r"wsbridge\[%d\]: " % p.pid) if legacy else (
                r"<14>1 \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \S+ "
                r"wsbridge %d - - " % p.pid)
            T.check(all(re.match(pat, m) for m in lines),
                "every line in %s form" % ("RFC 3164" if legacy else
                "RFC 5424"), pat, lines)
        st, out = T.run_wsbridge("--print-config", "--syslog",
            os.path.join(d, "log.sock"), "6080", a.addr)
        T.check("syslog-server" in out and "syslog yes" not in out,
            "--syslog /PATH is one syslog-server line", "syslog-server",
            out)
        st, out = T.run_wsbridge("--legacy-syslog", "127.0.0.1:0", a.addr)
        T.expect_eq(st, 2, "--legacy-syslog alone")
        T.check("You must use --syslog" in out, "websockify's message",
            "You must use --syslog", out)

    with T.subtest("--cert with a combined PEM and --ssl-only"):
        cd = os.path.join(d, "certs")
        os.mkdir(cd)
        cs = certs.make(cd)
        combined = os.path.join(cd, "combined.pem")
        with open(combined, "w") as f:
            f.write(open(cs["cert"]).read() + open(cs["key"]).read())
        br = websockify("--cert", combined, "--ssl-only", "127.0.0.1:0",
            a.addr)
        echo_check(br.port, conn=tls_conn(br.port, cs["ca"])).close()
        br.stop()
        # Without --ssl-only ws:// is taken there too, as websockify
        # (test_sameport.py serves both).
        st, out = T.run_wsbridge("--cert", combined, "--print-config",
            "127.0.0.1:0", a.addr)
        T.expect_eq(st, 0, "--cert without --ssl-only: --print-config")
        T.check(" tls=auto cert=" in out and "warning" not in out,
            "tls=auto, without a warning", "tls=auto", out)
        st, out = T.run_wsbridge("--ssl-version", "tlsv1_1", "127.0.0.1:0",
            a.addr)
        T.expect_eq(st, 2, "--ssl-version tlsv1_1: exit status")
        T.check("tlsv1_1 is not supported" in out, "refused clearly",
            "tlsv1_1 is not supported", out)
        st, out = T.run_wsbridge("--ssl-only", "127.0.0.1:0", a.addr)
        T.expect_eq(st, 2, "--ssl-only without self.pem: exit status")
        T.check("SSL only and" in out and "self.pem not found" in out,
            "websockify's message", "SSL only and .../self.pem not found",
            out)

    with T.subtest("--key-password: an encrypted key"):
        enc = os.path.join(cd, "enc.key")
        subprocess.run(["openssl", "pkey", "-in", cs["key"], "-aes256",
            "-passout", "pass:s3cret wsb", "-out", enc], check=True)
        br = websockify("--cert", cs["cert"], "--key", enc, "--key-password",
            "s3cret wsb", "--ssl-only", "127.0.0.1:0", a.addr)
        echo_check(br.port, conn=tls_conn(br.port, cs["ca"])).close()
        br.stop()
        for extra in (("--key-password", "wrong"), ()):
            st, out = T.run_wsbridge("--cert", cs["cert"], "--key", enc,
                "--ssl-only", *(extra + ("127.0.0.1:0", a.addr)))
            T.expect_eq(st, 1, "exit status with %s" % (extra,))
            T.check("key %s" % enc in out, "the message names the key",
                enc, out)

    with T.subtest("--verify-client with and without --cafile"):
        br = websockify("--cert", combined, "--ssl-only", "--verify-client",
            "--cafile", cs["ca"], "127.0.0.1:0", a.addr)
        c = tls_conn(br.port, cs["ca"], cert=(cs["client_cert"],
            cs["client_key"]))
        echo_check(br.port, conn=c).close()
        T.check(tls_refused(br.port, cs["ca"], probe=True),
            "a client without a certificate is refused")
        br.stop()
        # Without --cafile: the system's CA store, which lacks our CA.
        br = websockify("--cert", combined, "--ssl-only", "--verify-client",
            "127.0.0.1:0", a.addr)
        T.check(tls_refused(br.port, cs["ca"], cert=(cs["client_cert"],
            cs["client_key"]), probe=True),
            "a certificate from a CA outside the system store is refused")
        br.stop()

    with T.subtest("--ssl-version tlsv1_3 and --ssl-ciphers"):
        br = websockify("--cert", combined, "--ssl-only", "--ssl-version",
            "tlsv1_3", "127.0.0.1:0", a.addr)
        echo_check(br.port, conn=tls_conn(br.port, cs["ca"])).close()
        T.check(tls_refused(br.port, cs["ca"], tls12=True),
            "a TLS 1.2 client is refused")
        br.stop()
        br = websockify("--cert", combined, "--ssl-only", "--ssl-ciphers",
            "ECDHE-ECDSA-AES128-GCM-SHA256", "127.0.0.1:0", a.addr)
        echo_check(br.port, conn=tls_conn(br.port, cs["ca"], tls12=True,
            ciphers="ECDHE-ECDSA-AES128-GCM-SHA256")).close()
        T.check(tls_refused(br.port, cs["ca"], tls12=True,
            ciphers="ECDHE-ECDSA-CHACHA20-POLY1305"),
            "a TLS 1.2 client without the listed cipher is refused")
        # TLS 1.3 keeps its own suites.
        echo_check(br.port, conn=tls_conn(br.port, cs["ca"])).close()
        br.stop()
        st, out = T.run_wsbridge("--cert", combined, "--ssl-only",
            "--ssl-ciphers", "NO-SUCH-CIPHER", "127.0.0.1:0", a.addr)
        T.expect_eq(st, 1, "a cipher list OpenSSL refuses: exit status")
        T.check("ciphers NO-SUCH-CIPHER" in out, "the message names it",
            "ciphers NO-SUCH-CIPHER", out)
        st, out = T.run_wsbridge("--print-config", "--cert", combined,
            "--ssl-only", "--ssl-ciphers", "ECDHE+AESGCM", "--ssl-version",
            "tlsv1_3", "6080", a.addr)
        T.check('ciphers="ECDHE+AESGCM" min-tls=1.3' in out,
            "the listen line", 'ciphers="ECDHE+AESGCM" min-tls=1.3', out)

    with T.subtest("options not done yet: a clear message, no usage"):
        for args in (("--web-auth",),
                ("--auth-plugin", "BasicHTTPAuth"),
                ("--token-plugin", "TokenRedis", "--token-source", "h:1")):
            st, out = T.run_wsbridge(*(args + ("127.0.0.1:0", a.addr)))
            T.expect_eq(st, 2, "exit status for %s" % (args,))
            T.check("not supported yet" in out and "usage:" not in out,
                "one clear line for %s" % (args,), "not supported yet",
                out)
        st, out = T.run_wsbridge("127.0.0.1:0", "--", "Xvnc", ":1")
        T.expect_eq(st, 2, "exit status for -- COMMAND")
        T.check("not supported yet" in out and "usage:" not in out,
            "wrapped program refused clearly", "not supported yet", out)
        st, out = T.run_wsbridge("--bogus-option", "127.0.0.1:0", a.addr)
        T.expect_eq(st, 2, "exit status for an unknown option")
        T.check("usage:" not in out and "--help" in out,
            "an unknown option is named, not buried in usage", "--help",
            out)

    with T.subtest("--print-config is read back by --check"):
        tf = os.path.join(d, "pc-tokens")
        T.replace_file(tf, "t1: 127.0.0.1:1\n")
        cases = [
            ("127.0.0.1:0", a.addr),
            (":6080", "[::1]:5900", "--heartbeat", "30", "-v",
                "--idle-timeout", "60", "--timeout", "5", "--run-once",
                "-D", "--log-file", os.path.join(d, "pc.log")),
            ("--token-plugin", "TokenFile", "--token-source", tf,
                "--host-token", "--ssl-target", "6080"),
            ("--target-config", tf, "-6", "--file-only", "--ssl-version",
                "tlsv1_2", "--libserver", "6080"),
            ("--unix-target", uecho.path, "6080"),
            ("--unix-listen", os.path.join(d, "x.sock"),
                "--unix-listen-mode", "0640", a.addr),
            ("--inetd", "--unix-target", uecho.path),
            ("--syslog", "127.0.0.1:514", "--legacy-syslog", "6080",
                a.addr),
            ("--syslog", "6080", a.addr),
            ("--cert", combined, "--ssl-only", "127.0.0.1:6080", a.addr),
            ("--route", "/x=echo", "--heartbeat", "5", "--listen", "0"),
        ]
        for i, args in enumerate(cases):
            st, out = T.run_wsbridge("--print-config", *args)
            T.expect_eq(st, 0, "--print-config %s" % (args,))
            path = os.path.join(d, "printed%d.conf" % i)
            with open(path, "w") as f:
                f.write(out)
            st, out2 = T.run_wsbridge("--check", "-c", path)
            T.expect_eq(st, 0, "--check of:\n%s\n%s" % (out, out2))
            T.check("configuration OK" in out2, "check says OK",
                "configuration OK", out2)
        st, out = T.run_wsbridge("--print-config", "--heartbeat", "7",
            "6080", a.addr)
        T.check("route-defaults ping-interval=7s" in out,
            "--heartbeat maps to ping-interval", "ping-interval=7s", out)

    with T.subtest("TokenFile: file routing, unknown token, live edit"):
        tf = os.path.join(d, "tokens")
        T.replace_file(tf, "# websockify token file\n"
            "alpha: %s\nbeta: %s\nsock: unix_socket:%s\n" % (
                a.addr, b.addr, uecho.path))
        db = os.path.join(d, "tokens.db")
        # -v: the debug lines (the request target) must not show it either.
        br = websockify("-v", "--token-plugin", "TokenFile", "--token-source",
            tf, "--log-db", db, "127.0.0.1:0")
        na, nb = a.accepted, b.accepted
        # noVNC's path=websockify?token=X is this request.
        echo_check(br.port, "/websockify?token=alpha").close()
        echo_check(br.port, "/?token=beta").close()
        echo_check(br.port, "/?x=1&token=%62eta").close()
        T.expect_eq((a.accepted, b.accepted), (na + 1, nb + 2),
            "backend connections (alpha, beta)")
        nu = uecho.accepted
        echo_check(br.port, "/websockify?token=sock").close()
        T.expect_eq(uecho.accepted, nu + 1, "unix_socket: target")
        secret = "nope-Secret-Token-8f3a"
        na, nb = a.accepted, b.accepted
        T.expect_eq(status_of(br.port, "/websockify?token=" + secret), 404,
            "unknown token")
        T.expect_eq(status_of(br.port, "/websockify"), 404, "no token")
        time.sleep(0.3)
        T.expect_eq((a.accepted, b.accepted), (na, nb),
            "no backend connect for a refused token")
        br.wait_log(r"token .* not found in TokenFile")
        T.check(secret not in br.log_text(), "the full token is not logged",
            "no %s" % secret, br.log_text()[-2000:])
        T.replace_file(tf, "alpha: %s\n" % b.addr)
        nb = b.accepted
        echo_check(br.port, "/?token=alpha").close()
        T.expect_eq(b.accepted, nb + 1, "alpha goes to B after the edit")
        T.expect_eq(status_of(br.port, "/?token=beta"), 404,
            "beta gone after the edit")
        # Over HTTP/2 (RFC 8441, h2c) the :path's query carries it too.
        c = h2ws.H2Client(br.port)
        na, nb = a.accepted, b.accepted
        st = c.open_ws("/websockify?token=alpha")
        bad = c.open_ws("/websockify?token=nope")
        c.wait(lambda: st.status is not None and bad.status is not None, 10,
            "h2 responses")
        T.expect_eq((st.status, bad.status), (200, 404), "h2 statuses")
        c.send_message(st, b"over h2")
        c.wait(lambda: st.messages, 10, "h2 echo")
        T.expect_eq(st.messages[0][1], b"over h2", "h2 echo")
        T.expect_eq((a.accepted, b.accepted), (na, nb + 1),
            "h2: alpha goes to B after the edit")
        c.close()
        # An edit in place, same size, same second.
        with open(tf, "w") as f:
            f.write("alpha: %s\n" % a.addr)
        na = a.accepted
        echo_check(br.port, "/?token=alpha").close()
        T.expect_eq(a.accepted, na + 1, "alpha back on A after an edit in "
            "place")
        br.stop()
        # The frame log keeps the query with the token masked.
        con = sqlite3.connect(db)
        queries = [r[0] for r in con.execute("SELECT query FROM sessions")]
        con.close()
        T.check("token=a****" in queries and "x=1&token=%6****" in queries,
            "masked tokens in the frame log",
            "token=a****, x=1&token=%6****", queries)
        T.check(not any("alpha" in q or "beta" in q for q in queries),
            "no whole token in the frame log", "none", queries)

    with T.subtest("TokenFile over a directory; ReadOnlyTokenFile"):
        td = os.path.join(d, "tokdir")
        os.mkdir(td)
        T.replace_file(os.path.join(td, "one"), "alpha: %s\n" % a.addr)
        T.replace_file(os.path.join(td, "two"), "beta: %s\n" % b.addr)
        br = websockify("--token-plugin", "TokenFile", "--token-source", td,
            "127.0.0.1:0")
        ro = websockify("--token-plugin", "ReadOnlyTokenFile",
            "--token-source", td, "127.0.0.1:0")
        na, nb = a.accepted, b.accepted
        echo_check(br.port, "/?token=alpha").close()
        echo_check(br.port, "/?token=beta").close()
        echo_check(ro.port, "/?token=beta").close()
        T.expect_eq((a.accepted, b.accepted), (na + 1, nb + 2),
            "backend connections")
        T.replace_file(os.path.join(td, "three"), "gamma: %s\n" % a.addr)
        os.unlink(os.path.join(td, "two"))
        na = a.accepted
        echo_check(br.port, "/?token=gamma").close()
        T.expect_eq(a.accepted, na + 1, "a new file's token")
        T.expect_eq(status_of(br.port, "/?token=beta"), 404,
            "a removed file's token")
        # ReadOnlyTokenFile read the directory once.
        T.expect_eq(status_of(ro.port, "/?token=gamma"), 404,
            "ReadOnlyTokenFile does not re-read")
        echo_check(ro.port, "/?token=beta").close()
        br.stop()
        ro.stop()

    with T.subtest("TokenFileName and --host-token"):
        nd = os.path.join(d, "names")
        os.mkdir(nd)
        T.replace_file(os.path.join(nd, "vm1"), "%s\n" % a.addr)
        T.replace_file(os.path.join(nd, "vm2"), "%s\n" % b.addr)
        br = websockify("--token-plugin", "TokenFileName", "--token-source",
            nd, "127.0.0.1:0")
        na, nb = a.accepted, b.accepted
        echo_check(br.port, "/websockify?token=vm1").close()
        echo_check(br.port, "/websockify?token=vm2").close()
        T.expect_eq((a.accepted, b.accepted), (na + 1, nb + 1),
            "backend connections")
        T.expect_eq(status_of(br.port, "/?token=vm3"), 404, "unknown name")
        T.expect_eq(status_of(br.port, "/?token=..%2Fnames%2Fvm1"), 101,
            "only the last path component counts")
        br.stop()
        tf = os.path.join(d, "hosts")
        T.replace_file(tf, "alpha.example: %s\n" % a.addr)
        br = websockify("--token-plugin", "TokenFile", "--token-source", tf,
            "--host-token", "127.0.0.1:0")
        na = a.accepted
        echo_check(br.port, "/", host="alpha.example:%d" % 8080).close()
        T.expect_eq(a.accepted, na + 1, "Host names the target")
        T.expect_eq(status_of(br.port, "/?token=alpha.example",
            host="other.example"), 404, "the query is not read")
        br.stop()

    with T.subtest("UnixDomainSocketDirectory"):
        ud = os.path.join(d, "uds")
        os.mkdir(ud)
        vm = T.UnixEchoBackend(os.path.join(ud, "vm7"))
        T.replace_file(os.path.join(ud, "notasocket"), "x\n")
        br = websockify("--token-plugin", "UnixDomainSocketDirectory",
            "--token-source", ud, "127.0.0.1:0")
        echo_check(br.port, "/websockify?token=vm7").close()
        T.expect_eq(vm.accepted, 1, "the token's socket")
        for bad in ("notasocket", "vm8", "..%2Fuds%2Fvm7", ".."):
            T.expect_eq(status_of(br.port, "/?token=" + bad), 404,
                "token %s" % bad)
        T.expect_eq(vm.accepted, 1, "no other connect")
        br.stop()
        vm.close()

    with T.subtest("JWTTokenApi (HS256)"):
        kf = os.path.join(d, "jwt.key")
        T.replace_file(kf, "c2VjcmV0X3NhdWNlX2Zvcl93c2JyaWRnZQ\n")
        secret = base64.urlsafe_b64decode("c2VjcmV0X3NhdWNlX2Zvcl93c2JyaWRnZQ"
            + "==")
        br = websockify("--token-plugin", "JWTTokenApi", "--token-source",
            kf, "127.0.0.1:0")
        now = int(time.time())
        good = jwt_hs256(secret, {"host": "127.0.0.1", "port": a.port,
            "exp": now + 600})
        na, nb = a.accepted, b.accepted
        echo_check(br.port, "/websockify?token=" + good).close()
        T.expect_eq(a.accepted, na + 1, "the claims' target")
        forged = jwt_hs256(b"another secret", {"host": "127.0.0.1",
            "port": b.port})
        T.expect_eq(status_of(br.port, "/?token=" + forged), 403,
            "a signature that does not verify")
        expired = jwt_hs256(secret, {"host": "127.0.0.1", "port": b.port,
            "exp": now - 10})
        T.expect_eq(status_of(br.port, "/?token=" + expired), 404,
            "an expired token")
        time.sleep(0.3)
        T.expect_eq((a.accepted, b.accepted), (na + 1, nb),
            "no backend connect for refused tokens")
        br.wait_log(r"JWT signature not valid")
        T.check(forged not in br.log_text(), "the token is not logged")
        br.stop()

    with T.subtest("--run-once: one connection, then exit"):
        br = websockify("--run-once", "127.0.0.1:0", a.addr, control=True)
        c = echo_check(br.port)
        time.sleep(0.3)
        try:
            s = socket.create_connection(("127.0.0.1", br.port), 2)
            s.close()
            T.fail("a second connection was accepted")
        except OSError:
            pass
        T.check(br.alive(), "still running while the connection is open")
        c.send_frame(T.OP_CLOSE, T.close_payload(1000))
        c.recv_close(5)
        c.close()
        T.expect_eq(br.wait_exit(15), 0, "exit status after the connection")

    with T.subtest("--idle-timeout: exit when idle"):
        br = websockify("--idle-timeout", "1", "127.0.0.1:0", a.addr,
            control=True)
        c = echo_check(br.port)
        time.sleep(2.5)
        T.check(br.alive(), "alive while a connection is open")
        c.close()
        T.expect_eq(br.wait_exit(15), 0, "exit status once idle")
        br.wait_log(r"exit-when-idle")

    with T.subtest("--timeout: stop accepting, finish what is open"):
        br = websockify("--timeout", "1", "127.0.0.1:0", a.addr,
            control=True)
        c = echo_check(br.port)
        br.wait_log(r"no longer accepting", timeout=10)
        T.check(br.alive(), "alive while a connection is open")
        c.send_frame(T.OP_BINARY, b"still here")
        op, got = c.recv_message(10)
        T.expect_eq(got, b"still here", "open tunnel still echoes")
        c.close()
        T.expect_eq(br.wait_exit(15), 0, "exit status")

    with T.subtest("-D with --log-file: detaches once listening"):
        st, out = T.run_wsbridge("--log-file", os.path.join(d, "no", "such",
            "dir.log"), "127.0.0.1:0", a.addr)
        T.check(st != 0 and "log-file" in out and "No such file" in out,
            "a log file that cannot be opened stops the start, named",
            "non-zero status, the reason", (st, out))
        logf = os.path.join(d, "daemon.log")
        st, out = T.run_wsbridge("-D", "--log-file", logf, "127.0.0.1:0",
            a.addr)
        T.expect_eq(st, 0, "the starting command's status\n" + out)
        port = None
        end = time.monotonic() + 10
        while port is None and time.monotonic() < end:
            for line in open(logf).read().splitlines():
                if "listening on 127.0.0.1:" in line:
                    port = int(line.rsplit(":", 1)[1].split()[0])
            time.sleep(0.05)
        T.check(port is not None, "listening line in the log file")
        echo_check(port).close()
        pid = None
        for p in os.listdir("/proc"):
            if not p.isdigit():
                continue
            try:
                cmd = open("/proc/%s/cmdline" % p, "rb").read()
            except OSError:
                continue
            if logf.encode() in cmd.split(b"\0"):
                pid = int(p)
        T.check(pid is not None, "the daemon's pid")
        os.kill(pid, signal.SIGTERM)
        end = time.monotonic() + 15
        while running(pid) and time.monotonic() < end:
            time.sleep(0.05)
        T.check(not running(pid), "the daemon exited")
        text = open(logf).read()
        for mark in T.SANITIZER_MARKS:
            T.check(mark not in text, "no sanitizer report", "", text)

    a.close()
    b.close()


T.run(main)
