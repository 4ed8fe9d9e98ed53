#!/usr/bin/python3
"""test_record.py -- websockify's --record and --traffic (issue 16 item 7):
sessions through a TCP echo backend driven by the Python websockets
library, each recorded to FILE.N; a reader written here from websockify's
format (a JavaScript array: "var VNC_frame_data = [", then per frame
'}MS}PAYLOAD', for client to server, '{MS{PAYLOAD', for server to client,
PAYLOAD in Python's unicode_escape with ' as \\', then 'EOF'];) reads the
files back and finds every message in order, in the right direction, byte
for byte. Where Debian's websockify is installed, its own recording of the
same session is read by the same reader and compared. --traffic's legend
and marks on stdout; the native "record" line through --print-config and
--check."""

import asyncio
import glob
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsbtest as T  # noqa: E402

import websockets  # noqa: E402

ENTRY = re.compile(r"^'([{}])(\d+)\1(.*)',$")


def unescape(s):
    """The payload of an entry: Python's unicode_escape of latin-1 text,
    ' written \\'. Returns (bytes, None), or (None, why) for anything that
    encoding does not write."""
    simple = {"\\": 0x5c, "'": 0x27, "t": 9, "n": 10, "r": 13}
    out = bytearray()
    i = 0
    while i < len(s):
        ch = s[i]
        if ch != "\\":
            if not 0x20 <= ord(ch) < 0x7f or ch == "'":
                return None, "unescaped %r" % ch
            out.append(ord(ch))
            i += 1
        elif s[i + 1:i + 2] == "x" and re.match(r"[0-9a-f]{2}$",
                s[i + 2:i + 4]):
            out.append(int(s[i + 2:i + 4], 16))
            i += 4
        elif s[i + 1:i + 2] in simple:
            out.append(simple[s[i + 1]])
            i += 2
        else:
            return None, "unknown escape %r" % s[i:i + 4]
    return bytes(out), None


def read_record(path):
    """[(direction, ms, payload)] from a websockify record file; checks
    the header, the trailer, the entries' form and that time never goes
    back (one check each per file)."""
    with open(path, encoding="ascii") as f:
        lines = f.read().split("\n")
    T.expect_eq(lines[0], "var VNC_frame_data = [", "record header")
    T.expect_eq(lines[-1], "", "the file ends with a newline")
    T.expect_eq(lines[-2], "'EOF'];", "record trailer")
    out = []
    bad = None
    last = 0
    for line in lines[1:-2]:
        m = ENTRY.match(line)
        if m is None:
            bad = bad or "not an entry: %r" % line[:80]
            continue
        ms = int(m.group(2))
        if ms < last:
            bad = bad or "time went back: %d after %d" % (ms, last)
        last = ms
        data, why = unescape(m.group(3))
        bad = bad or why
        out.append((m.group(1), ms, data))
    T.check(bad is None, "%d entries in websockify's form, in time order"
        % len(out), "no problem", bad)
    return out


def raw_entries(path, mark):
    """The encoded payloads of one direction's entries, as written."""
    with open(path, encoding="ascii") as f:
        return [m.group(3) for m in map(ENTRY.match, f.read().split("\n"))
            if m and m.group(1) == mark]


def messages():
    """Every byte value, the characters the format escapes, text and
    binary, 0 bytes to 200 KiB (more than one backend read)."""
    every = bytes(range(256))
    return [b"hello", every, b"'quote' \\back\\ \t\r\n\x7f", b"",
        "héllo wörld € 'x'", os.urandom(200 * 1024), every * 3]


async def session(url, msgs):
    async with websockets.connect(url, max_size=None, ping_interval=None,
            open_timeout=10, close_timeout=10) as ws:
        for m in msgs:
            await asyncio.wait_for(ws.send(m), 20)
            want = m.encode() if isinstance(m, str) else m
            got = b""
            # The echo backend answers in its own pieces: all of them.
            while len(got) < len(want):
                r = await asyncio.wait_for(ws.recv(), 20)
                got += r.encode() if isinstance(r, str) else r
            T.check(got == want, "echoed through", len(want), len(got))


def check_session(entries, msgs, what):
    """Client messages one '}' entry each, in order; the '{' entries
    together carry every echo, in order. A message of one read has its
    echo after it (the test waits for each echo); a larger one streams to
    the backend as it arrives, so its echo may begin before its entry."""
    wants = [m.encode() if isinstance(m, str) else m for m in msgs]
    ins = [e[2] for e in entries if e[0] == "}"]
    T.expect_eq(len(ins), len(wants), "%s: one entry per client message"
        % what)
    T.check(ins == wants, "%s: client payloads in order" % what,
        [len(w) for w in wants], [len(i) for i in ins])
    outs = b"".join(e[2] for e in entries if e[0] == "{")
    T.check(outs == b"".join(wants), "%s: echoes in order" % what,
        sum(map(len, wants)), len(outs))
    first_in = next(i for i, e in enumerate(entries) if e[0] == "}")
    first_out = next(i for i, e in enumerate(entries) if e[0] == "{")
    T.check(first_in < first_out, "%s: the first message before its echo"
        % what, "} first", entries[0][:2])


