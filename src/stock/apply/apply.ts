// Applies one stored upload in one transaction, set-based: skip reasons in design.md's order are
// written to the few items they hit, then the changes are recorded and the stock set in bulk. Idempotent.
import type { DB } from '../../db/open.js';

export interface ApplyResult {
  uploadId: number;
  applied: number;
  skipped: number;
  alreadyApplied: boolean;
}

// Reasons known from the item alone (the receiver parsed values and marked repeated codes).
const SKIP_BY_ITEM = `
  UPDATE upload_items SET outcome = 'skipped', reason = CASE WHEN stock IS NULL THEN 'invalid_stock' ELSE 'duplicate_in_upload' END
  WHERE upload_id = @id AND (stock IS NULL OR superseded)`;

const PRODUCT_REASON = `
  CASE WHEN p.code IS NULL THEN 'unknown_code'
       WHEN p.has_variants THEN 'variant_product'
       WHEN p.unlimited THEN 'unlimited_stock'
       WHEN p.uses_stock_codes THEN 'stock_management_code'
       WHEN p.last_upload_id > @id THEN 'stale' END`;

// Reasons that need the product: one key seek per item; only the skipped rows are written. A variant is
// a products row keyed by its 在庫管理コード, so the same seek finds it (and never skips it for that code).
const SKIP_BY_PRODUCT = `
  UPDATE upload_items SET outcome = 'skipped',
    reason = (SELECT ${PRODUCT_REASON} FROM (SELECT 1) LEFT JOIN products p ON p.shop_id = @shop AND p.code = upload_items.code)
  WHERE upload_id = @id AND outcome IS NULL
    AND NOT EXISTS (SELECT 1 FROM products p WHERE p.shop_id = @shop AND p.code = upload_items.code
                    AND NOT p.unlimited AND NOT p.uses_stock_codes AND NOT p.has_variants AND p.last_upload_id <= @id)`;

const RECORD_CHANGES = `
  INSERT INTO stock_changes (shop_id, code, product_code, old_stock, new_stock, source, upload_id, changed_at)
  SELECT @shop, i.code, coalesce(p.parent_code, i.code), p.stock, i.stock, 'upload', @id, @now
  FROM upload_items i JOIN products p ON p.shop_id = @shop AND p.code = i.code
  WHERE i.upload_id = @id AND i.outcome IS NULL AND p.stock IS NOT i.stock ORDER BY i.seq`;

// An upsert that always takes the conflict branch: SQLite drives it from the items, one key seek each,
// where UPDATE … FROM would scan the whole products table.
const SET_STOCK = `
  INSERT INTO products (shop_id, code, stock, last_upload_id, stock_set_at, updated_at)
  SELECT @shop, code, stock, @id, @receivedAt, @now FROM upload_items WHERE upload_id = @id AND outcome IS NULL
  ON CONFLICT (shop_id, code) DO UPDATE SET
    stock = excluded.stock, last_upload_id = excluded.last_upload_id, stock_set_at = excluded.stock_set_at,
    updated_at = excluded.updated_at`;

const MARK_APPLIED = "UPDATE upload_items SET outcome = 'applied' WHERE upload_id = @id AND outcome IS NULL";

export function applyUpload(db: DB, uploadId: number, now = Date.now()): ApplyResult {
  return db
    .transaction((): ApplyResult => {
      const upload = db
        .prepare('SELECT shop_id, status, received_at, applied_count, skipped_count FROM uploads WHERE id = ?')
        .get(uploadId) as
        { shop_id: string; status: string; received_at: number; applied_count: number; skipped_count: number } | undefined;
      if (!upload) throw new Error(`upload ${uploadId} does not exist`);
      if (upload.status === 'applied')
        return { uploadId, applied: upload.applied_count, skipped: upload.skipped_count, alreadyApplied: true };
      const id = { id: uploadId };
      const withShop = { id: uploadId, shop: upload.shop_id };
      const all = { ...withShop, now, receivedAt: upload.received_at };
      const skipped = db.prepare(SKIP_BY_ITEM).run(id).changes + db.prepare(SKIP_BY_PRODUCT).run(withShop).changes;
      db.prepare(RECORD_CHANGES).run(all);
      db.prepare(SET_STOCK).run(all);
      const applied = db.prepare(MARK_APPLIED).run(id).changes;
      db.prepare("UPDATE uploads SET status = 'applied', applied_at = ?, applied_count = ?, skipped_count = ? WHERE id = ?").run(
        now,
        applied,
        skipped,
        uploadId,
      );
      return { uploadId, applied, skipped, alreadyApplied: false };
    })
    .immediate();
}
