import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { openDb, type DB } from '../../src/db/open.js';
import { UploadStore } from '../../src/stock/store.js';
import { applyUpload } from '../../src/stock/apply/apply.js';
import { importCatalog, parseCatalog, productView } from '../../src/stock/catalog.js';
import { applyOrder } from '../../src/stock/orders/decrement.js';
import { orderKeepDays, pruneOrders } from '../../src/stock/orders/prune.js';
import { ChangeFeed } from '../../src/stock/changes/feed.js';
import { listSkips, skipsPage } from '../../src/queries/uploads.js';
import type { OrderJobData } from '../../src/queue/names.js';
import { tempDir } from '../helpers/env.js';

const SHOP = 'croft-zakka';
let t: ReturnType<typeof tempDir>;
let db: DB;
let store: UploadStore;

const stockOf = (code: string) => productView(db, SHOP, code)?.stock;
const storeUpload = (items: [string, string][], receivedAt: number) =>
  store.insert(
    SHOP,
    { source: 'http', charset: 'utf-8' },
    items.map(([code, rawStock]) => ({ code, rawStock })),
    receivedAt,
  );
const order = (acceptedAt: number, items: [string, number][], orderNumber = '1001'): OrderJobData => ({
  shop: SHOP,
  key: orderNumber,
  orderNumber,
  qid: `Q${orderNumber}`,
  acceptedAt,
  items: items.map(([code, quantity]) => ({ code, quantity })),
});
const itemOutcomes = (key: string) =>
  db.prepare('SELECT code, outcome, reason FROM order_items WHERE shop_id = ? AND order_number = ? ORDER BY seq').raw().all(SHOP, key);

beforeEach(() => {
  t = tempDir();
  db = openDb(t.dir, 'stock');
  store = new UploadStore(db);
  importCatalog(db, SHOP, parseCatalog(Buffer.from('A,Alpha,10,0,0\nB,Beta,1,0,0\nU,Unl,,1,0\nV,Var,3,0,1')), undefined, 1000);
});
afterEach(() => {
  db.close();
  t.cleanup();
});

