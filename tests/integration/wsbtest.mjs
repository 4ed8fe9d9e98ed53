// wsbtest.mjs -- shared helpers for the Node integration tests: start
// wsbridge on an OS-picked port (learnt from its "listening on HOST:PORT"
// stderr line), keep its log, stop it with SIGTERM and fail on sanitizer
// reports; report sub-checks; exit 0 pass, 77 skip, 1 fail.
//
// With WSB_WATCH=1 (make check's second run of each test, TEST.mjs.watched)
// a Bridge without a control socket of its own gets one, and watcher.py
// subscribes to it before the test sees the bridge (see wsbtest.py); what
// it found fails the test when the bridge stops.

import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import http from 'node:http';

export const SKIP = 77;
const HERE = dirname(fileURLToPath(import.meta.url));
const SANITIZER_MARKS = ['AddressSanitizer', 'runtime error:', 'LeakSanitizer'];

export const WATCH = process.env.WSB_WATCH === '1';
export const MODE = WATCH ? 'watched' : 'plain';
const PYTHON = '/usr/bin/python3';

const failures = [];
const bridges = [];
const tmpdirs = [];

export function log(msg) { process.stdout.write(msg + '\n'); }

export class Failure extends Error {}
export class Skip extends Error {}

function short(v) {
  let s;
  try { s = typeof v === 'string' ? JSON.stringify(v) : JSON.stringify(v) ?? String(v); }
  catch { s = String(v); }
  if (s === undefined) s = String(v);
  return s.length > 300 ? s.slice(0, 300) + `...(${s.length} chars)` : s;
}

export function fail(msg) { throw new Failure(msg); }

export function check(cond, what, expected, got) {
  if (!cond) {
    if (expected === undefined && got === undefined) fail(what);
    fail(`${what}: expected ${short(expected)}, got ${short(got)}`);
  }
  log(`   ok: ${what}`);
}

export function expectEq(got, expected, what) {
  check(got === expected, what, expected, got);
}

export async function subtest(name, fn) {
  log(`== ${name}`);
  const t0 = Date.now();
  try {
    await fn();
    log(`PASS: ${name} (${((Date.now() - t0) / 1000).toFixed(2)}s)`);
  } catch (e) {
    if (e instanceof Skip) throw e;
    const msg = e instanceof Failure ? e.message : `unexpected ${e?.stack ?? e}`;
    failures.push([name, msg]);
    log(`FAIL: ${name}: ${msg}`);
  }
}

