// The cart's side, shown working: examples/cart-webhook/zaikorobot-webhook.php run by Debian's php-cli
// (`php -S`) against a real `zaiko-bridge start` (private Redis, receiver, forked worker). zaiko Robot's
// uploads reach the PHP cart's stock; the example refuses a bad signature and a stale timestamp, and a
// batch sent again changes nothing.
import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { stringify } from 'yaml';
import { tempDir, SHOP } from '../helpers/env.js';
import { run, runAsync } from '../helpers/cli.js';
import { spawnTracked } from '../helpers/processes.js';
import { freePort, until } from '../helpers/net.js';
import { post, form, auth, items } from '../helpers/http.js';
import { signature } from '../../src/stock/webhook/sign.js';

const EXAMPLE = join(import.meta.dirname, '../../examples/cart-webhook/zaikorobot-webhook.php');
const SECRET = `whsec_${Buffer.alloc(32, 9).toString('base64')}`;
const KEY = Buffer.alloc(32, 9);

let t: ReturnType<typeof tempDir>;
let config: string;
let cartFile: string;
let phpPort: number;
const procs: ChildProcess[] = [];

const stop = (p: ChildProcess) =>
  new Promise<void>((r) => {
    if (p.exitCode !== null || p.signalCode !== null) return r();
    p.once('exit', () => r());
    p.kill('SIGTERM');
  });

/** A request to the PHP cart as zaiko-bridge makes one (or not: the test signs and dates it as it likes). */
function toCart(body: string, headers: Record<string, string>): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: phpPort,
        method: 'POST',
        path: '/zaikorobot-webhook.php',
        headers: { 'content-type': 'application/json', ...headers },
      },
      (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode!, text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}
const signed = (id: string, ts: number, body: string, key = KEY) => ({
  'webhook-id': id,
  'webhook-timestamp': String(ts),
  'webhook-signature': signature(key, id, ts, body),
});
const cart = () => (existsSync(cartFile) ? JSON.parse(readFileSync(cartFile, 'utf8')) : {});

beforeEach(async () => {
  t = tempDir();
  config = join(t.dir, 'zb.yaml');
  cartFile = join(t.dir, 'cart-stock.json');
  phpPort = await freePort();
  const php = spawnTracked('php', ['-S', `127.0.0.1:${phpPort}`, EXAMPLE], {
    env: { ...process.env, ZB_WEBHOOK_SECRET: SECRET, CART_STOCK_FILE: cartFile },
    stdio: 'ignore',
  });
  procs.push(php);
  await until(async () => (await toCart('{}', {}).catch(() => undefined))?.status === 400, 15_000, 'php -S answering');
  writeFileSync(
    config,
    stringify({
      dataDir: './data',
      relay: { port: 0 },
      receiver: { port: 0, waitMs: 5000 },
      upstream: { outbox: './outbox' },
      shops: [{ ...SHOP, cart: { webhook: { url: `http://127.0.0.1:${phpPort}/zaikorobot-webhook.php`, secret: SECRET } } }],
    }),
  );
  writeFileSync(join(t.dir, 'catalog.csv'), 'TNG-AI-01,藍,0,0,0\nMZR-SET-5,豆皿,0,0,0\n');
  expect(run(['stock', 'import', join(t.dir, 'catalog.csv'), '--config', config]).code).toBe(0);
});
afterEach(async () => {
  for (const p of procs.splice(0).reverse()) await stop(p);
  t.cleanup();
});

describe('the PHP example receiver', () => {
  it("takes zaiko Robot's uploads from a running `start`, each change once, in order", async () => {
    const zb = runAsync(['start', '--config', config]);
    procs.push(zb);
    let err = '';
    zb.stderr!.on('data', (d) => (err += d));
    await until(() => err.includes('zaiko-bridge started') && err.includes('webhook pusher running'), 30_000, 'start');
    const port = JSON.parse(err.split('\n').find((l) => l.includes('receiver listening'))!).port;

    const upload = async (list: [string, string][]) => (await post(port, '/api/zaikorobot.php', form([...auth, ...items(list)]))).text;
    expect(
      await upload([
        ['TNG-AI-01', '10'],
        ['MZR-SET-5', '3'],
      ]),
    ).toBe('OK\n');
    await until(() => cart().stock?.['MZR-SET-5'] === 3, 30_000, 'the first upload in the cart');
    expect(await upload([['TNG-AI-01', '8']])).toBe('OK\n');
    expect(
      await upload([
        ['MZR-SET-5', '1'],
        ['TNG-AI-01', '7'],
      ]),
    ).toBe('OK\n');
    await until(() => cart().stock?.['TNG-AI-01'] === 7, 30_000, 'the last upload in the cart');
    expect(cart().stock).toEqual({ 'TNG-AI-01': 7, 'MZR-SET-5': 1 });
    const lastId = cart().lastId[SHOP.id];
    const status = JSON.parse(run(['stock', 'webhook', 'status', '--json', '--config', config]).stdout).shops[0];
    expect(status).toMatchObject({ deliveredThrough: lastId, pending: 0, lastStatus: 200, lastError: null });
  });

  it('refuses a bad signature and a replay older than 5 minutes; a batch sent again changes nothing', async () => {
    const body = (stock: number) =>
      JSON.stringify({
        type: 'stock.changed',
        shop: SHOP.id,
        changes: [
          {
            id: 41,
            code: 'A-1',
            productCode: 'A-1',
            stock,
            previous: 5,
            source: 'upload',
            uploadId: 12,
            orderNumber: null,
            at: new Date().toISOString(),
          },
        ],
      });
    const now = Math.floor(Date.now() / 1000);
    const id = `${SHOP.id}-41-41`;
    expect(await toCart(body(7), signed(id, now, body(7), Buffer.alloc(32, 1)))).toMatchObject({ status: 401 });
    expect(await toCart(body(7), { ...signed(id, now, body(7)), 'webhook-signature': 'v1,' })).toMatchObject({ status: 401 });
    expect(await toCart(body(7), signed(id, now - 301, body(7)))).toMatchObject({ status: 400, text: expect.stringContaining('replay') });
    expect(await toCart(body(7), signed(id, now + 301, body(7)))).toMatchObject({ status: 400 });
    expect(cart()).toEqual({});
    expect(await toCart(body(7), signed(id, now, body(7)))).toEqual({ status: 200, text: 'applied 1\n' });
    // The same batch again (a retry after a lost answer) and an old change sent later: applied once.
    expect(await toCart(body(7), signed(id, now + 1, body(7)))).toEqual({ status: 200, text: 'applied 0\n' });
    expect(await toCart(body(3), signed(id, now, body(3)))).toEqual({ status: 200, text: 'applied 0\n' });
    expect(cart()).toEqual({ stock: { 'A-1': 7 }, lastId: { [SHOP.id]: 41 } });
  });
});
