// The cart webhook end to end: the real worker process (dist/cli.js worker), real Redis, real stock.db,
// a real HTTP cart on loopback. Changes are made as an operator makes them (stock apply-file, stock import).
import { describe, it, expect, beforeEach, afterEach, inject } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { stringify } from 'yaml';
import { Webhook } from 'standardwebhooks';
import { tempDir, uniqueName, SHOP } from '../helpers/env.js';
import { runAsync } from '../helpers/cli.js';
import { freePort, until } from '../helpers/net.js';
import { endlessAnswer, fakeCart } from '../helpers/cart.js';

const SECRET = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
const VERSION = (JSON.parse(readFileSync(join(import.meta.dirname, '../../package.json'), 'utf8')) as { version: string }).version;
const redisUrl = inject('redisUrl');

let t: ReturnType<typeof tempDir>;
let config: string;
const stops: (() => Promise<unknown>)[] = [];

function writeConfig(webhook: Record<string, unknown>, redis = redisUrl) {
  writeFileSync(
    config,
    stringify({
      dataDir: './data',
      redis: { url: redis, prefix: uniqueName('zb') },
      shops: [{ ...SHOP, cart: { webhook: { secret: SECRET, ...webhook } } }],
    }),
  );
}

/** The CLI without blocking this process: the cart here must keep answering meanwhile (spawnSync would stall it). */
function zb(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const p = runAsync([...args, '--config', config]);
  let stdout = '';
  let stderr = '';
  p.stdout!.on('data', (d) => (stdout += d));
  p.stderr!.on('data', (d) => (stderr += d));
  return new Promise((r) => p.once('close', (code) => r({ code, stdout, stderr })));
}
function startWorker(): ChildProcess {
  const p = runAsync(['worker', '--config', config]);
  stops.push(
    () =>
      new Promise((r) => {
        if (p.exitCode !== null || p.signalCode !== null) return r(null);
        p.once('exit', r);
        p.kill('SIGKILL');
      }),
  );
  return p;
}
async function waitRunning(p: ChildProcess) {
  let err = '';
  p.stderr!.on('data', (d) => (err += d));
  await until(() => err.includes('webhook pusher running'), 30_000, 'webhook pusher running');
}
/** A stock file through the queue and the worker, as `stock apply-file` does it: upload changes. */
async function applyFile(lines: string) {
  const file = join(t.dir, `${uniqueName('stock')}.csv`);
  writeFileSync(file, lines);
  const r = await zb('stock', 'apply-file', file, '--wait', '30');
  expect(r.stderr).toBe('');
  expect(r.stdout).toMatch(/applied/);
}
const status = async () => JSON.parse((await zb('stock', 'webhook', 'status', '--json')).stdout).shops[0];
/** The status once `check` holds for it. */
async function statusWhen(check: (s: any) => boolean, what: string) {
  return until(
    async () => {
      const s = await status();
      return check(s) ? s : undefined;
    },
    30_000,
    what,
  );
}

beforeEach(() => {
  t = tempDir();
  config = join(t.dir, 'zb.yaml');
  writeFileSync(join(t.dir, 'catalog.csv'), 'A,a,1,0,0\nB,b,1,0,0\nC,c,1,0,0\nD,d,1,0,0\nE,e,1,0,0\n');
});
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
  t.cleanup();
});

