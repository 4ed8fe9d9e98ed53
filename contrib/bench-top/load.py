#!/usr/bin/python3
"""load.py -- N WebSocket connections to an echo route, each sending one
small message every PERIOD seconds (spread evenly), for the dashboard's CPU
measurement (contrib/bench-top/measure.sh). Raw sockets and asyncio, so that
10,000 connections fit in one process. Prints "open N" when all are up."""

import asyncio
import base64
import os
import random
import struct
import sys


async def one(host, port, path, period, start, opened, stop):
    r, w = await asyncio.open_connection(host, port)
    key = base64.b64encode(os.urandom(16)).decode()
    w.write(("GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n" % (path, host, port, key))
        .encode())
    await r.readuntil(b"\r\n\r\n")
    opened.append(1)
    await start.wait()
    await asyncio.sleep(random.random() * period)
    mask = b"\x01\x02\x03\x04"
    payload = bytes(64)
    frame = bytes([0x82, 0x80 | 64]) + mask + bytes(
        b ^ mask[i % 4] for i, b in enumerate(payload))
    while not stop.is_set():
        w.write(frame)
        await r.readexactly(2 + 64)
        await asyncio.sleep(period)
    w.close()


async def main():
    host, port, path = "127.0.0.1", int(sys.argv[1]), sys.argv[2]
    n, period = int(sys.argv[3]), float(sys.argv[4])
    opened, start, stop = [], asyncio.Event(), asyncio.Event()
    tasks = []
    for i in range(n):
        tasks.append(asyncio.ensure_future(one(host, port, path, period,
            start, opened, stop)))
        if i % 200 == 199:
            await asyncio.sleep(0.05)	# waves: the backlog stays small
    while len(opened) < n:
        await asyncio.sleep(0.1)
        for t in tasks:
            if t.done() and t.exception() is not None:
                raise t.exception()
    print("open", n, flush=True)
    start.set()
    await asyncio.Event().wait()


asyncio.run(main())
