#!/usr/bin/env python3
"""bench.py -- runs wsbridge's benchmark: every scenario against every peer,
interleaved (A B C A B C ...) over several rounds, and prints markdown tables
of medians, min-max and ratios to the bare C relay. Started by run.sh, which
installs the peers and builds the tools; see run.sh --help for the options.

Every wsload run checks every byte it sees; a run that reports corruption,
missing bytes or lost connections is printed as FAIL and makes the whole
benchmark exit 1.
"""
import argparse
import os
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))

PEERS_ALL = ["relay", "wsbridge", "wsbridge-2p", "wsbridge-w2",
             "wsbridge-tls", "wsbridge-h2", "wsbridge-h2tls", "wsbridge-log",
             "websockify", "websocketd", "node"]
# wsbridge variants: how wsload speaks to them (-t TLS, -2 HTTP/2) and what
# they are called in the tables. wsbridge-h2 is cleartext h2 with prior
# knowledge; wsbridge-h2tls negotiates h2 by ALPN like a browser does.
VARIANTS = {
    "wsbridge-tls": (["-t"], "wss:// (HTTP/1.1)"),
    "wsbridge-h2": (["-2"], "HTTP/2 cleartext"),
    "wsbridge-h2tls": (["-t", "-2"], "HTTP/2 over TLS"),
    "wsbridge-log": ([], "frame log on"),
    "wsbridge-w2": ([], "workers 2: two event loops, one process"),
}
# Process-per-connection peers: idle memory is measured at this many
# connections (a fork per connection does not reach 9,000 here).
FORKING = {"websockify", "websocketd"}