describe('order decrement', () => {
  it('lowers stock once per order, never below 0, records changes with the order number and skips with reasons', () => {
    const r = applyOrder(
      db,
      order(5000, [
        ['A', 2],
        ['B', 5],
        ['NOPE', 1],
        ['U', 1],
        ['V', 1],
      ]),
    );
    expect(r).toMatchObject({ applied: 2, skipped: 3, alreadyApplied: false });
    expect([stockOf('A'), stockOf('B'), stockOf('U'), stockOf('V')]).toEqual([8, 0, null, 3]);
    expect(itemOutcomes('1001')).toEqual([
      ['A', 'applied', null],
      ['B', 'applied', null],
      ['NOPE', 'skipped', 'unknown_code'],
      ['U', 'skipped', 'unlimited_stock'],
      ['V', 'skipped', 'stock_management_code'],
    ]);
    const changes = new ChangeFeed(db).page(SHOP, 0, 100, ['order']);
    expect('changes' in changes && changes.changes.map((c) => [c.code, c.previous, c.stock, c.source, c.orderNumber, c.uploadId])).toEqual([
      ['A', 10, 8, 'order', '1001', null],
      ['B', 1, 0, 'order', '1001', null],
    ]);
    // The same order again (a second mail of it, a repeated job): nothing changes.
    expect(applyOrder(db, { ...order(6000, [['A', 2]]), qid: 'Qother' }).alreadyApplied).toBe(true);
    expect(stockOf('A')).toBe(8);
    // Already 0: no change recorded.
    applyOrder(db, order(7000, [['B', 1]], '1002'));
    expect(stockOf('B')).toBe(0);
    expect(db.prepare("SELECT COUNT(*) FROM stock_changes WHERE order_number = '1002'").pluck().get()).toBe(0);
  });

  it('an upload received before the mail applies before the decrement, even when its job comes later', () => {
    const before = storeUpload([['A', '20']], 4000); // stored, its apply job still queued
    const r = applyOrder(db, order(5000, [['A', 2]]));
    expect(r.uploadsFirst).toEqual([before]);
    expect(stockOf('A')).toBe(18);
    expect(applyUpload(db, before).alreadyApplied).toBe(true); // its own job, late: nothing more
    expect(stockOf('A')).toBe(18);
  });

  it('an upload received after the mail is applied after it: the decrement applied on time is overwritten', () => {
    applyOrder(db, order(5000, [['A', 2]]));
    expect(stockOf('A')).toBe(8);
    applyUpload(db, storeUpload([['A', '8']], 6000)); // zaiko Robot's value counts the sale
    expect(stockOf('A')).toBe(8);
  });

  it('an upload received after the mail but applied before a delayed decrement makes the decrement stale', () => {
    applyUpload(db, storeUpload([['A', '8']], 6000)); // the order's job was held up (Redis outage)
    const r = applyOrder(db, order(5000, [['A', 2]]));
    expect(r).toMatchObject({ applied: 0, skipped: 1 });
    expect(itemOutcomes('1001')).toEqual([['A', 'skipped', 'stale']]);
    expect(stockOf('A')).toBe(8);
  });

  it('an upload received after the mail is not applied ahead of the decrement', () => {
    const after = storeUpload([['A', '8']], 6000);
    const r = applyOrder(db, order(5000, [['A', 2]]));
    expect(r.uploadsFirst).toEqual([]);
    expect(stockOf('A')).toBe(8); // 10 - 2
    applyUpload(db, after);
    expect(stockOf('A')).toBe(8);
  });

  it("lists an order mail's skips with the uploads' ones, newest first, with their source, and pages both by keyset", () => {
    applyUpload(
      db,
      storeUpload(
        [
          ['NOPE', '4'],
          ['A', 'x'],
          ['ZZ', '1'],
        ],
        4000,
      ),
    ); // unknown_code, invalid_stock, unknown_code
    applyOrder(
      db,
      order(
        5000,
        [
          ['NOPE', 2],
          ['U', 1],
        ],
        '1001',
      ),
    ); // unknown_code, unlimited_stock
    applyUpload(db, storeUpload([['NOPE', '3']], 6000));
    applyOrder(db, order(7000, [['NOPE', 1]], '1002'));
    const row = (s: ReturnType<typeof listSkips>[number]) => `${s.source}:${s.uploadId ?? s.orderNumber}/${s.product_code}/${s.reason}`;
    const all = listSkips(store, { limit: 100 }).map(row);
    expect(all).toEqual([
      'order:1002/NOPE/unknown_code',
      'upload:2/NOPE/unknown_code',
      'order:1001/U/unlimited_stock',
      'order:1001/NOPE/unknown_code',
      'upload:1/ZZ/unknown_code',
      'upload:1/A/invalid_stock',
      'upload:1/NOPE/unknown_code',
    ]);
    expect(listSkips(store, { reason: 'unlimited_stock', limit: 100 })).toEqual([
      {
        uploadId: null,
        shop: SHOP,
        product_code: 'U',
        reason: 'unlimited_stock',
        rawStock: null,
        receivedAt: new Date(5000).toISOString(),
        source: 'order',
        orderNumber: '1001',
        orderMail: 'Q1001',
        quantity: 1,
      },
    ]);
    expect(listSkips(store, { since: 5000, limit: 100 }).map(row)).toEqual(all.slice(0, 4));
    expect(listSkips(store, { limit: 3, offset: 2 }).map(row)).toEqual(all.slice(2, 5));
    // Keyset pages over both tables: every skip once, in the same order, whatever the page size.
    for (const limit of [1, 2, 3]) {
      const seen: string[] = [];
      let after: string | undefined;
      for (let n = 0; n < 20; n++) {
        const p = skipsPage(store, { limit }, after);
        seen.push(...p.skips.map(row));
        if (!p.next) break;
        after = p.next;
      }
      expect(seen).toEqual(all);
    }
    const unknown = skipsPage(store, { reason: 'unknown_code', limit: 2 });
    expect(unknown.skips.map(row)).toEqual(['order:1002/NOPE/unknown_code', 'upload:2/NOPE/unknown_code']);
    expect(skipsPage(store, { reason: 'unknown_code', limit: 2 }, unknown.next).skips.map(row)).toEqual([
      'order:1001/NOPE/unknown_code',
      'upload:1/ZZ/unknown_code',
    ]);
    // A product's page: its skips of both sources; the upload one keeps its id.
    expect(productView(db, SHOP, 'U')!.skips).toEqual([
      expect.objectContaining({ source: 'order', uploadId: null, orderNumber: '1001', orderMail: 'Q1001', quantity: 1, rawStock: null }),
    ]);
    expect(productView(db, SHOP, 'A')!.skips).toEqual([
      expect.objectContaining({ source: 'upload', uploadId: 1, orderNumber: null, rawStock: 'x', reason: 'invalid_stock' }),
    ]);
  });
});

