#!/usr/bin/env node
// test_chromium.mjs -- a real browser: headless Debian Chromium driven by
// playwright-core opens a WebSocket to wsbridge's echo route, checks the
// negotiated subprotocol, echoes a text message and a 16 MiB binary message
// (SHA-256 via crypto.subtle on both sides of the round trip), and closes
// with 1000.
//
// The page comes from a tiny HTTP server on 127.0.0.1 rather than about:blank:
// Chromium's Local Network Access checks block a WebSocket from about:blank
// (unknown address space) to loopback (net::ERR_BLOCKED_BY_LOCAL_NETWORK_
// ACCESS_CHECKS), while a loopback page may reach a loopback service -- the
// way a locally served app would use wsbridge.

import * as T from './wsbtest.mjs';

async function main() {
  const b = await new T.Bridge(['--route', '/echo=echo subprotocols=chat,superchat']).start();

  const { context, page } = await T.chromiumPage('wsbridge test');
  try {
    await T.subtest('Chromium WebSocket: subprotocol, text, 16 MiB binary, close 1000', async () => {
      const r = await T.within(page.evaluate(async ({ url }) => {
        const hex = (buf) => [...new Uint8Array(buf)].map((x) => x.toString(16).padStart(2, '0')).join('');
        const out = {};
        const ws = new WebSocket(url, ['superchat', 'chat']);
        ws.binaryType = 'arraybuffer';
        const queue = [];
        let waiter = null;
        ws.onmessage = (ev) => { queue.push(ev.data); if (waiter) { const w = waiter; waiter = null; w(); } };
        const next = () => new Promise((res) => {
          const take = () => (queue.length ? res(queue.shift()) : (waiter = take));
          take();
        });
        const closed = new Promise((res) => { ws.onclose = (ev) => res({ code: ev.code, reason: ev.reason, wasClean: ev.wasClean }); });
        await new Promise((res, rej) => { ws.onopen = res; ws.onerror = () => rej(new Error('WebSocket error before open')); });
        out.protocol = ws.protocol;

        const text = 'hello from Chromium — é € 𝄞';
        ws.send(text);
        const t = await next();
        out.textType = typeof t;
        out.textOk = t === text;

        const n = 16 * 1024 * 1024;
        const data = new Uint8Array(n);
        for (let i = 0; i < n; i += 65536) crypto.getRandomValues(data.subarray(i, i + 65536));
        out.sentDigest = hex(await crypto.subtle.digest('SHA-256', data));
        ws.send(data);
        const got = await next();
        out.gotType = got instanceof ArrayBuffer ? 'arraybuffer' : typeof got;
        out.gotLength = got.byteLength;
        out.gotDigest = hex(await crypto.subtle.digest('SHA-256', got));

        ws.close(1000, 'done');
        out.close = await closed;
        return out;
      }, { url: b.url('/echo') }), 45000, 'page script');
      T.log(`   page result: ${JSON.stringify(r)}`);
      T.expectEq(r.protocol, 'chat', 'ws.protocol');
      T.check(r.textType === 'string' && r.textOk, 'text message echoed as text', 'same string', r);
      T.expectEq(r.gotType, 'arraybuffer', '16 MiB reply type');
      T.expectEq(r.gotLength, 16 * 1024 * 1024, '16 MiB reply length');
      T.expectEq(r.gotDigest, r.sentDigest, 'SHA-256 of the 16 MiB echo');
      T.expectEq(r.close.code, 1000, 'close event code');
      T.expectEq(r.close.wasClean, true, 'close event wasClean');
      T.expectEq(r.close.reason, 'done', 'close event reason');
    });
  } finally {
    await T.within(context.close(), 15000, 'Chromium close').catch((e) => T.log(`   (${e.message})`));
  }
  T.expectEq(await b.stop(), 0, 'exit status after SIGTERM');
}

T.run(main);
