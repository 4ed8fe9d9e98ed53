#!/usr/bin/env node
// test_deflate_chromium.mjs -- headless Chromium (which always offers
// "permessage-deflate; client_max_window_bits") against routes with
// deflate=on: the agreed extension as the page sees it, 16 MiB of
// compressible text and 16 MiB of random bytes over the echo route, and
// 16 MiB of compressible bytes through a TCP backend, SHA-256 on both sides
// (crypto.subtle); the ratio is read from the close log line. Launch recipe
// as in test_chromium.mjs (a loopback page, for Local Network Access).

import net from 'node:net';
import * as T from './wsbtest.mjs';

/** The close line of the (only) connection on route after line from. */
function closeLine(b, from, route) {
  for (const l of b.lines.slice(from)) {
    const m = / close .* route=(\S+) .* wire-in=(\d+) wire-out=(\d+) ratio-in=([\d.]+) ratio-out=([\d.]+)/.exec(l);
    if (m && m[1] === route) return m.slice(2).map(Number);
  }
  return null;
}

async function waitClose(b, from, route) {
  for (let i = 0; i < 100; i++) {
    const r = closeLine(b, from, route);
    if (r) return r;
    await new Promise((res) => setTimeout(res, 50));
  }
  T.fail('no close line with deflate counters');
}

// Runs in the page: one WebSocket, a list of messages to send, the bytes
// expected back (total), their digests.
async function pageExchange({ url, tcp }) {
  const hex = (buf) => [...new Uint8Array(buf)].map((x) => x.toString(16).padStart(2, '0')).join('');
  const digest = async (b) => hex(await crypto.subtle.digest('SHA-256', b));
  const out = {};
  const ws = new WebSocket(url);
  ws.binaryType = 'arraybuffer';
  const queue = [];
  let waiter = null;
  ws.onmessage = (ev) => { queue.push(ev.data); if (waiter) { const w = waiter; waiter = null; w(); } };
  const next = () => new Promise((res) => {
    const take = () => (queue.length ? res(queue.shift()) : (waiter = take));
    take();
  });
  const closed = new Promise((res) => { ws.onclose = (ev) => res({ code: ev.code, wasClean: ev.wasClean }); });
  await new Promise((res, rej) => { ws.onopen = res; ws.onerror = () => rej(new Error('WebSocket error before open')); });
  out.extensions = ws.extensions;

  // JSON-like lines, compressible several times over.
  const events = ['login', 'logout', 'click', 'view', 'purchase'];
  let x = 7;
  const rnd = () => { x = (x * 1103515245 + 12345) >>> 0; return x >>> 8; };
  const lines = [];
  let size = 0;
  const n = 16 * 1024 * 1024;
  while (size < n) {
    const line = JSON.stringify({ id: rnd() % 1000000, user: `user${rnd() % 500}`,
      event: events[rnd() % 5], price: (rnd() % 10000) / 100 }) + '\n';
    lines.push(line);
    size += line.length;
  }
  const text = lines.join('').slice(0, n);
  const textBytes = new TextEncoder().encode(text);
  out.textLength = textBytes.length;

  if (!tcp) {
    out.textDigest = await digest(textBytes);
    ws.send(text);
    const t = await next();
    out.textType = typeof t;
    out.gotTextDigest = typeof t === 'string' ? await digest(new TextEncoder().encode(t)) : null;

    const data = new Uint8Array(n);
    for (let i = 0; i < n; i += 65536) crypto.getRandomValues(data.subarray(i, i + 65536));
    out.binDigest = await digest(data);
    ws.send(data);
    const got = await next();
    out.gotBinLength = got.byteLength;
    out.gotBinDigest = await digest(got);
  } else {
    out.textDigest = await digest(textBytes);
    ws.send(textBytes);
    const all = new Uint8Array(textBytes.length);
    let off = 0;
    while (off < all.length) {
      const m = new Uint8Array(await next());
      all.set(m, off);
      off += m.length;
    }
    out.gotTextDigest = await digest(all);
    out.textType = 'bytes';
  }
  ws.close(1000, 'done');
  out.close = await closed;
  return out;
}

async function main() {
  const echoServer = net.createServer((sock) => { sock.on('error', () => {}); sock.pipe(sock); });
  await new Promise((res) => echoServer.listen(0, '127.0.0.1', res));
  echoServer.unref();

  const b = await new T.Bridge(['--route', '/echo=echo deflate=on',
    '--route', `/tcp=127.0.0.1:${echoServer.address().port} deflate=on`]).start();

  const { context, page } = await T.chromiumPage('wsbridge deflate test');
  try {
    await T.subtest('Chromium: permessage-deflate on the echo route, 16 MiB text and random', async () => {
      const from = b.lines.length;
      const r = await T.within(page.evaluate(pageExchange, { url: b.url('/echo'), tcp: false }), 90000,
        'page script');
      T.log(`   page result: ${JSON.stringify(r)}`);
      T.expectEq(r.extensions, 'permessage-deflate; client_max_window_bits=12', 'ws.extensions');
      T.expectEq(r.textType, 'string', 'text echoed as text');
      T.expectEq(r.gotTextDigest, r.textDigest, 'SHA-256 of the 16 MiB text echo');
      T.expectEq(r.gotBinLength, 16 * 1024 * 1024, '16 MiB random reply length');
      T.expectEq(r.gotBinDigest, r.binDigest, 'SHA-256 of the 16 MiB random echo');
      T.expectEq(r.close.code, 1000, 'close code');
      const [, , rin, rout] = await waitClose(b, from, '/echo');
      T.check(rin > 1.5 && rout > 1.5, 'compressed both ways (ratio over 1.5 with the random half)',
        '> 1.5', [rin, rout]);
    });

    await T.subtest('Chromium: 16 MiB compressible through a TCP backend', async () => {
      const from = b.lines.length;
      const r = await T.within(page.evaluate(pageExchange, { url: b.url('/tcp'), tcp: true }), 90000,
        'page script');
      T.log(`   page result: ${JSON.stringify(r)}`);
      T.expectEq(r.gotTextDigest, r.textDigest, 'SHA-256 of 16 MiB back through the backend');
      T.expectEq(r.close.code, 1000, 'close code');
      const [, , rin, rout] = await waitClose(b, from, '/tcp');
      T.check(rin > 3 && rout > 3, 'compressed over 3x both ways', '> 3', [rin, rout]);
    });
  } finally {
    await T.within(context.close(), 15000, 'Chromium close').catch((e) => T.log(`   (${e.message})`));
  }
  T.expectEq(await b.stop(), 0, 'exit status after SIGTERM');
}

T.run(main, 170000);
