// The shop's catalog in and out of stock.db as CSV: product_code,name,stock,unlimited,uses_stock_management_code
// (booleans 0/1, stock empty when unlimited), and stock_code (在庫管理コード) when the shop has variants.
import type { DB } from '../db/open.js';
import { parseCsv, csvLine, decodeFile } from './csv.js';
import { parseStockValue } from './stock-value.js';
import { UploadStore } from './store.js';
import { CatalogError, checkVariantRows, checkVariantsInDb, variantParents } from './catalog-variants.js';

export { CatalogError };
const CATALOG_HEADER = ['product_code', 'name', 'stock', 'unlimited', 'uses_stock_management_code'];
const STOCK_CODE_HEADERS = ['stock_code', '在庫管理コード'];

interface CatalogRow {
  line?: number;
  code: string;
  name: string;
  stock: number | null;
  unlimited: number;
  usesCodes: number;
  /** 在庫管理コード: the row is this variant of product `code` */
  stockCode?: string;
}

function readBool(v: string, line: number, col: string): number {
  if (v === '0' || v === '') return 0;
  if (v === '1') return 1;
  throw new CatalogError(`line ${line}: ${col} must be 0 or 1, got ${JSON.stringify(v)}`);
}

/** The columns the file has: 5, or 6 with stock_code; a header row (first cell product_code) is checked and dropped. */
function columnCount(rows: { line: number; cells: string[] }[]): number {
  const first = rows[0]?.cells;
  if (!first) return CATALOG_HEADER.length;
  if (first[0] !== CATALOG_HEADER[0]) return first.length === CATALOG_HEADER.length + 1 ? first.length : CATALOG_HEADER.length;
  const ok =
    first.slice(0, CATALOG_HEADER.length).join(',') === CATALOG_HEADER.join(',') &&
    (first.length === CATALOG_HEADER.length || (first.length === CATALOG_HEADER.length + 1 && STOCK_CODE_HEADERS.includes(first[5])));
  if (!ok) throw new CatalogError(`line ${rows[0].line}: the header must be ${CATALOG_HEADER.join(',')}[,stock_code]`);
  rows.shift();
  return first.length;
}

export function parseCatalog(bytes: Buffer, encoding?: string): CatalogRow[] {
  const { text } = decodeFile(bytes, encoding);
  const rows = parseCsv(text);
  const columns = columnCount(rows);
  const parsed = rows.map(({ line, cells }): CatalogRow => {
    if (cells.length !== columns)
      throw new CatalogError(
        `line ${line}: expected ${columns} columns (${CATALOG_HEADER.join(',')}${columns > 5 ? ',stock_code' : ''}), got ${cells.length}`,
      );
    const [code, name, stockText, unl, uses, stockCode = ''] = cells;
    if (code === '') throw new CatalogError(`line ${line}: product_code is empty`);
    const unlimited = readBool(unl, line, 'unlimited');
    const stock = stockText === '' && unlimited ? null : parseStockValue(stockText);
    if (stock === null && !unlimited)
      throw new CatalogError(`line ${line}: stock ${JSON.stringify(stockText)} is not a whole number from 0 to 2147483647`);
    return { line, code, name, stock, unlimited, usesCodes: readBool(uses, line, 'uses_stock_management_code'), stockCode };
  });
  checkVariantRows(parsed);
  return parsed;
}

/**
 * Upserts every row in one transaction (all or nothing); returns how many rows were written. A limited
 * stock that differs from before is recorded as a change with source `import` (the feed's cart sees it).
 * A variant row writes the variant (its stock_code as code) and marks its product as having variants: the
 * product's own row keeps no stock (NULL), takes the first variant's name, and its code is skipped as variant_product.
 */
export function importCatalog(db: DB, shopId: string, rows: CatalogRow[], onProgress?: (done: number) => void, now = Date.now()): number {
  const record = db.prepare(`INSERT INTO stock_changes (shop_id, code, product_code, old_stock, new_stock, source, changed_at)
    SELECT @shop, @code, @productCode, (SELECT stock FROM products WHERE shop_id = @shop AND code = @code), @stock, 'import', @now
    WHERE @stock IS NOT NULL
      AND (SELECT stock FROM products WHERE shop_id = @shop AND code = @code) IS NOT @stock`);
  const upsert = db.prepare(`INSERT INTO products (shop_id, code, name, stock, unlimited, uses_stock_codes, parent_code, has_variants,
      stock_set_at, updated_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (shop_id, code) DO UPDATE SET name = excluded.name, stock = excluded.stock, unlimited = excluded.unlimited,
      uses_stock_codes = excluded.uses_stock_codes, parent_code = excluded.parent_code, has_variants = excluded.has_variants,
      stock_set_at = excluded.stock_set_at, updated_at = excluded.updated_at`);
  return db
    .transaction(() => {
      const parentsBefore = variantParents(db, shopId);
      const products = new Set<string>();
      rows.forEach((r, i) => {
        const stock = r.unlimited ? null : r.stock;
        if (!r.stockCode) {
          record.run({ shop: shopId, code: r.code, productCode: r.code, stock, now });
          upsert.run(shopId, r.code, r.name, stock, r.unlimited, r.usesCodes, null, 0, now, now);
        } else {
          if (!products.has(r.code)) upsert.run(shopId, r.code, r.name, null, 0, 1, null, 1, now, now);
          products.add(r.code);
          record.run({ shop: shopId, code: r.stockCode, productCode: r.code, stock, now });
          upsert.run(shopId, r.stockCode, r.name, stock, r.unlimited, 0, r.code, 0, now, now);
        }
        if (onProgress && i % 5000 === 4999) onProgress(i + 1);
      });
      checkVariantsInDb(db, shopId, rows, parentsBefore);
      return rows.length;
    })
    .immediate();
}

