#!/usr/bin/env node
// test_firefox.mjs -- Debian's firefox-esr, headless, driven by
// puppeteer-core over WebDriver BiDi, against wsbridge over wss:// with a
// self-signed chain (acceptInsecureCerts) and a fresh profile each: once over
// HTTP/1.1 and once over HTTP/2 (the page comes from wsbridge over h2
// first; Firefox then sends an RFC 8441 extended CONNECT on that
// connection, as our SETTINGS_ENABLE_CONNECT_PROTOCOL allows). Firefox ESR
// 153 also opens a new connection with ALPN h2 for a wss:// URL and uses
// extended CONNECT there when no h2 connection exists yet, so the HTTP/1.1
// run turns that off (network.http.http2.websockets = false).
// Each exchanges text and a 6 MiB binary message (SHA-256 equality) and
// checks ws.protocol; wsbridge's "open ... proto=h1|h2" line says which
// protocol carried it. Firefox does not end its h2 stream after the close
// handshake while the page lives: wsbridge resets it after its linger
// (2 s) and the tunnel closes.

import { existsSync } from 'node:fs';
import http from 'node:http';
import * as T from './wsbtest.mjs';

const FIREFOX = process.env.FIREFOX || '/usr/bin/firefox-esr';

/* Open, text, 6 MiB binary, close, in the page. */
const ECHO = { protocols: ['chat', 'superchat'], protocol: 'chat',
  text: 'hello from firefox \u00e9', size: 6 * 1024 * 1024 };
const pageSocket = (page, url) => T.pageEcho(page, url, ECHO);
const checkResult = (r, what) => T.checkPageEcho(r, what, ECHO);

async function main() {
  if (!existsSync(FIREFOX)) throw new T.Skip(`no Firefox at ${FIREFOX} (apt-get install firefox-esr)`);
  const puppeteer = (await T.need('puppeteer-core')).default;
  const c = T.makeCerts();
  const b = await new T.Bridge(['--route', '/echo=echo subprotocols=chat'], {
    listen: [`127.0.0.1:0 tls cert=${c.cert} key=${c.key}`],
  }).start();
  const port = b.addrs[0][1];

  const launch = async (prefs) => {
    const browser = await T.within(puppeteer.launch({
      browser: 'firefox',
      protocol: 'webDriverBiDi',
      executablePath: FIREFOX,
      headless: true,
      acceptInsecureCerts: true,
      userDataDir: T.makeTmpdir(),
      extraPrefsFirefox: {
        // Nothing of ours goes anywhere but loopback.
        'network.connectivity-service.enabled': false,
        'network.captive-portal-service.enabled': false,
        ...prefs,
      },
    }), 60000, 'Firefox launch');
    T.log(`   browser: ${await browser.version()}`);
    return browser;
  };

  await T.subtest('Firefox over wss:// with HTTP/1.1 (RFC 8441 turned off)', async () => {
    const browser = await launch({ 'network.http.http2.websockets': false });
    try {
      const page = await browser.newPage();
      const srv = http.createServer((req, res) => {
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end('<!doctype html><title>t</title>');
      });
      await new Promise((res) => srv.listen(0, '127.0.0.1', res));
      srv.unref();
      await T.within(page.goto(`http://127.0.0.1:${srv.address().port}/`), 15000, 'page');
      const n = b.lines.length;
      const r = await T.within(pageSocket(page, `wss://127.0.0.1:${port}/echo`), 60000, 'page script');
      checkResult(r, 'h1');
      const line = await T.waitLog(b, /open peer=\S+ proto=h\d \/echo/, n, 30000, 'the open line');
      T.check(/proto=h1/.test(line), 'wsbridge logged the socket as HTTP/1.1', 'proto=h1', line);
      await T.waitLog(b, /close peer=\S+ \/echo .*code=1000\/1000/, n, 30000, 'the tunnel close line');
      srv.close();
    } finally {
      await T.within(browser.close(), 15000, 'Firefox close').catch(() => {});
    }
  });

  await T.subtest('Firefox over wss:// with HTTP/2 (RFC 8441 on the page\'s connection)', async () => {
    const browser = await launch({});
    try {
      const page = await browser.newPage();
      const n0 = b.lines.length;
      const resp = await T.within(page.goto(`https://127.0.0.1:${port}/`), 15000, 'page over h2');
      T.expectEq(resp.status(), 404, 'the page request is answered (404 with a body)');
      const conn = /(c\d+): peer=\S+ HTTP\/2 over TLS/.exec(
        await T.waitLog(b, /c\d+: peer=\S+ HTTP\/2 over TLS/, n0, 30000, 'the page\'s h2 connection'))[1];
      const n = b.lines.length;
      const r = await T.within(pageSocket(page, `wss://127.0.0.1:${port}/echo`), 60000, 'page script');
      checkResult(r, 'h2');
      const line = await T.waitLog(b, /open peer=\S+ proto=h\d \/echo/, n, 30000, 'the open line');
      T.check(/proto=h2/.test(line), 'wsbridge logged the socket as HTTP/2', 'proto=h2', line);
      T.check(!b.lines.slice(n).some((l) => / c\d+: peer=\S+ HTTP\/2 over TLS/.test(l) && !l.includes(`${conn}:`)),
        'no new connection: the socket rode the page\'s', conn, b.lines.slice(n).join('\n'));
      // The page stays open: Firefox keeps its side of the stream open,
      // so wsbridge ends it after its linger, and the tunnel closes.
      await T.waitLog(b, /close peer=\S+ \/echo .*code=1000\/1000/, n, 30000, 'the tunnel close line');
      const t0 = Date.now();
      const rst = await T.waitLog(b, new RegExp(`${conn}/s\\d+: peer=\\S+ kept its side open \\d+ ms after our END_STREAM: RST_STREAM\\(NO_ERROR\\)`),
        n, 8000, 'RST_STREAM after the linger');
      T.log(`   ${rst.trim()} (${Date.now() - t0} ms after the tunnel closed)`);
      const sid = /\/s(\d+):/.exec(rst)[1];
      await T.waitLog(b, new RegExp(`${conn}/s${sid}: stream done`), n, 30000, 'the stream done line');
      // The connection itself is still good: a second socket on it.
      const n2 = b.lines.length;
      const r2 = await T.within(pageSocket(page, `wss://127.0.0.1:${port}/echo`), 60000, 'second socket');
      checkResult(r2, 'h2, second socket');
      const line2 = await T.waitLog(b, /open peer=\S+ proto=h\d \/echo/, n2, 30000, 'the open line');
      T.check(/proto=h2/.test(line2), 'the second socket also rode HTTP/2', 'proto=h2', line2);
    } finally {
      await T.within(browser.close(), 15000, 'Firefox close').catch(() => {});
    }
  });
  T.expectEq(await b.stop(), 0, 'exit status after SIGTERM');
}

T.run(main, 180000);
