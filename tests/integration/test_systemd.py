#!/usr/bin/python3
"""test_systemd.py -- wsbridge as a systemd service, without a running
systemd: contrib/systemd's units pass `systemd-analyze verify`; socket
activation through `systemd-socket-activate` ("listen systemd:NAME", a
reload keeps the passed socket, a missing or misnamed socket is refused
with the reason); sd_notify to a notify socket the test owns (READY=1,
RELOADING=1 then READY=1 on SIGHUP, a failed reload said in STATUS=,
WATCHDOG=1 while every worker's loop answers, STOPPING=1 on SIGTERM);
user/group dropping root after binding (ids checked in /proc, the frame
log and control socket owned by that user); SIGUSR1 reopening log-file
after it was moved away."""

import os
import pwd
import grp
import shutil
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsbtest as T  # noqa: E402

SRCDIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
UNITS = ("wsbridge.service", "wsbridge@.service", "wsbridge.socket")


def echo(port, path="/echo", msg=b"through systemd"):
    c = T.raw_ws(port, path)
    c.send_frame(T.OP_BINARY, msg)
    op, got = c.recv_message(10)
    T.expect_eq(got, msg, "echo on port %d" % port)
    return c


class Notify:
    """The service manager's side of sd_notify: a datagram socket."""

    def __init__(self, d):
        self.path = os.path.join(d, "notify.sock")
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.s.bind(self.path)
        self.msgs = []

    def wait(self, key, timeout=15.0, after=0):
        """The first message from index after holding line key (e.g.
        "READY=1", or a "STATUS=" prefix); returns its index."""
        end = time.monotonic() + timeout
        i = after
        while True:
            while i < len(self.msgs):
                lines = self.msgs[i].split("\n")
                if any(l == key or (key.endswith("=") and
                        l.startswith(key)) for l in lines):
                    return i
                i += 1
            left = end - time.monotonic()
            if left <= 0:
                T.fail("no %r notification within %.0fs; got %r" % (key,
                    timeout, self.msgs[after:]))
            self.s.settimeout(left)
            try:
                self.msgs.append(self.s.recv(4096).decode())
            except socket.timeout:
                pass

    def close(self):
        self.s.close()


def check_units(d):
    bindir = os.path.dirname(T.wsbridge_path())
    ud = os.path.join(d, "units")
    os.mkdir(ud)
    for u in UNITS:
        text = open(os.path.join(SRCDIR, "contrib", "systemd",
            u + ".in")).read()
        text = text.replace("@bindir@", bindir).replace("@sysconfdir@", d)
        with open(os.path.join(ud, u), "w") as f:
            f.write(text)
    shutil.copy(os.path.join(ud, "wsbridge@.service"),
        os.path.join(ud, "wsbridge@demo.service"))
    for units in (["wsbridge.service", "wsbridge.socket"],
            ["wsbridge@demo.service"]):
        r = subprocess.run(["systemd-analyze", "verify", "--man=no"] +
            [os.path.join(ud, u) for u in units], capture_output=True,
            text=True, timeout=120)
        T.check(r.returncode == 0 and r.stdout.strip() == "" and
            r.stderr.strip() == "", "systemd-analyze verify %s is clean" %
            " ".join(units), "status 0, no output",
            (r.returncode, r.stdout + r.stderr))
    # The example config the units read is a valid one.
    conf = os.path.join(SRCDIR, "contrib", "systemd", "wsbridge.conf")
    text = open(conf).read().replace("/var/lib/wsbridge", d).replace(
        "/run/wsbridge", d)
    mine = os.path.join(d, "example.conf")
    T.replace_file(mine, text)
    st, out = T.run_wsbridge("--check", "-c", mine)
    T.expect_eq(st, 0, "contrib/systemd/wsbridge.conf passes --check\n" + out)


