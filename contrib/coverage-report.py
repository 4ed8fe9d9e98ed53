#!/usr/bin/python3
"""coverage-report.py BUILD_DIR SOURCE_DIR [PREFIX] -- line, branch and
function coverage of the sources under SOURCE_DIR/PREFIX (default src/)
from a gcov-instrumented build (contrib/coverage.sh), and the functions
there that never ran.

A source compiled into several objects (libwscore.a, wsbridge, a unit test
and a fuzz replay may each hold ws_conn.c) counts once: a line, branch or
function is covered when any object ran it. Inline functions in headers
are counted in the header. Reads gcov's JSON format (gcc 9 or later),
nothing else needed.
"""

import glob
import json
import os
import re
import subprocess
import sys


def gcov_json(gcno):
    """gcov's JSON documents for one object (its .gcda, if any, is next to
    the .gcno; without one everything counts zero)."""
    p = subprocess.run(["gcov", "--stdout", "--json-format",
        "--branch-probabilities", gcno], cwd=os.path.dirname(gcno),
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=True)
    text = p.stdout.decode()
    dec = json.JSONDecoder()
    i = 0
    while True:
        while i < len(text) and text[i].isspace():
            i += 1
        if i >= len(text):
            return
        doc, i = dec.raw_decode(text, i)
        yield doc


def main():
    if len(sys.argv) not in (3, 4):
        sys.stderr.write("usage: coverage-report.py BUILD_DIR SOURCE_DIR "
            "[PREFIX]\n")
        sys.exit(2)
    build = os.path.abspath(sys.argv[1])
    top = os.path.abspath(sys.argv[2])
    prefix = sys.argv[3] if len(sys.argv) == 4 else "src/"
    lines = {}	# (file, line) -> count
    branches = {}	# (file, line, index) -> count
    funcs = {}	# (file, name) -> [count, start line]
    nobj = 0
    for d, _, names in os.walk(build):
        for n in sorted(names):
            if not n.endswith(".gcno"):
                continue
            nobj += 1
            for doc in gcov_json(os.path.join(d, n)):
                cwd = doc.get("current_working_directory", d)
                for f in doc["files"]:
                    path = os.path.relpath(os.path.normpath(os.path.join(
                        cwd, f["file"])), top)
                    if not path.startswith(prefix):
                        continue
                    for ln in f["lines"]:
                        k = (path, ln["line_number"])
                        lines[k] = lines.get(k, 0) + ln["count"]
                        for i, b in enumerate(ln["branches"]):
                            bk = k + (i,)
                            branches[bk] = branches.get(bk, 0) + b["count"]
                    for fn in f["functions"]:
                        k = (path, fn["name"])
                        e = funcs.setdefault(k, [0, fn["start_line"]])
                        e[0] += fn["execution_count"]
    if not lines:
        sys.exit("no coverage data for %s under %s (%d objects)" % (prefix,
            build, nobj))

    def pct(hit, total):
        return "%6.1f%%" % (100.0 * hit / total) if total else "     -"

    per = {}
    for (path, _), c in lines.items():
        e = per.setdefault(path, [0, 0, 0, 0, 0, 0])
        e[0] += c > 0
        e[1] += 1
    for (path, _, _), c in branches.items():
        e = per[path]
        e[2] += c > 0
        e[3] += 1
    for (path, _), (c, _) in funcs.items():
        e = per[path]
        e[4] += c > 0
        e[5] += 1
    w = max(len(p) for p in per) + 2
    print("%-*s %-20s %-20s %-18s" % (w, "file", "   lines", "   branches",
        "   functions"))
    tot = [0] * 6
    for path in sorted(per):
        e = per[path]
        tot = [a + b for a, b in zip(tot, e)]
        print("%-*s %6d/%-6d%s %6d/%-6d%s %5d/%-5d%s" % (w, path, e[0], e[1],
            pct(e[0], e[1]), e[2], e[3], pct(e[2], e[3]), e[4], e[5],
            pct(e[4], e[5])))
    print("%-*s %6d/%-6d%s %6d/%-6d%s %5d/%-5d%s" % (w, "total", tot[0],
        tot[1], pct(tot[0], tot[1]), tot[2], tot[3], pct(tot[2], tot[3]),
        tot[4], tot[5], pct(tot[4], tot[5])))
    print("")
    print("line coverage of %s: %.1f%% (%d of %d lines)" % (prefix,
        100.0 * tot[0] / tot[1], tot[0], tot[1]))
    if tot[3]:
        print("branch coverage of %s: %.1f%% (%d of %d branches)" % (prefix,
            100.0 * tot[2] / tot[3], tot[2], tot[3]))
    dead = sorted((path, start, name) for (path, name), (c, start) in
        funcs.items() if c == 0)
    print("functions in %s never executed: %d (no caller: no other line "
        "of a .c file in %s names it)" % (prefix, len(dead), prefix))
    for path, start, name in dead:
        n = references(top, prefix, name, path, start)
        print("  %s:%d %s%s" % (path, start, name, "" if n else
            "  (no caller)"))


def references(top, prefix, name, path, start):
    """Lines of the .c files under prefix that name the function, its own
    definition's first lines left out: calls, and callbacks handed over."""
    rx = re.compile(r"\b%s\b" % re.escape(name))
    n = 0
    for f in glob.glob(os.path.join(top, prefix, "**", "*.c"),
            recursive=True):
        rel = os.path.relpath(f, top)
        with open(f, errors="replace") as fh:
            for i, line in enumerate(fh, 1):
                if rel == path and start - 1 <= i <= start:
                    continue
                if rx.search(line):
                    n += 1
    return n


if __name__ == "__main__":
    main()
