// An order mail's items lower stock.db (shops[].decrementOnOrder), once per (shop, order key), in one
// transaction, in the order things were received: uploads stored before the mail are applied first
// (even when their own jobs are still queued); a product whose absolute value came from an upload (or
// import) received after the mail already counts the sale, so its item is `stale`. Never below 0.
import type { DB } from '../../db/open.js';
import type { OrderJobData } from '../../queue/names.js';
import { applyUpload } from '../apply/apply.js';

export interface OrderResult {
  key: string;
  applied: number;
  skipped: number;
  /** Uploads received before the mail, applied here ahead of their own jobs. */
  uploadsFirst: number[];
  alreadyApplied: boolean;
}

interface ProductState {
  stock: number | null;
  has_variants: number;
  parent_code: string | null;
  unlimited: number;
  uses_stock_codes: number;
  stock_set_at: number;
}

function skipReason(p: ProductState | undefined, acceptedAt: number): string | null {
  if (!p) return 'unknown_code';
  if (p.has_variants) return 'variant_product'; // which variant was sold is not in the mail
  if (p.unlimited) return 'unlimited_stock';
  if (p.uses_stock_codes) return 'stock_management_code';
  if (p.stock_set_at > acceptedAt) return 'stale';
  return null;
}

export function applyOrder(db: DB, order: OrderJobData, now = Date.now()): OrderResult {
  return db
    .transaction((): OrderResult => {
      const done = db
        .prepare('SELECT applied_count, skipped_count FROM orders WHERE shop_id = ? AND order_number = ?')
        .get(order.shop, order.key) as { applied_count: number; skipped_count: number } | undefined;
      if (done) return { key: order.key, applied: done.applied_count, skipped: done.skipped_count, uploadsFirst: [], alreadyApplied: true };
      // Uploads store their receipt time under the write lock this transaction holds, and this job runs
      // after the mail was accepted: every upload received before the mail is already here.
      const earlier = db
        .prepare("SELECT id FROM uploads WHERE shop_id = ? AND status = 'stored' AND received_at <= ? ORDER BY id")
        .pluck()
        .all(order.shop, order.acceptedAt) as number[];
      for (const id of earlier) applyUpload(db, id, now);

      const product = db.prepare(`SELECT stock, has_variants, parent_code, unlimited, uses_stock_codes, stock_set_at FROM products
        WHERE shop_id = ? AND code = ?`);
      const record =
        db.prepare(`INSERT INTO stock_changes (shop_id, code, product_code, old_stock, new_stock, source, order_number, changed_at)
        VALUES (?, ?, ?, ?, ?, 'order', ?, ?)`);
      const lower = db.prepare('UPDATE products SET stock = ?, updated_at = ? WHERE shop_id = ? AND code = ?');
      const item = db.prepare(
        'INSERT INTO order_items (shop_id, order_number, seq, code, quantity, outcome, reason) VALUES (?, ?, ?, ?, ?, ?, ?)',
      );
      let applied = 0;
      let skipped = 0;
      order.items.forEach(({ code, quantity }, seq) => {
        const p = product.get(order.shop, code) as ProductState | undefined;
        const reason = skipReason(p, order.acceptedAt);
        if (reason) skipped++;
        else applied++;
        item.run(order.shop, order.key, seq, code, quantity, reason ? 'skipped' : 'applied', reason);
        if (reason || p!.stock === null) return;
        const next = Math.max(0, p!.stock - quantity);
        if (next === p!.stock) return; // already 0
        record.run(order.shop, code, p!.parent_code ?? code, p!.stock, next, order.orderNumber, now);
        lower.run(next, now, order.shop, code);
      });
      db.prepare(
        `INSERT INTO orders (shop_id, order_number, qid, accepted_at, applied_at, applied_count, skipped_count)
        VALUES (?, ?, ?, ?, ?, ?, ?)`,
      ).run(order.shop, order.key, order.qid, order.acceptedAt, now, applied, skipped);
      return { key: order.key, applied, skipped, uploadsFirst: earlier, alreadyApplied: false };
    })
    .immediate();
}