def main():
    d = T.tmpdir()
    os.chmod(d, 0o755)

    with T.subtest("unit files: systemd-analyze verify"):
        check_units(d)

    with T.subtest("socket activation: listen systemd:ws takes the socket "
            "systemd-socket-activate passed; a reload keeps it"):
        port = T.closed_port()  # for the activator to bind
        conf = os.path.join(d, "act.conf")
        T.replace_file(conf, "listen systemd:ws\nroute /echo echo\n")
        b = T.Bridge("-c", conf, listen=(), nlisteners=0, prefix=(
            "systemd-socket-activate", "-l", "127.0.0.1:%d" % port,
            "--fdname=ws"), name="activated")
        # The activator execs wsbridge on the first connection; that one
        # waits in the socket's queue and wsbridge serves it.
        b.wait_log(r"Listening on 127\.0\.0\.1:%d" % port)
        c = echo(port)
        b.wait_log(r"listening on 127\.0\.0\.1:%d" % port)
        n = b.nlines()
        b.signal(signal.SIGHUP)
        b.wait_log(r"configuration reloaded: 1 listeners", start=n)
        echo(port, msg=b"after the reload").close()
        c.send_frame(T.OP_BINARY, b"old tunnel")
        T.expect_eq(c.recv_message(10)[1], b"old tunnel",
            "the tunnel opened before the reload")
        c.close()
        T.expect_eq(b.stop(), 0, "exit status")

    with T.subtest("upgrade of a socket-activated wsbridge: the new one "
            "takes the passed socket and tells systemd MAINPID"):
        port = T.closed_port()  # for the activator to bind
        ctl = os.path.join(d, "act-ctl.sock")
        conf = os.path.join(d, "act-upg.conf")
        T.replace_file(conf, "listen systemd:ws\ncontrol %s\n"
            "shutdown-mode wait\nroute /echo echo\n" % ctl)
        old = T.Bridge("-c", conf, listen=(), nlisteners=0, prefix=(
            "systemd-socket-activate", "-l", "127.0.0.1:%d" % port,
            "--fdname=ws"), name="activated-old")
        old.wait_log(r"Listening on 127\.0\.0\.1:%d" % port)
        c = echo(port)
        old.wait_log(r"control socket")
        os.mkdir(os.path.join(d, "u"))
        n = Notify(os.path.join(d, "u"))
        new = T.Bridge("--upgrade", "-c", conf, listen=(), nlisteners=1,
            env={"NOTIFY_SOCKET": n.path}, name="activated-new")
        i = n.wait("MAINPID=%d" % new.pid)
        T.check("READY=1" in n.msgs[i].split("\n"), "with READY=1", "",
            n.msgs[i])
        echo(port, msg=b"to the new one").close()
        c.send_frame(T.OP_BINARY, b"old tunnel")
        T.expect_eq(c.recv_message(10)[1], b"old tunnel",
            "the old process's tunnel runs on")
        c.close()
        T.expect_eq(old.wait_exit(30), 0, "the old process drained")
        old.stop()
        echo(port, msg=b"after the old one left").close()
        T.expect_eq(new.stop(), 0, "exit status")
        n.close()

    with T.subtest("socket activation: a name nobody passed, and no "
            "socket at all, are refused with the reason"):
        port = T.closed_port()  # for the activator to bind
        conf = os.path.join(d, "other.conf")
        T.replace_file(conf, "listen systemd:other\nroute /echo echo\n")
        p = subprocess.Popen(["systemd-socket-activate", "-l",
            "127.0.0.1:%d" % port, "--fdname=ws", T.wsbridge_path(), "-c",
            conf], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        s = None
        for _ in T.deadline_loop(15, "the activator listens"):
            try:
                s = socket.create_connection(("127.0.0.1", port), 5)
                break
            except OSError:
                continue
        try:
            out, _ = p.communicate(timeout=30)
        finally:
            s.close()
        out = out.decode("utf-8", "replace")
        T.check(p.returncode == 1 and "passed no socket named other" in
            out, "a misnamed socket stops the start, named",
            "status 1, the reason", (p.returncode, out))
        conf = os.path.join(d, "none.conf")
        T.replace_file(conf, "listen systemd\nroute /echo echo\n")
        st, out = T.run_wsbridge("--check", "-c", conf)
        T.expect_eq(st, 0, "--check (ExecStartPre=) accepts listen systemd "
            "with no socket passed\n" + out)
        st, out = T.run_wsbridge("-c", conf)
        T.check(st == 1 and "the service manager passed no socket" in out,
            "a start with no socket passed says why", "status 1, reason",
            (st, out))

    with T.subtest("sd_notify: READY, WATCHDOG from every worker, "
            "RELOADING then READY, a failed reload, STOPPING"):
        n = Notify(d)
        conf = os.path.join(d, "notify.conf")
        T.replace_file(conf, "workers 2\nroute /echo echo\n")
        b = T.Bridge("-c", conf, env={"NOTIFY_SOCKET": n.path,
            "WATCHDOG_USEC": "400000"}, name="notifying")
        i = n.wait("READY=1")
        T.check("STATUS=1 listeners, 1 routes" in n.msgs[i],
            "READY=1 comes with a STATUS= line", "", n.msgs[i])
        i = n.wait("WATCHDOG=1", after=i + 1)
        for _ in range(3):
            i = n.wait("WATCHDOG=1", after=i + 1)
        echo(b.port).close()
        n.wait("STATUS=", after=i + 1)
        j = len(n.msgs)
        b.signal(signal.SIGHUP)
        i = n.wait("RELOADING=1", after=j)
        T.check(any(l.startswith("MONOTONIC_USEC=") for l in
            n.msgs[i].split("\n")), "RELOADING=1 with MONOTONIC_USEC=", "",
            n.msgs[i])
        i = n.wait("READY=1", after=i)
        T.check("STATUS=configuration reloaded" in n.msgs[i],
            "READY=1 after the reload says so", "", n.msgs[i])
        T.replace_file(conf, "workers 2\nroute /echo nonsense-target\n")
        j = len(n.msgs)
        b.signal(signal.SIGHUP)
        i = n.wait("RELOADING=1", after=j)
        i = n.wait("READY=1", after=i)
        T.check("STATUS=reload failed" in n.msgs[i],
            "a failed reload: READY=1 (still serving) and why", "",
            n.msgs[i])
        echo(b.port, msg=b"still serving").close()
        j = len(n.msgs)
        b.signal(signal.SIGTERM)
        i = n.wait("STOPPING=1", after=j)
        T.expect_eq(b.wait_exit(20), 0, "exit status")
        b.stop()
        n.close()

    if os.geteuid() != 0:
        T.log("   (not root: the user/group and SIGUSR1-as-root parts "
            "need root)")
    else:
        with T.subtest("user/group: root binds, then becomes nobody; the "
                "frame log and control socket are nobody's"):
            nobody = pwd.getpwnam("nobody")
            group = grp.getgrgid(nobody.pw_gid).gr_name
            sd = os.path.join(d, "state")
            os.mkdir(sd)
            os.chown(sd, nobody.pw_uid, nobody.pw_gid)
            conf = os.path.join(d, "user.conf")
            T.replace_file(conf, "user nobody\ngroup %s\nlog-db %s/f.db\n"
                "control %s/ctl.sock\nroute /echo echo\n" % (group, sd, sd))
            b = T.Bridge("-c", conf, name="unprivileged")
            b.wait_log(r"running as uid %d gid %d" % (nobody.pw_uid,
                nobody.pw_gid))
            st = open("/proc/%d/status" % b.pid).read().splitlines()
            ids = {l.split(":")[0]: l.split(":")[1].split() for l in st
                if l.startswith(("Uid:", "Gid:", "Groups:"))}
            T.expect_eq(ids["Uid"], [str(nobody.pw_uid)] * 4,
                "real, effective, saved and fs uid")
            T.expect_eq(ids["Gid"], [str(nobody.pw_gid)] * 4,
                "real, effective, saved and fs gid")
            T.expect_eq(ids["Groups"], [str(nobody.pw_gid)],
                "supplementary groups")
            echo(b.port).close()
            for f in ("f.db", "ctl.sock"):
                T.expect_eq(os.stat(os.path.join(sd, f)).st_uid,
                    nobody.pw_uid, "%s belongs to nobody" % f)
            T.expect_eq(b.stop(), 0, "exit status")
            conf2 = os.path.join(d, "nouser.conf")
            T.replace_file(conf2, "user no-such-user-here\nroute /e echo\n"
                "listen 127.0.0.1:0\n")
            st, out = T.run_wsbridge("-c", conf2)
            T.check(st == 1 and "no such user" in out,
                "an unknown user stops the start, named", "status 1",
                (st, out))

    with T.subtest("SIGUSR1: log-file reopened after it was moved away"):
        logf = os.path.join(d, "wsbridge.log")
        b = T.Bridge("--log-file", logf, "--route", "/echo=echo",
            nlisteners=0, name="logfile")
        port = None
        for _ in T.deadline_loop(15, "the listening line in the log file"):
            if not os.path.exists(logf):
                continue
            for line in open(logf).read().splitlines():
                if "listening on 127.0.0.1:" in line:
                    port = int(line.rsplit(":", 1)[1].split()[0])
            if port is not None:
                break
        os.rename(logf, logf + ".1")
        b.signal(signal.SIGUSR1)
        for _ in T.deadline_loop(15, "a new log file"):
            if os.path.exists(logf) and "reopened" in open(logf).read():
                break
        echo(port).close()
        T.expect_eq(b.stop(), 0, "exit status")
        new, old = open(logf).read(), open(logf + ".1").read()
        T.check("exiting" in new and "exiting" not in old,
            "lines after SIGUSR1 go to the new file", "", (old[-300:],
            new))
        for mark in T.SANITIZER_MARKS:
            T.check(mark not in new + old, "no sanitizer report")


T.run(main)