describe('order retention', () => {
  const DAY = 86_400_000;
  const count = (table: string) => db.prepare(`SELECT COUNT(*) FROM ${table}`).pluck().get() as number;
  const many = (n: number): [string, number][] => Array.from({ length: n }, (_, i) => [i % 2 ? 'A' : `GONE-${i}`, 0]);

  it('keeps orders as long as the longer of retention.mailDays and uploadDays', () => {
    expect(orderKeepDays({ mailDays: 90, uploadDays: 30 })).toBe(90);
    expect(orderKeepDays({ mailDays: 7, uploadDays: 90 })).toBe(90);
  });

  it('removes orders applied before the cut with their items; a kept order’s second mail still changes nothing', async () => {
    const now = Date.now();
    applyOrder(db, order(now - 100 * DAY, [['A', 1]], 'OLD-1'), now - 100 * DAY);
    applyOrder(db, order(now - 95 * DAY, many(30), 'OLD-2'), now - 95 * DAY);
    applyOrder(db, order(now - 10 * DAY, [['A', 2]], 'NEW-1'), now - 10 * DAY);
    expect(stockOf('A')).toBe(7); // the big order's items sell 0
    expect(await pruneOrders(db, now - 90 * DAY)).toEqual({ orders: 2, items: 31 });
    expect(db.prepare('SELECT order_number FROM orders').pluck().all()).toEqual(['NEW-1']);
    expect(db.prepare('SELECT DISTINCT order_number FROM order_items').pluck().all()).toEqual(['NEW-1']);
    // Inside the window the order is still known: a second mail of it (another queue id) lowers nothing.
    expect(applyOrder(db, { ...order(now, [['A', 2]], 'NEW-1'), qid: 'Qsecond' }).alreadyApplied).toBe(true);
    expect(stockOf('A')).toBe(7);
    expect(await pruneOrders(db, now - 90 * DAY)).toEqual({ orders: 0, items: 0 });
  });

  it('removes in bounded transactions: an order with more items than a batch is emptied first, its row last', async () => {
    const old = Date.now() - 100 * DAY;
    applyOrder(db, order(old, many(25), 'BIG'), old);
    applyOrder(db, order(old + 1, many(3), 'SMALL'), old + 1);
    expect([count('orders'), count('order_items')]).toEqual([2, 28]);
    let batches = 0;
    // Stopped after the first batch: exactly 10 rows went, all of them items of the oldest order.
    expect(await pruneOrders(db, Date.now(), () => batches++ > 0, 10)).toEqual({ orders: 0, items: 10 });
    expect([count('orders'), count('order_items')]).toEqual([2, 18]);
    batches = 0;
    expect(await pruneOrders(db, Date.now(), () => (batches++, false), 10)).toEqual({ orders: 2, items: 18 });
    expect([count('orders'), count('order_items')]).toEqual([0, 0]);
    expect(batches).toBe(3); // the big order's last 5 items, its row, the small order (10 rows); then one that finds nothing
  });
});
