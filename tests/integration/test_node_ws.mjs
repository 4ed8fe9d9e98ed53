#!/usr/bin/env node
// test_node_ws.mjs -- Node's `ws` client against wsbridge: the echo route
// with text and binary messages up to 16 MiB (sha256 equality), subprotocol
// choice, fragmented sends, close code and reason; and a TCP echo backend
// (a node `net` server) behind a route.

import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import * as T from './wsbtest.mjs';

const sha = (b) => createHash('sha256').update(b).digest('hex');
const SIZES = [0, 1, 125, 126, 65535, 65536, 1 << 20, 16 << 20];

function textOfSize(n) {
  const unit = Buffer.from('héllo wörld € 𝄞 ascii ÿ ');
  let b = Buffer.alloc(n);
  for (let i = 0; i < n; i += unit.length) unit.copy(b, i, 0, Math.min(unit.length, n - i));
  // Cut back to a code point boundary, pad with ASCII.
  let end = n;
  while (end > 0 && (b[end - 1] & 0xc0) === 0x80) end--;
  if (end > 0 && b[end - 1] >= 0xc0) end--;
  b.fill(0x61, end);
  const s = b.toString('utf8');
  if (Buffer.byteLength(s) !== n) throw new Error('textOfSize bug');
  return s;
}

