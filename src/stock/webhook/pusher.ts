// The webhook pusher: per shop, the changes after its cursor go to the cart in id order, one batch in
// flight. A 2xx moves the cursor; anything else sends the same batch again (same webhook-id and body,
// fresh timestamp and signature) after a backoff of 1 s doubling to 5 min: never a skip ahead. The
// cursor and the batch in flight live in stock.db, so a restart or kill -9 resends that batch (at least
// once, in order). It wakes after an apply and polls as a fallback (changes another process wrote,
// `stock webhook retry`). One pusher per stock.db: the caller holds the dataDir's webhook lock.
import { readFileSync } from 'node:fs';
import type { Config } from '../../config/schema.js';
import { ConfigHolder } from '../../config/holder.js';
import { secretKey } from '../../config/webhook-url.js';
import type { DB } from '../../db/open.js';
import type { Logger } from '../../observe/logger.js';
import { ChangeFeed } from '../changes/feed.js';
import type { Change } from '../changes/change.js';
import { CursorStore, type CursorRow } from './cursor-store.js';
import { agents, postJson } from './post.js';
import { signature, webhookId } from './sign.js';
import { webhookShops, type WebhookShop } from './shops.js';

const BACKOFF_INITIAL_MS = 1000;
const BACKOFF_MAX_MS = 5 * 60_000;
const POLL_MS = 1000;

/** The wait after `attempts` failed attempts of one batch: 1 s, 2 s, 4 s … 5 min. */
const backoffMs = (attempts: number) => Math.min(BACKOFF_INITIAL_MS * 2 ** Math.max(0, attempts - 1), BACKOFF_MAX_MS);

interface Batch {
  id: string;
  lastId: number;
  body: string;
  count: number;
}

export interface PusherOptions {
  pollMs?: number;
}

export class WebhookPusher {
  private readonly cursors: CursorStore;
  private readonly feed: ChangeFeed;
  private readonly holder: ConfigHolder;
  private readonly busy = new Set<string>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private poll?: NodeJS.Timeout;
  private readonly stop = new AbortController();
  private readonly via = agents();
  private readonly running = new Set<Promise<void>>();
  private userAgent = 'zaiko-bridge';

  constructor(
    config: Config | ConfigHolder,
    db: DB,
    private readonly log: Logger,
    private readonly opts: PusherOptions = {},
  ) {
    this.cursors = new CursorStore(db);
    this.feed = new ChangeFeed(db);
    this.holder = ConfigHolder.of(config);
  }

  start(): void {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
    this.userAgent = `zaiko-bridge/${pkg.version}`;
    const shops = webhookShops(this.holder.get());
    for (const shop of shops) this.cursors.ensure(shop.id); // a new shop's cursor starts at its newest change
    this.log.info({ shops: shops.map((s) => s.id) }, 'webhook pusher running');
    this.poll = setInterval(() => this.wake(), this.opts.pollMs ?? POLL_MS);
    this.wake();
  }

  /** New changes may be there (an apply finished): each idle shop looks now. */
  wake(): void {
    if (this.stop.signal.aborted) return;
    for (const shop of webhookShops(this.holder.get())) {
      if (this.busy.has(shop.id)) continue;
      const p = this.run(shop).catch((err) => this.log.error({ shop: shop.id, err: (err as Error).message }, 'webhook push failed'));
      this.running.add(p);
      void p.finally(() => this.running.delete(p));
    }
  }

  /** Sends batches while there are some and the cart takes them; one at a time per shop. */
  private async run(shop: WebhookShop): Promise<void> {
    this.busy.add(shop.id);
    try {
      const cursor = this.cursors.get(shop.id) ?? this.cursors.ensure(shop.id);
      const now = Date.now();
      if (cursor.next_attempt_at !== null && cursor.next_attempt_at > now) return this.wakeAt(shop, cursor.next_attempt_at - now);
      let batch = this.batch(shop, cursor);
      let attempts = cursor.attempts;
      while (batch && !this.stop.signal.aborted) {
        const taken = await this.send(shop, batch, attempts);
        if (!taken) return;
        // One commit: this batch delivered and the next one chosen (its bounds kept for its retries).
        const done = batch;
        batch = this.cursors.db.transaction(() => {
          this.cursors.delivered(shop.id, done.lastId, taken.status, taken.at);
          return this.batch(shop, this.cursors.get(shop.id)!);
        })();
        attempts = 0;
      }
    } finally {
      this.busy.delete(shop.id);
    }
  }

