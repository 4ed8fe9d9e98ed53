#!/usr/bin/env node
// test_deflate_node.mjs -- Node's `ws` with perMessageDeflate against
// wsbridge: every combination of the options ws offers (context takeover
// both ways, serverMaxWindowBits 8..15, clientMaxWindowBits) over the echo
// route, then compressible and incompressible messages up to 16 MiB (sha256
// equality) over the echo route and a TCP backend, with the ratio read from
// the close log line.

import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import * as T from './wsbtest.mjs';

const sha = (b) => createHash('sha256').update(b).digest('hex');

/** JSON-like lines, about n bytes (compressible several times over). */
function jsonText(n, seed = 1) {
  let x = seed;
  const rnd = () => { x = (x * 1103515245 + 12345) >>> 0; return x >>> 8; };
  const events = ['login', 'logout', 'click', 'view', 'purchase'];
  const parts = [];
  let size = 0;
  while (size < n) {
    const line = JSON.stringify({ id: rnd() % 1000000, user: `user${rnd() % 500}`,
      event: events[rnd() % 5], price: (rnd() % 10000) / 100, tags: ['é€', 'x'] }) + '\n';
    parts.push(line);
    size += Buffer.byteLength(line);
  }
  return parts.join('');
}

async function roundtrip(ws, msg, what) {
  const isBinary = Buffer.isBuffer(msg);
  const want = isBinary ? msg : Buffer.from(msg);
  ws.send(msg);
  const m = await ws.next(60000, `echo of ${what}`);
  T.check(m.isBinary === isBinary && sha(m.data) === sha(want), `${what} echoed intact`,
    `${isBinary ? 'binary' : 'text'} ${want.length} B`, `${m.isBinary ? 'binary' : 'text'} ${m.data.length} B`);
}

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

async function main() {
  const { WebSocket } = await T.need('ws');

  const echoServer = net.createServer((sock) => { sock.on('error', () => {}); sock.pipe(sock); });
  await new Promise((res) => echoServer.listen(0, '127.0.0.1', res));
  echoServer.unref();

  const b = await new T.Bridge([
    '--route', '/echo=echo deflate=on',
    '--route', '/big=echo deflate=on',
    '--route', `/tcp=127.0.0.1:${echoServer.address().port} deflate=on`,
    '--route', '/w12=echo deflate=on deflate-window-bits=12 deflate-mem-level=4',
  ]).start();

  await T.subtest('ws perMessageDeflate: every option combination, echo route', async () => {
    const text = jsonText(200000, 3);
    const bin = randomBytes(50000);
    let n = 0;
    for (const path of ['/echo', '/w12']) {
      for (const serverNoContextTakeover of [false, true]) {
        for (const clientNoContextTakeover of [false, true]) {
          for (const serverMaxWindowBits of [undefined, 8, 9, 11, 15]) {
            for (const clientMaxWindowBits of [undefined, 9, 15]) {
              const pmd = { serverNoContextTakeover, clientNoContextTakeover, threshold: 0 };
              if (serverMaxWindowBits) pmd.serverMaxWindowBits = serverMaxWindowBits;
              if (clientMaxWindowBits) pmd.clientMaxWindowBits = clientMaxWindowBits;
              const what = `${path} ${JSON.stringify(pmd)}`;
              const ws = T.openWs(WebSocket, b.url(path), undefined, { perMessageDeflate: pmd });
              await ws.opened;
              T.check(typeof ws.extensions === 'string' && ws.extensions.startsWith('permessage-deflate'),
                `${what}: agreed ${ws.extensions}`);
              for (let i = 0; i < 2; i++) {
                await roundtrip(ws, text, `${what} 200 kB JSON`);
                await roundtrip(ws, bin, `${what} 50 kB random`);
                await roundtrip(ws, 'tiny', `${what} 4 B text`);
              }
              ws.close(1000);
              T.expectEq((await T.within(ws.closed, 10000, 'close')).code, 1000, 'close 1000');
              n++;
            }
          }
        }
      }
    }
    T.expectEq(n, 120, 'combinations run');
  });

  await T.subtest('16 MiB compressible and incompressible, echo route', async () => {
    const from = b.lines.length;
    const ws = T.openWs(WebSocket, b.url('/big'), undefined, { perMessageDeflate: { threshold: 0 } });
    await ws.opened;
    await roundtrip(ws, jsonText(16 << 20, 5), '16 MiB JSON text');
    await roundtrip(ws, randomBytes(16 << 20), '16 MiB random binary');
    ws.close(1000);
    await T.within(ws.closed, 10000, 'close');
    const [, , rin, rout] = await waitClose(b, from, '/big');
    T.check(rin > 1.5 && rout > 1.5, 'ratio above 1.5 both ways', '> 1.5', [rin, rout]);
  });

  await T.subtest('16 MiB compressible through a TCP backend', async () => {
    const from = b.lines.length;
    const ws = T.openWs(WebSocket, b.url('/tcp'), undefined, { perMessageDeflate: { threshold: 0 } });
    await ws.opened;
    const msg = Buffer.from(jsonText(16 << 20, 7));
    ws.send(msg);
    const parts = [];
    let got = 0;
    while (got < msg.length) {
      const m = await ws.next(60000, 'backend bytes');
      parts.push(m.data);
      got += m.data.length;
    }
    T.expectEq(sha(Buffer.concat(parts)), sha(msg), '16 MiB back through the backend, sha256');
    ws.close(1000);
    await T.within(ws.closed, 10000, 'close');
    const [, , rin, rout] = await waitClose(b, from, '/tcp');
    T.check(rin > 3 && rout > 3, 'JSON compressed over 3x both ways', '> 3', [rin, rout]);
  });

  T.expectEq(await b.stop(), 0, 'exit status after SIGTERM');
}

T.run(main, 170000);
