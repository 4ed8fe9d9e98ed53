#!/usr/bin/python3
"""test_upgrade.py -- hitless upgrade: `wsbridge --upgrade -c FILE` takes
the listening sockets (TCP, from both workers, and a unix one) and the
control socket of the wsbridge running with that file over its control
socket, serves, then has the old one drain (shutdown-mode wait). While a
client opens new WebSockets without pause, on TCP and on the unix socket,
not one is refused or reset; 20 tunnels open before the upgrade keep
echoing (every byte checked) on the old process until they close, and it
exits 0 then; the control and unix socket files stay, served by the new
process. A listen line whose options changed takes the socket bound at
its address. A new process that fails to start leaves the old one
serving, and says so in both logs."""

import os
import signal
import socket
import sys
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsbtest as T  # noqa: E402


def admin_get(port, path):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path),
                timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def unix_ws(path, ws_path="/echo"):
    """A RawConn on a unix socket, upgraded."""
    c = T.RawConn.__new__(T.RawConn)
    c.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.sock.settimeout(10)
    c.sock.connect(path)
    c.buf = bytearray()
    c.eof = False
    c.timeout = 10.0
    c.upgrade(ws_path)
    return c


echo = T.echo_binary


def main():
    d = T.tmpdir()
    backend = T.EchoBackend()
    ctl = os.path.join(d, "ctl.sock")
    upath = os.path.join(d, "ws.sock")
    conf = os.path.join(d, "w.conf")
    port = T.closed_port()
    aport = T.closed_port()
    T.replace_file(conf, "workers 2\nlisten 127.0.0.1:%d\nlisten unix:%s\n"
        "control %s\nadmin 127.0.0.1:%d\nshutdown-mode wait\n"
        "shutdown-timeout 60s\nroute /echo echo\nroute /tcp %s\n" % (port,
        upath, ctl, aport, backend.addr))
    old = T.Bridge("-c", conf, listen=(), nlisteners=1, name="old")

    with T.subtest("upgrade under load: nothing refused, old tunnels run "
            "on, the old process drains and exits"):
        tunnels = [T.raw_ws(port, "/tcp") for _ in range(20)]
        for i, c in enumerate(tunnels):
            T.expect_eq(echo(c, T.pattern_bytes(3000, i)),
                T.pattern_bytes(3000, i), "tunnel %d before" % i)
        h = T.Hammer(lambda i: unix_ws(upath) if i % 2 else
            T.raw_ws(port, "/echo"))
        h.wait_ok(20, 15, "the hammer's first connections")
        new = T.Bridge("--upgrade", "-c", conf, listen=(), nlisteners=1,
            name="new")
        new.wait_log(r"upgrade: took over from pid %d" % old.pid)
        old.wait_log(r"upgrade: the new wsbridge is ready; draining")
        h.wait_ok(40, 15, "connections after the upgrade")
        T.check(new.wait_log(r"c\d+: open", timeout=15) is not None,
            "the new process serves new connections")
        for i, c in enumerate(tunnels):
            T.expect_eq(echo(c, T.pattern_bytes(5000, 100 + i)),
                T.pattern_bytes(5000, 100 + i), "tunnel %d after" % i)
        T.check(old.alive(), "the old process waits for its tunnels")
        for c in tunnels:
            c.close()
        T.expect_eq(old.wait_exit(30), 0, "the old process exits 0 once "
            "its tunnels ended")
        T.expect_eq(old.stop(), 0, "old exit status")
        h.wait_ok(20, 15, "connections after the old exited")
        ok, failed = h.finish()
        T.log("   %d connections during the upgrade, %d failed" % (ok,
            failed))
        T.check(failed == 0, "no connection refused or reset during the "
            "upgrade", "0 failed", "%d failed: %s" % (failed, h.errors))
        T.check(os.path.exists(upath) and os.path.exists(ctl),
            "the unix and control socket files are still there")
        c = T.Ctl(ctl)
        T.expect_eq(c.hello.get("pid"), new.pid, "the control socket is "
            "the new process's")
        c.close()
        for path in ("/healthz", "/readyz"):
            T.expect_eq(admin_get(aport, path), 200, "the admin endpoint, "
                "handed over too, answers %s: the new process serves" %
                path)

    with T.subtest("a failed upgrade leaves the running wsbridge serving"):
        bad = os.path.join(d, "bad.conf")
        # Not an address of this host: it fails after taking the sockets.
        T.replace_file(bad, open(conf).read() + "listen 192.0.2.1:%d\n" %
            T.closed_port())
        st, out = T.run_wsbridge("--upgrade", "-c", bad, timeout=30)
        T.check(st == 1 and "192.0.2.1" in out, "the new process fails, "
            "saying why", "status 1", (st, out))
        new.wait_log(r"upgrade: the new wsbridge went away before it was "
            "ready; still serving")
        c = T.raw_ws(port, "/echo")
        T.expect_eq(echo(c, b"still here"), b"still here",
            "the running one still serves")
        c.close()
        T.check(new.alive(), "and still runs")
        T.check(os.path.exists(ctl) and os.path.exists(upath),
            "the failed one left the socket files alone")

    with T.subtest("a listen line whose options changed takes the socket "
            "bound at its address"):
        text = open(conf).read().replace("listen 127.0.0.1:%d\n" % port,
            "listen 127.0.0.1:%d proxy-protocol=v1 proxy-from=127.0.0.0/8\n"
            % port)
        T.replace_file(conf, text)
        newer = T.Bridge("--upgrade", "-c", conf, listen=(), nlisteners=1,
            name="newer")
        newer.wait_log(r"upgrade: took over from pid %d" % new.pid)
        T.expect_eq(new.wait_exit(30), 0, "the previous one drained")
        new.stop()
        c = T.RawConn(port)
        c.send(b"PROXY TCP4 192.0.2.7 127.0.0.1 40000 %d\r\n" % port)
        c.upgrade("/echo")
        T.expect_eq(echo(c, b"proxied"), b"proxied", "echo through the "
            "socket the old line had, with the new line's PROXY header")
        c.close()
        newer.wait_log(r"peer=192\.0\.2\.7")

    with T.subtest("wsbridge upgrade: detached, exits 0 once the new "
            "process serves; that one removes the socket files at exit"):
        st, out = T.run_wsbridge("upgrade", "-c", conf, timeout=60)
        T.expect_eq(st, 0, "wsbridge upgrade's status\n" + out)
        T.expect_eq(newer.wait_exit(30), 0, "the one it replaced drained")
        newer.stop()
        c = T.Ctl(ctl)
        pid = c.hello.get("pid")
        c.close()
        T.check(pid not in (None, newer.pid), "the control socket answers "
            "from another process", "a new pid", pid)
        c = T.RawConn(port)
        c.send(b"PROXY TCP4 192.0.2.8 127.0.0.1 40001 %d\r\n" % port)
        c.upgrade("/echo")
        T.expect_eq(echo(c, b"daemon"), b"daemon", "the detached one "
            "serves")
        c.close()
        os.kill(pid, signal.SIGTERM)
        for _ in T.deadline_loop(30, "the detached one exits"):
            if not os.path.exists("/proc/%d" % pid):
                break
        T.check(not os.path.exists(upath) and not os.path.exists(ctl),
            "the last one removes the socket files it took at exit")
    backend.close()


T.run(main)
