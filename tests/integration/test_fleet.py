#!/usr/bin/python3
"""test_fleet.py -- three wsbridge instances behind Debian's HAProxy (TCP
mode, send-proxy-v2, health checks, contrib/haproxy/haproxy.cfg's
settings): 1,000 tunnels through it from 127.0.0.2, every byte checked;
the backend (send-proxy=v1) and every instance's frame log name
127.0.0.2, not HAProxy; one instance killed: its tunnels end, the others'
go on, new connections all succeed on the two left; it comes back and
serves again; then a rolling hitless upgrade of all three (--upgrade,
shutdown-mode wait) while a client opens WebSockets back to back through
HAProxy: none refused, and 30 tunnels open across it keep every byte."""

import os
import resource
import selectors
import signal
import socket
import sqlite3
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsbtest as T  # noqa: E402

NTUNNELS = 1000
CLIENT = "127.0.0.2"


class ProxyEcho:
    """A TCP echo backend that first reads the PROXY v1 line wsbridge sends
    (send-proxy=v1) and records the client address in it. One thread, a
    selector: a thousand connections cost no thousand threads."""

    def __init__(self):
        self.ls = socket.socket()
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(1024)
        self.ls.setblocking(False)
        self.addr = "127.0.0.1:%d" % self.ls.getsockname()[1]
        self.sources = {}
        self.bad = []
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.ls, selectors.EVENT_READ, None)
        self.stopping = False
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        state = {}
        while not self.stopping:
            for key, _ in self.sel.select(0.2):
                if key.data is None:
                    try:
                        c, _ = self.ls.accept()
                    except OSError:
                        continue
                    c.setblocking(False)
                    state[c] = bytearray()
                    self.sel.register(c, selectors.EVENT_READ, "c")
                    continue
                c = key.fileobj
                try:
                    d = c.recv(65536)
                except OSError:
                    d = b""
                if not d:
                    self.sel.unregister(c)
                    c.close()
                    state.pop(c, None)
                    continue
                head = state.get(c)
                if head is not None:
                    head += d
                    if b"\r\n" not in head:
                        continue
                    line, d = bytes(head).split(b"\r\n", 1)
                    state[c] = None
                    w = line.split()
                    if len(w) == 6 and w[0] == b"PROXY":
                        src = w[2].decode()
                        self.sources[src] = self.sources.get(src, 0) + 1
                    else:
                        self.bad.append(line[:80])
                try:
                    c.setblocking(True)
                    c.sendall(d)
                    c.setblocking(False)
                except OSError:
                    pass

    def close(self):
        self.stopping = True
        self.t.join(5)
        self.ls.close()


class HAProxy:
    def __init__(self, d, ports, aports):
        exe = "/usr/sbin/haproxy"
        if not os.access(exe, os.X_OK):
            T.fail("haproxy not installed (contrib/install-deps.sh test "
                "installs it)")
        self.port = T.closed_port()
        # contrib/haproxy/haproxy.cfg with our ports and a faster check.
        text = open(os.path.join(os.path.dirname(os.path.abspath(
            __file__)), "..", "..", "contrib", "haproxy",
            "haproxy.cfg")).read()
        text = text.replace("bind :8080", "bind 127.0.0.1:%d" % self.port)
        text = text.replace("maxconn 20000", "maxconn 4000")
        text = text.replace("inter 1s fall 2 rise 2",
            "inter 300ms fall 2 rise 2")
        for i, (p, a) in enumerate(zip(ports, aports)):
            text = text.replace("127.0.0.1:%d check port %d\n" % (8081 + i,
                9081 + i), "127.0.0.1:%d check port %d\n" % (p, a))
        self.cfg = os.path.join(d, "haproxy.cfg")
        with open(self.cfg, "w") as f:
            f.write(text)
        self.log = open(os.path.join(d, "haproxy.log"), "w+")
        T.log("   start: haproxy -db -f %s" % self.cfg)
        self.proc = subprocess.Popen([exe, "-db", "-f", self.cfg],
            stdin=subprocess.DEVNULL, stdout=self.log,
            stderr=subprocess.STDOUT)
        for _ in T.deadline_loop(30, "haproxy listening"):
            if self.proc.poll() is not None:
                self.log.seek(0)
                T.fail("haproxy exited: %s" % self.log.read()[-800:])
            try:
                socket.create_connection(("127.0.0.1", self.port),
                    timeout=5).close()
                break
            except OSError:
                pass

    def stop(self):
        T.terminate(self.proc)


def tunnel(port, i):
    c = T.RawConn(port, source=CLIENT, timeout=30)
    c.upgrade("/tcp", timeout=30)
    return c


echo = T.echo_binary


def sessions_from(db, addr):
    try:
        con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=10)
        n = con.execute("SELECT COUNT(*) FROM sessions WHERE client_addr "
            "= ?", (addr,)).fetchone()[0]
        con.close()
        return n
    except sqlite3.Error:
        return 0