class Bench:
    def __init__(self, a):
        self.a = a
        self.port = 21000 + (os.getpid() % 50) * 100
        self.out = open(os.path.join(a.outdir, "runs.log"), "a")
        self.failures = []
        self.dnf = []       # a peer could not open the connections
        self.results = {}   # (scenario, peer) -> [result dict]

    def next_port(self):
        for _ in range(500):
            self.port += 1
            if self.port > 31000:
                self.port = 21000
            s = socket.socket()
            try:
                s.bind(("127.0.0.1", self.port))
                return self.port
            except OSError:
                continue
            finally:
                s.close()
        raise SystemExit("bench: no free port")

    def log(self, msg):
        self.out.write(msg + "\n")
        self.out.flush()
        if self.a.verbose:
            print(msg, file=sys.stderr)

    def spawn(self, argv, name):
        errf = open(os.path.join(self.a.outdir, name + ".err"), "ab")
        self.log("spawn: " + " ".join(argv))
        return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=errf,
                                start_new_session=True, cwd=HERE)

    @staticmethod
    def wait_port(port, proc, secs=15):
        t = time.time() + secs
        while time.time() < t:
            if proc.poll() is not None:
                raise RuntimeError("exited with %d" % proc.returncode)
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("port %d never opened" % port)

    @staticmethod
    def stop(proc):
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            proc.wait(3)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def backend(self, kind, size):
        port = self.next_port()
        argv = [self.a.bin + "/wsbback", kind, str(port)]
        if kind == "source":
            argv.append(str(size))
        p = self.spawn(argv, "backend")
        self.wait_port(port, p)
        return p, port

    def tls_cert(self):
        """A self-signed P-256 certificate in the output dir (openssl CLI)."""
        cert = os.path.join(self.a.outdir, "cert.pem")
        key = os.path.join(self.a.outdir, "key.pem")
        if not os.path.exists(cert):
            subprocess.run(["openssl", "req", "-x509", "-newkey", "ec",
                            "-pkeyopt", "ec_paramgen_curve:prime256v1",
                            "-nodes", "-keyout", key, "-out", cert,
                            "-days", "30", "-subj", "/CN=localhost"],
                           check=True, capture_output=True)
        return cert, key

    def log_db(self):
        """A fresh directory for the frame log's database."""
        d = os.path.join(self.a.outdir, "framelog")
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        return os.path.join(d, "log.db")

    def proxy(self, peer, bport):
        port = self.next_port()
        tgt = "127.0.0.1:%d" % bport
        self.log("peer: " + peer)
        if peer == "relay":
            argv = [self.a.bin + "/relay", str(port), str(bport)]
        elif peer in ("wsbridge", "wsbridge-h2"):
            argv = [self.a.wsbridge, "127.0.0.1:%d" % port, tgt]
        elif peer in ("wsbridge-tls", "wsbridge-h2tls"):
            argv = [self.a.wsbridge, "--listen",
                    "127.0.0.1:%d tls cert=%s key=%s" % ((port,) +
                                                         self.tls_cert()),
                    "--route", "*=" + tgt]
        elif peer == "wsbridge-w2":
            # One process, two event loops sharing the port (SO_REUSEPORT).
            argv = [self.a.wsbridge, "--workers", "2", "127.0.0.1:%d" % port,
                    tgt]
        elif peer == "wsbridge-log":
            argv = [self.a.wsbridge, "--log-db", self.log_db(),
                    "127.0.0.1:%d" % port, tgt]
        elif peer == "wsbridge-2p":
            # Two processes on two ports: the most "workers 2" could give
            # on this machine (wsload spreads its connections over both).
            port2 = self.next_port()
            argv = ["/bin/sh", "-c", "'%s' 127.0.0.1:%d %s & '%s' "
                    "127.0.0.1:%d %s & wait" % (self.a.wsbridge, port, tgt,
                                                self.a.wsbridge, port2, tgt)]
            port = (port, port2)
        elif peer == "websockify":
            argv = ["websockify", "127.0.0.1:%d" % port, tgt]
        elif peer == "websocketd":
            argv = ["websocketd", "--address=127.0.0.1", "--port=%d" % port,
                    "--binary=true", "--loglevel=error",
                    "socat", "-b65536", "-", "TCP:%s,nodelay" % tgt]
        elif peer == "node":
            argv = ["node", os.path.join(HERE, "node-bridge", "bridge.js"),
                    str(port), tgt]
        else:
            raise SystemExit("unknown peer " + peer)
        p = self.spawn(argv, peer)
        for pt in (port if isinstance(port, tuple) else (port,)):
            self.wait_port(pt, p)
        if isinstance(port, tuple):
            return p, ",".join(str(x) for x in port)
        return p, str(port)

    def wsload(self, peer, ports, ppid, bpid, mode, conns, size, duration):
        argv = [self.a.bin + "/wsload", "-m", mode, "-p", ports,
                "-c", str(conns), "-s", str(size), "-d", str(duration),
                "-W", str(self.a.warmup), "-x", str(ppid), "-b", str(bpid)]
        if peer != "relay":
            argv.append("-w")
        argv += VARIANTS.get(peer, ([], ""))[0]
        self.log("run: " + " ".join(argv))
        try:
            r = subprocess.run(argv, capture_output=True, text=True,
                               timeout=duration + self.a.warmup + 150)
            out, err, rc = r.stdout, r.stderr, r.returncode
        except subprocess.TimeoutExpired:
            out, err, rc = "", "wsload timed out", -1
        self.log(out.strip() + (" | " + err.strip()[-400:] if err else ""))
        m = re.search(r"^RESULT (.*)$", out, re.M)
        res = {}
        if m:
            for k, v in re.findall(r'(\w+)=("[^"]*"|\S+)', m.group(1)):
                v = v.strip('"')
                try:
                    res[k] = float(v)
                except ValueError:
                    res[k] = v
        if rc == 2 and res.get("integrity") == "DNF":
            res["why"] = res.get("what")
            return res
        if rc != 0 or res.get("integrity") != "ok":
            res["integrity"] = "FAIL"
            res["why"] = (res.get("what") or err.strip().splitlines()[-1:]
                          or ["no result"])
        return res

    def log_status(self):
        """What the frame log wrote and dropped in the run just ended."""
        db = os.path.join(self.a.outdir, "framelog", "log.db")
        try:
            con = sqlite3.connect(db)
            w, d = con.execute("SELECT frames_written, frames_dropped "
                               "FROM log_status ORDER BY run_id DESC "
                               "LIMIT 1").fetchone()
            con.close()
        except (sqlite3.Error, TypeError) as e:
            self.log("log_status: %s" % e)
            return {}
        self.log("framelog: written=%d dropped=%d" % (w, d))
        return {"log_written": float(w), "log_dropped": float(d)}

    def run_one(self, sc, peer):
        kind, mode, size, conns = sc["backend"], sc["mode"], sc["size"], \
            sc["conns"]
        if mode == "idle" and peer in FORKING:
            conns = min(conns, self.a.idle_forking)
        bp, bport = self.backend(kind, size)
        pp = None
        try:
            pp, ports = self.proxy(peer, bport)
            time.sleep(0.2)
            res = self.wsload(peer, ports, pp.pid, bp.pid, mode, conns, size,
                              self.a.duration)
            res["conns"] = conns
        except RuntimeError as e:
            res = {"integrity": "FAIL", "why": "%s did not start: %s" %
                   (peer, e)}
        finally:
            self.stop(pp)
            self.stop(bp)
        if peer == "wsbridge-log" and res.get("integrity") == "ok":
            res.update(self.log_status())
        with open(os.path.join(self.a.outdir, "backend.err")) as f:
            if "INTEGRITY FAILURE" in f.read()[-20000:]:
                res["integrity"] = "FAIL"
                res["why"] = "backend saw corrupted bytes"
        if res.get("integrity") == "DNF":
            msg = "DNF: %s / %s: %s" % (sc["name"], peer, res.get("why"))
            print("*** " + msg, file=sys.stderr)
            self.dnf.append(msg)
        elif res.get("integrity") != "ok":
            msg = "FAIL: %s / %s: %s" % (sc["name"], peer, res.get("why"))
            print("*** " + msg, file=sys.stderr)
            self.failures.append(msg)
        return res

    def run(self, scenarios, peers):
        for sc in scenarios:
            print("scenario %s ..." % sc["name"], file=sys.stderr, flush=True)
            for rnd in range(self.a.rounds):
                # A B C ... then C B A ...: no peer always runs first.
                order = peers if rnd % 2 == 0 else list(reversed(peers))
                for peer in order:
                    if peer == "wsbridge-2p" and sc["mode"] not in (
                            "echo", "hs") or (peer == "wsbridge-2p" and
                                              sc["conns"] < 64):
                        continue
                    res = self.run_one(sc, peer)
                    self.results.setdefault((sc["name"], peer), []).append(res)


