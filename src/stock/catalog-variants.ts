// The rules that keep variants (在庫管理コード) unambiguous. Codes share one key space per shop: zaiko Robot
// sends a variant's stock_code or a product's code in the same field, and one lookup must find one row.
import type { DB } from '../db/open.js';

export class CatalogError extends Error {}

interface Row {
  line?: number;
  code: string;
  stockCode?: string;
}

const at = (r: Row) => (r.line === undefined ? `product ${r.code}` : `line ${r.line}`);
const fail = (r: Row, problem: string): never => {
  throw new CatalogError(`${at(r)}: ${problem}`);
};

/**
 * Within one file: a product is listed either as one row without stock_code or as variant rows only; a
 * stock_code is used once and is no product's code. Each message names both lines.
 */
export function checkVariantRows(rows: readonly Row[]): void {
  const plain = new Map<string, Row>(); // product_code of a row without stock_code
  const withVariants = new Map<string, Row>(); // product_code of variant rows (first row)
  const stockCodes = new Map<string, Row>();
  for (const r of rows) {
    const asStockCode = stockCodes.get(r.code);
    if (asStockCode) fail(r, `product_code ${r.code} is the stock_code (在庫管理コード) on ${at(asStockCode)}`);
    if (!r.stockCode) {
      const variant = withVariants.get(r.code);
      if (variant) fail(r, `product ${r.code} has variants (stock_code) from ${at(variant)}: list only its variants`);
      const twice = plain.get(r.code);
      if (twice) fail(r, `product_code ${r.code} already on ${at(twice)}`);
      plain.set(r.code, r);
      continue;
    }
    const s = r.stockCode;
    const row = plain.get(r.code);
    if (row) fail(r, `product ${r.code} has a row without stock_code on ${at(row)}: a product with variants lists only its variants`);
    if (s === r.code) fail(r, `stock_code ${s} equals its product_code: a variant needs its own code`);
    const twice = stockCodes.get(s);
    if (twice) fail(r, `stock_code ${s} already on ${at(twice)}`);
    const product = plain.get(s) ?? withVariants.get(s);
    if (product) fail(r, `stock_code ${s} is the product_code on ${at(product)}`);
    stockCodes.set(s, r);
    if (!withVariants.has(r.code)) withVariants.set(r.code, r);
  }
}

/** Each variant in stock.db and its product, read before an import writes (few rows: a partial index). */
export function variantParents(db: DB, shopId: string): Map<string, string> {
  const rows = db.prepare('SELECT code, parent_code FROM products WHERE shop_id = ? AND parent_code IS NOT NULL').raw().all(shopId) as [
    string,
    string,
  ][];
  return new Map(rows);
}

/**
 * After the rows are written (inside the import's transaction): rows kept from earlier imports must still
 * fit, so no variant is left without its product and no product with variants without one.
 */
export function checkVariantsInDb(db: DB, shopId: string, rows: readonly Row[], parentsBefore: Map<string, string>): void {
  const lineOf = new Map<string, Row>();
  for (const r of rows) lineOf.set(r.stockCode || r.code, r);
  const orphan = db
    .prepare(
      `SELECT v.code, v.parent_code AS parent FROM products v
      LEFT JOIN products p ON p.shop_id = v.shop_id AND p.code = v.parent_code
      WHERE v.shop_id = ? AND v.parent_code IS NOT NULL AND (p.code IS NULL OR NOT p.has_variants) LIMIT 1`,
    )
    .get(shopId) as { code: string; parent: string } | undefined;
  if (orphan) {
    const r = lineOf.get(orphan.parent) ?? lineOf.get(orphan.code) ?? { code: orphan.parent };
    fail(r, `stock.db keeps ${orphan.code} as a variant (stock_code) of ${orphan.parent}: list ${orphan.parent} by its variants`);
  }
  const empty = db
    .prepare(
      `SELECT p.code FROM products p WHERE p.shop_id = ? AND p.has_variants
      AND NOT EXISTS (SELECT 1 FROM products v WHERE v.shop_id = p.shop_id AND v.parent_code = p.code) LIMIT 1`,
    )
    .pluck()
    .get(shopId) as string | undefined;
  if (empty !== undefined) {
    const moved = rows.find((r) => parentsBefore.get(r.stockCode || r.code) === empty) ?? { code: empty };
    fail(moved, `${moved.stockCode || moved.code} was a variant of ${empty} in stock.db: ${empty} would be left without variants`);
  }
}