def main():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard,
        65536)), hard))
    d = T.tmpdir()
    be = ProxyEcho()
    ports = [T.closed_port() for _ in range(3)]
    aports = [T.closed_port() for _ in range(3)]
    confs, dbs, inst = [], [], []
    for i, p in enumerate(ports):
        conf = os.path.join(d, "ws%d.conf" % (i + 1))
        db = os.path.join(d, "ws%d.db" % (i + 1))
        T.replace_file(conf, "workers 1\nlisten 127.0.0.1:%d "
            "proxy-protocol=v2\nadmin 127.0.0.1:%d\ncontrol %s/ws%d.sock\n"
            "log-db %s\nshutdown-mode wait\nshutdown-timeout 60s\n"
            "max-connections 5000\nroute /tcp %s send-proxy=v1\n" % (p,
            aports[i], d, i + 1, db, be.addr))
        confs.append(conf)
        dbs.append(db)
        inst.append(T.Bridge("-c", conf, listen=(), nlisteners=1,
            name="ws%d" % (i + 1)))
    ha = HAProxy(d, ports, aports)
    tunnels = []

    with T.subtest("%d tunnels through HAProxy to 3 instances, every byte "
            "checked; the client's address reaches the backend and the "
            "frame logs" % NTUNNELS):
        for i in range(NTUNNELS):
            c = tunnel(ha.port, i)
            data = T.pattern_bytes(1024, i)
            if echo(c, data) != data:
                T.fail("tunnel %d: echo differs" % i)
            tunnels.append(c)
        T.log("   %d tunnels open" % len(tunnels))
        for i, c in enumerate(tunnels):
            data = T.pattern_bytes(4096, NTUNNELS + i)
            if echo(c, data) != data:
                T.fail("tunnel %d: second echo differs" % i)
        T.check(True, "%d tunnels echoed 5 KiB each, checked" % NTUNNELS)
        T.expect_eq(be.bad, [], "every backend connection began with a "
            "PROXY v1 line")
        T.expect_eq(be.sources.get(CLIENT, 0), NTUNNELS + 0,
            "PROXY lines naming %s, the client" % CLIENT)
        for _ in T.deadline_loop(30, "the frame logs"):
            per = [sessions_from(db, CLIENT) for db in dbs]
            if sum(per) >= NTUNNELS:
                break
        T.log("   sessions per instance (frame logs): %s" % per)
        T.expect_eq(sum(per), NTUNNELS, "frame-log sessions from %s" %
            CLIENT)
        T.check(all(n > 0 for n in per), "every instance served some",
            "> 0 each", per)
        # Prometheus scrapes the three admin endpoints: the open
        # connections it adds up are the tunnels the test holds open.
        T.prometheus_scrapes([("127.0.0.1", a) for a in aports], NTUNNELS)

    with T.subtest("one instance killed: its tunnels end, the others go "
            "on, new connections all land on the two left"):
        before = [sessions_from(db, CLIENT) for db in dbs]
        inst[1].proc.send_signal(signal.SIGKILL)
        inst[1].proc.wait(10)
        inst[1].stopped = True
        alive = []
        dead = 0
        for i, c in enumerate(tunnels):
            data = T.pattern_bytes(512, 5 * NTUNNELS + i)
            try:
                ok = echo(c, data) == data
            except (T.Failure, T.Closed, OSError):
                ok = False
            if ok:
                alive.append(c)
            else:
                dead += 1
                c.close()
        T.log("   %d tunnels ended with ws2, %d go on" % (dead, len(alive)))
        T.expect_eq(dead, before[1], "the tunnels that ended are ws2's")
        fresh = []
        for i in range(100):
            c = tunnel(ha.port, 10 * NTUNNELS + i)
            T.expect_in(echo(c, b"fresh %d" % i), (b"fresh %d" % i,),
                "new tunnel %d" % i)
            fresh.append(c)
        T.check(True, "100 new tunnels, none refused")
        for c in fresh:
            c.close()
        inst[1] = T.Bridge("-c", confs[1], listen=(), nlisteners=1,
            name="ws2-again")
        n = inst[1].nlines()
        for _ in T.deadline_loop(30, "HAProxy sends to ws2 again"):
            c = tunnel(ha.port, 0)
            echo(c, b"back?")
            c.close()
            if any("open peer=%s" % CLIENT in l for l in
                    inst[1].lines[n:]):
                break
        for c in alive[30:]:
            c.close()
        tunnels = alive[:30]

    with T.subtest("rolling hitless upgrade of the 3 instances under "
            "traffic: nothing refused, open tunnels keep every byte"):
        h = T.Hammer(lambda i: tunnel(ha.port, i))
        h.wait_ok(20, 30, "the hammer's first connections")
        olds = []
        for i in range(3):
            new = T.Bridge("--upgrade", "-c", confs[i], listen=(),
                nlisteners=1, name="ws%d-new" % (i + 1))
            new.wait_log(r"upgrade: took over from pid %d" % inst[i].pid)
            olds.append(inst[i])
            inst[i] = new
            h.wait_ok(20, 30, "connections after upgrading "
                    "ws%d" % (i + 1))
        for i, c in enumerate(tunnels):
            data = T.pattern_bytes(8192, 20 * NTUNNELS + i)
            T.expect_eq(echo(c, data), data, "tunnel %d after the rolling "
                "upgrade" % i)
        ok, failed = h.finish()
        T.log("   %d connections during the rolling upgrade, %d failed" %
            (ok, failed))
        T.check(failed == 0, "no connection refused during the rolling "
            "upgrade", "0", "%d: %s" % (failed, h.errors))
        for c in tunnels:
            c.close()
        for o in olds:
            T.expect_eq(o.wait_exit(60), 0, "%s exits 0 once its tunnels "
                "ended" % o.name)
            o.stop()

    ha.stop()
    for b in inst:
        T.expect_eq(b.stop(), 0, "%s exit status" % b.name)
    be.close()


T.run(main)
