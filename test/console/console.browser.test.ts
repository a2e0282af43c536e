// The web console in a real browser (Debian's chromium via puppeteer-core) against a real `start`:
// relay, receiver, stock worker, console, its private Redis and SQLite files, an SMTP sink upstream.
// CONSOLE_SCREENSHOTS=<dir> also saves a PNG of every page in English and Japanese (docs/console/).
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { writeFileSync, readFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'node:http';
import { stringify } from 'yaml';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import type { Browser, Page } from 'puppeteer-core';
import { tempDir, SHOP, FIXTURES } from '../helpers/env.js';
import { run, runAsync } from '../helpers/cli.js';
import { until } from '../helpers/net.js';
import { post, form, auth, items } from '../helpers/http.js';
import { startSink, sendMail, type Sink } from '../helpers/smtp.js';
import { launchBrowser } from '../helpers/browser.js';

const ORDER = '20261126-0002';
const PASSWORD = 'console-pass-1';
const SHOTS = process.env.CONSOLE_SCREENSHOTS;

let t: ReturnType<typeof tempDir>;
let sink: Sink;
let proc: ReturnType<typeof runAsync>;
let browser: Browser;
let pg: Page;
let base: string;
let consolePort: number;
let receiverPort: number;
let config: string;
let stderr = '';

const logLine = (msg: string) => JSON.parse(stderr.split('\n').find((l) => l.includes(`"msg":"${msg}"`))!);

/** A raw HTTP request (no redirects followed), for the status codes the browser would hide. */
function raw(method: string, path: string, headers: Record<string, string> = {}, body?: string) {
  return new Promise<{ status: number; location?: string; text: string }>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: consolePort, method, path, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, location: res.headers.location, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function go(path: string) {
  const res = await pg.goto(base + path, { waitUntil: 'load' });
  return res!;
}
const text = () => pg.$eval('main', (m) => (m as HTMLElement).innerText);
async function shot(name: string) {
  if (!SHOTS) return;
  mkdirSync(SHOTS, { recursive: true });
  // The whole page up to 1,400 px: enough to show a page's parts, small enough for the README.
  const height = Math.min(1400, await pg.evaluate(() => document.documentElement.scrollHeight));
  await pg.screenshot({
    path: join(SHOTS, `${name}.png`) as `${string}.png`,
    type: 'png',
    clip: { x: 0, y: 0, width: 1200, height },
    captureBeyondViewport: true,
  });
}

beforeAll(async () => {
  t = tempDir();
  sink = await startSink();
  const hash = run(['config', 'hash-password', PASSWORD]).stdout.trim();
  config = join(t.dir, 'zb.yaml');
  writeFileSync(
    config,
    stringify({
      dataDir: './data',
      instance: 'console-test',
      relay: { port: 0 },
      receiver: { port: 0, waitMs: 500 },
      upstream: { port: sink.port },
      spool: { keepDays: 1 },
      console: { port: 0, users: [{ name: 'tanaka', password: hash }] },
      shops: [SHOP],
    }),
  );
  proc = runAsync(['start', '--config', config]);
  proc.stderr!.on('data', (d) => (stderr += d));
  await until(() => stderr.includes('zaiko-bridge started') && stderr.includes('stock worker running'), 30_000, 'start');
  consolePort = logLine('console listening').port;
  receiverPort = logLine('receiver listening').port;
  base = `http://127.0.0.1:${consolePort}`;
  // Two copies of one order: the first is forwarded, the second suppressed by forward-once.
  const smtpPort = logLine('relay listening').port;
  const eml = readFileSync(join(FIXTURES, 'mail', 'order-utf8-multipart.eml'));
  for (let i = 0; i < 2; i++) await sendMail({ port: smtpPort, from: SHOP.senders[0], to: ['sato@example.org'], raw: eml });
  await until(
    () => sink.messages.filter((m) => m.to.includes(SHOP.forwardTo)).length === 1 && sink.messages.length === 3,
    20_000,
    'deliveries',
  );
  browser = await launchBrowser();
  pg = await browser.newPage();
}, 90_000);

afterAll(async () => {
  await browser?.close();
  if (proc && proc.exitCode === null) {
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGTERM');
    await exited;
  }
  await sink?.close();
  t?.cleanup();
});

describe('web console', () => {
  it('answers 303 to /login for every page without a session, and refuses a POST without the CSRF token', async () => {
    for (const path of [
      '/',
      '/mail',
      '/mail/QX',
      '/mail/check',
      '/uploads',
      '/uploads/1',
      '/stock',
      '/stock/croft-zakka/A',
      '/queues',
      '/queues/stock',
    ]) {
      const r = await raw('GET', path);
      expect([path, r.status, r.location]).toEqual([path, 303, '/login']);
    }
    expect((await raw('GET', '/login')).status).toBe(200);
    expect((await raw('POST', '/mail/flush', { 'content-type': 'application/x-www-form-urlencoded' }, 'x=1')).status).toBe(303);
    // A login form without its token is refused too.
    expect(
      (await raw('POST', '/login', { 'content-type': 'application/x-www-form-urlencoded' }, `name=tanaka&password=${PASSWORD}`)).status,
    ).toBe(403);
  });

  it('logs in, imports the catalog, finds the order sent and its suppressed copy, resends the forward after a confirmation', async () => {
    await go('/login?lang=en');
    await shot('login-en');
    await pg.type('input[name=name]', 'tanaka');
    await pg.type('input[name=password]', 'wrong');
    await Promise.all([pg.waitForNavigation(), pg.click('button[type=submit]')]);
    expect(await text()).toContain('Wrong name or password');
    await pg.type('input[name=name]', 'tanaka');
    await pg.type('input[name=password]', PASSWORD);
    await Promise.all([pg.waitForNavigation(), pg.click('main button[type=submit]')]);
    expect(new URL(pg.url()).pathname).toBe('/');
    const cookie = (await browser.cookies()).find((c) => c.name === 'zb_session')!;
    expect(cookie.httpOnly).toBe(true);
    expect(cookie.sameSite).toBe('Strict');
    // With a session, a POST without the page's CSRF token is refused.
    const refused = await raw(
      'POST',
      '/mail/flush',
      { cookie: `zb_session=${cookie.value}`, 'content-type': 'application/x-www-form-urlencoded' },
      'x=1',
    );
    expect(refused.status).toBe(403);

    // Catalog CSV through the import form (a real file upload).
    const csv = join(t.dir, 'catalog.csv');
    writeFileSync(
      csv,
      'product_code,name,stock,unlimited,uses_stock_management_code\nTNG-AI-01,藍の手ぬぐい,10,0,0\nMZR-SET-5,豆皿セット,4,0,0\nUNL-1,定番ふきん,,1,0\n',
    );
    await go('/stock/import');
    const input = await pg.$('input[type=file]');
    await (input as any).uploadFile(csv);
    await Promise.all([pg.waitForNavigation(), pg.click('main form button[type=submit]')]);
    expect(await text()).toContain('3 products imported into shop croft-zakka');

    // zaiko Robot uploads: one unknown code, one unlimited product.
    const up = await post(
      receiverPort,
      '/api/zaikorobot.php',
      form([
        ...auth,
        ...items([
          ['TNG-AI-01', '12'],
          ['NOPE-404', '3'],
          ['UNL-1', '5'],
        ]),
      ]),
    );
    expect(up.text).toBe('NG\nno_product(product_code=NOPE-404)\n');

    await go(`/mail?order=${ORDER}`);
    const rows = await pg.$$eval('main table tr', (trs) => trs.slice(1).map((tr) => (tr as HTMLElement).innerText));
    expect(rows).toHaveLength(2);
    expect(rows.some((r) => /\tsent\tsent$/.test(r))).toBe(true);
    expect(rows.some((r) => /\tsuppressed\tsent$/.test(r))).toBe(true);
    await shot('mail-en');
    const suppressedHref = await pg.$$eval('main table tr', (trs) =>
      trs
        .find((tr) => (tr as HTMLElement).innerText.includes('suppressed'))!
        .querySelector('a')!
        .getAttribute('href'),
    );
    const sentHref = await pg.$$eval('main table tr', (trs) =>
      trs
        .slice(1)
        .find((tr) => !(tr as HTMLElement).innerText.includes('suppressed'))!
        .querySelector('a')!
        .getAttribute('href'),
    );
    await go(suppressedHref!);
    const firstId = sentHref!.split('/').pop();
    expect(await text()).toContain(`forward-once: order:${ORDER} already forwarded with ${firstId}`);

    await go(sentHref!);
    const page = await text();
    expect(page).toContain(ORDER);
    expect(page).toMatch(/forward\s+import-croft@zaikorobot\.example\s+sent/);
    expect(page).toContain('250'); // the upstream's answer
    await shot('message-en');
    await Promise.all([pg.waitForNavigation(), pg.click('a[href$="/resend?forward=1"]')]);
    expect(await text()).toContain('zaiko Robot will count the order again');
    await shot('resend-confirm-en');
    await Promise.all([pg.waitForNavigation(), pg.click('main form button[type=submit]')]);
    expect(await text()).toContain('queued again');
    await until(() => sink.messages.filter((m) => m.to.includes(SHOP.forwardTo)).length === 2, 20_000, 'second forward');
    expect(stderr).toMatch(/"user":"tanaka".*"action":"mail resend --forward"/);
  });

  it('explains why products did not sync: unknown_code and unlimited_stock', async () => {
    await go('/stock?code=NOPE');
    expect(await text()).toContain('NOPE-404');
    expect(await text()).toContain('The cart has no product with exactly this code');
    await go('/stock?code=UNL');
    await Promise.all([pg.waitForNavigation(), pg.click('main table a[href*="UNL-1"]')]);
    const product = await text();
    expect(product).toContain('unlimited_stock');
    expect(product).toContain('stock is set to unlimited');
    await shot('product-en');
    await go('/stock?code=TNG');
    await shot('stock-en');
    await go('/uploads');
    await shot('uploads-en');
    await Promise.all([pg.waitForNavigation(), pg.click('main table a[href^="/uploads/"]')]);
    const upload = await text();
    expect(upload).toContain('no_product(product_code=NOPE-404)');
    await shot('upload-en');
  });

  it('retries a failed job from the queue page', async () => {
    // An apply job for an upload that is not stored yet fails; once stored, the retry applies it.
    const redis = new Redis(`unix://${join(t.dir, 'data', 'redis.sock')}`, { maxRetriesPerRequest: null });
    const queue = new Queue('stock', { connection: redis });
    const next = JSON.parse(run(['uploads', 'list', '--json', '--config', config]).stdout).uploads[0].id + 1;
    await queue.add('apply', { uploadId: next }, { jobId: `apply-${next}`, attempts: 1 });
    await until(async () => (await queue.getJob(`apply-${next}`))?.failedReason, 15_000, 'job failed');
    const up = await post(receiverPort, '/api/zaikorobot.php', form([...auth, ...items([['MZR-SET-5', '7']])]));
    expect(up.text).toBe('OK\n'); // stored; its apply job is the failed one
    await go('/queues/stock?state=failed');
    expect(await text()).toContain(`upload ${next} does not exist`);
    await shot('queue-en');
    await Promise.all([pg.waitForNavigation(), pg.click(`form[action="/queues/stock/retry"] button`)]);
    expect(await text()).toContain(`apply-${next}: retried`);
    await until(
      () => JSON.parse(run(['uploads', 'show', String(next), '--json', '--config', config]).stdout).upload.status === 'applied',
      15_000,
      'applied after retry',
    );
    await queue.close();
    redis.disconnect();
  });

  it('switches language, and picks Japanese when the browser asks for ja first', async () => {
    await go('/queues');
    await shot('queues-en');
    await go('/');
    await shot('overview-en');
    await go('/mail/check');
    await shot('check-en');
    await Promise.all([pg.waitForNavigation(), pg.click('header a[hreflang=ja]')]);
    expect(await pg.$eval('html', (h) => h.getAttribute('lang'))).toBe('ja');
    expect(await pg.$eval('header nav', (n) => (n as HTMLElement).innerText)).toContain('概要');
    await go('/'); // the choice is kept in a cookie
    expect(await pg.$eval('html', (h) => h.getAttribute('lang'))).toBe('ja');
    expect(await text()).toContain('受信した注文メール');
    const cookie = (await browser.cookies()).find((c) => c.name === 'zb_session')!;
    const ja = await raw('GET', '/', { cookie: `zb_session=${cookie.value}`, 'accept-language': 'ja-JP,ja;q=0.9,en;q=0.8' });
    expect(ja.text).toContain('<html lang="ja">');
    const en = await raw('GET', '/', { cookie: `zb_session=${cookie.value}`, 'accept-language': 'en-US,ja;q=0.5' });
    expect(en.text).toContain('<html lang="en">');
    if (SHOTS) {
      for (const [name, path] of [
        ['overview', '/'],
        ['mail', `/mail?order=${ORDER}`],
        ['stock', '/stock?code=TNG'],
        ['uploads', '/uploads'],
        ['queues', '/queues'],
        ['queue', '/queues/stock?state=completed'],
        ['check', '/mail/check'],
      ]) {
        await go(path);
        await shot(`${name}-ja`);
      }
      await go(`/mail?order=${ORDER}`);
      await go((await pg.$eval('main table a[href^="/mail/Q"]', (a) => a.getAttribute('href')))!);
      await shot('message-ja');
      await go('/stock?code=UNL');
      await go((await pg.$eval('main table a[href*="UNL-1"]', (a) => a.getAttribute('href')))!);
      await shot('product-ja');
      await go('/uploads');
      await go((await pg.$eval('main table a[href^="/uploads/"]', (a) => a.getAttribute('href')))!);
      await shot('upload-ja');
    }
  });

  it('logs out: the session ends and pages redirect to /login again', async () => {
    await go('/');
    await Promise.all([pg.waitForNavigation(), pg.click('header form[action="/logout"] button')]);
    expect(new URL(pg.url()).pathname).toBe('/login');
    await shot('login-ja');
    const old = (await browser.cookies()).find((c) => c.name === 'zb_session');
    expect(old?.value ?? '').toBe('');
    await go('/mail');
    expect(new URL(pg.url()).pathname).toBe('/login');
  });
});
