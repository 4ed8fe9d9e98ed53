#!/usr/bin/python3
"""test_poll_libevent.py -- the readers without their epoll set: with
WSBRIDGE_POLL=libevent each reader is a libevent event of its own (the
fallback where configure finds no epoll, src/sockread.c). Runs the tests
that read the most ways (plain TCP backends both directions, h2c, wss://
and h2 over TLS) against that build of the dispatch."""

import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SKIP = 77


def main():
    env = dict(os.environ, WSBRIDGE_POLL="libevent")
    codes = []
    for t in ("test_tcp_backend.py", "test_h2.py", "test_tls.py"):
        print("== %s with WSBRIDGE_POLL=libevent" % t, flush=True)
        codes.append(subprocess.run([sys.executable, os.path.join(HERE, t)],
            env=env).returncode)
    failed = [c for c in codes if c not in (0, SKIP)]
    if failed:
        return 1
    return SKIP if all(c == SKIP for c in codes) else 0


if __name__ == "__main__":
    sys.exit(main())