def fmt(v, nd=0):
    if v is None:
        return "-"
    if v >= 100:
        return "{:,.0f}".format(v)
    return "{:.{}f}".format(v, max(nd, 1 if v >= 10 else 2))


def summarize(rs, key):
    vals = [r[key] for r in rs if r.get("integrity") == "ok" and key in r]
    if not vals:
        return None
    return statistics.median(vals), min(vals), max(vals)


def metric(sc):
    if sc["mode"] in ("up", "down"):
        return "mib_s", "MiB/s"
    if sc["mode"] == "idle":
        return "mem_per_conn", "bytes/conn"
    if sc["mode"] == "hs":
        return "msg_s", "handshakes/s"
    return "msg_s", "msgs/s"


def report(b, scenarios, peers):
    lines = []
    peers = [p for p in peers]
    # Summary: ratios to the relay.
    lines.append("| scenario | " + " | ".join(peers) + " |")
    lines.append("|---|" + "---|" * len(peers))
    for sc in scenarios:
        key, unit = metric(sc)
        base = summarize(b.results.get((sc["name"], "relay"), []), key)
        row = ["%s (%s)" % (sc["name"], unit)]
        for p in peers:
            rs = b.results.get((sc["name"], p))
            if not rs:
                row.append("")
                continue
            s = summarize(rs, key)
            if s is None:
                row.append("DNF" if all(r.get("integrity") == "DNF"
                                        for r in rs) else "FAIL")
                continue
            cell = fmt(s[0])
            if base and base[0] > 0 and p != "relay":
                cell += " (%.2fx)" % (s[0] / base[0])
            if any(r.get("integrity") == "FAIL" for r in rs):
                cell += " FAIL"
            row.append(cell)
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    lines.append("Ratios are to the bare relay (for memory, lower is better; "
                 "everything else, higher is better).")
    lines.append("")
    # Detail.
    lines.append("| scenario | peer | median | min-max | x relay | p50 / p99 "
                 "latency (us) | proxy CPU | CPU per GiB | CPU per msg | "
                 "wsload CPU |")
    lines.append("|---|---|---|---|---|---|---|---|---|---|")
    for sc in scenarios:
        key, unit = metric(sc)
        base = summarize(b.results.get((sc["name"], "relay"), []), key)
        for p in peers:
            rs = b.results.get((sc["name"], p))
            if not rs:
                continue
            s = summarize(rs, key)
            if s is None:
                lines.append("| %s | %s | %s | | | | | | | |" % (
                    sc["name"], p, "DNF: " + str(rs[0].get("why"))
                    if rs[0].get("integrity") == "DNF" else "FAIL"))
                continue
            ok = [r for r in rs if r.get("integrity") == "ok"]
            ratio = "%.2f" % (s[0] / base[0]) if base and base[0] else "-"
            rok = [r for r in b.results.get((sc["name"], "relay"), [])
                   if r.get("integrity") == "ok"]

            def rel(v, f):
                # v as a ratio to the relay's figure f() (same run).
                if p == "relay" or not rok:
                    return ""
                try:
                    base_v = statistics.median([f(r) for r in rok])
                except (KeyError, ZeroDivisionError):
                    return ""
                return " (%.2fx)" % (v / base_v) if base_v else ""

            lat = "-"
            if sc["mode"] == "echo":
                p50 = summarize(ok, "p50_us")[0]
                p99 = summarize(ok, "p99_us")[0]
                lat = "%s%s / %s%s" % (
                    fmt(p50), rel(p50, lambda r: r["p50_us"]),
                    fmt(p99), rel(p99, lambda r: r["p99_us"]))
            cpu = gib = per = gen = "-"
            if sc["mode"] != "idle":
                cpu_share = statistics.median(
                    [r["proxy_cpu"] / r["secs"] for r in ok])
                cpu = "%.0f%%" % (100 * cpu_share)
                gen = "%.0f%%" % (100 * statistics.median(
                    [r["gen_cpu"] / r["secs"] for r in ok]))
                msgs = [r for r in ok if r.get("msgs", 0) > 0]
                if msgs:
                    v = statistics.median(
                        [1e6 * r["proxy_cpu"] / r["msgs"] for r in msgs])
                    per = "%s us%s" % (fmt(v), rel(
                        v, lambda r: 1e6 * r["proxy_cpu"] / r["msgs"]))
                byt = [r for r in ok if r.get("bytes", 0) > 0]
                if byt and sc["mode"] in ("up", "down"):
                    v = statistics.median(
                        [r["proxy_cpu"] / (r["bytes"] / 2**30) for r in byt])
                    gib = "%s s%s" % (fmt(v), rel(
                        v, lambda r: r["proxy_cpu"] / (r["bytes"] / 2**30)))
            med = fmt(s[0])
            if sc["mode"] == "idle":
                med = "%s KiB at %d conns" % (fmt(s[0] / 1024),
                                              int(ok[0]["conns"]))
            fails = sum(1 for r in rs if r.get("integrity") == "FAIL")
            lines.append("| %s | %s | %s%s | %s-%s | %s | %s | %s | %s | %s | "
                         "%s |" % (sc["name"], p, med,
                                   " (%d FAIL)" % fails if fails else "",
                                   fmt(s[1] if sc["mode"] != "idle" else
                                       s[1] / 1024),
                                   fmt(s[2] if sc["mode"] != "idle" else
                                       s[2] / 1024),
                                   ratio, lat, cpu, gib, per, gen))
    lines += variants(b, scenarios, peers)
    return "\n".join(lines)


