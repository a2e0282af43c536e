// Prepared statements over stock.db for uploads and their items: store, look up, list, prune.
// The apply transaction lives in apply/apply.ts; the catalog (products in/out) in catalog.ts.
import type { Statement } from 'better-sqlite3';
import { statementCache, type DB } from '../db/open.js';
import { parseStockValue } from './stock-value.js';
import { pruneChanges } from './changes/feed.js';
import { deleteInBatches } from '../db/batches.js';

export interface NewItem {
  code: string;
  rawStock: string;
}
export interface UploadRow {
  id: number;
  shop_id: string;
  source: string;
  origin: string | null;
  charset: string;
  received_at: number;
  item_count: number;
  status: 'stored' | 'applied';
  applied_at: number | null;
  applied_count: number | null;
  skipped_count: number | null;
}
export interface SkipRow {
  source: 'upload' | 'order';
  /** null for an order mail's item */
  upload_id: number | null;
  /** null for an upload's item; the order key (the order number, else `message-id:…` / `qid:…`) */
  order_number: string | null;
  /** the order mail's queue id (ledger) */
  order_mail: string | null;
  seq: number;
  shop_id: string;
  code: string;
  /** null for an order mail's item: it has a quantity sold instead */
  raw_stock: string | null;
  quantity: number | null;
  reason: string;
  /** the upload's receipt, or the order mail's (ms) */
  received_at: number;
}

/** Where a page of skips ended in each source (keyset paging over both). */
export interface SkipCursor {
  upload?: { uploadId: number; seq: number };
  order?: { acceptedAt: number; orderNumber: string; seq: number };
}

/** What `stock skipped` and the console's /stock filter skips by; one page of them. */
export interface SkipFilter {
  shop?: string;
  code?: string;
  reason?: string;
  since?: number;
  limit: number;
  offset?: number;
  /** Keyset paging: only skips older than these (the last of each source on the page before). */
  before?: SkipCursor;
}

export class UploadStore {
  /** Prepared once per store (see statementCache). */
  private readonly sql: (text: string) => Statement;

  constructor(readonly db: DB) {
    this.sql = statementCache(db);
  }

  /**
   * Stores the upload and all its items in one transaction; returns the upload id (higher = newer).
   * Values are parsed and repeated codes marked here, once, so the apply transaction stays set-based.
   */
  insert(shopId: string, meta: { source: 'http' | 'file'; origin?: string; charset: string }, items: NewItem[], now?: number): number {
    const lastSeq = new Map<string, number>();
    items.forEach((it, seq) => lastSeq.set(it.code, seq));
    const upload = this.sql('INSERT INTO uploads (shop_id, source, origin, charset, received_at, item_count) VALUES (?, ?, ?, ?, ?, ?)');
    const item = this.sql('INSERT INTO upload_items (upload_id, seq, code, raw_stock, stock, superseded) VALUES (?, ?, ?, ?, ?, ?)');
    return this.db
      .transaction(() => {
        // The receipt time is read under the write lock: an order mail's decrement (stock/orders) applies
        // every upload received before the mail first, and one stored later must carry a later time.
        const receivedAt = now ?? Date.now();
        const id = Number(upload.run(shopId, meta.source, meta.origin ?? null, meta.charset, receivedAt, items.length).lastInsertRowid);
        items.forEach((it, seq) =>
          item.run(id, seq, it.code, it.rawStock, parseStockValue(it.rawStock), lastSeq.get(it.code) === seq ? 0 : 1),
        );
        return id;
      })
      .immediate();
  }

  get(id: number): UploadRow | undefined {
    return this.sql('SELECT * FROM uploads WHERE id = ?').get(id) as UploadRow | undefined;
  }

  /** Skipped items whose reason is one of `reasons`, in request order: the lines of an NG answer. */
  reportedSkips(id: number, reasons: readonly string[], limit = -1): { code: string; reason: string }[] {
    if (reasons.length === 0) return [];
    const marks = reasons.map(() => '?').join(',');
    return this.sql(
      `SELECT code, reason FROM upload_items
      WHERE upload_id = ? AND outcome = 'skipped' AND reason IN (${marks}) ORDER BY seq LIMIT ?`,
    ).all(id, ...reasons, limit) as { code: string; reason: string }[];
  }

  outcomeCounts(id: number): { outcome: string; reason: string | null; count: number }[] {
    return this.sql(
      `SELECT outcome, reason, COUNT(*) AS count FROM upload_items
      WHERE upload_id = ? AND outcome IS NOT NULL GROUP BY outcome, reason`,
    ).all(id) as any[];
  }

  /** Uploads the worker has applied (the stock queue keeps its completed jobs for an hour only). */
  appliedCount(): number {
    return this.sql("SELECT COUNT(*) FROM uploads WHERE status = 'applied'").pluck().get() as number;
  }

  pendingIds(): number[] {
    return this.sql("SELECT id FROM uploads WHERE status = 'stored' ORDER BY id").pluck().all() as number[];
  }

  list(opts: { shop?: string; limit: number; offset?: number }): UploadRow[] {
    return this.sql('SELECT * FROM uploads WHERE (? IS NULL OR shop_id = ?) ORDER BY id DESC LIMIT ? OFFSET ?').all(
      opts.shop ?? null,
      opts.shop ?? null,
      opts.limit,
      opts.offset ?? 0,
    ) as UploadRow[];
  }

