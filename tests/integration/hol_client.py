#!/usr/bin/python3
"""hol_client.py -- a scripted, independent WebSocket client (Python
websockets) for the dashboard test and demos. Connection A sends a 64 MiB
binary message to an echo route and downloads it back, but stops reading
for --stall seconds once --stall-after bytes have come back: the rest of
the message waits inside wsbridge (head-of-line). Connection B sends a ping
every 100 ms the whole time and times the pongs. Prints one line per event:

    A-port N / B-port N / A-stalled / A-resumed / A-done SECONDS
    B-pings N max-rtt-ms X / done
"""

import argparse
import asyncio
import socket
import sys
import time

import websockets


def say(*a):
    print(*a, flush=True)


async def downloader(url, size, stall_after, stall):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # A small receive buffer: what we do not read stays in wsbridge.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    host, port = url.split("//")[1].split("/")[0].split(":")
    sock.connect((host, int(port)))
    async with websockets.connect(url, sock=sock, max_size=None,
            ping_interval=None, close_timeout=30) as ws:
        say("A-port", ws.local_address[1])
        state = {"got": 0, "stalled": False}
        proto = ws
        orig = proto.data_received
        loop = asyncio.get_running_loop()

        tr = proto.transport
        tr_resume = tr.resume_reading

        def resume():
            state["hold"] = False
            say("A-resumed")
            tr_resume()

        def resume_guard():
            # websockets resumes its reader as its buffer drains: not now.
            if not state.get("hold"):
                tr_resume()
        tr.resume_reading = resume_guard

        def data_received(data):
            orig(data)
            state["got"] += len(data)
            if not state["stalled"] and state["got"] >= stall_after:
                state["stalled"] = True
                state["hold"] = True
                tr.pause_reading()
                say("A-stalled")
                loop.call_later(stall, resume)
        proto.data_received = data_received
        t0 = time.monotonic()
        payload = bytes(range(256)) * (size // 256)
        send = asyncio.ensure_future(ws.send(payload))
        got = await ws.recv()
        await send
        if got != payload:
            say("A-mismatch", len(got))
            return 1
        say("A-done %.2f" % (time.monotonic() - t0))
        await asyncio.sleep(0.5)
    return 0


async def pinger(url, stop):
    async with websockets.connect(url, ping_interval=None) as ws:
        say("B-port", ws.local_address[1])
        n, worst = 0, 0.0
        while not stop.is_set():
            t = time.monotonic()
            await asyncio.wait_for(await ws.ping(), 30)
            worst = max(worst, time.monotonic() - t)
            n += 1
            await asyncio.sleep(0.1)
        say("B-pings %d max-rtt-ms %.1f" % (n, worst * 1000))


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("--size", type=int, default=64 * 1024 * 1024)
    ap.add_argument("--stall-after", type=int, default=8 * 1024 * 1024)
    ap.add_argument("--stall", type=float, default=6.0)
    ap.add_argument("--linger", type=float, default=3.0,
        help="keep B pinging this long after A is done")
    a = ap.parse_args()
    stop = asyncio.Event()
    b = asyncio.ensure_future(pinger(a.url, stop))
    await asyncio.sleep(0.3)
    rc = await downloader(a.url, a.size, a.stall_after, a.stall)
    await asyncio.sleep(a.linger)
    stop.set()
    await b
    say("done")
    return rc


sys.exit(asyncio.run(main()))