/** Rejects with a Failure after ms unless p settles first. */
export function within(p, ms, what) {
  let timer;
  const t = new Promise((_, rej) => {
    timer = setTimeout(() => rej(new Failure(`timed out after ${ms / 1000}s: ${what}`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

export function wsbridgePath() {
  return resolve(process.env.WSBRIDGE || join(HERE, '..', '..', 'wsbridge'));
}

export function makeTmpdir() {
  const d = mkdtempSync(join(tmpdir(), 'wsbtest-'));
  tmpdirs.push(d);
  return d;
}

/** Imports an npm package from tests/node_modules, or throws Skip. */
export async function need(pkg) {
  try {
    return await import(pkg);
  } catch (e) {
    throw new Skip(`npm package '${pkg}' not installed (run 'npm ci' in tests/): ${e.code ?? e.message}`);
  }
}

/* Whether args open a control socket already (--control, -o 'control PATH', -c FILE with one). */
function ownControl(args) {
  return args.some((a, i) => a === '--control' || a.startsWith('--control=') ||
    (['-o', '--option'].includes(a) && /^\s*control\s/.test(args[i + 1] ?? '')) ||
    (['-c', '--config'].includes(a) && existsSync(args[i + 1] ?? '') &&
      /^\s*control\s/m.test(readFileSync(args[i + 1], 'utf8'))));
}

/*
 * watcher.py as a child: lines() resolves to its next stdout line (within
 * ms), ask(line) writes a line to its stdin and waits for the answer.
 */
class Watcher {
  constructor(sock, pid) {
    this.proc = spawn(PYTHON, [join(HERE, 'watcher.py'), sock, String(pid)],
      { stdio: ['pipe', 'pipe', 'inherit'] });
    this.queue = [];
    this.waiter = null;
    // Writing to a watcher that has exited is seen through next().
    this.proc.stdin.on('error', () => {});
    let pending = '';
    this.proc.stdout.on('data', (chunk) => {
      pending += chunk.toString('utf8');
      let i;
      while ((i = pending.indexOf('\n')) >= 0) {
        this.queue.push(pending.slice(0, i));
        pending = pending.slice(i + 1);
        if (this.waiter) { const w = this.waiter; this.waiter = null; w(); }
      }
    });
    this.exited = new Promise((res) => this.proc.on('close', res));
    this.exited.then(() => { if (this.waiter) this.waiter(); });
  }

  next(ms, what) {
    return within(new Promise((res) => {
      const take = () => {
        if (this.queue.length) res(this.queue.shift());
        else if (this.proc.exitCode !== null) res(`fail watcher.py exited (${this.proc.exitCode})`);
        else this.waiter = take;
      };
      take();
    }), ms, what);
  }

  async ask(line, ms, what) {
    this.proc.stdin.write(line + '\n');
    return this.next(ms, what);
  }

  async close() {
    this.proc.stdin.end();
    await within(this.exited, 15000, 'watcher.py exit').catch(() => this.proc.kill('SIGKILL'));
  }
}

const LISTEN_RE = /listening on (\[[0-9a-fA-F:.]+\]|[^\s:[\]]+):(\d+)/;

export class Bridge {
  constructor(args, { name = 'wsbridge', listen = ['127.0.0.1:0'] } = {}) {
    this.name = name;
    this.args = args;
    this.listen = listen;
    this.lines = [];
    this.stopped = false;
    this.exitCode = undefined;
    this.exitSignal = undefined;
  }

  /** Spawns and resolves once every listener printed its address. */
  async start(timeoutMs = 10000) {
    const bin = wsbridgePath();
    if (!existsSync(bin)) fail(`wsbridge binary not found: ${bin} (set WSBRIDGE)`);
    const argv = [];
    for (const l of this.listen) argv.push('--listen', l);
    argv.push(...this.args);
    let watchSock = null;
    if (WATCH && !ownControl(this.args)) {
      watchSock = join(makeTmpdir(), 'watch.sock');
      argv.push('--control', watchSock);
    }
    log(`   start: ${bin} ${argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a}'`)).join(' ')}`);
    this.proc = spawn(bin, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    bridges.push(this);
    this.exited = new Promise((res) => {
      this.proc.on('exit', (code, sig) => { this.exitCode = code; this.exitSignal = sig; res(); });
    });
    this.closedStreams = new Promise((res) => this.proc.on('close', res));
    this.addrs = [];
    let wake = () => {};
    const feed = (tag) => {
      let pending = '';
      return (chunk) => {
        pending += chunk.toString('utf8');
        let i;
        while ((i = pending.indexOf('\n')) >= 0) {
          const line = pending.slice(0, i);
          pending = pending.slice(i + 1);
          this.lines.push(tag + line);
          const m = LISTEN_RE.exec(line);
          if (m && !tag) this.addrs.push([m[1].replace(/[[\]]/g, ''), Number(m[2])]);
          wake();
        }
      };
    };
    this.proc.stderr.on('data', feed(''));
    this.proc.stdout.on('data', feed('[stdout] '));
    await within(new Promise((res, rej) => {
      wake = () => { if (this.addrs.length >= this.listen.length) res(); };
      this.exited.then(() => rej(new Failure(
        `wsbridge exited (${this.exitCode ?? this.exitSignal}) before listening; log:\n${this.lines.join('\n')}`)));
    }), timeoutMs, `'listening on' line(s); log so far:\n${this.lines.join('\n')}`);
    this.port = this.addrs[0][1];
    if (watchSock) {
      this.watcher = new Watcher(watchSock, this.proc.pid);
      const r = await this.watcher.next(35000, 'control subscriber ready');
      if (!r.startsWith('ready ')) fail(`${this.name}: ${r.replace(/^fail /, '')}`);
      log(`   watched: ${r.slice(6)}`);
    }
    return this;
  }

  url(path = '/') { return `ws://127.0.0.1:${this.port}${path}`; }

  /** SIGTERM, wait (15 s, then SIGKILL and fail), check for sanitizer reports. */
  async stop(timeoutMs = 15000) {
    if (this.stopped) return this.exitCode;
    this.stopped = true;
    const problems = [];
    if (this.watcher) {
      const r = await this.watcher.ask('check', 35000, 'control subscriber check').catch((e) => `fail ${e.message}`);
      if (r.startsWith('ok ')) log(`   watched ${this.name}: ${r.slice(3)}`);
      else problems.push(`control subscriber: ${r.replace(/^fail /, '')}`);
    }
    if (this.exitCode === undefined && this.exitSignal === undefined) {
      this.proc.kill('SIGTERM');
      try {
        await within(this.exited, timeoutMs, 'exit after SIGTERM');
      } catch {
        this.proc.kill('SIGKILL');
        await within(this.exited, 5000, 'exit after SIGKILL').catch(() => {});
        problems.push(`did not exit within ${timeoutMs / 1000}s of SIGTERM (killed)`);
      }
    }
    await within(this.closedStreams, 5000, 'log streams closed').catch(() => {});
    if (this.watcher) await this.watcher.close();
    if (this.exitSignal) problems.push(`killed by ${this.exitSignal}`);
    const text = this.lines.join('\n');
    for (const m of SANITIZER_MARKS) if (text.includes(m)) problems.push(`stderr contains '${m}'`);
    if (problems.length) fail(`${this.name} (pid ${this.proc.pid}): ${problems.join('; ')}`);
    return this.exitCode;
  }

  dumpLog(last = 300) {
    const lines = this.lines.slice(-last);
    log(`----- ${this.name} log (pid ${this.proc?.pid}, ${this.lines.length} lines) -----`);
    for (const l of lines) log(`   | ${l}`);
    log(`----- end of ${this.name} log -----`);
  }
}

/** Runs main(), stops every bridge, exits 0/1/77. */
/*
 * A Node `ws` client (pass the module's WebSocket) with a queue of received
 * messages: ws.next(ms) resolves to the next { data: Buffer, isBinary },
 * ws.opened when it is open (an HTTP answer other than 101 rejects with a
 * Failure, a connection or TLS error with that error), ws.closed to
 * { code, reason }. opts go to ws (default: no permessage-deflate, 64 MiB
 * messages).
 */
export function openWs(WebSocket, url, protocols, opts = {}) {
  const ws = new WebSocket(url, protocols,
    { perMessageDeflate: false, maxPayload: 64 << 20, ...opts });
  const queue = [];
  let waiter = null;
  ws.on('message', (data, isBinary) => {
    queue.push({ data: Buffer.isBuffer(data) ? data : Buffer.concat(data), isBinary });
    if (waiter) { const w = waiter; waiter = null; w(); }
  });
  ws.closed = new Promise((res) => ws.on('close', (code, reason) => res({ code, reason: reason.toString() })));
  ws.on('error', (e) => log(`   (ws error event: ${e.message})`));
  ws.next = (ms = 30000, what = 'message') => within(new Promise((res) => {
    const take = () => (queue.length ? res(queue.shift()) : (waiter = take));
    take();
  }), ms, what);
  ws.opened = within(new Promise((res, rej) => {
    ws.once('open', res);
    ws.once('unexpected-response', (req, resp) => rej(new Failure(`HTTP ${resp.statusCode} instead of 101`)));
    ws.once('error', rej);
  }), 10000, `open ${url}`);
  return ws;
}

/*
 * In a browser page (Playwright or Puppeteer): open a WebSocket to url
 * offering protocols, echo text and a size-byte random binary message,
 * close with 1000. Returns what a test checks with checkPageEcho().
 */
export async function pageEcho(page, url, { protocols, text, size }) {
  return page.evaluate(async ({ url, protocols, text, size }) => {
    const hex = (buf) => [...new Uint8Array(buf)].map((x) => x.toString(16).padStart(2, '0')).join('');
    const out = {};
    const ws = new WebSocket(url, protocols);
    ws.binaryType = 'arraybuffer';
    const queue = [];
    let waiter = null;
    ws.onmessage = (ev) => { queue.push(ev.data); if (waiter) { const w = waiter; waiter = null; w(); } };
    const next = () => new Promise((res) => { const take = () => (queue.length ? res(queue.shift()) : (waiter = take)); take(); });
    const closed = new Promise((res) => { ws.onclose = (ev) => res({ code: ev.code, wasClean: ev.wasClean }); });
    await new Promise((res, rej) => { ws.onopen = res; ws.onerror = () => rej(new Error('WebSocket error before open')); });
    out.protocol = ws.protocol;
    ws.send(text);
    out.text = await next();
    const data = new Uint8Array(size);
    for (let i = 0; i < data.length; i += 65536) crypto.getRandomValues(data.subarray(i, i + 65536));
    out.sent = hex(await crypto.subtle.digest('SHA-256', data));
    ws.send(data);
    const back = await next();
    out.gotLen = back.byteLength;
    out.got = hex(await crypto.subtle.digest('SHA-256', back));
    ws.close(1000, 'done');
    out.close = await closed;
    return out;
  }, { url, protocols, text, size });
}

/* Checks what pageEcho() returned: protocol, both echoes, a clean close. */
export function checkPageEcho(r, what, { protocol, text, size }) {
  log(`   page result: ${JSON.stringify(r)}`);
  expectEq(r.protocol, protocol, `${what}: ws.protocol`);
  expectEq(r.text, text, `${what}: text echo`);
  expectEq(r.gotLen, size, `${what}: length of the binary echo`);
  expectEq(r.got, r.sent, `${what}: SHA-256 of the ${size}-byte echo`);
  expectEq(r.close.code, 1000, `${what}: close code`);
  expectEq(r.close.wasClean, true, `${what}: clean close`);
}

export async function run(main, overallMs = 55000) {
  let skipped = null;
  log(`mode: ${MODE}`);
  try {
    await within(main(), overallMs, 'whole test');
  } catch (e) {
    if (e instanceof Skip) skipped = e.message;
    else {
      failures.push(['main', e instanceof Failure ? e.message : String(e?.stack ?? e)]);
      log(`FAIL: ${e instanceof Failure ? e.message : e?.stack ?? e}`);
    }
  }
  for (const b of bridges) {
    try { await b.stop(); } catch (e) {
      if (!skipped) { failures.push([`stop ${b.name}`, e.message]); log(`FAIL: stop: ${e.message}`); }
    }
  }
  for (const d of tmpdirs) rmSync(d, { recursive: true, force: true });
  if (skipped) { log(`SKIP: ${skipped}`); process.exit(SKIP); }
  if (failures.length) {
    log(`\n${failures.length} check(s) failed (mode ${MODE}):`);
    for (const [n, m] of failures) log(`  - ${n}: ${m}`);
    for (const b of bridges) b.dumpLog();
    process.exit(1);
  }
  log(`all checks passed (mode ${MODE})`);
  process.exit(0);
}

export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

/**
 * Launches headless Debian Chromium (playwright-core, a fresh profile, the
 * flags this closed machine needs) and opens a page served by a tiny HTTP
 * server on 127.0.0.1: Chromium's Local Network Access checks block a
 * WebSocket from about:blank to loopback, while a loopback page may reach a
 * loopback service. Returns { context, page }; the caller closes context.
 * Throws Skip when Chromium is missing or does not start.
 */
export async function chromiumPage(title, extraArgs = []) {
  if (!existsSync(CHROMIUM)) throw new Skip(`no Chromium at ${CHROMIUM}`);
  const { chromium } = await need('playwright-core');
  let context;
  try {
    context = await within(chromium.launchPersistentContext(makeTmpdir(), {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync',
        ...extraArgs],
    }), 30000, 'Chromium launch');
  } catch (e) {
    throw new Skip(`Chromium does not start here: ${e.message.split('\n')[0]}`);
  }
  const page = await context.newPage();
  page.on('console', (m) => log(`   [page ${m.type()}] ${m.text()}`));
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(`<!doctype html><title>${title}</title><p>${title}</p>`);
  });
  await new Promise((res) => server.listen(0, '127.0.0.1', res));
  server.unref();
  await within(page.goto(`http://127.0.0.1:${server.address().port}/`), 15000, 'load test page');
  return { context, page };
}

/** Test certificates (a CA, a server cert for 127.0.0.1/localhost, ...) made by certs.py in a fresh dir. */
export function makeCerts() {
  return JSON.parse(execFileSync('/usr/bin/python3', [join(HERE, 'certs.py'), makeTmpdir()]).toString());
}

/** Waits up to ms for a line of b's log, from index start, matching re; returns it. */
export async function waitLog(b, re, start, ms, what) {
  const end = Date.now() + ms;
  for (;;) {
    const got = b.lines.slice(start).find((l) => re.test(l));
    if (got !== undefined) return got;
    if (Date.now() > end) fail(`no log line for ${what} (${re}) within ${ms / 1000}s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