  /** Items in request order; a page of them with `limit` (seq is the key's second column, so an offset is a range scan). */
  items(
    id: number,
    page: { limit?: number; offset?: number } = {},
  ): { seq: number; code: string; raw_stock: string; stock: number | null; outcome: string | null; reason: string | null }[] {
    return this.sql(
      `SELECT seq, code, raw_stock, stock, outcome, reason FROM upload_items
      WHERE upload_id = ? AND seq >= ? ORDER BY seq LIMIT ?`,
    ).all(id, page.offset ?? 0, page.limit ?? -1) as any[];
  }

  /**
   * Skipped items of uploads and of order mails (stock/orders), newest first by receipt. Each source is
   * read in its own key order, at most offset + limit rows, and the two are merged here: an upload's
   * reason filter keeps running on its partial index instead of sorting a UNION of both tables.
   */
  skips(opts: SkipFilter): SkipRow[] {
    const n = opts.limit + (opts.offset ?? 0);
    const a = this.uploadSkips(opts, n);
    const b = this.orderSkips(opts, n);
    const merged: SkipRow[] = [];
    let i = 0;
    let j = 0;
    while (merged.length < n && (i < a.length || j < b.length)) {
      const takeUpload = j >= b.length || (i < a.length && a[i].received_at >= b[j].received_at);
      merged.push(takeUpload ? a[i++] : b[j++]);
    }
    return merged.slice(opts.offset ?? 0);
  }

  /**
   * Only the filters given go into the SQL (one cached statement per combination), so a reason or a
   * code runs on its partial index; `before` (the last row's upload id and seq) continues after a page
   * without counting past the earlier rows, as an offset would.
   */
  private uploadSkips(opts: SkipFilter, limit: number): SkipRow[] {
    const where = ["i.outcome = 'skipped'"];
    if (opts.shop !== undefined) where.push('u.shop_id = @shop');
    if (opts.code !== undefined) where.push('i.code = @code');
    if (opts.reason !== undefined) where.push('i.reason = @reason');
    if (opts.since !== undefined) where.push('u.received_at >= @since');
    if (opts.before?.upload !== undefined) where.push('(i.upload_id, i.seq) < (@beforeUpload, @beforeSeq)');
    return this.sql(
      `
      SELECT 'upload' AS source, i.upload_id, NULL AS order_number, NULL AS order_mail, i.seq, u.shop_id, i.code, i.raw_stock,
        NULL AS quantity, i.reason, u.received_at
      FROM upload_items i JOIN uploads u ON u.id = i.upload_id
      WHERE ${where.join(' AND ')}
      ORDER BY i.upload_id DESC, i.seq DESC LIMIT @limit`,
    ).all({
      shop: opts.shop,
      code: opts.code,
      reason: opts.reason,
      since: opts.since,
      beforeUpload: opts.before?.upload?.uploadId,
      beforeSeq: opts.before?.upload?.seq,
      limit,
    }) as SkipRow[];
  }

  /** An order mail's skipped items (few next to uploads': sorted by the mail's receipt, a code on its partial index). */
  private orderSkips(opts: SkipFilter, limit: number): SkipRow[] {
    const where = ["i.outcome = 'skipped'"];
    if (opts.shop !== undefined) where.push('i.shop_id = @shop');
    if (opts.code !== undefined) where.push('i.code = @code');
    if (opts.reason !== undefined) where.push('i.reason = @reason');
    if (opts.since !== undefined) where.push('o.accepted_at >= @since');
    if (opts.before?.order !== undefined) where.push('(o.accepted_at, i.order_number, i.seq) < (@beforeAt, @beforeOrder, @beforeSeq)');
    return this.sql(
      `
      SELECT 'order' AS source, NULL AS upload_id, i.order_number, o.qid AS order_mail, i.seq, i.shop_id, i.code, NULL AS raw_stock,
        i.quantity, i.reason, o.accepted_at AS received_at
      FROM order_items i JOIN orders o ON o.shop_id = i.shop_id AND o.order_number = i.order_number
      WHERE ${where.join(' AND ')}
      ORDER BY o.accepted_at DESC, i.order_number DESC, i.seq DESC LIMIT @limit`,
    ).all({
      shop: opts.shop,
      code: opts.code,
      reason: opts.reason,
      since: opts.since,
      beforeAt: opts.before?.order?.acceptedAt,
      beforeOrder: opts.before?.order?.orderNumber,
      beforeSeq: opts.before?.order?.seq,
      limit,
    }) as SkipRow[];
  }

  /**
   * Retention: items and changes of uploads older than `days` go, in bounded batches (db/batches.ts: a
   * 200,000-item upload is 200 short transactions, not one long write lock); the upload rows stay as a summary.
   */
  async prune(
    days: number,
    now = Date.now(),
    stop: () => boolean = () => false,
    rows?: number,
  ): Promise<{ items: number; changes: number }> {
    const before = now - days * 86_400_000;
    const expired = this.sql(
      `SELECT id FROM uploads u WHERE received_at < ? AND status = 'applied'
      AND EXISTS (SELECT 1 FROM upload_items i WHERE i.upload_id = u.id) ORDER BY id`,
    )
      .pluck()
      .all(before) as number[];
    const remove = this.sql(
      'DELETE FROM upload_items WHERE upload_id = ? AND seq IN (SELECT seq FROM upload_items WHERE upload_id = ? ORDER BY seq LIMIT ?)',
    );
    let items = 0;
    for (const id of expired) items += await deleteInBatches((n) => remove.run(id, id, n).changes, stop, rows);
    return { items, changes: await pruneChanges(this.db, before, stop, rows) };
  }
}