/**
 * The catalog as importCatalog reads it: products by code, a product's variants under it (so export →
 * import round-trips). With `changedAfter`, only rows with a change whose id is above it (`--changed-after`).
 */
export function* exportCatalog(db: DB, shopId: string, changedAfter?: number): Generator<string> {
  const hasVariants = db.prepare('SELECT 1 FROM products WHERE shop_id = ? AND has_variants LIMIT 1').get(shopId) !== undefined;
  yield csvLine(hasVariants ? [...CATALOG_HEADER, 'stock_code'] : CATALOG_HEADER);
  const changed = changedAfter === undefined ? '' : 'AND code IN (SELECT code FROM stock_changes WHERE shop_id = @shop AND id > @after)';
  const rows = db
    .prepare(
      `SELECT code, name, stock, unlimited, uses_stock_codes, parent_code FROM products WHERE shop_id = @shop AND NOT has_variants
      ${changed} ORDER BY coalesce(parent_code, code), parent_code IS NOT NULL, code`,
    )
    .iterate(changedAfter === undefined ? { shop: shopId } : { shop: shopId, after: changedAfter }) as IterableIterator<{
    code: string;
    name: string;
    stock: number | null;
    unlimited: number;
    uses_stock_codes: number;
    parent_code: string | null;
  }>;
  for (const r of rows) {
    const cells = [r.parent_code ?? r.code, r.name, r.unlimited ? null : r.stock, r.unlimited, r.parent_code ? 1 : r.uses_stock_codes];
    yield csvLine(hasVariants ? [...cells, r.parent_code ? r.code : null] : cells);
  }
}

/** A product's change as `stock show` and the console list it: its source, and the mail (queue id) of an order's. */
export interface ChangeView {
  id: number;
  source: 'upload' | 'order' | 'import';
  uploadId: number | null;
  orderNumber: string | null;
  orderMail: string | null;
  oldStock: number | null;
  newStock: number;
  changedAt: number;
}

export function productView(db: DB, shopId: string, code: string, page = { limit: 20, offset: 0 }) {
  const p = db.prepare('SELECT * FROM products WHERE shop_id = ? AND code = ?').get(shopId, code) as
    | {
        code: string;
        name: string;
        stock: number | null;
        unlimited: number;
        uses_stock_codes: number;
        parent_code: string | null;
        has_variants: number;
        last_upload_id: number;
        updated_at: number;
      }
    | undefined;
  if (!p) return undefined;
  // A variant is shown with its product's code and name; a product with the stock per variant, with its variants.
  const productName = p.parent_code
    ? (db.prepare('SELECT name FROM products WHERE shop_id = ? AND code = ?').pluck().get(shopId, p.parent_code) as string)
    : p.name;
  const variants = p.has_variants
    ? (
        db
          .prepare('SELECT code, name, stock, unlimited FROM products WHERE shop_id = ? AND parent_code = ? ORDER BY code')
          .all(shopId, p.code) as { code: string; name: string; stock: number | null; unlimited: number }[]
      ).map((v) => ({ stock_code: v.code, name: v.name, stock: v.stock, unlimited: !!v.unlimited }))
    : [];
  const changes = db
    .prepare(
      `SELECT c.id, c.source, c.upload_id AS uploadId, c.order_number AS orderNumber,
        (SELECT o.qid FROM orders o WHERE o.shop_id = c.shop_id AND o.order_number = c.order_number) AS orderMail,
        c.old_stock AS oldStock, c.new_stock AS newStock, c.changed_at AS changedAt
      FROM stock_changes c WHERE c.shop_id = ? AND c.code = ? ORDER BY c.id DESC LIMIT ? OFFSET ?`,
    )
    .all(shopId, code, page.limit, page.offset) as ChangeView[];
  // Upload and order mail skips of this code, newest first (an order's item has a quantity, not a value).
  const skips = new UploadStore(db).skips({ shop: shopId, code, limit: page.limit, offset: page.offset }).map((r) => ({
    uploadId: r.upload_id,
    reason: r.reason,
    rawStock: r.raw_stock,
    receivedAt: r.received_at,
    source: r.source,
    orderNumber: r.order_number,
    orderMail: r.order_mail,
    quantity: r.quantity,
  }));
  return {
    shop: shopId,
    product_code: p.parent_code ?? p.code,
    stock_code: p.parent_code ? p.code : null,
    name: p.name,
    productName,
    stock: p.stock,
    unlimited: !!p.unlimited,
    uses_stock_management_code: !!(p.uses_stock_codes || p.parent_code),
    variants,
    lastUploadId: p.last_upload_id,
    updatedAt: p.updated_at,
    changes,
    skips,
  };
}
