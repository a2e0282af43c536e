// The issue's three steps against the real binary (`start`: its private redis-server, the forked stock
// worker, real SMTP and HTTP), with three carts: one following the change feed, one following
// `stock export --changed-after`, and one on the old recipe (a full export on a timer) for a shop
// whose order mail does not lower stock.db. The first two end at 8; the old recipe at 10 (the oversell).
import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'node:http';
import type { ChildProcess } from 'node:child_process';
import { stringify } from 'yaml';
import { tempDir, SHOP } from '../helpers/env.js';
import { run, runAsync } from '../helpers/cli.js';
import { until } from '../helpers/net.js';
import { post, form, items } from '../helpers/http.js';
import { sendMail } from '../helpers/smtp.js';

const TOKEN = 'cart-feed-token-for-the-test-0123';
const OLD = {
  id: 'old-recipe',
  senders: ['order@old-recipe.example.jp'],
  forwardTo: 'import-old@zaikorobot.example',
  orderMail: { subject: 'ご注文ありがとうございます' },
  zaikoRobot: { userId: 'zr-old01', password: 'old-s3cret-pass' },
  decrementOnOrder: false,
};

let t: ReturnType<typeof tempDir>;
let config: string;
let proc: ChildProcess | undefined;

beforeEach(() => {
  t = tempDir();
  config = join(t.dir, 'zb.yaml');
  writeFileSync(
    config,
    stringify({
      dataDir: './data',
      log: { level: 'info' },
      relay: { port: 0 },
      receiver: { port: 0, waitMs: 5000 },
      upstream: { outbox: './outbox' },
      shops: [{ ...SHOP, cart: { token: TOKEN } }, OLD],
    }),
  );
  writeFileSync(join(t.dir, 'catalog.csv'), 'A,Alpha,0,0,0\n');
  for (const shop of [SHOP.id, OLD.id])
    expect(run(['stock', 'import', '--shop', shop, join(t.dir, 'catalog.csv'), '--config', config]).code).toBe(0);
});
afterEach(async () => {
  if (proc && proc.exitCode === null && proc.signalCode === null) {
    const gone = new Promise((r) => proc!.once('exit', r));
    proc.kill('SIGTERM');
    await gone;
  }
  t.cleanup();
});

const logLine = (log: string, msg: string) =>
  log
    .split('\n')
    .filter((l) => l.includes(`"msg":"${msg}"`))
    .map((l) => JSON.parse(l))[0];

function feed(port: number, after: number): Promise<{ status: number; json: any }> {
  return new Promise((resolve, reject) => {
    const path = `/api/stock/changes?shop=${SHOP.id}&after=${after}`;
    const req = request({ host: '127.0.0.1', port, path, headers: { authorization: `Bearer ${TOKEN}` } }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, json: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** A cart's stock by code, loaded from a catalog CSV (product_code,name,stock,...). */
const fromCsv = (cart: Map<string, number>, csv: string) => {
  for (const line of csv.trim().split(/\r?\n/).slice(1)) {
    const [code, , stock] = line.split(',');
    cart.set(code, Number(stock));
  }
};
const exportCsv = (shop: string, ...extra: string[]) => {
  const r = run(['stock', 'export', '--shop', shop, ...extra, '--config', config]);
  expect(r.code).toBe(0);
  return { csv: r.stdout, next: Number(/# next=(\d+)/.exec(r.stderr)![1]) };
};

function orderMail(from: string, number: string): string {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  return [
    `From: ${from}`,
    'To: customer@example.net',
    `Subject: =?UTF-8?B?${b64(`ご注文ありがとうございます（注文番号：${number}）`)}?=`,
    `Message-ID: <${number}@cart.example>`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=UTF-8',
    'Content-Transfer-Encoding: base64',
    '',
    b64(`注文番号：${number}\n商品コード: A\n数量: 2\n`),
    '',
  ].join('\r\n');
}

describe('the cart keeps its own sales (issue 20, three steps)', () => {
  it('ends at 8 following the feed or export --changed-after; at 10 on the old full-export recipe', async () => {
    proc = runAsync(['start', '--config', config]);
    let err = '';
    proc.stderr!.on('data', (d) => (err += d));
    await until(() => err.includes('zaiko-bridge started') && err.includes('stock worker running'), 30_000, 'start');
    const http = logLine(err, 'receiver listening').port;
    const smtp = logLine(err, 'relay listening').port;

    // 1. zaiko Robot sends A=10 to both shops; each cart loads it its own way.
    for (const [id, pass] of [
      [SHOP.zaikoRobot.userId, SHOP.zaikoRobot.password],
      [OLD.zaikoRobot.userId, OLD.zaikoRobot.password],
    ]) {
      const r = await post(http, '/api/zaikorobot.php', form([['sys_id', id], ['sys_pass', pass], ...items([['A', '10']])]));
      expect(r.text).toBe('OK\n');
    }
    const feedCart = new Map<string, number>();
    let page = (await feed(http, 0)).json;
    for (const c of page.changes) feedCart.set(c.code, c.stock);
    let cursor = page.next;
    const exportCart = new Map<string, number>();
    const first = exportCsv(SHOP.id);
    fromCsv(exportCart, first.csv);
    let exportCursor = first.next;
    const oldCart = new Map<string, number>();
    fromCsv(oldCart, exportCsv(OLD.id).csv);
    expect([feedCart.get('A'), exportCart.get('A'), oldCart.get('A')]).toEqual([10, 10, 10]);

    // 2. A customer buys 2 A in each cart: the cart has 8, the order mail goes through the relay.
    for (const cart of [feedCart, exportCart, oldCart]) cart.set('A', 8);
    await sendMail({ port: smtp, from: SHOP.senders[0], to: ['customer@example.net'], raw: orderMail(SHOP.senders[0], '1001') });
    await sendMail({ port: smtp, from: OLD.senders[0], to: ['customer@example.net'], raw: orderMail(OLD.senders[0], '2001') });
    // (the relay forwards both to zaiko Robot, which now also has 8; the old-recipe shop's stock.db stays at 10)
    await until(
      () =>
        JSON.parse(run(['stock', 'changes', '--shop', SHOP.id, '--after', String(cursor), '--json', '--config', config]).stdout).changes
          .length,
      30_000,
      'the order change',
    );

    // 3. Each cart syncs again.
    page = (await feed(http, cursor)).json;
    expect(page.changes.map((c: any) => [c.code, c.previous, c.stock, c.source, c.orderNumber])).toEqual([['A', 10, 8, 'order', '1001']]);
    for (const c of page.changes) feedCart.set(c.code, c.stock);
    cursor = page.next;
    const changed = exportCsv(SHOP.id, '--changed-after', String(exportCursor));
    fromCsv(exportCart, changed.csv);
    exportCursor = changed.next;
    fromCsv(oldCart, exportCsv(OLD.id).csv);

    expect(feedCart.get('A')).toBe(8);
    expect(exportCart.get('A')).toBe(8);
    expect(oldCart.get('A')).toBe(10); // the sale undone: two units that do not exist are for sale
    expect(exportCursor).toBe(cursor);
  });
});