def wait_file(path, timeout=10):
    """The writer closes the file after the session ends."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            with open(path) as f:
                if f.read().endswith("'EOF'];\n"):
                    return
        except FileNotFoundError:
            pass
        time.sleep(0.05)
    T.fail("%s not completed within %ds" % (path, timeout))


def main():
    d = T.tmpdir()
    a = T.EchoBackend()
    msgs = messages()
    files = []

    with T.subtest("--record: two sessions read back"):
        base = os.path.join(d, "rec", "session")
        os.mkdir(os.path.dirname(base))
        br = T.Bridge("--record", base, "127.0.0.1:0", a.addr, listen=(),
            nlisteners=1)
        asyncio.run(session(br.url("/"), msgs))
        asyncio.run(session(br.url("/"), msgs[:2]))
        line = br.wait_log(r"recording to .*session\.\d+")
        for m in re.finditer(r"(c\d+): recording to (\S+)", br.log_text()):
            files.append(m.group(2))
            T.check(m.group(2) == "%s.%s" % (base, m.group(1)[1:]),
                "FILE.N with N the connection's number", base + ".N",
                line)
        T.expect_eq(len(files), 2, "two recordings")
        for f in files:
            wait_file(f)
            T.expect_eq(os.stat(f).st_mode & 0o777, 0o600, "file mode")
        check_session(read_record(files[0]), msgs, "first")
        check_session(read_record(files[1]), msgs[:2], "second")
        br.stop()
        T.expect_eq(sorted(glob.glob(base + ".*")), sorted(files),
            "no other files")

    with T.subtest("--record beside the frame log (capture 16)"):
        rbase = os.path.join(d, "withlog")
        db = os.path.join(d, "withlog.db")
        br = T.Bridge("--record", rbase, "--log-db", db, "-o",
            "log-capture 16", "127.0.0.1:0", a.addr, listen=(),
            nlisteners=1)
        asyncio.run(session(br.url("/"), msgs))
        br.stop()
        wait_file(rbase + ".1")
        check_session(read_record(rbase + ".1"), msgs, "beside the log")
        con = sqlite3.connect(db)
        caps = [bytes(r[0] or b"") for r in con.execute(
            "SELECT payload FROM frames WHERE dir = 'in' AND opcode "
            "IN (1, 2) ORDER BY t, id")]
        con.close()
        T.check(caps == [(m.encode() if isinstance(m, str) else m)[:16]
            for m in msgs], "the log keeps its 16 bytes per frame",
            "first 16 bytes", caps)

    with T.subtest("same as websockify's own recording"):
        if shutil.which("websockify") is None:
            T.log("   websockify not installed: skipped")
        else:
            wbase = os.path.join(d, "wsk", "session")
            os.mkdir(os.path.dirname(wbase))
            port = T.closed_port()
            p = subprocess.Popen(["websockify", "--record", wbase,
                "127.0.0.1:%d" % port, a.addr], stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL)
            try:
                for _ in T.deadline_loop(10, "websockify listening"):
                    try:
                        socket.create_connection(("127.0.0.1", port),
                            1).close()
                        break
                    except OSError:
                        pass
                asyncio.run(session("ws://127.0.0.1:%d/" % port, msgs[:3]))
                for _ in T.deadline_loop(10, "websockify's record file"):
                    wfiles = glob.glob(wbase + ".*")
                    if wfiles:
                        break
                wait_file(wfiles[0])
                check_session(read_record(wfiles[0]), msgs[:3],
                    "websockify's")
                # The same client payloads written the same way, to the
                # character (wsbridge's first session sent these first).
                mine = raw_entries(files[0], "}")[:3]
                T.check(mine == raw_entries(wfiles[0], "}"), "client "
                    "entries as websockify writes them", mine,
                    raw_entries(wfiles[0], "}"))
            finally:
                p.terminate()
                p.wait(10)

    with T.subtest("--traffic: legend and marks on stdout"):
        br = T.Bridge("--traffic", "127.0.0.1:0", a.addr, listen=(),
            nlisteners=1)
        asyncio.run(session(br.url("/"), msgs[:2]))
        br.stop()
        out = "\n".join(l[len("[stdout] "):] for l in br.lines
            if l.startswith("[stdout] "))
        T.check("Traffic Legend:" in out and "}  - Client receive" in out,
            "websockify's legend", "Traffic Legend:", out[:300])
        marks = out.split("Client send partial")[-1]
        T.check(marks.count("}>") == 2 and marks.count("{<") >= 2 and
            set(marks.strip()) <= set("{}<>"), "a '}>' per client "
            "message, a '{<' per echo piece", "}>{<}>{<", marks)

    with T.subtest("native record line: --print-config, --check"):
        st, out = T.run_wsbridge("--print-config", "--record", "rel/x",
            "--traffic", "6080", a.addr)
        T.expect_eq(st, 0, "--print-config")
        T.check(re.search(r'^record "?/\S+/rel/x"?$', out, re.M) and
            re.search(r"^traffic yes$", out, re.M), "record made "
            "absolute, traffic yes", "record /.../rel/x", out)
        st, out = T.run_wsbridge("--check", "-l", "127.0.0.1:0", "-r",
            "/=" + a.addr, "-o", "record %s/nodir/x" % d)
        T.check(st != 0 and "nodir" in out, "--check: a missing "
            "directory refused", "exit != 0", "%s %s" % (st, out))
        st, out = T.run_wsbridge("--check", "-l", "127.0.0.1:0", "-r",
            "/=" + a.addr, "-o", "record relative/x")
        T.check(st != 0 and "absolute" in out, "--check: a relative "
            "path refused", "exit != 0", "%s %s" % (st, out))
        st, out = T.run_wsbridge("--check", "-l", "127.0.0.1:0", "-r",
            "/=" + a.addr, "-o", "record %s/x" % d, "-o", "traffic no")
        T.expect_eq(st, 0, "--check: record and traffic lines " + out)

    a.close()


T.run(main)
