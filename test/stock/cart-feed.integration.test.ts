// The cart's side of stock.db, end to end with real parts: SMTP into the relay, HTTP uploads and the
// change feed on the receiver, the stock worker, Redis (BullMQ) and SQLite files.
import { describe, it, expect, beforeEach, afterEach, inject } from 'vitest';
import { request } from 'node:http';
import { Job, Queue } from 'bullmq';
import { createRedis, closeRedis, closeQueue } from '../../src/queue/redis.js';
import type { Config } from '../../src/config/schema.js';
import { openDb, type DB } from '../../src/db/open.js';
import { importCatalog, parseCatalog, productView } from '../../src/stock/catalog.js';
import { startReceiver, type RunningRole } from '../../src/roles/receiver.js';
import { startWorker } from '../../src/roles/worker.js';
import { startRelay, type RunningRelay } from '../../src/roles/relay.js';
import { orderJobId } from '../../src/queue/names.js';
import { applyOrder } from '../../src/stock/orders/decrement.js';
import { tempDir, testConfig, uniqueName, log, SHOP, capturingLogger } from '../helpers/env.js';
import { post, form, auth, items } from '../helpers/http.js';
import { freePort, sleep, until } from '../helpers/net.js';
import { startSink, sendMail, type Sink } from '../helpers/smtp.js';

const TOKEN = 'feed-token-0123456789abcdef';
const PATH = '/api/zaikorobot.php';
const redisUrl = inject('redisUrl');

let t: ReturnType<typeof tempDir>;
let cfg: Config;
let db: DB;
let sink: Sink;
let queueName: string;
let relay: RunningRelay | undefined;
const running: RunningRole[] = [];
let inspect: { queue: Queue; close(): Promise<void> } | undefined;
/** The test's own handle on the stock queue, to look at (and lose) jobs. */
function stockQueue(): Queue {
  if (!inspect) {
    const redis = createRedis(redisUrl, 'client');
    const queue = new Queue(queueName, { connection: redis, prefix: cfg.redis.prefix });
    inspect = { queue, close: async () => (await closeQueue(queue), await closeRedis(redis)) };
  }
  return inspect.queue;
}
const jobState = async (qid: string) => (await Job.fromId(stockQueue(), orderJobId(qid)))?.getState();

interface Roles {
  receiver?: { redis?: string; waitMs?: number; log?: typeof log };
  worker?: boolean;
  relay?: boolean;
  overrides?: Record<string, any>;
}
async function boot(roles: Roles = {}): Promise<{ http: number; smtp: number }> {
  cfg = testConfig(t.dir, {
    upstream: { port: sink.port },
    receiver: { waitMs: roles.receiver?.waitMs ?? 5000, lockout: { failures: 3, window: '1m', duration: '1m' } },
    shops: [{ ...SHOP, cart: { token: TOKEN } }],
    ...roles.overrides,
  });
  db = openDb(cfg.dataDir, 'stock');
  importCatalog(db, SHOP.id, parseCatalog(Buffer.from('A,Alpha,10,0,0\nUNL,Unlimited,,1,0\n')), undefined, Date.now() - 60_000);
  const receiver = await startReceiver(cfg, roles.receiver?.redis ?? redisUrl, roles.receiver?.log ?? log, { queueName });
  running.push(receiver);
  if (roles.worker !== false) running.push(await startWorker(cfg, redisUrl, log, { queueName }));
  if (roles.relay !== false)
    relay = await startRelay(cfg, redisUrl, log, { queueName: uniqueName('mail'), stockQueueName: queueName, sweepMs: 3_600_000 });
  return { http: receiver.port!, smtp: relay?.port ?? 0 };
}
const stockOf = (code: string) => productView(db, SHOP.id, code)?.stock;

