// Variants in the apply transaction (real SQLite files): the same rules as products, the product's own code
// skipped as variant_product, and a stock.db made by the schema before variants upgraded in place.
import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { openDb, type DB } from '../../src/db/open.js';
import { importCatalog, parseCatalog, productView } from '../../src/stock/catalog.js';
import { UploadStore } from '../../src/stock/store.js';
import { applyUpload } from '../../src/stock/apply/apply.js';
import { uploadAnswer } from '../../src/queries/uploads.js';
import { tempDir } from '../helpers/env.js';

const SHOP = 'croft-zakka';
const HEADER = 'product_code,name,stock,unlimited,uses_stock_management_code,stock_code\n';
const MIGRATIONS = join(import.meta.dirname, '..', '..', 'src', 'db', 'migrations', 'stock');
const VARIANTS_MIGRATION = readdirSync(MIGRATIONS).find((f) => f.endsWith('_variants.sql'))!;

let t: ReturnType<typeof tempDir>;
let db: DB;
const upload = (pairs: [string, string][]) =>
  new UploadStore(db).insert(
    SHOP,
    { source: 'http', charset: 'utf-8' },
    pairs.map(([code, rawStock]) => ({ code, rawStock })),
  );
const outcomes = (id: number) => new UploadStore(db).items(id).map((i) => [i.code, i.outcome, i.reason]);
const stockOf = (code: string) => productView(db, SHOP, code)?.stock;

beforeEach(() => {
  t = tempDir();
});
afterEach(() => {
  db?.close();
  t.cleanup();
});

describe('apply with variants', () => {
  beforeEach(() => {
    db = openDb(t.dir, 'stock');
    const csv = HEADER + 'TS,S,3,0,1,TS-S\nTS,M,4,0,1,TS-M\nTS,L,,1,1,TS-L\nOLD,old,1,0,1,\nMUG,mug,1,0,0,\n';
    importCatalog(db, SHOP, parseCatalog(Buffer.from(csv)));
  });

  it('keeps the rules per variant and skips the product code as variant_product, answered no_product', () => {
    const id = upload([
      ['TS-S', '1'],
      ['TS-M', 'x'],
      ['TS-L', '7'],
      ['TS', '9'],
      ['OLD', '2'],
      ['TS-S', '5'],
    ]);
    applyUpload(db, id);
    expect(outcomes(id)).toEqual([
      ['TS-S', 'skipped', 'duplicate_in_upload'],
      ['TS-M', 'skipped', 'invalid_stock'],
      ['TS-L', 'skipped', 'unlimited_stock'],
      ['TS', 'skipped', 'variant_product'],
      ['OLD', 'skipped', 'stock_management_code'],
      ['TS-S', 'applied', null],
    ]);
    expect([stockOf('TS-S'), stockOf('TS-M'), stockOf('TS-L'), stockOf('TS')]).toEqual([5, 4, null, null]);
    expect(uploadAnswer(new UploadStore(db), id, ['unknown_code', 'invalid_stock', 'variant_product'], 10).lines).toEqual([
      'NG',
      'invalid_stock(product_code=TS-M)',
      'no_product(product_code=TS)',
    ]);
    const change = db.prepare("SELECT code, product_code, old_stock, new_stock FROM stock_changes WHERE source = 'upload'").all();
    expect(change).toEqual([{ code: 'TS-S', product_code: 'TS', old_stock: 3, new_stock: 5 }]);
  });

  it('skips a variant as stale when a newer upload set it', () => {
    const older = upload([['TS-M', '1']]);
    const newer = upload([['TS-M', '2']]);
    applyUpload(db, newer);
    applyUpload(db, older);
    expect(outcomes(older)).toEqual([['TS-M', 'skipped', 'stale']]);
    expect(stockOf('TS-M')).toBe(2);
  });

  it('records the catalog import of a variant with its product code', () => {
    importCatalog(db, SHOP, parseCatalog(Buffer.from(HEADER + 'TS,S,8,0,1,TS-S\nTS,M,4,0,1,TS-M\nTS,L,,1,1,TS-L\n')));
    const changes = db
      .prepare("SELECT code, product_code, old_stock, new_stock FROM stock_changes WHERE source = 'import' AND old_stock IS NOT NULL")
      .all();
    expect(changes).toEqual([{ code: 'TS-S', product_code: 'TS', old_stock: 3, new_stock: 8 }]);
  });
});

