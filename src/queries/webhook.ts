// The webhook's state per shop, for `stock webhook status|retry`, the console's overview and /metrics:
// read from stock.db alone, so it answers with Redis down and from any process.
import type { Config } from '../config/schema.js';
import type { DB } from '../db/open.js';
import { maskUrl } from '../queue/redis-url.js';
import { CursorStore } from '../stock/webhook/cursor-store.js';
import { webhookShops } from '../stock/webhook/shops.js';
import { iso } from './time.js';

export interface WebhookStatus {
  shop: string;
  url: string;
  /** Every change up to this id is with the cart; null until the pusher first ran for this shop. */
  deliveredThrough: number | null;
  pending: number;
  lastStatus: number | null;
  lastError: string | null;
  lastAttemptAt: string | null;
  nextAttemptAt: string | null;
}

/** What /metrics shows besides the status: batches by outcome and the last 2xx. */
export interface WebhookFigures {
  shop: string;
  pending: number;
  lastSuccessAt: number | null;
  batches: { delivered: number; rejected: number; failed: number };
}

function rows(db: DB, cfg: Config) {
  const store = new CursorStore(db);
  return webhookShops(cfg).map((s) => {
    const c = store.get(s.id);
    return { s, c, pending: c ? store.pending(s.id, c.delivered_through, s.cart.webhook.sources) : 0 };
  });
}

export function webhookStatus(db: DB, cfg: Config): WebhookStatus[] {
  return rows(db, cfg).map(({ s, c, pending }) => ({
    shop: s.id,
    url: maskUrl(s.cart.webhook.url),
    deliveredThrough: c?.delivered_through ?? null,
    pending,
    lastStatus: c?.last_status ?? null,
    lastError: c?.last_error ?? null,
    lastAttemptAt: iso(c?.last_attempt_at),
    nextAttemptAt: iso(c?.next_attempt_at),
  }));
}

export function webhookFigures(db: DB, cfg: Config): WebhookFigures[] {
  return rows(db, cfg).map(({ s, c, pending }) => ({
    shop: s.id,
    pending,
    lastSuccessAt: c?.last_success_at ?? null,
    batches: { delivered: c?.delivered_batches ?? 0, rejected: c?.rejected_batches ?? 0, failed: c?.failed_batches ?? 0 },
  }));
}

/** `stock webhook retry`: each shop's batch waiting for its backoff is due now; true per shop that had one waiting. */
export function retryNow(db: DB, cfg: Config, shop?: string): { shop: string; moved: boolean }[] {
  const store = new CursorStore(db);
  const now = Date.now();
  return webhookShops(cfg)
    .filter((s) => !shop || s.id === shop)
    .map((s) => ({ shop: s.id, moved: store.retryNow(s.id, now) }));
}