function get(port: number, path: string, headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` }) {
  return new Promise<{ status: number; json: any }>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, json: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end();
  });
}
const feed = (port: number, after: number, extra = '') => get(port, `/api/stock/changes?shop=${SHOP.id}&after=${after}${extra}`);

const b64 = (s: string) => Buffer.from(s).toString('base64');
function order(number: string, lines: [string, number][]) {
  const body = [`注文番号：${number}`, ...lines.map(([c, q]) => `商品コード: ${c}\n数量: ${q}`)].join('\n');
  const raw = [
    `From: ${SHOP.senders[0]}`,
    'To: customer@example.net',
    `Subject: =?UTF-8?B?${b64(`ご注文ありがとうございます（注文番号：${number}）`)}?=`,
    `Message-ID: <${number}.${Math.random()}@cart.example>`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=UTF-8',
    'Content-Transfer-Encoding: base64',
    '',
    b64(body + '\n'),
    '',
  ].join('\r\n');
  return { from: SHOP.senders[0], to: ['customer@example.net'], raw };
}
const upload = (port: number, list: [string, string][]) => post(port, PATH, form([...auth, ...items(list)]));
const orderRow = (number: string) =>
  db.prepare('SELECT * FROM orders WHERE shop_id = ? AND order_number = ?').get(SHOP.id, number) as Record<string, any> | undefined;

beforeEach(async () => {
  t = tempDir();
  queueName = uniqueName('stock');
  sink = await startSink();
});
afterEach(async () => {
  await inspect?.close();
  inspect = undefined;
  await relay?.close();
  relay = undefined;
  while (running.length) await running.pop()!.close();
  await sink.close();
  db?.close();
  t.cleanup();
});

describe('order mail lowers stock.db', () => {
  it('once per order number, via the stock worker; the feed shows the change with its order number; skips are recorded', async () => {
    const { http, smtp } = await boot();
    await sendMail({
      port: smtp,
      ...order('1001', [
        ['A', 2],
        ['UNL', 1],
        ['NOPE', 1],
      ]),
    });
    await until(() => orderRow('1001'), 15_000, 'order applied');
    await sendMail({ port: smtp, ...order('1001', [['A', 2]]) }); // the same order again (a resent mail)
    const qids = relay!.ledger.pendingStockJobs().map((r) => r.id);
    expect(qids).toHaveLength(2);
    for (const qid of qids) await until(async () => (await jobState(qid)) === 'completed', 15_000, `job of ${qid} done`);
    expect(stockOf('A')).toBe(8);
    expect(orderRow('1001')).toMatchObject({ applied_count: 1, skipped_count: 2 });
    expect(
      db.prepare("SELECT code, reason FROM order_items WHERE order_number = '1001' AND outcome = 'skipped' ORDER BY seq").raw().all(),
    ).toEqual([
      ['UNL', 'unlimited_stock'],
      ['NOPE', 'unknown_code'],
    ]);
    const page = await feed(http, 0);
    expect(page.status).toBe(200);
    expect(page.json.changes.map((c: any) => [c.code, c.previous, c.stock, c.source, c.orderNumber])).toEqual([
      ['A', null, 10, 'import', null],
      ['A', 10, 8, 'order', '1001'],
    ]);
    expect(page.json).toMatchObject({ shop: SHOP.id, next: page.json.changes[1].id, more: false });
  });

  it('the worker prunes orders past both retention windows; a kept order’s second mail still lowers nothing', async () => {
    cfg = testConfig(t.dir);
    const old = openDb(cfg.dataDir, 'stock');
    importCatalog(old, SHOP.id, parseCatalog(Buffer.from('A,Alpha,10,0,0\n')), undefined, Date.now() - 30 * 86_400_000);
    const applied = (number: string, daysAgo: number) => {
      const at = Date.now() - daysAgo * 86_400_000;
      applyOrder(
        old,
        { shop: SHOP.id, key: number, orderNumber: number, qid: `Q${number}`, acceptedAt: at, items: [{ code: 'A', quantity: 1 }] },
        at,
      );
    };
    applied('6001', 6); // past mailDays (5) and uploadDays (2)
    applied('6002', 3); // past uploadDays only: still the order's idempotency record
    old.close();
    // The worker prunes at start.
    const { smtp } = await boot({ overrides: { retention: { mailDays: 5, uploadDays: 2 } } });
    await until(() => orderRow('6001') === undefined, 10_000, 'the old order pruned');
    expect(db.prepare("SELECT COUNT(*) FROM order_items WHERE order_number = '6001'").pluck().get()).toBe(0);
    expect(orderRow('6002')).toMatchObject({ applied_count: 1 });
    const before = stockOf('A');
    await sendMail({ port: smtp, ...order('6002', [['A', 2]]) }); // a copy of the kept order
    const [qid] = relay!.ledger.pendingStockJobs().map((r) => r.id);
    await until(async () => (await jobState(qid)) === 'completed', 15_000, `job of ${qid} done`);
    expect(stockOf('A')).toBe(before);
  });

  it('a decrement lost with Redis comes back with the sweep; an upload received after the mail, applied first, voids it', async () => {
    const { http, smtp } = await boot({ worker: false });
    await sendMail({ port: smtp, ...order('2001', [['A', 2]]) });
    const qid = (relay!.ledger.pendingStockJobs()[0] ?? {}).id;
    expect(qid).toBeTruthy();
    await until(async () => (await jobState(qid)) === 'waiting', 5000, 'job in Redis');
    await (await Job.fromId(stockQueue(), orderJobId(qid)))!.remove(); // lost, as in a failover
    running.push(await startWorker(cfg, redisUrl, log, { queueName }));
    // zaiko Robot got the forward, counted the sale (10 - 2) and something else (-1): its absolute value.
    expect((await upload(http, [['A', '7']])).text).toBe('OK\n');
    expect(stockOf('A')).toBe(7);
    expect(orderRow('2001')).toBeUndefined();
    expect(relay!.ledger.pendingStockJobs().map((r) => r.id)).toEqual([qid]); // the ledger still holds it
    await relay!.sweep();
    await until(() => orderRow('2001'), 15_000, 'recovered decrement applied');
    expect(relay!.ledger.pendingStockJobs()).toEqual([]);
    expect(db.prepare("SELECT code, outcome, reason FROM order_items WHERE order_number = '2001'").raw().all()).toEqual([
      ['A', 'skipped', 'stale'],
    ]);
    expect(stockOf('A')).toBe(7); // not 5: the upload already counted the sale
  });

  it('an upload received before the mail whose apply job is late (Redis down at the receiver) applies before the decrement', async () => {
    const dead = `redis://127.0.0.1:${await freePort()}`;
    const { http, smtp } = await boot({ receiver: { redis: dead, waitMs: 200 } });
    expect((await upload(http, [['A', '20']])).text).toBe('OK\n'); // stored; not applied (no job)
    expect(stockOf('A')).toBe(10);
    await sendMail({ port: smtp, ...order('3001', [['A', 2]]) });
    await until(() => orderRow('3001'), 15_000, 'decrement applied');
    expect(stockOf('A')).toBe(18); // 20 first, then - 2
    const changes = (await feed(http, 0)).json.changes.map((c: any) => [c.source, c.previous, c.stock]);
    expect(changes).toEqual([
      ['import', null, 10],
      ['upload', 10, 20],
      ['order', 20, 18],
    ]);
  });

  it('an upload received after the decrement applied sets the stock as sent (the sale is counted in it)', async () => {
    const { http, smtp } = await boot();
    await sendMail({ port: smtp, ...order('4001', [['A', 2]]) });
    await until(() => orderRow('4001'), 15_000, 'decrement applied');
    expect(stockOf('A')).toBe(8);
    expect((await upload(http, [['A', '8']])).text).toBe('OK\n');
    expect(stockOf('A')).toBe(8);
    expect((await upload(http, [['A', '6']])).text).toBe('OK\n');
    expect(stockOf('A')).toBe(6);
  });

  it('shops[].decrementOnOrder: false leaves stock.db alone', async () => {
    const { smtp } = await boot({ overrides: { shops: [{ ...SHOP, decrementOnOrder: false }] } });
    await sendMail({ port: smtp, ...order('5001', [['A', 2]]) });
    await until(() => sink.messages.length >= 1, 15_000, 'delivered');
    expect(relay!.ledger.pendingStockJobs()).toEqual([]);
    expect(relay!.ledger.db.prepare("SELECT stock_job FROM messages WHERE order_number = '5001'").pluck().get()).toBeNull();
    expect(stockOf('A')).toBe(10);
  });
});

