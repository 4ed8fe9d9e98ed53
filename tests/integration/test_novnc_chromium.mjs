#!/usr/bin/env node
// test_novnc_chromium.mjs -- noVNC's own page served by wsbridge (issue 16
// items 2 and 3), in headless Chromium: Debian's /usr/share/novnc behind
// `web`, on a tls=auto port, loaded over https:// (HTTP/2 by ALPN) and over
// http:// on the same port. The page's ES modules must load (they need a
// JavaScript MIME type), noVNC's UI must finish starting (it drops the
// noVNC_loading class from <html>), no request may fail, and with
// autoconnect noVNC's own WebSocket to /websockify must open on the same
// port (wsbridge's "open ... /websockify" log line).

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as T from './wsbtest.mjs';

const NOVNC = '/usr/share/novnc';

async function main() {
  if (!existsSync(join(NOVNC, 'vnc.html'))) T.fail(`${NOVNC}/vnc.html missing: contrib/install-deps.sh test installs novnc`);
  if (!existsSync(T.CHROMIUM)) throw new T.Skip(`no Chromium at ${T.CHROMIUM}`);
  const c = T.makeCerts();
  const combined = join(T.makeTmpdir(), 'combined.pem');
  writeFileSync(combined, readFileSync(c.cert, 'utf8') + readFileSync(c.key, 'utf8'));
  const b = await new T.Bridge(['-o', `web ${NOVNC}`, '--route', '*=echo'], {
    listen: [`127.0.0.1:0 tls=auto cert=${combined}`],
  }).start();

  const { chromium } = await T.need('playwright-core');
  const ctx = await T.within(chromium.launchPersistentContext(T.makeTmpdir(), {
    executablePath: T.CHROMIUM,
    headless: true,
    ignoreHTTPSErrors: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--ignore-certificate-errors', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  }), 30000, 'Chromium launch').catch((e) => { throw new T.Skip(`Chromium does not start here: ${e.message.split('\n')[0]}`); });
  try {
    for (const scheme of ['https', 'http']) {
      await T.subtest(`noVNC's vnc.html over ${scheme}:// from wsbridge, its WebSocket on the same port`, async () => {
        const page = await ctx.newPage();
        const failed = [];
        page.on('requestfailed', (r) => failed.push(`${r.url()}: ${r.failure()?.errorText}`));
        // noVNC asks for its package.json (a version string), which
        // Debian's package does not ship: 404 there, as from websockify.
        page.on('response', (r) => {
          if (r.status() >= 400 && !r.url().endsWith('/package.json')) failed.push(`${r.url()}: ${r.status()}`);
        });
        page.on('console', (m) => T.log(`   [page ${m.type()}] ${m.text()}`));
        const n = b.lines.length;
        const url = `${scheme}://127.0.0.1:${b.port}/vnc.html?autoconnect=true&path=websockify`;
        const resp = await T.within(page.goto(url), 30000, 'load vnc.html');
        T.expectEq(resp.status(), 200, 'vnc.html status');
        T.expectEq(resp.headers()['content-type'], 'text/html', 'vnc.html type');
        await T.within(page.waitForFunction(() => !document.documentElement.classList.contains('noVNC_loading'),
          null, { timeout: 30000 }), 35000, "noVNC's UI started");
        const proto = await page.evaluate(() => performance.getEntriesByType('navigation')[0].nextHopProtocol);
        T.log(`   page protocol: ${proto}`);
        T.expectEq(proto, scheme === 'https' ? 'h2' : 'http/1.1', 'HTTP version of the page');
        await T.waitLog(b, /open peer=\S+ proto=h[12] \/websockify/, n, 30000, "noVNC's WebSocket open");
        T.check(failed.length === 0, 'no failed request', [], failed);
        await page.close();
      });
    }
  } finally {
    await T.within(ctx.close(), 15000, 'Chromium close').catch(() => {});
  }
}

T.run(main, 150000);
