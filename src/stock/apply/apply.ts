// Applies one stored upload in one transaction, set-based: classify every item (skip reasons in the
// order design.md gives), record the changes, set the stock, mark the upload applied. Idempotent.
import type { DB } from '../../db/open.js';

export interface ApplyResult { uploadId: number; applied: number; skipped: number; alreadyApplied: boolean }

export function applyUpload(db: DB, uploadId: number, now = Date.now()): ApplyResult {
  return db.transaction((): ApplyResult => {
    const upload = db.prepare('SELECT shop_id, status, applied_count, skipped_count FROM uploads WHERE id = ?').get(uploadId) as
      { shop_id: string; status: string; applied_count: number; skipped_count: number } | undefined;
    if (!upload) throw new Error(`upload ${uploadId} does not exist`);
    if (upload.status === 'applied') return { uploadId, applied: upload.applied_count, skipped: upload.skipped_count, alreadyApplied: true };
    const shop = upload.shop_id;

    db.prepare("UPDATE upload_items SET outcome = 'skipped', reason = 'invalid_stock' WHERE upload_id = ? AND stock IS NULL").run(uploadId);
    // The last occurrence of a code wins; every earlier one is a duplicate.
    db.prepare(`UPDATE upload_items SET outcome = 'skipped', reason = 'duplicate_in_upload'
      WHERE upload_id = @id AND outcome IS NULL
        AND seq NOT IN (SELECT MAX(seq) FROM upload_items WHERE upload_id = @id GROUP BY code)`).run({ id: uploadId });
    db.prepare(`UPDATE upload_items SET outcome = 'skipped', reason = r.reason
      FROM (SELECT i.seq, CASE
              WHEN p.code IS NULL THEN 'unknown_code'
              WHEN p.unlimited THEN 'unlimited_stock'
              WHEN p.uses_stock_codes THEN 'stock_management_code'
              WHEN p.last_upload_id > @id THEN 'stale'
            END AS reason
            FROM upload_items i LEFT JOIN products p ON p.shop_id = @shop AND p.code = i.code
            WHERE i.upload_id = @id AND i.outcome IS NULL) AS r
      WHERE upload_items.upload_id = @id AND upload_items.seq = r.seq AND r.reason IS NOT NULL`).run({ id: uploadId, shop });
    db.prepare(`INSERT INTO stock_changes (shop_id, code, old_stock, new_stock, upload_id, changed_at)
      SELECT @shop, i.code, p.stock, i.stock, @id, @now FROM upload_items i JOIN products p ON p.shop_id = @shop AND p.code = i.code
      WHERE i.upload_id = @id AND i.outcome IS NULL AND p.stock IS NOT i.stock ORDER BY i.seq`).run({ id: uploadId, shop, now });
    db.prepare(`UPDATE products SET stock = i.stock, last_upload_id = @id, updated_at = @now
      FROM upload_items i WHERE i.upload_id = @id AND i.outcome IS NULL AND products.shop_id = @shop AND products.code = i.code`).run({ id: uploadId, shop, now });
    const applied = db.prepare("UPDATE upload_items SET outcome = 'applied' WHERE upload_id = ? AND outcome IS NULL").run(uploadId).changes;
    const skipped = db.prepare("SELECT COUNT(*) FROM upload_items WHERE upload_id = ? AND outcome = 'skipped'").pluck().get(uploadId) as number;
    db.prepare("UPDATE uploads SET status = 'applied', applied_at = ?, applied_count = ?, skipped_count = ? WHERE id = ?").run(now, applied, skipped, uploadId);
    return { uploadId, applied, skipped, alreadyApplied: false };
  }).immediate();
}
