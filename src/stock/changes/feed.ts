// The change feed over stock.db: a shop's changes after a cursor, in id order, in pages. Ids are
// AUTOINCREMENT and given under SQLite's single write lock, so a reader never sees a higher id commit
// before a lower one: a cursor can only move forward and never skips a change.
import type { Statement } from 'better-sqlite3';
import { statementCache, type DB } from '../../db/open.js';
import { deleteInBatches } from '../../db/batches.js';
import { CHANGE_COLUMNS, toChange, type Change, type ChangeRow, type ChangeSource } from './change.js';

export const FEED_LIMIT_DEFAULT = 1000;
export const FEED_LIMIT_MAX = 10_000;

export interface FeedPage {
  shop: string;
  changes: Change[];
  /** The cursor to pass as `after` next. */
  next: number;
  /** Another page is ready now. */
  more: boolean;
}
/** Changes after the cursor were removed by retention; `oldest` is the lowest id the feed can still return. */
export interface FeedExpired {
  expired: true;
  oldest: number;
}

export class ChangeFeed {
  private readonly sql: (text: string) => Statement;

  constructor(readonly db: DB) {
    this.sql = statementCache(db);
  }

  /** A page of the shop's changes with id > after (only `sources`, when given); or expired. */
  page(shop: string, after: number, limit = FEED_LIMIT_DEFAULT, sources?: readonly ChangeSource[]): FeedPage | FeedExpired {
    const pruned = this.prunedThrough(shop);
    if (after < pruned) return { expired: true, oldest: this.oldest(shop) };
    const rows = (
      sources
        ? this.sql(
            `SELECT ${CHANGE_COLUMNS} FROM stock_changes WHERE shop_id = ? AND id > ? AND source IN (SELECT value FROM json_each(?))
            ORDER BY id LIMIT ?`,
          ).all(shop, after, JSON.stringify(sources), limit + 1)
        : this.sql(`SELECT ${CHANGE_COLUMNS} FROM stock_changes WHERE shop_id = ? AND id > ? ORDER BY id LIMIT ?`).all(
            shop,
            after,
            limit + 1,
          )
    ) as ChangeRow[];
    const more = rows.length > limit;
    const changes = rows.slice(0, limit).map(toChange);
    return { shop, changes, next: changes.length ? changes[changes.length - 1].id : after, more };
  }

  /** The shop's newest change id (0 without changes): cheap enough to poll for long-poll waiters. */
  latestId(shop: string): number {
    return (this.sql('SELECT MAX(id) FROM stock_changes WHERE shop_id = ?').pluck().get(shop) as number | null) ?? 0;
  }

  /** A cursor for what the shop's data shows now: taken before reading the data, later changes come again (harmless). */
  cursorNow(shop: string): number {
    return Math.max(this.latestId(shop), this.prunedThrough(shop));
  }

  /** The highest change id ever given in stock.db (any shop): one row to read, to notice new changes. */
  sequence(): number {
    return (this.sql("SELECT seq FROM sqlite_sequence WHERE name = 'stock_changes'").pluck().get() as number | undefined) ?? 0;
  }

  /** The highest change id retention removed for the shop (0 if none). */
  prunedThrough(shop: string): number {
    return (this.sql('SELECT through_id FROM stock_changes_pruned WHERE shop_id = ?').pluck().get(shop) as number | undefined) ?? 0;
  }

  /**
   * The lowest id the feed can still return: the oldest kept change after the retention mark (a prune
   * in progress leaves rows below it for a moment), else the next after the pruned ones.
   */
  oldest(shop: string): number {
    const through = this.prunedThrough(shop);
    const kept = this.sql('SELECT MIN(id) FROM stock_changes WHERE shop_id = ? AND id > ?').pluck().get(shop, through) as number | null;
    return kept ?? through + 1;
  }
}

/**
 * Retention: removes changes older than `before` (ms) and remembers, per shop, the highest id removed,
 * so a cursor below it is answered 410 instead of silently missing changes. The mark is written first,
 * then the changes up to it go in bounded batches (db/batches.ts). Resolves to how many went.
 */
export async function pruneChanges(db: DB, before: number, stop: () => boolean = () => false, rows?: number): Promise<number> {
  const marks = db
    .prepare('SELECT shop_id AS shop, MAX(id) AS through FROM stock_changes WHERE changed_at < ? GROUP BY shop_id')
    .all(before) as { shop: string; through: number }[];
  const mark = db.prepare(
    `INSERT INTO stock_changes_pruned (shop_id, through_id) VALUES (?, ?)
    ON CONFLICT (shop_id) DO UPDATE SET through_id = MAX(through_id, excluded.through_id)`,
  );
  // By id, not by time alone: a shop's kept changes stay one unbroken run after the mark.
  const remove = db.prepare(
    'DELETE FROM stock_changes WHERE id IN (SELECT id FROM stock_changes WHERE shop_id = ? AND id <= ? ORDER BY id LIMIT ?)',
  );
  let removed = 0;
  for (const { shop, through } of marks) {
    mark.run(shop, through);
    removed += await deleteInBatches((n) => remove.run(shop, through, n).changes, stop, rows);
  }
  return removed;
}