def variants(b, scenarios, peers):
    """wsbridge over TLS, HTTP/2 and with the frame log, as ratios to plain
    wsbridge in the same run (rates: higher is better; CPU per GiB or per
    message and memory: lower is better)."""
    vs = [p for p in peers if p in VARIANTS]
    if not vs or "wsbridge" not in peers:
        return []
    lines = ["", "wsbridge variants against plain wsbridge (same run): "
             "median rate (x wsbridge), then proxy CPU per GiB or per "
             "message (x wsbridge); idle: memory per connection.", "",
             "| scenario | wsbridge | " +
             " | ".join("%s: %s" % (p, VARIANTS[p][1]) for p in vs) + " |",
             "|---|---|" + "---|" * len(vs)]

    def cost(sc, rs):
        ok = [r for r in rs if r.get("integrity") == "ok"]
        if sc["mode"] in ("up", "down"):
            v = [r["proxy_cpu"] / (r["bytes"] / 2**30) for r in ok
                 if r.get("bytes", 0) > 0]
            return (statistics.median(v), "s/GiB") if v else (None, "")
        if sc["mode"] in ("echo", "hs"):
            v = [1e6 * r["proxy_cpu"] / r["msgs"] for r in ok
                 if r.get("msgs", 0) > 0]
            return (statistics.median(v), "us/msg") if v else (None, "")
        return None, ""

    for sc in scenarios:
        key, unit = metric(sc)
        base_rs = b.results.get((sc["name"], "wsbridge"), [])
        base = summarize(base_rs, key)
        bcost, cunit = cost(sc, base_rs)
        if sc["mode"] == "idle":
            row = ["%s (KiB/conn)" % sc["name"],
                   fmt(base[0] / 1024) if base else "-"]
        else:
            row = ["%s (%s)" % (sc["name"], unit), "%s; %s %s" % (
                fmt(base[0]) if base else "-",
                fmt(bcost) if bcost is not None else "-", cunit)]
        for p in vs:
            rs = b.results.get((sc["name"], p), [])
            s = summarize(rs, key)
            if not rs:
                row.append("")
                continue
            if s is None:
                row.append("DNF" if all(r.get("integrity") == "DNF"
                                        for r in rs) else "FAIL")
                continue
            if sc["mode"] == "idle":
                cell = fmt(s[0] / 1024)
            else:
                cell = fmt(s[0])
            if base and base[0]:
                cell += " (%.2fx)" % (s[0] / base[0])
            c, _ = cost(sc, rs)
            if c is not None:
                cell += "; %s (%.2fx)" % (fmt(c), c / bcost if bcost else 0)
            if p == "wsbridge-log":
                d = sum(r.get("log_dropped", 0) for r in rs)
                w = sum(r.get("log_written", 0) for r in rs)
                if w or d:
                    cell += "; %s frames logged, %s dropped" % (
                        fmt(w), fmt(d) if d else "0")
            row.append(cell)
        lines.append("| " + " | ".join(row) + " |")
    return lines


