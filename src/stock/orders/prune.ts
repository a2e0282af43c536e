// Retention of the order mails' stock side (orders, order_items). An orders row is also what makes a
// second mail of the same order change nothing (decrement.ts), so it stays as long as the ledger and
// Redis keep that order's forward-once claim (retention.mailDays), and its items stay as long as
// upload items do (retention.uploadDays): a row goes once both have passed. In bounded batches.
import { statementCache, type DB } from '../../db/open.js';
import { deleteInBatches, PRUNE_BATCH_ROWS } from '../../db/batches.js';

/** Orders applied before this many days ago may go: the longer of the two windows that need them. */
export const orderKeepDays = (retention: { mailDays: number; uploadDays: number }) => Math.max(retention.mailDays, retention.uploadDays);

type Sql = ReturnType<typeof statementCache>;

/**
 * One transaction: items of the oldest expired orders, then each order whose items are all gone, at most
 * `rows` rows in all (an order with more items than that is emptied over several batches, its row last).
 */
function pruneBatch(db: DB, sql: Sql, before: number, rows: number): { orders: number; items: number } {
  return db.transaction(() => {
    const expired = sql('SELECT shop_id AS shop, order_number AS key FROM orders WHERE applied_at < ? ORDER BY applied_at LIMIT ?').all(
      before,
      rows,
    ) as { shop: string; key: string }[];
    const items = sql(`DELETE FROM order_items WHERE shop_id = ? AND order_number = ? AND seq IN
      (SELECT seq FROM order_items WHERE shop_id = ? AND order_number = ? ORDER BY seq LIMIT ?)`);
    const order = sql('DELETE FROM orders WHERE shop_id = ? AND order_number = ?');
    let budget = rows;
    const removed = { orders: 0, items: 0 };
    for (const { shop, key } of expired) {
      const n = items.run(shop, key, shop, key, budget).changes;
      removed.items += n;
      budget -= n;
      if (budget === 0) break; // this order may have items left: its row waits for the next batch
      removed.orders += order.run(shop, key).changes;
      if (--budget === 0) break;
    }
    return removed;
  })();
}

/** Removes orders (with their items) applied before `before` (ms); resolves to what went. `stop`: a close began. */
export async function pruneOrders(
  db: DB,
  before: number,
  stop: () => boolean = () => false,
  rows = PRUNE_BATCH_ROWS,
): Promise<{ orders: number; items: number }> {
  const total = { orders: 0, items: 0 };
  const sql = statementCache(db); // prepared once for all the batches
  await deleteInBatches(
    (n) => {
      const r = pruneBatch(db, sql, before, n);
      total.orders += r.orders;
      total.items += r.items;
      return r.orders + r.items;
    },
    stop,
    rows,
  );
  return total;
}
