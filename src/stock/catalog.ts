// The shop's catalog in and out of stock.db as CSV:
// product_code,name,stock,unlimited,uses_stock_management_code (booleans 0/1, stock empty when unlimited).
import type { DB } from '../db/open.js';
import { parseCsv, csvLine, decodeFile } from './csv.js';
import { parseStockValue } from './stock-value.js';

export const CATALOG_HEADER = ['product_code', 'name', 'stock', 'unlimited', 'uses_stock_management_code'];

export class CatalogError extends Error {}

interface CatalogRow {
  code: string;
  name: string;
  stock: number | null;
  unlimited: number;
  usesCodes: number;
}

function readBool(v: string, line: number, col: string): number {
  if (v === '0' || v === '') return 0;
  if (v === '1') return 1;
  throw new CatalogError(`line ${line}: ${col} must be 0 or 1, got ${JSON.stringify(v)}`);
}

export function parseCatalog(bytes: Buffer, encoding?: string): CatalogRow[] {
  const { text } = decodeFile(bytes, encoding);
  const rows = parseCsv(text);
  if (rows.length && rows[0].cells.join(',') === CATALOG_HEADER.join(',')) rows.shift();
  const seen = new Map<string, number>();
  return rows.map(({ line, cells }) => {
    if (cells.length !== CATALOG_HEADER.length)
      throw new CatalogError(`line ${line}: expected ${CATALOG_HEADER.length} columns (${CATALOG_HEADER.join(',')}), got ${cells.length}`);
    const [code, name, stockText, unl, uses] = cells;
    if (code === '') throw new CatalogError(`line ${line}: product_code is empty`);
    if (seen.has(code)) throw new CatalogError(`line ${line}: product_code ${code} already on line ${seen.get(code)}`);
    seen.set(code, line);
    const unlimited = readBool(unl, line, 'unlimited');
    const stock = stockText === '' && unlimited ? null : parseStockValue(stockText);
    if (stock === null && !unlimited)
      throw new CatalogError(`line ${line}: stock ${JSON.stringify(stockText)} is not a whole number from 0 to 2147483647`);
    return { code, name, stock, unlimited, usesCodes: readBool(uses, line, 'uses_stock_management_code') };
  });
}

/**
 * Upserts every row in one transaction (all or nothing); returns how many rows were written. A limited
 * stock that differs from before is recorded as a change with source `import` (the feed's cart sees it).
 */
export function importCatalog(db: DB, shopId: string, rows: CatalogRow[], onProgress?: (done: number) => void, now = Date.now()): number {
  const record = db.prepare(`INSERT INTO stock_changes (shop_id, code, product_code, old_stock, new_stock, source, changed_at)
    SELECT @shop, @code, @code, (SELECT stock FROM products WHERE shop_id = @shop AND code = @code), @stock, 'import', @now
    WHERE @stock IS NOT NULL
      AND (SELECT stock FROM products WHERE shop_id = @shop AND code = @code) IS NOT @stock`);
  const upsert = db.prepare(`INSERT INTO products (shop_id, code, name, stock, unlimited, uses_stock_codes, stock_set_at, updated_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (shop_id, code) DO UPDATE SET name = excluded.name, stock = excluded.stock, unlimited = excluded.unlimited,
      uses_stock_codes = excluded.uses_stock_codes, stock_set_at = excluded.stock_set_at, updated_at = excluded.updated_at`);
  return db
    .transaction(() => {
      rows.forEach((r, i) => {
        const stock = r.unlimited ? null : r.stock;
        record.run({ shop: shopId, code: r.code, stock, now });
        upsert.run(shopId, r.code, r.name, stock, r.unlimited, r.usesCodes, now, now);
        if (onProgress && i % 5000 === 4999) onProgress(i + 1);
      });
      return rows.length;
    })
    .immediate();
}

export function* exportCatalog(db: DB, shopId: string): Generator<string> {
  yield csvLine(CATALOG_HEADER);
  const rows = db
    .prepare('SELECT code, name, stock, unlimited, uses_stock_codes FROM products WHERE shop_id = ? ORDER BY code')
    .iterate(shopId) as IterableIterator<{ code: string; name: string; stock: number | null; unlimited: number; uses_stock_codes: number }>;
  for (const r of rows) yield csvLine([r.code, r.name, r.unlimited ? null : r.stock, r.unlimited, r.uses_stock_codes]);
}

export function productView(db: DB, shopId: string, code: string, page = { limit: 20, offset: 0 }) {
  const p = db.prepare('SELECT * FROM products WHERE shop_id = ? AND code = ?').get(shopId, code) as
    | {
        code: string;
        name: string;
        stock: number | null;
        unlimited: number;
        uses_stock_codes: number;
        last_upload_id: number;
        updated_at: number;
      }
    | undefined;
  if (!p) return undefined;
  const changes = db
    .prepare(
      `SELECT id, source, upload_id AS uploadId, order_number AS orderNumber, old_stock AS oldStock, new_stock AS newStock,
      changed_at AS changedAt FROM stock_changes WHERE shop_id = ? AND code = ? ORDER BY id DESC LIMIT ? OFFSET ?`,
    )
    .all(shopId, code, page.limit, page.offset);
  const skips = db
    .prepare(
      `SELECT i.upload_id AS uploadId, i.reason, i.raw_stock AS rawStock, u.received_at AS receivedAt
    FROM upload_items i JOIN uploads u ON u.id = i.upload_id
    WHERE i.code = ? AND i.outcome = 'skipped' AND u.shop_id = ? ORDER BY i.upload_id DESC LIMIT ? OFFSET ?`,
    )
    .all(code, shopId, page.limit, page.offset);
  return {
    shop: shopId,
    product_code: p.code,
    name: p.name,
    stock: p.stock,
    unlimited: !!p.unlimited,
    uses_stock_management_code: !!p.uses_stock_codes,
    lastUploadId: p.last_upload_id,
    updatedAt: p.updated_at,
    changes,
    skips,
  };
}