async function main() {
  const { WebSocket } = await T.need('ws');

  const echoSockets = new Set();
  const echoServer = net.createServer((sock) => {
    echoSockets.add(sock);
    sock.on('close', () => echoSockets.delete(sock));
    sock.on('error', () => {});
    sock.pipe(sock);
  });
  await new Promise((res) => echoServer.listen(0, '127.0.0.1', res));
  const echoPort = echoServer.address().port;

  const b = await new T.Bridge([
    '--route', '/echo=echo subprotocols=chat,superchat',
    '--route', `/tcp=127.0.0.1:${echoPort}`,
  ]).start();

  await T.subtest('echo route: text and binary, 0 B .. 16 MiB, sha256 equal', async () => {
    const ws = T.openWs(WebSocket, b.url('/echo'), ['superchat', 'chat']);
    await ws.opened;
    for (const n of SIZES) {
      const bin = randomBytes(n);
      ws.send(bin);
      const m = await ws.next(30000, `binary ${n} echo`);
      T.check(m.isBinary && sha(m.data) === sha(bin) && m.data.length === n,
        `binary ${n} B echoed intact`, `binary ${n} B ${sha(bin).slice(0, 16)}`,
        `${m.isBinary ? 'binary' : 'text'} ${m.data.length} B ${sha(m.data).slice(0, 16)}`);
      const txt = textOfSize(n);
      ws.send(txt);
      const t = await ws.next(30000, `text ${n} echo`);
      T.check(!t.isBinary && sha(t.data) === sha(Buffer.from(txt)),
        `text ${n} B echoed intact`, `text ${n} B`, `${t.isBinary ? 'binary' : 'text'} ${t.data.length} B`);
    }
    ws.close(1000);
    T.expectEq((await T.within(ws.closed, 10000, 'close')).code, 1000, 'close code');
  });

  await T.subtest('subprotocol negotiation', async () => {
    for (const [offer, want] of [[['superchat', 'chat'], 'chat'], [['superchat'], 'superchat'],
      [['chat', 'x-other'], 'chat'], [['unknown'], ''], [undefined, '']]) {
      const ws = T.openWs(WebSocket, b.url('/echo'), offer);
      try {
        await ws.opened;
      } catch (e) {
        // ws refuses a 101 without a subprotocol when it offered some: that
        // is the server choosing none, which is right for ['unknown'].
        if (want === '' && /no subprotocol/i.test(e.message)) {
          T.check(true, `no protocol chosen for offer ${JSON.stringify(offer)} (ws: ${e.message})`);
          continue;
        }
        throw e;
      }
      T.expectEq(ws.protocol, want, `protocol for offer ${JSON.stringify(offer)}`);
      ws.close(1000);
      await T.within(ws.closed, 10000, 'close');
    }
  });

  await T.subtest('fragmented sends (fin:false) arrive as one message', async () => {
    const ws = T.openWs(WebSocket, b.url('/echo'));
    await ws.opened;
    const parts = [randomBytes(1000), randomBytes(0), randomBytes(70000), randomBytes(1)];
    parts.forEach((p, i) => ws.send(p, { binary: true, fin: i === parts.length - 1 }));
    const m = await ws.next(10000, 'fragmented binary echo');
    const all = Buffer.concat(parts);
    T.check(m.isBinary && m.data.equals(all), 'binary fragments reassembled', all.length, m.data.length);
    const tparts = ['frag ', 'mentéd ', '€𝄞'];
    tparts.forEach((p, i) => ws.send(p, { binary: false, fin: i === tparts.length - 1 }));
    const t = await ws.next(10000, 'fragmented text echo');
    T.expectEq(t.isBinary ? 'binary' : t.data.toString(), tparts.join(''), 'text fragments reassembled');
    ws.close(1000);
    await T.within(ws.closed, 10000, 'close');
  });

  await T.subtest('ws defaults (offers permessage-deflate) still work', async () => {
    const ws = new WebSocket(b.url('/echo'));
    const got = T.within(new Promise((res, rej) => {
      ws.once('message', (d, isBinary) => res({ d: Buffer.from(d), isBinary }));
      ws.once('error', rej);
    }), 10000, 'echo with defaults');
    await T.within(new Promise((res, rej) => { ws.once('open', res); ws.once('error', rej); }), 10000, 'open');
    T.log(`   (extensions: ${JSON.stringify(ws.extensions)})`);
    const payload = randomBytes(300000);
    ws.send(payload);
    const m = await got;
    T.check(m.isBinary && m.d.equals(payload), '300000 B echoed with ws defaults', 300000, m.d.length);
    const closed = new Promise((res) => ws.once('close', res));
    ws.close(1000);
    await T.within(closed, 10000, 'close');
  });

  await T.subtest('ping answered with the same payload', async () => {
    const ws = T.openWs(WebSocket, b.url('/echo'));
    await ws.opened;
    const pong = T.within(new Promise((res) => ws.once('pong', res)), 5000, 'pong');
    ws.ping(Buffer.from('node-ping'));
    T.expectEq((await pong).toString(), 'node-ping', 'pong payload');
    ws.close(1000);
    await T.within(ws.closed, 10000, 'close');
  });

  await T.subtest('close code and reason echoed', async () => {
    for (const [code, reason] of [[1000, ''], [4321, 'bye'], [3000, 'é€𝄞']]) {
      const ws = T.openWs(WebSocket, b.url('/echo'));
      await ws.opened;
      ws.close(code, reason);
      const c = await T.within(ws.closed, 10000, 'close');
      T.check(c.code === code && c.reason === reason, `close ${code} echoed`,
        { code, reason }, c);
    }
  });

  await T.subtest('TCP echo backend (node net server)', async () => {
    const ws = T.openWs(WebSocket, b.url('/tcp'));
    await ws.opened;
    for (const n of [1, 126, 65536, 1 << 20, 8 << 20]) {
      const data = randomBytes(n);
      ws.send(data);
      const got = [];
      let len = 0;
      while (len < n) {
        const m = await ws.next(20000, `tcp echo of ${n} (${len} so far)`);
        T.check(m.isBinary, 'backend bytes arrive as binary', 'binary', 'text');
        got.push(m.data);
        len += m.data.length;
      }
      T.expectEq(sha(Buffer.concat(got)), sha(data), `${n} B through the backend, sha256`);
    }
    ws.send('text to backend');
    const m = await ws.next(10000, 'text echo');
    T.expectEq(m.data.toString(), 'text to backend', 'text forwarded as raw bytes');
    ws.close(1000);
    T.expectEq((await T.within(ws.closed, 10000, 'close')).code, 1000, 'close code');
  });

  await T.subtest('backend closes -> client gets 1000', async () => {
    const ws = T.openWs(WebSocket, b.url('/tcp'));
    await ws.opened;
    ws.send('x');
    await ws.next(5000, 'echo');
    // End the backend's side of every backend connection (a FIN).
    for (const s of echoSockets) s.end();
    const c = await T.within(ws.closed, 10000, 'close after backend EOF');
    T.expectEq(c.code, 1000, 'close code');
  });

  T.expectEq(await b.stop(), 0, 'exit status after SIGTERM');
  echoServer.close();
}

T.run(main);