def replay(a, scen, peers):
    """Rebuilds the results of a run from its runs.log."""
    b = Bench.__new__(Bench)
    b.results = {}
    peer = None
    seen = []
    lines = open(a.replay).read().splitlines()
    named = any(line.startswith("peer: ") for line in lines)
    for i, line in enumerate(lines):
        if line.startswith("peer: "):
            peer = line[6:].strip()
        elif (not named and line.startswith("spawn: ") and
              "/wsbback " not in line):
            argv = line[7:].split()
            name = os.path.basename(argv[0])
            peer = {"relay": "relay", "sh": "wsbridge-2p",
                    "websockify": "websockify", "websocketd": "websocketd",
                    "node": "node"}.get(name, "wsbridge")
        elif line.startswith("run: ") and i + 1 < len(lines):
            args = line.split()
            opt = {args[j]: args[j + 1] for j in range(1, len(args) - 1)
                   if args[j].startswith("-")}
            for sc in scen:
                if (sc["mode"] == opt.get("-m") and
                        (sc["mode"] in ("hs", "idle") or
                         str(sc["size"]) == opt.get("-s")) and
                        (sc["mode"] in ("idle",) or
                         str(sc["conns"]) == opt.get("-c"))):
                    break
            else:
                continue
            res = {}
            m = re.search(r"RESULT (.*?)( \| |$)", lines[i + 1])
            if m:
                for k, v in re.findall(r'(\w+)=("[^"]*"|\S+)', m.group(1)):
                    v = v.strip('"')
                    try:
                        res[k] = float(v)
                    except ValueError:
                        res[k] = v
            if res.get("integrity") not in ("ok", "DNF"):
                res["integrity"] = "FAIL"
            if (peer == "wsbridge-log" and i + 2 < len(lines) and
                    lines[i + 2].startswith("framelog: ")):
                for k, v in re.findall(r"(\w+)=(\d+)", lines[i + 2]):
                    res["log_" + k] = float(v)
            if "conns" not in res and opt.get("-c"):
                res["conns"] = float(opt["-c"])
            b.results.setdefault((sc["name"], peer), []).append(res)
            if peer not in seen:
                seen.append(peer)
    print(report(b, scen, [p for p in peers if p in seen]))


def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True,
                              timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return "?"


