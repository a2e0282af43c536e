import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { openDb, type DB } from '../../src/db/open.js';
import { UploadStore } from '../../src/stock/store.js';
import { applyUpload } from '../../src/stock/apply/apply.js';
import { importCatalog, parseCatalog } from '../../src/stock/catalog.js';
import { ChangeFeed, pruneChanges } from '../../src/stock/changes/feed.js';
import { tempDir } from '../helpers/env.js';

const SHOP = 'croft-zakka';
let t: ReturnType<typeof tempDir>;
let db: DB;
let store: UploadStore;
let feed: ChangeFeed;

const upload = (items: [string, string][], shop = SHOP, now?: number) =>
  applyUpload(
    db,
    store.insert(
      shop,
      { source: 'http', charset: 'utf-8' },
      items.map(([code, rawStock]) => ({ code, rawStock })),
      now,
    ),
  ).uploadId;
const page = (after: number, limit?: number, shop = SHOP) => {
  const p = feed.page(shop, after, limit);
  if ('expired' in p) throw new Error(`expired, oldest ${p.oldest}`);
  return p;
};

beforeEach(() => {
  t = tempDir();
  db = openDb(t.dir, 'stock');
  store = new UploadStore(db);
  feed = new ChangeFeed(db);
  importCatalog(db, SHOP, parseCatalog(Buffer.from('A,Alpha,10,0,0\nB,Beta,5,0,0\nU,Unl,,1,0')));
  importCatalog(db, 'other', parseCatalog(Buffer.from('A,Alpha,1,0,0')));
});
afterEach(() => {
  db.close();
  t.cleanup();
});

describe('change feed', () => {
  it('lists a shop’s changes in id order with their source, in pages', () => {
    const u = upload([
      ['A', '7'],
      ['B', '5'],
    ]);
    const first = page(0);
    expect(first.changes.map((c) => [c.code, c.productCode, c.stock, c.previous, c.source, c.uploadId, c.orderNumber])).toEqual([
      ['A', 'A', 10, null, 'import', null, null],
      ['B', 'B', 5, null, 'import', null, null],
      ['A', 'A', 7, 10, 'upload', u, null],
    ]);
    expect(first.more).toBe(false);
    expect(first.changes[2].at).toMatch(/^\d{4}-\d\d-\d\dT.*Z$/);
    const two = page(0, 2);
    expect(two.changes.map((c) => c.stock)).toEqual([10, 5]);
    expect(two.more).toBe(true);
    const rest = page(two.next, 2);
    expect(rest.changes.map((c) => c.stock)).toEqual([7]);
    expect(rest.more).toBe(false);
    expect(page(rest.next).changes).toEqual([]);
    expect(page(rest.next).next).toBe(rest.next);
    // The other shop's change is between them in id order, but not in this shop's feed.
    expect(page(0, 10, 'other').changes.map((c) => c.stock)).toEqual([1]);
  });

  it('never reuses an id, even after retention removed every change', async () => {
    upload([['A', '3']]);
    const last = feed.latestId(SHOP);
    expect(await pruneChanges(db, Date.now() + 1000)).toBeGreaterThan(0);
    expect(db.prepare('SELECT COUNT(*) FROM stock_changes').pluck().get()).toBe(0);
    upload([['A', '4']]);
    expect(page(last).changes[0].id).toBeGreaterThan(last);
  });

  it('answers expired (with the oldest id kept) for a cursor before what retention removed', async () => {
    upload([['A', '3']], SHOP, Date.now() - 10 * 86_400_000);
    const oldId = feed.latestId(SHOP);
    db.prepare('UPDATE stock_changes SET changed_at = ? WHERE shop_id = ?').run(Date.now() - 10 * 86_400_000, SHOP);
    upload([['A', '4']]);
    const kept = feed.latestId(SHOP);
    await store.prune(5);
    expect(feed.page(SHOP, 0)).toEqual({ expired: true, oldest: kept });
    expect(feed.page(SHOP, oldId - 1)).toEqual({ expired: true, oldest: kept });
    expect(page(oldId).changes.map((c) => c.id)).toEqual([kept]);
    // Another shop's cursor is not expired by this shop's retention.
    expect(page(0, 10, 'other').changes).toHaveLength(1);
  });

  it('records an import only where a limited stock changed', () => {
    const before = feed.latestId(SHOP);
    importCatalog(db, SHOP, parseCatalog(Buffer.from('A,Alpha,10,0,0\nB,Beta,6,0,0\nU,Unl,,1,0')));
    expect(page(before).changes.map((c) => [c.code, c.previous, c.stock, c.source])).toEqual([['B', 5, 6, 'import']]);
  });
});
