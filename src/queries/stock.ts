// Product search for the console (products and variants alike): exact code or code prefix, on the products' primary key (shop_id, code),
// and codes zaiko Robot sent that the catalog does not have (the skipped-items index on code).
import type { DB } from '../db/open.js';

export interface ProductHit {
  shop: string;
  code: string;
  name: string;
  stock: number | null;
  unlimited: boolean;
  usesCodes: boolean;
  /** a variant's product (its code is then the 在庫管理コード) */
  parentCode: string | null;
  hasVariants: boolean;
  updatedAt: number;
}

/** The upper bound of a prefix range: every code starting with `prefix` sorts below it (BINARY collation on UTF-8). */
const prefixEnd = (prefix: string) => prefix + '\u{10FFFF}';

export function searchProducts(db: DB, shops: string[], prefix: string, limit: number): ProductHit[] {
  const st = db.prepare(`SELECT shop_id, code, name, stock, unlimited, uses_stock_codes, parent_code, has_variants, updated_at FROM products
    WHERE shop_id = ? AND code >= ? AND code < ? ORDER BY code LIMIT ?`);
  const out: ProductHit[] = [];
  for (const shop of shops) {
    for (const r of st.all(shop, prefix, prefixEnd(prefix), limit - out.length) as any[]) {
      out.push({
        shop: r.shop_id,
        code: r.code,
        name: r.name,
        stock: r.stock,
        unlimited: !!r.unlimited,
        usesCodes: !!r.uses_stock_codes,
        parentCode: r.parent_code,
        hasVariants: !!r.has_variants,
        updatedAt: r.updated_at,
      });
    }
    if (out.length >= limit) break;
  }
  return out;
}

/** Codes starting with `prefix` that uploads sent but the shop's catalog lacks (skipped as unknown_code), newest upload first. */
export function unknownCodes(db: DB, prefix: string, limit: number): { shop: string; code: string; lastUploadId: number; count: number }[] {
  return db
    .prepare(
      `SELECT u.shop_id AS shop, i.code, MAX(i.upload_id) AS lastUploadId, COUNT(*) AS count
    FROM upload_items i JOIN uploads u ON u.id = i.upload_id
    WHERE i.code >= ? AND i.code < ? AND i.outcome = 'skipped' AND i.reason = 'unknown_code'
    GROUP BY u.shop_id, i.code ORDER BY lastUploadId DESC LIMIT ?`,
    )
    .all(prefix, prefixEnd(prefix), limit) as any[];
}
