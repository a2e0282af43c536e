import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { openDb, migrate, type DB } from '../../src/db/open.js';
import { UploadStore } from '../../src/stock/store.js';
import { applyUpload } from '../../src/stock/apply/apply.js';
import { releaseAfterUpload } from '../../src/stock/release-memory.js';
import { importCatalog, parseCatalog, exportCatalog, productView } from '../../src/stock/catalog.js';
import { ChangeFeed } from '../../src/stock/changes/feed.js';
import { tempDir } from '../helpers/env.js';

const SHOP = 'croft-zakka';
let t: ReturnType<typeof tempDir>;
let db: DB;
let store: UploadStore;

const CATALOG = [
  'product_code,name,stock,unlimited,uses_stock_management_code',
  'A-1,Alpha,10,0,0',
  'B-2,Beta,5,0,0',
  'UNL,Unlimited,,1,0',
  'VAR,Variants,3,0,1',
  'ＦＵＬＬ,Full-width,1,0,0',
  '"Q,1","Quoted, name",2,0,0',
].join('\n');

const upload = (items: [string, string][]) =>
  store.insert(
    SHOP,
    { source: 'http', charset: 'utf-8' },
    items.map(([code, rawStock]) => ({ code, rawStock })),
  );
const stockOf = (code: string) => productView(db, SHOP, code)?.stock;
const outcomes = (id: number) => store.items(id).map((i) => [i.code, i.outcome, i.reason]);

beforeEach(() => {
  t = tempDir();
  db = openDb(t.dir, 'stock');
  store = new UploadStore(db);
  importCatalog(db, SHOP, parseCatalog(Buffer.from(CATALOG)));
});
afterEach(() => {
  db.close();
  t.cleanup();
});

describe('migrations', () => {
  it('apply on a fresh file and are not applied twice', () => {
    expect(db.pragma('user_version', { simple: true })).toBeGreaterThan(0);
    expect(migrate(db, 'stock')).toBe(0);
    const ledger = openDb(t.dir, 'ledger');
    expect(migrate(ledger, 'ledger')).toBe(0);
    expect(ledger.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all()).toEqual([
      'forward_claims',
      'message_bodies',
      'message_recipients',
      'messages',
    ]);
    expect(ledger.pragma('journal_mode', { simple: true })).toBe('wal');
    ledger.close();
  });
});