  private wakeAt(shop: WebhookShop, ms: number): void {
    clearTimeout(this.timers.get(shop.id));
    this.timers.set(
      shop.id,
      setTimeout(() => this.wake(), ms),
    );
  }

  /** The batch in flight (the same changes as its first attempt), else the next one; undefined: nothing to send. */
  private batch(shop: WebhookShop, cursor: CursorRow): Batch | undefined {
    const { sources, batchMax } = shop.cart.webhook;
    const after = cursor.delivered_through;
    const page = this.feed.page(shop.id, after, cursor.batch_count ?? batchMax, sources);
    if ('expired' in page) {
      // The cart was away longer than retention.uploadDays: those changes are gone; only a full export restores it.
      const through = page.oldest - 1;
      const error = `changes ${after + 1}..${through} were removed by retention before the cart took them: load a full export`;
      this.log.error({ shop: shop.id, after, through }, error);
      this.cursors.skipTo(shop.id, through, error);
      return this.batch(shop, this.cursors.get(shop.id)!);
    }
    let changes: Change[] = page.changes;
    if (cursor.batch_last !== null) changes = changes.filter((c) => c.id <= cursor.batch_last!);
    if (changes.length === 0) {
      // Only changes of other sources after the cursor (or none at all): move past them without a request.
      const latest = this.feed.latestId(shop.id);
      if (latest > after && cursor.batch_last === null) this.skipOthers(shop, after);
      else if (cursor.batch_last !== null) this.cursors.skipTo(shop.id, cursor.batch_last);
      return undefined;
    }
    const lastId = changes[changes.length - 1].id;
    if (cursor.batch_last === null) this.cursors.startBatch(shop.id, lastId, changes.length);
    return {
      id: webhookId(shop.id, changes[0].id, lastId),
      lastId,
      count: changes.length,
      body: JSON.stringify({ type: 'stock.changed', shop: shop.id, changes }),
    };
  }

  /** In one write transaction: no change of this cart's sources after the cursor, so it moves to the newest id. */
  private skipOthers(shop: WebhookShop, after: number): void {
    this.cursors.db
      .transaction(() => {
        const page = this.feed.page(shop.id, after, 1, shop.cart.webhook.sources);
        if ('expired' in page || page.changes.length) return;
        this.cursors.skipTo(shop.id, this.feed.latestId(shop.id));
      })
      .immediate();
  }

  /** One attempt; the cart's 2xx and when, or undefined when it did not take the batch. */
  private async send(shop: WebhookShop, batch: Batch, attemptsBefore: number): Promise<{ status: number; at: number } | undefined> {
    const { url, secret, timeout } = shop.cart.webhook;
    const ts = Math.floor(Date.now() / 1000);
    const headers = {
      'webhook-id': batch.id,
      'webhook-timestamp': String(ts),
      'webhook-signature': signature(secretKey(secret)!, batch.id, ts, batch.body),
      'user-agent': this.userAgent,
    };
    const started = performance.now();
    const r = await postJson(url, headers, batch.body, timeout, this.via, this.stop.signal);
    if (this.stop.signal.aborted) return undefined; // the batch stays in flight: the next start sends it again
    const at = Date.now();
    const ms = Math.round(performance.now() - started);
    if (r.status !== undefined && r.status >= 200 && r.status < 300) {
      this.log.info({ shop: shop.id, webhookId: batch.id, changes: batch.count, status: r.status, ms }, 'webhook batch delivered');
      return { status: r.status, at };
    }
    const attempts = attemptsBefore + 1;
    const wait = backoffMs(attempts);
    this.cursors.failed(shop.id, r.status === undefined ? 'failed' : 'rejected', r.status ?? null, r.error ?? '', at, at + wait);
    this.log.warn(
      { shop: shop.id, webhookId: batch.id, status: r.status, err: r.error, attempts, retryInMs: wait, ms },
      'webhook batch not taken; same batch again after the backoff',
    );
    this.wakeAt(shop, wait);
    return undefined;
  }

  /** Stops at once: a request in flight is abandoned, its batch stays in flight in stock.db. */
  async close(): Promise<void> {
    this.stop.abort();
    clearInterval(this.poll);
    for (const t of this.timers.values()) clearTimeout(t);
    await Promise.all([...this.running]);
    this.via.destroy();
  }
}