def machine(a):
    cpu = sh("sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1")
    mem = sh("awk '/MemTotal/ {printf \"%.0f GiB\", $2/1048576}' "
             "/proc/meminfo")
    return ("Machine: %s cores (nproc), %s, %s RAM, Linux %s; client, proxy "
            "and backend share the cores.\n\nPeers: wsbridge %s (libevent "
            "%s), websockify %s, websocketd %s wrapping socat %s, Node %s "
            "with ws %s." % (
                sh("nproc"), cpu, mem, sh("uname -r"),
                sh("'%s' -V | cut -d' ' -f2" % a.wsbridge),
                sh("dpkg-query -W -f='${Version}' libevent-2.1-7"),
                sh("dpkg-query -W -f='${Version}' websockify"),
                sh("dpkg-query -W -f='${Version}' websocketd"),
                sh("dpkg-query -W -f='${Version}' socat"),
                sh("node --version"),
                sh("node -p \"require('%s/node-bridge/node_modules/ws/"
                   "package.json').version\"" % HERE)))


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=float, default=3.0,
                    help="measured seconds per run (after --warmup)")
    ap.add_argument("--warmup", type=float, default=0.5)
    ap.add_argument("--conns", default="1,64,1000",
                    help="connection counts of the 64 B echo scenario")
    ap.add_argument("--hs-conns", type=int, default=32,
                    help="concurrent handshake loops")
    ap.add_argument("--idle", type=int, default=9000,
                    help="idle connections (memory scenario)")
    ap.add_argument("--idle-forking", type=int, default=200,
                    help="idle connections for process-per-connection peers")
    ap.add_argument("--sizes", default="1024,65536,1048576")
    ap.add_argument("--peers", default=",".join(PEERS_ALL))
    ap.add_argument("--only", default="",
                    help="comma list of scenario name prefixes to run")
    ap.add_argument("--bin", help="dir with wsload etc.")
    ap.add_argument("--wsbridge")
    ap.add_argument("--outdir")
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("--replay", metavar="RUNS_LOG",
                    help="print the tables of an earlier run from its "
                    "runs.log instead of running")
    a = ap.parse_args()

    scen = []
    names = {1024: "1KiB", 65536: "64KiB", 1048576: "1MiB"}
    for d, kind in (("up", "sink"), ("down", "source")):
        for s in (int(x) for x in a.sizes.split(",")):
            scen.append(dict(name="%s %s" % (d, names.get(s, str(s))),
                             mode=d, backend=kind, size=s, conns=1))
    for c in (int(x) for x in a.conns.split(",")):
        scen.append(dict(name="echo 64B x%d" % c, mode="echo", backend="echo",
                         size=64, conns=c))
    scen.append(dict(name="handshakes x%d" % a.hs_conns, mode="hs",
                     backend="echo", size=64, conns=a.hs_conns))
    scen.append(dict(name="idle memory", mode="idle", backend="echo", size=64,
                     conns=a.idle))
    if a.only:
        pre = a.only.split(",")
        scen = [s for s in scen if any(s["name"].startswith(p) for p in pre)]
    peers = a.peers.split(",")
    if "relay" not in peers:
        peers.insert(0, "relay")
    if a.replay:
        replay(a, scen, peers)
        return
    if not (a.bin and a.wsbridge and a.outdir):
        ap.error("--bin, --wsbridge and --outdir are required")
    b = Bench(a)
    print(machine(a))
    print("\nCommand: %s\n\nLoad average at start: %s" % (
        os.environ.get("BENCH_CMD", "bench.py"),
        sh("cut -d' ' -f1-3 /proc/loadavg")))
    print()
    t0 = time.time()
    b.run(scen, peers)
    print(report(b, scen, peers))
    print("\n%d rounds, %.1f s measured per run after %.1f s warm-up; "
          "took %.0f s." % (a.rounds, a.duration, a.warmup, time.time() - t0))
    if b.dnf:
        print("\nDid not finish (the peer refused or dropped connections "
              "while they were being opened; not a data error):")
        for f in b.dnf:
            print("- " + f)
    if b.failures:
        print("\nFAILURES (corrupted or missing bytes, or lost connections):")
        for f in b.failures:
            print("- " + f)
        sys.exit(1)


if __name__ == "__main__":
    main()