describe('the cart webhook', () => {
  it('sends a refused batch again as the same batch (503 twice, then 200), signed as Standard Webhooks verifies', async () => {
    const cart = await fakeCart((n) => (n < 2 ? 503 : 200));
    stops.push(cart.close);
    writeConfig({ url: cart.url });
    expect((await zb('stock', 'import', join(t.dir, 'catalog.csv'))).code).toBe(0);
    await waitRunning(startWorker());
    await applyFile('A,5\nB,6\nC,7\n');
    await until(() => cart.taken().length === 3, 30_000, 'the batch taken');
    expect(cart.requests).toHaveLength(3);
    const [first, ...again] = cart.requests;
    const ids = cart.requests.map((r) => r.headers['webhook-id']);
    expect(new Set(ids).size).toBe(1);
    expect(ids[0]).toBe(`croft-zakka-${first.ids[0]}-${first.ids[2]}`);
    for (const r of again) expect(r.body).toBe(first.body);
    const body = JSON.parse(first.body);
    expect(body.type).toBe('stock.changed');
    expect(body.shop).toBe('croft-zakka');
    expect(body.changes.map((c: any) => [c.code, c.stock, c.previous, c.source])).toEqual([
      ['A', 5, 1, 'upload'],
      ['B', 6, 1, 'upload'],
      ['C', 7, 1, 'upload'],
    ]);
    expect(first.ids).toEqual([...first.ids].sort((a, b) => a - b));
    const wh = new Webhook(SECRET);
    for (const r of cart.requests) {
      expect(r.headers['user-agent']).toBe(`zaiko-bridge/${VERSION}`);
      expect(r.headers['content-type']).toBe('application/json');
      expect(wh.verify(r.body, r.headers as Record<string, string>)).toEqual(body);
      // A signature is for its own body: one byte changed and the reference code refuses it.
      expect(() => wh.verify(r.body.replace('"stock":5', '"stock":9'), r.headers as Record<string, string>)).toThrow();
    }
    const s = await statusWhen((x) => x.pending === 0 && x.lastStatus === 200, 'status');
    expect(s).toMatchObject({ shop: 'croft-zakka', url: cart.url, deliveredThrough: first.ids[2], lastError: null, nextAttemptAt: null });
  });

  it('follows no redirect, reads a bounded part of an endless answer, and `retry` sends at once', async () => {
    const elsewhere = await fakeCart(() => 200);
    stops.push(elsewhere.close);
    const endless503 = endlessAnswer(503);
    const endless200 = endlessAnswer(200);
    let mode: 'redirect' | '503' | '200' = 'redirect';
    const cart = await fakeCart(() => {
      if (mode === 'redirect') return (res, req) => ((req.status = 302), res.writeHead(302, { location: elsewhere.url }).end());
      return mode === '503' ? endless503.answer : endless200.answer;
    });
    stops.push(cart.close);
    writeConfig({ url: cart.url });
    expect((await zb('stock', 'import', join(t.dir, 'catalog.csv'))).code).toBe(0);
    await waitRunning(startWorker());
    const start = (await status()).deliveredThrough; // the changes before the webhook was set up reach the cart as an export
    await applyFile('A,5\n');

    let s = await statusWhen((x) => x.lastStatus === 302, 'a 302');
    expect(s.lastError).toContain(`redirect to ${elsewhere.url} not followed`);
    expect(s.pending).toBe(1);
    expect(s.deliveredThrough).toBe(start);
    expect(elsewhere.requests).toHaveLength(0);

    mode = '503';
    expect((await zb('stock', 'webhook', 'retry')).stdout).toMatch(/^croft-zakka: (next attempt now|no batch waiting for a retry)\n$/);
    s = await statusWhen((x) => x.lastStatus === 503, 'a 503');
    expect(s.lastError.length).toBeLessThan(400); // of an endless answer, the first characters
    expect(s.lastError).toMatch(/^HTTP 503: x+/);
    await until(() => endless503.closed(), 10_000, 'the endless 503 cut off');

    mode = '200';
    const before = Date.now();
    await zb('stock', 'webhook', 'retry');
    await until(() => cart.taken().length === 1, 30_000, 'taken');
    await until(() => endless200.closed(), 10_000, 'the endless 200 cut off');
    expect(endless200.written()).toBeLessThan(1024 ** 3);
    s = await statusWhen((x) => x.lastStatus === 200, 'delivered');
    expect(s).toMatchObject({ pending: 0, lastError: null, nextAttemptAt: null });
    expect(Date.parse(s.lastAttemptAt)).toBeGreaterThanOrEqual(before - 1000);
    expect(new Set(cart.requests.map((r) => r.headers['webhook-id'])).size).toBe(1);
    expect(elsewhere.requests).toHaveLength(0);
    expect(cart.maxInFlight()).toBe(1);
  });

  it('after kill -9 of the worker mid-batch and a restart, delivers every change at least once and in order', async () => {
    const cart = await fakeCart((n) => (n === 1 ? 'hold' : 200));
    stops.push(cart.close);
    writeConfig({ url: cart.url, batchMax: 2 });
    expect((await zb('stock', 'import', join(t.dir, 'catalog.csv'))).code).toBe(0);
    const first = startWorker();
    await waitRunning(first);
    await applyFile('A,5\nB,6\nC,7\nD,8\nE,9\n');
    await until(() => cart.requests.length === 2, 30_000, 'the second batch in flight');
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    await waitRunning(startWorker());
    await until(() => cart.taken().length === 5, 30_000, 'every change taken');
    const all = cart.requests[0].ids.concat(
      cart.requests[1].ids,
      cart.requests.slice(2).flatMap((r) => r.ids),
    );
    expect(cart.taken()).toEqual([...new Set(all)].sort((a, b) => a - b));
    expect(cart.requests[2].headers['webhook-id']).toBe(cart.requests[1].headers['webhook-id']);
    expect(cart.requests[2].body).toBe(cart.requests[1].body);
    expect(cart.requests.map((r) => r.ids.length)).toEqual([2, 2, 2, 1]);
    expect(await status()).toMatchObject({ pending: 0, deliveredThrough: Math.max(...all) });
  });

  it('of two workers on one dataDir one pushes; the other takes over when it is killed', async () => {
    const cart = await fakeCart((n) => (n === 0 ? 'hold' : 200));
    stops.push(cart.close);
    writeConfig({ url: cart.url });
    expect((await zb('stock', 'import', join(t.dir, 'catalog.csv'))).code).toBe(0);
    const a = startWorker();
    await waitRunning(a);
    const b = startWorker();
    let bErr = '';
    b.stderr!.on('data', (d) => (bErr += d));
    await until(() => bErr.includes('webhook pusher on standby'), 30_000, 'the second on standby');
    await applyFile('A,5\nB,6\n');
    await until(() => cart.requests.length === 1, 30_000, 'the batch in flight');
    a.kill('SIGKILL');
    await until(() => cart.taken().length === 2, 30_000, 'taken from the other worker');
    expect(bErr).toContain('webhook pusher running');
    expect(cart.requests[1].headers['webhook-id']).toBe(cart.requests[0].headers['webhook-id']);
    expect(cart.maxInFlight()).toBe(1);
  });

  it('pushes with Redis down: changes that `stock import` writes reach the cart', async () => {
    const cart = await fakeCart(() => 200);
    stops.push(cart.close);
    writeConfig({ url: cart.url, sources: ['import'] }, `redis://127.0.0.1:${await freePort()}`);
    await waitRunning(startWorker());
    expect((await zb('stock', 'import', join(t.dir, 'catalog.csv'))).code).toBe(0);
    await until(() => cart.taken().length === 5, 30_000, 'the imported changes');
    const body = JSON.parse(cart.requests[0].body);
    expect(body.changes.map((c: { code: string; source: string }) => `${c.code}:${c.source}`)).toEqual([
      'A:import',
      'B:import',
      'C:import',
      'D:import',
      'E:import',
    ]);
  });
});
