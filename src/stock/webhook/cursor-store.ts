// webhook_cursors in stock.db: the durable state of each shop's push. A 2xx moves delivered_through in
// the same statement that clears the batch; a failure only counts and schedules the next attempt.
import type { Statement } from 'better-sqlite3';
import { statementCache, type DB } from '../../db/open.js';

export interface CursorRow {
  shop_id: string;
  delivered_through: number;
  batch_last: number | null;
  batch_count: number | null;
  attempts: number;
  last_status: number | null;
  last_error: string | null;
  last_attempt_at: number | null;
  next_attempt_at: number | null;
  last_success_at: number | null;
  delivered_batches: number;
  rejected_batches: number;
  failed_batches: number;
}

export class CursorStore {
  private readonly sql: (text: string) => Statement;

  constructor(readonly db: DB) {
    this.sql = statementCache(db);
  }

  get(shop: string): CursorRow | undefined {
    return this.sql('SELECT * FROM webhook_cursors WHERE shop_id = ?').get(shop) as CursorRow | undefined;
  }

  /**
   * A shop's cursor, made at the shop's newest change the first time: the webhook carries what changes
   * after it is set up; the stock before that reaches the cart as a full export (docs/OPERATIONS.md).
   */
  ensure(shop: string): CursorRow {
    this.sql(
      `INSERT INTO webhook_cursors (shop_id, delivered_through)
      VALUES (?, (SELECT COALESCE(MAX(id), 0) FROM stock_changes WHERE shop_id = ?)) ON CONFLICT (shop_id) DO NOTHING`,
    ).run(shop, shop);
    return this.get(shop)!;
  }

  /** The batch about to be sent for the first time: kept, so every retry sends exactly these changes. */
  startBatch(shop: string, lastId: number, count: number): void {
    this.sql('UPDATE webhook_cursors SET batch_last = ?, batch_count = ?, attempts = 0 WHERE shop_id = ?').run(lastId, count, shop);
  }

  /** Nothing to send up to `through` (changes of other sources, or removed by retention): the cursor moves on. */
  skipTo(shop: string, through: number, error: string | null = null): void {
    this.sql(
      `UPDATE webhook_cursors SET delivered_through = MAX(delivered_through, ?), batch_last = NULL, batch_count = NULL,
      attempts = 0, last_error = COALESCE(?, last_error) WHERE shop_id = ?`,
    ).run(through, error, shop);
  }

  delivered(shop: string, through: number, status: number, at: number): void {
    this.sql(
      `UPDATE webhook_cursors SET delivered_through = MAX(delivered_through, ?), batch_last = NULL, batch_count = NULL,
      attempts = 0, last_status = ?, last_error = NULL, last_attempt_at = ?, last_success_at = ?, next_attempt_at = NULL,
      delivered_batches = delivered_batches + 1 WHERE shop_id = ?`,
    ).run(through, status, at, at, shop);
  }

  /** A failed attempt: counted, and the same batch is due again at `nextAt`. */
  failed(shop: string, outcome: 'rejected' | 'failed', status: number | null, error: string, at: number, nextAt: number): void {
    this.sql(
      `UPDATE webhook_cursors SET attempts = attempts + 1, last_status = ?, last_error = ?, last_attempt_at = ?,
      next_attempt_at = ?, ${outcome}_batches = ${outcome}_batches + 1 WHERE shop_id = ?`,
    ).run(status, error, at, nextAt, shop);
  }

  /** `stock webhook retry`: a batch waiting for its backoff is due now (the pusher sees it at its next poll). */
  retryNow(shop: string, at: number): boolean {
    return (
      this.sql('UPDATE webhook_cursors SET next_attempt_at = ? WHERE shop_id = ? AND next_attempt_at > ?').run(at, shop, at).changes > 0
    );
  }

  /** Changes after the cursor that this cart takes (its `sources`). */
  pending(shop: string, after: number, sources: readonly string[]): number {
    return this.sql('SELECT COUNT(*) FROM stock_changes WHERE shop_id = ? AND id > ? AND source IN (SELECT value FROM json_each(?))')
      .pluck()
      .get(shop, after, JSON.stringify(sources)) as number;
  }
}
