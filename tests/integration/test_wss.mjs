#!/usr/bin/env node
// test_wss.mjs -- wss:// with real peers: Node's `ws` client over TLS
// (trusting our test CA), a client with a bad certificate refused by a
// listener that verifies client certificates (mTLS), and headless Chromium
// with a self-signed chain (--ignore-certificate-errors) once over HTTP/1.1
// and once over HTTP/2. Chromium uses RFC 8441 only on an HTTP/2 connection
// already open to the origin: the page is loaded from wsbridge itself over
// h2 (a 404 with a body), then the WebSocket rides on that connection.
// wsbridge's own "open ... proto=h1|h2" log line says which one it was.

import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import * as T from './wsbtest.mjs';

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const sha = (b) => createHash('sha256').update(b).digest('hex');

/* Open, text, 4 MiB binary, close, in the page. */
const ECHO = { protocols: ['chat'], protocol: 'chat', text: 'hello over wss',
  size: 4 * 1024 * 1024 };

async function main() {
  const { WebSocket } = await T.need('ws');
  const c = T.makeCerts();
  const b = await new T.Bridge(['--route', '/echo=echo subprotocols=chat'], {
    listen: [`127.0.0.1:0 tls cert=${c.cert} key=${c.key}`,
      `127.0.0.1:0 tls cert=${c.cert} key=${c.key} ca=${c.ca}`],
  }).start();
  const port = b.addrs[0][1];
  const mport = b.addrs[1][1];
  const ca = readFileSync(c.ca);

  await T.subtest('Node ws over wss:// (our CA trusted): text, 8 MiB binary, close', async () => {
    const ws = T.openWs(WebSocket, `wss://127.0.0.1:${port}/echo`, undefined, { ca });
    await T.within(ws.opened, 10000, 'open');
    T.expectEq(ws.protocol, '', 'no subprotocol offered, none chosen');
    ws.send('héllo');
    const m = await ws.next();
    T.expectEq(m.isBinary ? 'binary' : m.data.toString(), 'héllo', 'text echo');
    const big = randomBytes(8 << 20);
    ws.send(big);
    const r = await ws.next();
    T.expectEq(sha(r.data), sha(big), 'SHA-256 of the 8 MiB echo');
    ws.close(1000);
    T.expectEq((await T.within(ws.closed, 10000, 'close')).code, 1000, 'close code');
  });

  await T.subtest('mTLS: ws with a certificate from our CA is accepted', async () => {
    const ws = T.openWs(WebSocket, `wss://127.0.0.1:${mport}/echo`, undefined, {
      ca, cert: readFileSync(c.client_cert), key: readFileSync(c.client_key) });
    await T.within(ws.opened, 10000, 'open with a good client certificate');
    ws.close(1000);
    await T.within(ws.closed, 10000, 'close');
  });

  await T.subtest('mTLS: ws with a certificate from another CA is refused', async () => {
    const n = b.lines.length;
    const ws = T.openWs(WebSocket, `wss://127.0.0.1:${mport}/echo`, undefined, {
      ca, cert: readFileSync(c.rogue_cert), key: readFileSync(c.rogue_key) });
    let err = null;
    try { await T.within(ws.opened, 10000, 'refusal'); } catch (e) { err = e; }
    T.check(err !== null && !(err instanceof T.Failure), 'the connection fails', 'a TLS error', err?.message);
    T.log(`   client saw: ${err?.message}`);
    await T.waitLog(b, /TLS handshake failed/, n, 30000, 'the refused handshake');
  });

  if (!existsSync(CHROMIUM)) {
    T.log(`   (no Chromium at ${CHROMIUM}: browser checks skipped)`);
    T.expectEq(await b.stop(), 0, 'exit status after SIGTERM');
    return;
  }
  const { chromium } = await T.need('playwright-core');
  const launch = async () => T.within(chromium.launchPersistentContext(T.makeTmpdir(), {
    executablePath: CHROMIUM,
    headless: true,
    ignoreHTTPSErrors: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--ignore-certificate-errors', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  }), 30000, 'Chromium launch');

  const check = (r, what) => T.checkPageEcho(r, what, ECHO);

  await T.subtest('Chromium over wss:// with HTTP/1.1 (page from elsewhere)', async () => {
    const ctx = await launch();
    try {
      const page = await ctx.newPage();
      const srv = http.createServer((req, res) => {
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end('<!doctype html><title>t</title>');
      });
      await new Promise((res) => srv.listen(0, '127.0.0.1', res));
      srv.unref();
      await T.within(page.goto(`http://127.0.0.1:${srv.address().port}/`), 15000, 'page');
      const n = b.lines.length;
      const r = await T.within(T.pageEcho(page, `wss://127.0.0.1:${port}/echo`, ECHO), 45000, 'page script');
      check(r, 'h1');
      const line = await T.waitLog(b, /open peer=\S+ proto=h\d \/echo/, n, 30000, 'the open line');
      T.check(/proto=h1/.test(line), 'wsbridge logged the socket as HTTP/1.1', 'proto=h1', line);
    } finally {
      await T.within(ctx.close(), 15000, 'Chromium close').catch(() => {});
    }
  });

  await T.subtest('Chromium over wss:// with HTTP/2 (RFC 8441 on the page\'s connection)', async () => {
    const ctx = await launch();
    try {
      const page = await ctx.newPage();
      const resp = await T.within(page.goto(`https://127.0.0.1:${port}/`), 15000, 'page over h2');
      T.expectEq(resp.status(), 404, 'the page request is answered (404 with a body)');
      const n = b.lines.length;
      const r = await T.within(T.pageEcho(page, `wss://127.0.0.1:${port}/echo`, ECHO), 45000, 'page script');
      check(r, 'h2');
      const line = await T.waitLog(b, /open peer=\S+ proto=h\d \/echo/, n, 30000, 'the open line');
      T.check(/proto=h2/.test(line), 'wsbridge logged the socket as HTTP/2', 'proto=h2', line);
    } finally {
      await T.within(ctx.close(), 15000, 'Chromium close').catch(() => {});
    }
  });

  T.expectEq(await b.stop(), 0, 'exit status after SIGTERM');
}

T.run(main, 150000);