describe('GET /api/stock/changes', () => {
  it('answers 400 for bad parameters, naming the problem', async () => {
    const { http } = await boot({ relay: false, worker: false });
    for (const [q, detail] of [
      ['after=0', /shop/],
      [`shop=${SHOP.id}&after=-1`, /after/],
      [`shop=${SHOP.id}&after=1x`, /after/],
      [`shop=${SHOP.id}&limit=0`, /limit.*1 to 10000/],
      [`shop=${SHOP.id}&limit=10001`, /limit/],
      [`shop=${SHOP.id}&wait=61`, /wait.*0 to 60/],
      [`shop=${SHOP.id}&after=1&after=2`, /after given more than once/],
    ] as const) {
      const r = await get(http, `/api/stock/changes?${q}`);
      expect([q, r.status, r.json.error]).toEqual([q, 400, 'bad_request']);
      expect(r.json.detail).toMatch(detail);
    }
  });

  it('answers 401 for a missing, wrong or other shop’s token, and locks the address out after receiver.lockout.failures', async () => {
    const lines: string[] = [];
    const captured = capturingLogger(lines);
    const { http } = await boot({ relay: false, worker: false, receiver: { log: captured } });
    const path = `/api/stock/changes?shop=${SHOP.id}`;
    expect(await get(http, path, {})).toEqual({ status: 401, json: { error: 'unauthorized' } });
    expect((await get(http, `/api/stock/changes?shop=nope`)).status).toBe(401);
    expect((await get(http, path)).status).toBe(200); // a success resets the count
    expect((await get(http, path, { authorization: `Bearer ${TOKEN}x` })).status).toBe(401);
    expect((await get(http, path, { authorization: `Basic ${TOKEN}` })).status).toBe(401);
    expect((await get(http, path, { authorization: `Bearer ${TOKEN.slice(0, -1)}` })).status).toBe(401); // third failure: locked
    expect(await get(http, path)).toEqual({ status: 401, json: { error: 'unauthorized' } }); // the right token, locked out
    const refused = lines.filter((l) => l.includes('change feed refused'));
    expect(refused.length).toBeGreaterThanOrEqual(5);
    expect(lines.join('')).not.toContain(TOKEN.slice(0, 12)); // no token, right or wrong, in the log
  });

  it('accepts the sha256$ form of the token', async () => {
    const { createHash } = await import('node:crypto');
    const hash = `sha256$${createHash('sha256').update(TOKEN).digest('hex')}`;
    const { http } = await boot({ relay: false, worker: false, overrides: { shops: [{ ...SHOP, cart: { token: hash } }] } });
    expect((await feed(http, 0)).status).toBe(200);
    expect((await get(http, `/api/stock/changes?shop=${SHOP.id}`, { authorization: `Bearer ${hash}` })).status).toBe(401);
  });

  it('pages with limit, next and more', async () => {
    const { http } = await boot({ relay: false });
    for (const n of ['1', '2', '3']) await upload(http, [['A', n]]);
    const first = await feed(http, 0, '&limit=2');
    expect(first.json.changes.map((c: any) => c.stock)).toEqual([10, 1]);
    expect(first.json.more).toBe(true);
    const second = await feed(http, first.json.next, '&limit=2');
    expect(second.json.changes.map((c: any) => c.stock)).toEqual([2, 3]);
    expect(second.json.more).toBe(false);
    expect((await feed(http, second.json.next)).json).toEqual({ shop: SHOP.id, changes: [], next: second.json.next, more: false });
  });

  it('long-polls: a waiting request is answered when a change lands, and with an empty page when the wait runs out', async () => {
    const { http } = await boot({ relay: false });
    const latest = (await feed(http, 0)).json.next;
    expect((await feed(http, latest, '&wait=1')).json).toEqual({ shop: SHOP.id, changes: [], next: latest, more: false });
    const waiting = feed(http, latest, '&wait=30');
    await sleep(300); // the request is held by now (if it were answered early, it would be empty and fail below)
    expect((await upload(http, [['A', '4']])).text).toBe('OK\n');
    const woke = await waiting;
    expect(woke.status).toBe(200);
    expect(woke.json.changes.map((c: any) => [c.source, c.previous, c.stock])).toEqual([['upload', 10, 4]]);
  });

  it('answers hostile after values with 400 naming the parameter, never echoing it; a cursor past every id given too', async () => {
    const { http } = await boot({ relay: false });
    const path = `/api/stock/changes?shop=${SHOP.id}`;
    const range = 'after must be a whole number from 0 to 9007199254740991';
    const attacks: [string, string][] = [
      ['&after=-1', range],
      ['&after=99999999999999999999999', range], // 23 digits
      ['&after=9007199254740992', range], // one past the largest safe integer
      ['&after=abc', range],
      ['&after=1e3', range],
      ['&after=%2B5', range], // +5
      ['&after=', range],
      [`&after=${'7'.repeat(10_240)}`, range], // 10 KB
      ['&after=%EF%BC%91', range], // a full-width 1
      ['&after=%F0%9F%92%A5', range],
      ['&after=%00', range],
      ['&after=1&after=2', 'after given more than once'],
    ];
    for (const [query, detail] of attacks) {
      const r = await get(http, path + query);
      expect([query.slice(0, 40), r.status, r.json]).toEqual([query.slice(0, 40), 400, { error: 'bad_request', detail }]);
    }
    const newest = (await feed(http, 0)).json.next as number;
    expect((await feed(http, 0)).status).toBe(200); // zero: from the start
    expect((await feed(http, newest)).json).toEqual({ shop: SHOP.id, changes: [], next: newest, more: false });
    // An id no change ever had (a stock.db restored from an older backup): said at once, not held as a long-poll.
    const ahead = await get(http, `${path}&after=${newest + 1000}&wait=60`);
    expect(ahead).toEqual({ status: 400, json: { error: 'bad_request', detail: `after is beyond the newest change id (${newest})` } });
  });

  it('answers 410 with the oldest id kept once retention removed changes after the cursor', async () => {
    cfg = testConfig(t.dir);
    const old = openDb(cfg.dataDir, 'stock');
    const tenDaysAgo = Date.now() - 10 * 86_400_000;
    importCatalog(old, SHOP.id, parseCatalog(Buffer.from('B,Beta,1,0,0\nC,Gamma,2,0,0\n')), undefined, tenDaysAgo);
    old.close();
    // The worker prunes at start (retention.uploadDays: 5).
    const { http } = await boot({ relay: false, overrides: { retention: { uploadDays: 5 } } });
    const r = await feed(http, 0);
    expect(r.status).toBe(410);
    expect(r.json.error).toBe('cursor_expired');
    const kept = db.prepare('SELECT MIN(id) FROM stock_changes WHERE shop_id = ?').pluck().get(SHOP.id) as number;
    expect(r.json.oldest).toBe(kept);
    expect((await feed(http, kept - 1)).json.changes.map((c: any) => c.code)).toEqual(['A']);
  });
});