describe('apply', () => {
  it('records every skip reason and applies the rest', () => {
    const id = upload([
      ['A-1', '７'],
      ['NOPE', '1'],
      ['UNL', '4'],
      ['VAR', '4'],
      ['B-2', '5.0'],
      ['FULL', '1'],
      ['ＦＵＬＬ', '9'],
      ['Q,1', '0'],
    ]);
    const r = applyUpload(db, id);
    expect(r).toMatchObject({ applied: 3, skipped: 5, alreadyApplied: false });
    expect(outcomes(id)).toEqual([
      ['A-1', 'applied', null],
      ['NOPE', 'skipped', 'unknown_code'],
      ['UNL', 'skipped', 'unlimited_stock'],
      ['VAR', 'skipped', 'stock_management_code'],
      ['B-2', 'skipped', 'invalid_stock'],
      ['FULL', 'skipped', 'unknown_code'],
      ['ＦＵＬＬ', 'applied', null],
      ['Q,1', 'applied', null],
    ]);
    expect([stockOf('A-1'), stockOf('B-2'), stockOf('UNL'), stockOf('VAR'), stockOf('ＦＵＬＬ'), stockOf('Q,1')]).toEqual([
      7,
      5,
      null,
      3,
      9,
      0,
    ]);
    expect(productView(db, SHOP, 'A-1')!.changes).toEqual([
      expect.objectContaining({ source: 'upload', uploadId: id, oldStock: 10, newStock: 7 }),
      expect.objectContaining({ source: 'import', uploadId: null, oldStock: null, newStock: 10 }),
    ]);
  });

  it('last occurrence of a code wins; earlier ones are duplicate_in_upload', () => {
    const id = upload([
      ['A-1', '1'],
      ['B-2', '2'],
      ['A-1', '3'],
    ]);
    applyUpload(db, id);
    expect(outcomes(id)).toEqual([
      ['A-1', 'skipped', 'duplicate_in_upload'],
      ['B-2', 'applied', null],
      ['A-1', 'applied', null],
    ]);
    expect(stockOf('A-1')).toBe(3);
  });

  it('an older upload applied after a newer one is stale and changes nothing', () => {
    const older = upload([['A-1', '1']]);
    const newer = upload([['A-1', '2']]);
    applyUpload(db, newer);
    applyUpload(db, older);
    expect(stockOf('A-1')).toBe(2);
    expect(outcomes(older)).toEqual([['A-1', 'skipped', 'stale']]);
  });

  it('applying an applied upload again changes nothing', () => {
    const id = upload([['A-1', '4']]);
    applyUpload(db, id);
    const changes = db.prepare('SELECT COUNT(*) FROM stock_changes').pluck().get();
    expect(applyUpload(db, id)).toMatchObject({ alreadyApplied: true, applied: 1 });
    expect(db.prepare('SELECT COUNT(*) FROM stock_changes').pluck().get()).toBe(changes);
  });

  it('catalog export is the import, byte for byte, in code order', () => {
    const csv = [...exportCatalog(db, SHOP)].join('');
    expect(csv).toBe(
      [
        'product_code,name,stock,unlimited,uses_stock_management_code',
        'A-1,Alpha,10,0,0',
        'B-2,Beta,5,0,0',
        '"Q,1","Quoted, name",2,0,0',
        'UNL,Unlimited,,1,0',
        'VAR,Variants,3,0,1',
        'ＦＵＬＬ,Full-width,1,0,0',
      ].join('\r\n') + '\r\n',
    );
  });

  it('a bad catalog row names its line and nothing is imported', () => {
    expect(() =>
      parseCatalog(Buffer.from('product_code,name,stock,unlimited,uses_stock_management_code\nX,x,1,0,0\nY,y,-3,0,0\n')),
    ).toThrow(/^line 3: stock "-3"/);
    expect(() => parseCatalog(Buffer.from('X,x,1,0\n'))).toThrow(/^line 1: expected 5 columns/);
    expect(() => parseCatalog(Buffer.from('X,x,1,0,0\nX,y,1,0,0\n'))).toThrow(/line 2: product_code X already on line 1/);
    expect(() => parseCatalog(Buffer.from('X,x,1,2,0\n'))).toThrow(/unlimited must be 0 or 1/);
  });

  it('reads a Shift_JIS catalog (BOM-less), detected', async () => {
    const iconv = (await import('iconv-lite')).default;
    const rows = parseCatalog(iconv.encode('手ぬぐい-赤,手ぬぐい,3,0,0\r\n', 'cp932'));
    expect(rows[0]).toMatchObject({ code: '手ぬぐい-赤', stock: 3 });
    expect(parseCatalog(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('A,a,1,0,0')]))[0].code).toBe('A');
  });

  it('prunes items and changes past retention, keeps the upload summary', async () => {
    db.prepare('DELETE FROM stock_changes').run(); // the catalog import's, made now
    const id = store.insert(SHOP, { source: 'http', charset: 'utf-8' }, [{ code: 'A-1', rawStock: '1' }], Date.now() - 100 * 86_400_000);
    applyUpload(db, id, Date.now() - 100 * 86_400_000);
    expect(await store.prune(90)).toEqual({ items: 1, changes: 1 });
    expect(store.get(id)?.status).toBe('applied');
    expect(await store.prune(90)).toEqual({ items: 0, changes: 0 });
  });

  it('prunes in bounded transactions: a big upload’s items and changes go a batch at a time', async () => {
    const old = Date.now() - 100 * 86_400_000;
    const codes = Array.from({ length: 25 }, (_, i) => `B-${i}`);
    importCatalog(db, SHOP, parseCatalog(Buffer.from(codes.map((c) => `${c},b,1,0,0`).join('\n'))), undefined, old);
    db.prepare('UPDATE stock_changes SET changed_at = ?').run(old);
    const id = store.insert(
      SHOP,
      { source: 'http', charset: 'utf-8' },
      codes.map((code) => ({ code, rawStock: '2' })),
      old,
    );
    applyUpload(db, id, old);
    const count = (table: string) => db.prepare(`SELECT COUNT(*) FROM ${table}`).pluck().get() as number;
    const changes = count('stock_changes');
    expect([count('upload_items'), changes]).toEqual([25, changes]);
    let batches = 0;
    // Stopped after the first batch: exactly 10 rows went, all items of the upload; no change yet.
    expect(await store.prune(90, Date.now(), () => batches++ > 0, 10)).toEqual({ items: 10, changes: 0 });
    expect([count('upload_items'), count('stock_changes')]).toEqual([15, changes]);
    // The retention mark is written before its changes go: the feed already answers expired for them.
    const feed = new ChangeFeed(db);
    const through = feed.prunedThrough(SHOP);
    expect(feed.page(SHOP, 0)).toEqual({ expired: true, oldest: through + 1 });
    expect(await store.prune(90, Date.now(), () => false, 10)).toEqual({ items: 15, changes });
    expect([count('upload_items'), count('stock_changes')]).toEqual([0, 0]);
  });

  it('applies the next upload the same after a big one released its page cache', () => {
    const big = upload(Array.from({ length: 10_000 }, (_, i): [string, string] => [i ? `N-${i}` : 'A-1', '7']));
    expect(applyUpload(db, big)).toMatchObject({ applied: 1, skipped: 9_999 });
    releaseAfterUpload(db, 10_000);
    const next = upload([
      ['A-1', '3'],
      ['B-2', '4'],
    ]);
    expect(applyUpload(db, next)).toMatchObject({ applied: 2, skipped: 0 });
    expect([stockOf('A-1'), stockOf('B-2')]).toEqual([3, 4]);
  });
});