describe('migration', () => {
  it('upgrades a stock.db made by the schema before variants in place, keeping products, uploads and changes', () => {
    // The previous schema, built from the migrations that came before this one.
    const old = new Database(join(t.dir, 'stock.db'));
    const before = readdirSync(MIGRATIONS)
      .filter((f) => /^\d+_.*\.sql$/.test(f) && f < VARIANTS_MIGRATION)
      .sort();
    for (const f of before) old.exec(readFileSync(join(MIGRATIONS, f), 'utf8'));
    old.pragma(`user_version = ${parseInt(before.at(-1)!, 10)}`);
    const product = old.prepare(`INSERT INTO products (shop_id, code, name, stock, unlimited, uses_stock_codes, last_upload_id, updated_at)
      VALUES (?, ?, ?, ?, 0, ?, 1, 1)`);
    product.run(SHOP, 'TS', 'T', 3, 1);
    product.run(SHOP, 'MUG', 'mug', 2, 0);
    old
      .prepare(
        "INSERT INTO uploads (shop_id, source, charset, received_at, item_count, status) VALUES (?, 'http', 'utf-8', 1, 1, 'applied')",
      )
      .run(SHOP);
    old.prepare("INSERT INTO upload_items (upload_id, seq, code, raw_stock, stock, outcome) VALUES (1, 0, 'MUG', '2', 2, 'applied')").run();
    const changeCols = (old.prepare('PRAGMA table_info(stock_changes)').all() as { name: string }[]).map((c) => c.name);
    const change = {
      shop_id: SHOP,
      code: 'MUG',
      product_code: 'MUG',
      old_stock: 1,
      new_stock: 2,
      source: 'upload',
      upload_id: 1,
      changed_at: 1,
    };
    const cols = changeCols.filter((c) => c in change);
    old.prepare(`INSERT INTO stock_changes (${cols.join(',')}) VALUES (${cols.map((c) => '@' + c).join(',')})`).run(change);
    // Every column the previous schema had, as it was.
    const tables = ['products', 'uploads', 'upload_items', 'stock_changes'].map((table) => ({
      table,
      names: (old.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[]).map((c) => c.name),
    }));
    const snapshot = (d: InstanceType<typeof Database>) =>
      tables.map(({ table, names }) => d.prepare(`SELECT ${names.join(',')} FROM ${table} ORDER BY 1, 2`).all());
    const kept = snapshot(old);
    old.close();

    db = openDb(t.dir, 'stock');
    const latest = Math.max(
      ...readdirSync(MIGRATIONS)
        .map((f) => parseInt(f, 10))
        .filter((n) => n > 0),
    );
    expect(db.pragma('user_version', { simple: true })).toBe(latest);
    expect(snapshot(db)).toEqual(kept);
    expect(db.prepare('SELECT code, parent_code, has_variants FROM products ORDER BY code').all()).toEqual([
      { code: 'MUG', parent_code: null, has_variants: 0 },
      { code: 'TS', parent_code: null, has_variants: 0 },
    ]);
    // Without variant rows, TS keeps today's skip; its variants imported, the product code is variant_product.
    let id = upload([['TS', '5']]);
    applyUpload(db, id);
    expect(outcomes(id)).toEqual([['TS', 'skipped', 'stock_management_code']]);
    importCatalog(db, SHOP, parseCatalog(Buffer.from(HEADER + 'TS,T S,1,0,1,TS-S\n')));
    id = upload([
      ['TS', '5'],
      ['TS-S', '6'],
    ]);
    applyUpload(db, id);
    expect(outcomes(id)).toEqual([
      ['TS', 'skipped', 'variant_product'],
      ['TS-S', 'applied', null],
    ]);
  });
});
